"""The `[pool]` section of a profile: the runbook's idle rule, its scale, and the headroom."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.errors import ConfigError
from drills.core.profile import PoolSettings, load_profile

ENVIRONMENTS = Path(__file__).resolve().parents[3] / "fixtures" / "environments"
BASE = '[services.shop]\nrto = "15m"\n'


def _profile(tmp_path: Path, pool: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(f"{BASE}\n[pool]\n{pool}\n", encoding="utf-8")
    return path


def test_without_a_pool_section_the_runbook_rule_applies_unscaled(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(BASE, encoding="utf-8")
    pool = load_profile(path).pool
    assert pool == PoolSettings()
    assert pool.idle_age_s == 600.0


def test_the_sandbox_shrinks_ten_minutes_to_seconds_and_staging_does_not() -> None:
    sandbox = load_profile(ENVIRONMENTS / "sandbox.toml").pool
    staging = load_profile(ENVIRONMENTS / "staging.example.toml").pool
    assert sandbox.idle_after_s == staging.idle_after_s == 600.0
    assert sandbox.idle_age_s < 10.0
    assert staging.idle_age_s == 600.0
    assert sandbox.headroom >= 1


def test_every_key_is_read(tmp_path: Path) -> None:
    path = _profile(tmp_path, 'idle_after = "5m"\nidle_scale = 0.01\nheadroom = 3')
    assert load_profile(path).pool == PoolSettings(300.0, 0.01, 3)
    assert load_profile(path).pool.idle_age_s == pytest.approx(3.0)
    keys = 'fill_server = true\nmax_sessions = 12\nreset_after = "45s"'
    pool = load_profile(_profile(tmp_path, keys)).pool
    assert (pool.fill_server, pool.max_sessions, pool.reset_after_s) == (True, 12, 45.0)


def test_the_leak_fills_a_whole_server_only_where_the_profile_opts_in() -> None:
    assert PoolSettings().fill_server is False  # a shared server is safe by default
    assert load_profile(ENVIRONMENTS / "sandbox.toml").pool.fill_server is True
    assert load_profile(ENVIRONMENTS / "containers.toml").pool.fill_server is True
    assert load_profile(ENVIRONMENTS / "staging.example.toml").pool.fill_server is False


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("idle_scale = 0", "pool.idle_scale"),
        ("idle_scale = 2", "pool.idle_scale"),
        ('idle_after = "0s"', "pool.idle_after"),
        ("headroom = 0", "pool.headroom"),
        ("idle_age = 3", "pool.idle_age"),
        ('fill_server = "yes"', "pool.fill_server"),
        ("max_sessions = 0", "pool.max_sessions"),
        ('reset_after = "soon"', "pool.reset_after"),
    ],
)
def test_a_bad_value_names_the_key(tmp_path: Path, line: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_profile(_profile(tmp_path, line))
