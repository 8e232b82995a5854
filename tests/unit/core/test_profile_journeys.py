"""A service's journeys and key-only ledger in the profile: read, and refused when unusable."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.errors import ConfigError
from drills.core.journeys import Journey
from drills.core.profile import Profile, load_profile
from drills.core.services import ServiceLedger, ServiceWorkload

SERVICE = """
[services.notes]
deployment = "notes"
"""
LEDGER = """
[services.notes.ledger]
table = "notes"
key_column = "note_id"
"""
JOURNEYS = """
[[services.notes.journeys]]
name = "write a note"
method = "PUT"
path = "/notes/{key}"
body = '{"text": "drill {n}"}'
weight = 2
expect = [200, 201]
ack = true

[[services.notes.journeys]]
name = "read a note"
path = "/notes/{key}"
read_of = "write a note"
"""


def _load(tmp_path: Path, text: str) -> Profile:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return load_profile(path)


def _notes(tmp_path: Path, text: str) -> ServiceWorkload:
    notes = _load(tmp_path, text).service("notes")
    assert notes is not None
    assert notes.workload is not None
    return notes.workload


def test_journeys_and_a_key_only_ledger_are_read(tmp_path: Path) -> None:
    notes = _notes(tmp_path, SERVICE + LEDGER + JOURNEYS)
    assert notes.ledger == ServiceLedger("notes", "note_id", None)
    assert [j.name for j in notes.load.journeys] == ["write a note", "read a note"]
    assert notes.load.journeys[1] == Journey(
        "read a note", path="/notes/{key}", read_of="write a note"
    )
    assert notes.load.locustfile is None


def test_an_empty_hash_column_means_the_key_alone(tmp_path: Path) -> None:
    assert _notes(tmp_path, SERVICE + LEDGER + 'hash_column = ""\n').ledger.hash_column is None
    given = _notes(tmp_path, SERVICE + LEDGER + 'hash_column = "digest"\n')
    assert given.ledger.hash_column == "digest"


def test_a_service_without_a_ledger_table_keeps_the_shops(tmp_path: Path) -> None:
    assert _notes(tmp_path, SERVICE).ledger.is_shop


def test_a_journey_mistake_names_the_profile_key(tmp_path: Path) -> None:
    text = SERVICE + LEDGER + JOURNEYS.replace('method = "PUT"', 'method = "SEND"')
    with pytest.raises(ConfigError, match=r"p\.toml: key 'services\.notes\.journeys\[0\]\.method'"):
        _load(tmp_path, text)


def test_a_locustfile_and_journeys_together_are_refused(tmp_path: Path) -> None:
    text = SERVICE + LEDGER + '[services.notes.load]\nlocustfile = "x.py"\n' + JOURNEYS
    with pytest.raises(ConfigError, match=r"load\.locustfile' is set beside \[\[journeys\]\]"):
        _load(tmp_path, text)


@pytest.mark.parametrize("ledger", ["", LEDGER + 'hash_column = "payload_hash"\n'])
def test_acknowledging_journeys_need_a_key_only_ledger(tmp_path: Path, ledger: str) -> None:
    with pytest.raises(ConfigError, match=r"notes\.ledger' .* by key alone.*no hash_column"):
        _load(tmp_path, SERVICE + ledger + JOURNEYS)


def test_journeys_without_a_deployment_are_refused(tmp_path: Path) -> None:
    text = '[services.notes]\nrto = "15m"\n' + JOURNEYS
    with pytest.raises(ConfigError, match=r"notes\.journeys' describes a workload"):
        _load(tmp_path, text)
