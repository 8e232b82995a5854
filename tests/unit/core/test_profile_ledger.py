"""The `[ledger]` limits: what a ledger comparison tolerates besides lost writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.dataloss import LedgerLimits
from drills.core.errors import ConfigError
from drills.core.profile import load_profile

ENVIRONMENTS = Path(__file__).resolve().parents[3] / "fixtures" / "environments"


def _profile(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_is_no_duplicate_and_one_percent_unexpected(tmp_path: Path) -> None:
    assert load_profile(_profile(tmp_path, "")).ledger == LedgerLimits(0, 0.01)


@pytest.mark.parametrize("name", ["sandbox", "containers", "staging.example"])
def test_shipped_profiles_allow_no_duplicate(name: str) -> None:
    assert load_profile(ENVIRONMENTS / f"{name}.toml").ledger.max_duplicates == 0


def test_zero_and_other_values_are_read(tmp_path: Path) -> None:
    text = "[ledger]\nmax_duplicates = 2\nmax_unexpected_ratio = 0\n"
    assert load_profile(_profile(tmp_path, text)).ledger == LedgerLimits(2, 0.0)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[ledger]\nmax_duplicates = -1\n", "ledger.max_duplicates"),
        ("[ledger]\nmax_duplicates = 0.5\n", "ledger.max_duplicates"),
        ("[ledger]\nmax_unexpected_ratio = 2\n", "ledger.max_unexpected_ratio"),
        ("[ledger]\nmax_duplicate = 0\n", "ledger.max_duplicate"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_profile(_profile(tmp_path, text))
