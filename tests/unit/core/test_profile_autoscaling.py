"""The profile's [autoscaling] section (hpa-spike drill): defaults, shipped values, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.durations import parse_duration
from drills.core.errors import ConfigError
from drills.core.profile import AutoscalingSettings, load_profile
from drills.sandbox.controlplane import SANDBOX_TIMINGS

ENVIRONMENTS = Path(__file__).resolve().parents[3] / "fixtures" / "environments"


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text('[services.shop]\nrto = "15m"\n' + body, encoding="utf-8")
    return path


def test_a_profile_without_the_section_gets_the_runbook_range() -> None:
    settings = load_profile(ENVIRONMENTS / "containers.toml").autoscaling
    assert settings == AutoscalingSettings()
    assert (settings.min_replicas, settings.max_replicas) == (3, 10)


def test_sandbox_and_staging_bound_the_scale_up() -> None:
    sandbox = load_profile(ENVIRONMENTS / "sandbox.toml").autoscaling
    staging = load_profile(ENVIRONMENTS / "staging.example.toml").autoscaling
    assert sandbox.hpa == staging.hpa == "shop"
    assert sandbox.scale_up_within_s < staging.scale_up_within_s
    assert sandbox.spike_factor is not None
    assert sandbox.spike_factor > 1


def test_every_key_is_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[autoscaling]\nhpa = "web"\nmin_replicas = 2\nmax_replicas = 4\n'
        'scale_up_within = "45s"\nscale_in_within = "2m"\nspike_hold = "30s"\nspike_factor = 3\n'
        'metrics_settle = "4s"\nscale_down_window = "30s"\nsync_period = "5s"\n',
    )
    expected = AutoscalingSettings("web", 2, 4, 45.0, 120.0, 30.0, 3.0, 4.0, 30.0, 5.0)
    assert load_profile(path).autoscaling == expected


def test_the_sandbox_expects_its_controller_flags() -> None:
    """The replay judges the sandbox HPA by the flags SANDBOX_TIMINGS gives the controller."""
    sandbox = load_profile(ENVIRONMENTS / "sandbox.toml").autoscaling
    flags = {t.flag: parse_duration(t.value) for t in SANDBOX_TIMINGS}
    window = flags["--horizontal-pod-autoscaler-downscale-stabilization"]
    sync = flags["--horizontal-pod-autoscaler-sync-period"]
    assert (sandbox.scale_down_window_s, sandbox.sync_period_s) == (window, sync) == (10.0, 2.0)
    assert AutoscalingSettings().scale_down_window_s is None  # the HPA's own, else upstream's


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("min_replicas = 5\nmax_replicas = 4\n", "autoscaling.max_replicas"),
        ('scale_up_within = "0s"\n', "autoscaling.scale_up_within"),
        ("spike_factor = 0.5\n", "autoscaling.spike_factor"),
        ('sync_period = "0s"\n', "autoscaling.sync_period"),
        ("max_replica = 4\n", "autoscaling.max_replica"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, body: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_profile(_write(tmp_path, "[autoscaling]\n" + body))
