import json
from pathlib import Path

import pytest

from drills.core.errors import ConfigError, SafetyViolation
from drills.core.safety import (
    Allowlist,
    BlastRadius,
    RollbackEntry,
    RollbackLedger,
    RollbackRegistry,
)


def test_ledger_keeps_pending_until_marked_done(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "rollbacks.jsonl")
    first = RollbackEntry("scale", "deployment/shop", {"replicas": 3})
    second = RollbackEntry("uncordon", "node/sandbox-node-1")
    ledger.record(first)
    ledger.record(second)
    ledger.mark_done(first.entry_id)
    pending = ledger.pending()
    assert [e.entry_id for e in pending] == [second.entry_id]
    assert pending[0].kind == "uncordon"


def test_a_new_ledger_object_sees_what_another_wrote(tmp_path: Path) -> None:
    path = tmp_path / "rollbacks.jsonl"
    RollbackLedger(path).record(RollbackEntry("scale", "deployment/shop", {"replicas": 3}))
    [entry] = RollbackLedger(path).pending()
    assert dict(entry.args) == {"replicas": 3}


def test_failed_rollback_stays_pending(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "r.jsonl")
    entry = RollbackEntry("scale", "deployment/shop")
    ledger.record(entry)
    ledger.mark_done(entry.entry_id, outcome="failed")
    assert [e.entry_id for e in ledger.pending()] == [entry.entry_id]


def test_torn_last_line_from_a_killed_process_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    ledger = RollbackLedger(path)
    entry = RollbackEntry("scale", "deployment/shop")
    ledger.record(entry)
    with path.open("a") as handle:
        handle.write('{"state": "done", "entry_')
    assert [e.entry_id for e in ledger.pending()] == [entry.entry_id]


def test_corrupt_middle_line_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    line = json.dumps({"state": "pending", "entry_id": "a", "kind": "k", "target": "t"})
    path.write_text("garbage\n" + line + "\n")
    with pytest.raises(ConfigError, match=r"r\.jsonl:1"):
        RollbackLedger(path).pending()


def test_missing_file_has_nothing_pending(tmp_path: Path) -> None:
    assert RollbackLedger(tmp_path / "absent.jsonl").pending() == []


def test_registry_replays_by_kind_and_names_known_kinds() -> None:
    registry = RollbackRegistry()
    seen: list[str] = []
    registry.register("scale", lambda entry: seen.append(entry.target))
    registry.run(RollbackEntry("scale", "deployment/shop"))
    assert seen == ["deployment/shop"]
    with pytest.raises(KeyError, match="known: scale"):
        registry.run(RollbackEntry("nope", "x"))


@pytest.mark.parametrize(
    ("fraction", "cap", "total", "allowed"),
    [
        (0.5, None, 3, 1),
        (0.5, None, 4, 2),
        (1.0, None, 3, 3),
        (0.5, 1, 10, 1),
        (0.1, None, 3, 0),  # a cap, never a floor: 10 % of 3 is no pod at all
        (0.5, None, 1, 0),  # half of a one-pod group is 0, not the whole group
        (0.5, 0, 10, 0),
        (0.5, None, 0, 0),
    ],
)
def test_blast_radius(fraction: float, cap: int | None, total: int, allowed: int) -> None:
    assert BlastRadius(fraction, cap).allowed(total) == allowed


def test_blast_radius_violation_says_how_to_fix() -> None:
    with pytest.raises(SafetyViolation, match="max_fraction"):
        BlastRadius(0.5).check(wanted=3, total=3, what="pods")


def test_a_cap_of_zero_refuses_the_fault_and_says_why() -> None:
    with pytest.raises(SafetyViolation, match=r"allows 0 of 1 pods \(max_fraction 0\.5\)"):
        BlastRadius(0.5).check(wanted=1, total=1, what="pods")


def test_allowlist_refuses_with_the_profile_path() -> None:
    allow = Allowlist(kube_contexts=("drills-sandbox",), namespaces=("default",), source="p.toml")
    allow.check_context("drills-sandbox")
    allow.check_namespace("default")
    with pytest.raises(SafetyViolation, match=r"prod.*p\.toml"):
        allow.check_context("prod")
    with pytest.raises(SafetyViolation, match="kube-system"):
        allow.check_namespace("kube-system")
    with pytest.raises(SafetyViolation, match="aws_accounts"):
        allow.check_account("123456789012")


def test_a_discarded_entry_is_no_longer_pending_and_keeps_its_reason(tmp_path: Path) -> None:
    from drills.core.safety import RollbackEntry, RollbackLedger

    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    ledger.record(RollbackEntry("toy", "a", entry_id="aaa"))
    ledger.record(RollbackEntry("toy", "b", entry_id="bbb"))
    ledger.discard("aaa", reason="fixed by hand", operator="ana", at="2026-01-01T00:00:00Z")
    assert [e.entry_id for e in ledger.pending()] == ["bbb"]
    [gone] = ledger.discarded()
    assert (gone.entry.target, gone.reason, gone.operator, gone.at) == (
        "a",
        "fixed by hand",
        "ana",
        "2026-01-01T00:00:00Z",
    )


def test_discard_needs_a_reason_and_a_pending_id(tmp_path: Path) -> None:
    from drills.core.errors import ConfigError
    from drills.core.safety import RollbackEntry, RollbackLedger

    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    ledger.record(RollbackEntry("toy", "a", entry_id="aaa"))
    with pytest.raises(ConfigError, match="needs a reason"):
        ledger.discard("aaa", reason="  ", operator="ana", at="t")
    with pytest.raises(ConfigError, match="pending ids: aaa"):
        ledger.discard("zzz", reason="x", operator="ana", at="t")
    ledger.mark_done("aaa")
    with pytest.raises(ConfigError, match="pending ids: none"):
        ledger.discard("aaa", reason="x", operator="ana", at="t")


def test_ledger_lines_from_before_discard_still_load(tmp_path: Path) -> None:
    from drills.core.safety import RollbackLedger

    path = tmp_path / "ledger.jsonl"
    old = [
        '{"args": {"image": "shop:1"}, "entry_id": "aaa", "kind": "bad-release", '
        '"state": "pending", "target": "default/deployment/shop"}',
        '{"entry_id": "bbb", "kind": "toy", "state": "pending", "target": "x"}',
        '{"entry_id": "bbb", "state": "done"}',
        '{"entry_id": "aaa", "state": "failed"}',
    ]
    path.write_text("\n".join(old) + "\n")
    ledger = RollbackLedger(path)
    assert [(e.entry_id, e.args) for e in ledger.pending()] == [("aaa", {"image": "shop:1"})]
    assert ledger.discarded() == []
