"""`[load] connect_timeout`, `read_timeout`: each request is bounded under the window."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.errors import ConfigError
from drills.core.profile import load_profile

MINIMAL = '[services.shop]\nrto = "15m"\n'


def _profile(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(MINIMAL + text, encoding="utf-8")
    return path


def test_defaults_are_well_under_the_default_stability_window(tmp_path: Path) -> None:
    profile = load_profile(_profile(tmp_path, ""))
    window_s = profile.waits.stability_window_s
    assert (profile.load.connect_timeout_s, profile.load.read_timeout_s) == (2.0, 5.0)
    assert profile.load.connect_timeout_s + profile.load.read_timeout_s < window_s


def test_the_profile_sets_both_timeouts(tmp_path: Path) -> None:
    profile = load_profile(
        _profile(tmp_path, '[load]\nconnect_timeout = "1s"\nread_timeout = "3s"\n')
    )
    assert (profile.load.connect_timeout_s, profile.load.read_timeout_s) == (1.0, 3.0)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[load]\nread_timeout = "10s"\n', "load.read_timeout"),  # as long as the window
        ('[load]\nread_timeout = "0s"\n', "load.read_timeout"),
        ('[load]\nconnect_timeout = "30s"\n', "load.connect_timeout"),
        ('[waits]\nstability_window = "4s"\n', "load.read_timeout"),  # default 5 s is too long
    ],
)
def test_a_timeout_that_could_hide_a_stuck_user_is_refused(
    tmp_path: Path, text: str, key: str
) -> None:
    with pytest.raises(ConfigError, match=f"key '{key}'.*stability window"):
        load_profile(_profile(tmp_path, text))


@pytest.mark.parametrize("name", ["sandbox", "containers", "staging.example"])
def test_shipped_profiles_bound_every_request(name: str) -> None:
    path = Path(__file__).resolve().parents[3] / "fixtures" / "environments" / f"{name}.toml"
    profile = load_profile(path)
    assert 0 < profile.load.read_timeout_s < profile.waits.stability_window_s
