"""The `[history]` table: the regression gate's window and growth thresholds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from drills.core.errors import ConfigError
from drills.core.profile import load_profile
from drills.core.trend import DEFAULT_HISTORY, HistorySettings

ENVIRONMENTS = Path(__file__).resolve().parents[3] / "fixtures" / "environments"


def _profile(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_table_means_the_defaults(tmp_path: Path) -> None:
    assert load_profile(_profile(tmp_path, "")).history == DEFAULT_HISTORY
    assert HistorySettings(window=5, rto_growth=0.5, rpo_growth=0.5) == DEFAULT_HISTORY


@pytest.mark.parametrize("name", ["sandbox", "containers", "staging.example"])
def test_shipped_profiles_load_with_a_history_gate(name: str) -> None:
    assert load_profile(ENVIRONMENTS / f"{name}.toml").history.window >= 1


def test_every_key_is_read(tmp_path: Path) -> None:
    text = "[history]\nwindow = 8\nrto_growth = 0.25\nrpo_growth = 2\n"
    assert load_profile(_profile(tmp_path, text)).history == HistorySettings(8, 0.25, 2.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("window = 0", "key 'history.window' is 0"),
        ("window = 2.5", "key 'history.window' is 2.5"),
        ("rto_growth = -0.1", "key 'history.rto_growth' is -0.1"),
        ('rpo_growth = "50%"', "key 'history.rpo_growth' is '50%'"),
        ("rto_grow = 0.5", "did you mean 'rto_growth'?"),
    ],
)
def test_bad_values_and_unknown_keys_are_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_profile(_profile(tmp_path, f"[history]\n{text}\n"))
