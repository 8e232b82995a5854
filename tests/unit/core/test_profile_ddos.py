"""The `[ddos]` section of a profile: the runbook's RATE_LIMIT, the attacker, the judgement."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.ddos import DdosSettings
from drills.core.errors import ConfigError
from drills.core.profile import load_profile

ENVIRONMENTS = Path(__file__).resolve().parents[3] / "fixtures" / "environments"
BASE = '[services.shop]\nrto = "15m"\n'


def _profile(tmp_path: Path, ddos: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(f"{BASE}\n[ddos]\n{ddos}\n", encoding="utf-8")
    return path


def test_without_the_section_the_runbooks_limit_applies(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(BASE, encoding="utf-8")
    ddos = load_profile(path).ddos
    assert ddos == DdosSettings()
    assert ddos.rate_limit == "100"  # RUNBOOKS.md §3.18 step 2 [004]


def test_the_sandbox_limits_below_the_attacker_and_above_a_user() -> None:
    ddos = load_profile(ENVIRONMENTS / "sandbox.toml").ddos
    assert ddos.rate_limit == "2/s"
    assert len(ddos.attacker_identities) == 3
    assert all(a.startswith("203.0.113.") for a in ddos.attacker_identities)


def test_every_key_is_read(tmp_path: Path) -> None:
    text = (
        'rate_limit = "6000/m"\nattacker_users = 12\nattacker_rate = 2.5\n'
        'attacker_identities = ["192.0.2.1"]\n'
        'offender_factor = 4\nthrottled_share = 0.9\nthrottled_within = "10s"\n'
        'load_balancer_arn = "arn:x"\nusers = 8\nusers_think = 1\ncpu_work_ms = 12\n'
    )
    ddos = load_profile(_profile(tmp_path, text)).ddos
    assert ddos == DdosSettings(
        "6000/m", 12, 2.5, ("192.0.2.1",), 4.0, 0.9, 10.0, "arn:x", 8, 1.0, 12.0
    )


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('rate_limit = "100/h"', "rate_limit"),
        ("attacker_users = 0", "attacker_users"),
        ("offender_factor = 1", "offender_factor"),
        ("throttled_share = 2", "throttled_share"),
        ("attackers = 3", "attackers"),
    ],
)
def test_a_bad_key_is_named(tmp_path: Path, line: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_profile(_profile(tmp_path, line))
