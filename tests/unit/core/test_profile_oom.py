"""The `[oom]` section of a profile: the leak, the limit it runs under, the runbook's raise."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.errors import ConfigError
from drills.core.memory import OomSettings
from drills.core.profile import load_profile

ENVIRONMENTS = Path(__file__).resolve().parents[3] / "fixtures" / "environments"
BASE = '[services.shop]\nrto = "15m"\n'


def _profile(tmp_path: Path, oom: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(f"{BASE}\n[oom]\n{oom}\n", encoding="utf-8")
    return path


def test_without_the_section_the_runbooks_figures_apply(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(BASE, encoding="utf-8")
    oom = load_profile(path).oom
    assert oom == OomSettings()
    assert (oom.limit, oom.raised_limit, oom.memory_warning) == ("512Mi", "1Gi", 0.8)
    assert (oom.limit_bytes, oom.raised_limit_bytes) == (512 * 2**20, 2**30)


def test_the_sandbox_runs_the_leak_under_a_small_limit_and_raises_to_the_runbooks() -> None:
    sandbox = load_profile(ENVIRONMENTS / "sandbox.toml").oom
    assert sandbox.raised_limit == "1Gi"  # [000]
    assert sandbox.limit_bytes < 512 * 2**20
    assert sandbox.top_for_s < 60


def test_every_key_is_read(tmp_path: Path) -> None:
    text = (
        'leak_kb_per_request = 64\nlimit = "100M"\nraised_limit = "2Gi"\n'
        'memory_warning = 0.9\ntop_for = "30s"'
    )
    oom = load_profile(_profile(tmp_path, text)).oom
    assert oom == OomSettings(64, "100M", "2Gi", 0.9, 30.0)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('limit = "lots"', "oom.limit"),
        ('raised_limit = "256Mi"', "oom.raised_limit"),  # not above the 512Mi default
        ("memory_warning = 80", "oom.memory_warning"),
        ("leak_kb_per_request = 0", "oom.leak_kb_per_request"),
        ("leek = 1", "oom.leek"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, line: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_profile(_profile(tmp_path, line))
