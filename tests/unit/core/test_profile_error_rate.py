"""The `[error_rate]` section of a profile: the HighErrorRate lines and their scaled window."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.error_rate import ErrorRateSettings
from drills.core.errors import ConfigError
from drills.core.profile import load_profile

ENVIRONMENTS = Path(__file__).resolve().parents[3] / "fixtures" / "environments"
BASE = '[services.shop]\nrto = "15m"\n'


def _profile(tmp_path: Path, section: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(f"{BASE}\n[error_rate]\n{section}\n", encoding="utf-8")
    return path


def test_without_the_section_the_seeds_figures_apply(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(BASE, encoding="utf-8")
    settings = load_profile(path).error_rate
    assert settings == ErrorRateSettings()
    assert (settings.effective_window_s, settings.critical, settings.warning, settings.p2) == (
        300.0,
        0.05,
        0.01,
        0.001,
    )


def test_the_sandbox_scales_the_five_minute_window_to_seconds() -> None:
    settings = load_profile(ENVIRONMENTS / "sandbox.toml").error_rate
    assert settings.window_s == 300.0  # [002]
    assert settings.effective_window_s < 10
    assert settings.fail_share > settings.critical


def test_every_key_is_read(tmp_path: Path) -> None:
    text = (
        'window = "1m"\nwindow_scale = 0.5\ncritical = 0.2\nwarning = 0.1\np2 = 0.01\n'
        "fail_share = 0.3"
    )
    settings = load_profile(_profile(tmp_path, text)).error_rate
    assert settings == ErrorRateSettings(60.0, 0.5, 0.2, 0.1, 0.01, 0.3)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("window_scale = 0", "error_rate.window"),
        ("critical = 5", "error_rate.critical"),
        ("fail_share = 0.01", "error_rate.fail_share"),  # would never fire the critical line
        ("windw = 1", "error_rate.windw"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, line: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_profile(_profile(tmp_path, line))
