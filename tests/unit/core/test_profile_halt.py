"""`[safety] halt_file`: where the halt lever of an environment is (default: under .drills/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.errors import ConfigError
from drills.core.profile import load_profile


def _profile(tmp_path: Path, safety: str) -> Path:
    path = tmp_path / "staging.toml"
    path.write_text(f'name = "staging"\n[safety]\nnamespaces = ["x"]\n{safety}\n', "utf-8")
    return path


def test_no_key_leaves_the_default_to_the_root(tmp_path: Path) -> None:
    assert load_profile(_profile(tmp_path, "")).halt_file is None


def test_absolute_and_relative_paths(tmp_path: Path) -> None:
    assert load_profile(_profile(tmp_path, 'halt_file = "/mnt/ops/halt"')).halt_file == Path(
        "/mnt/ops/halt"
    )
    relative = load_profile(_profile(tmp_path, 'halt_file = "shared/halt"'))
    assert relative.halt_file == tmp_path / "shared" / "halt"
    assert relative.allowlist.namespaces == ("x",)  # the rest of [safety] still reads


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("halt_file = 3", "key 'safety.halt_file' is 3"),
        ('halt_fil = "x"', "did you mean 'halt_file'"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_profile(_profile(tmp_path, line))
