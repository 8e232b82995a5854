"""The `[evidence]` table: which key `drills evidence seal` signs with."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.errors import ConfigError
from drills.core.profile import EvidenceSettings, load_profile

ENVIRONMENTS = Path(__file__).resolve().parents[3] / "fixtures" / "environments"


def _profile(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_table_means_no_key_of_the_profile(tmp_path: Path) -> None:
    assert load_profile(_profile(tmp_path, "")).evidence == EvidenceSettings(None)


@pytest.mark.parametrize("name", ["sandbox", "containers", "staging.example"])
def test_shipped_profiles_leave_the_key_to_the_variable_or_the_default(name: str) -> None:
    assert load_profile(ENVIRONMENTS / f"{name}.toml").evidence.signing_key is None


def test_a_relative_key_is_resolved_against_the_profiles_directory(tmp_path: Path) -> None:
    path = _profile(tmp_path / "environments", '[evidence]\nsigning_key = "keys/staging.pem"\n')
    key = load_profile(path).evidence.signing_key
    assert key == tmp_path / "environments" / "keys" / "staging.pem"


def test_an_absolute_key_is_kept(tmp_path: Path) -> None:
    path = _profile(tmp_path, '[evidence]\nsigning_key = "/etc/drills/key.pem"\n')
    assert load_profile(path).evidence.signing_key == Path("/etc/drills/key.pem")


def test_a_home_relative_key_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = _profile(tmp_path, '[evidence]\nsigning_key = "~/drills.pem"\n')
    assert load_profile(path).evidence.signing_key == tmp_path / "home" / "drills.pem"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[evidence]\nsigning_kye = "k.pem"\n', "evidence.signing_kye"),
        ('[evidence]\nsigning_key = ""\n', "evidence.signing_key"),
        ("[evidence]\nsigning_key = 3\n", "evidence.signing_key"),
        ('evidence = "k.pem"\n', "evidence"),
    ],
    ids=["unknown-key", "empty", "not-a-string", "not-a-table"],
)
def test_mistakes_in_the_table_are_rejected_naming_the_key(
    tmp_path: Path, text: str, says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        load_profile(_profile(tmp_path, text))
