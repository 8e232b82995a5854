"""`drills rollback`: one line per entry, at most one action, discard, refusal under a live run."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import pytest
from rich.console import Console

from drills.cli import main
from drills.cli.rollback import pending_refusal, replay
from drills.core.runlock import LockHolder, RunLock, lock_path
from drills.core.safety import JsonScalar, Replayed, RollbackEntry, RollbackLedger, RollbackRegistry
from drills.faults.registry import default_registry, restore_file_entry
from drills.targets.adapters.kube_rollbacks import register_rollbacks


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=300, soft_wrap=True), out


def _flat(out: io.StringIO) -> str:
    return " ".join(out.getvalue().split())


def _toy(acted: list[str], *, state: dict[str, str]) -> RollbackRegistry:
    """A kind that puts `state["x"]` back to "good" and says so only when it acted."""
    registry = RollbackRegistry()

    def undo(entry: RollbackEntry) -> Replayed:
        if state["x"] == "good":
            return Replayed.ALREADY
        acted.append(entry.entry_id)
        state["x"] = "good"
        return Replayed.RESTORED

    registry.register("toy", undo)
    return registry


def test_each_entry_gets_one_line_with_its_id_kind_target_and_outcome(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    first, second = RollbackEntry("toy", "a", entry_id="aaa"), RollbackEntry("toy", "b")
    ledger.record(first)
    ledger.record(second)
    acted: list[str] = []
    out_console, out = _console()
    assert replay(ledger.path, out_console, registry=_toy(acted, state={"x": "bad"})) == 0
    lines = out.getvalue().splitlines()
    assert lines == [
        "aaa toy a: restored",
        f"{second.entry_id} toy b: already as recorded (nothing done)",
    ]
    assert acted == ["aaa"]  # the second found the state restored and did nothing


def test_an_entry_replayed_again_after_a_crash_before_done_acts_once(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    ledger.record(RollbackEntry("toy", "a", entry_id="aaa"))
    acted: list[str] = []
    state = {"x": "good"}  # the first replay acted, then died before writing `done`
    out_console, out = _console()
    assert replay(ledger.path, out_console, registry=_toy(acted, state=state)) == 0
    assert acted == []
    assert "aaa toy a: already as recorded (nothing done)" in out.getvalue()
    assert ledger.pending() == []


def test_a_plugin_returning_none_counts_as_restored(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    ledger.record(RollbackEntry("old", "a", entry_id="aaa"))
    registry = RollbackRegistry()
    registry.register("old", lambda entry: None)
    out_console, out = _console()
    assert replay(ledger.path, out_console, registry=registry) == 0
    assert out.getvalue().splitlines() == ["aaa old a: restored"]


def test_a_failure_says_why_and_stays_pending_while_the_rest_replays(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    ledger.record(RollbackEntry("broken", "a", entry_id="aaa"))
    ledger.record(RollbackEntry("toy", "b", entry_id="bbb"))
    registry = _toy([], state={"x": "bad"})

    def broken(entry: RollbackEntry) -> None:
        raise ConnectionError("cluster unreachable")

    registry.register("broken", broken)
    out_console, out = _console()
    assert replay(ledger.path, out_console, registry=registry) == 1
    text = _flat(out)
    assert "aaa broken a: FAILED: ConnectionError: cluster unreachable (stays pending)" in text
    assert "bbb toy b: restored" in text
    assert "--discard ID --reason TEXT" in text
    assert [e.entry_id for e in ledger.pending()] == ["aaa"]


def test_restore_file_replayed_twice_writes_once(tmp_path: Path) -> None:
    target = tmp_path / "config"
    target.write_text("broken")
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    entry = restore_file_entry(target, "good")
    ledger.record(entry)
    registry = default_registry(plugins=False)
    assert registry.run(entry) is Replayed.RESTORED
    before = target.stat().st_mtime_ns
    assert registry.run(entry) is Replayed.ALREADY  # the crash before `done`, replayed again
    assert target.stat().st_mtime_ns == before
    assert target.read_text() == "good"
    created = restore_file_entry(tmp_path / "new", None)
    assert registry.run(created) is Replayed.ALREADY  # never created, or removed by hand


# -- discard ----------------------------------------------------------------------------------
def _project(tmp_path: Path, *entries: RollbackEntry) -> RollbackLedger:
    (tmp_path / "pyproject.toml").write_text("")
    ledger = RollbackLedger(tmp_path / ".drills" / "rollbacks.jsonl")
    for entry in entries:
        ledger.record(entry)
    return ledger


def test_discard_records_reason_operator_and_time(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    ledger = _project(tmp_path, RollbackEntry("toy", "a", entry_id="aaa"))
    argv = ["--root", str(tmp_path), "rollback", "--discard", "aaa", "--operator", "ana"]
    assert main([*argv, "--reason", "HPA re-applied by hand"]) == 0
    assert "aaa toy a: discarded by ana at " in " ".join(capfd.readouterr().out.split())
    assert ledger.pending() == []
    [gone] = ledger.discarded()
    assert (gone.entry.entry_id, gone.reason, gone.operator) == (
        "aaa",
        "HPA re-applied by hand",
        "ana",
    )
    assert gone.at.startswith("20")
    last = json.loads(ledger.path.read_text().splitlines()[-1])
    assert last["state"] == "discarded"


def test_discard_needs_a_reason(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    ledger = _project(tmp_path, RollbackEntry("toy", "a", entry_id="aaa"))
    assert main(["--root", str(tmp_path), "rollback", "--discard", "aaa"]) == 2
    assert "needs a reason (--reason TEXT)" in capfd.readouterr().out
    assert len(ledger.pending()) == 1


def test_discard_of_an_unknown_id_lists_the_pending_ones(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    _project(
        tmp_path,
        RollbackEntry("toy", "a", entry_id="aaa"),
        RollbackEntry("toy", "b", entry_id="bbb"),
    )
    argv = ["--root", str(tmp_path), "rollback", "--discard", "zzz", "--reason", "x"]
    assert main(argv) == 2
    assert "pending ids: aaa, bbb" in " ".join(capfd.readouterr().out.split())


def test_dry_run_shows_pending_and_discarded_entries(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    ledger = _project(
        tmp_path,
        RollbackEntry("toy", "a", entry_id="aaa"),
        RollbackEntry("toy", "b", entry_id="bbb"),
    )
    ledger.discard("aaa", reason="fixed by hand", operator="ana", at="2026-01-01T00:00:00+00:00")
    assert main(["--root", str(tmp_path), "rollback", "--dry-run"]) == 0
    out = " ".join(capfd.readouterr().out.split())
    assert "bbb toy b: pending, would replay" in out
    assert "aaa toy a: discarded by ana at 2026-01-01T00:00:00+00:00: fixed by hand" in out
    assert [e.entry_id for e in ledger.pending()] == ["bbb"]


def test_run_refusal_names_the_entries_and_both_ways_out(tmp_path: Path) -> None:
    text = pending_refusal(
        [RollbackEntry("scale-to", "default/deployment/shop", entry_id="aaa")], tmp_path
    )
    assert "aaa (scale-to default/deployment/shop)" in text
    assert "`drills rollback`" in text
    assert "`drills rollback --discard ID --reason TEXT`" in text


# -- refusals and an unreachable cluster ------------------------------------------------------
def test_rollback_refuses_while_a_run_holds_the_environment(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    ledger = _project(tmp_path, RollbackEntry("restore-file", str(tmp_path / "f"), entry_id="aaa"))
    lock = RunLock(lock_path(tmp_path, "staging"), "staging")
    holder = LockHolder.of_this_process(
        "staging", started_at="2026-01-01T00:00:00Z", drills=("pod-kill",), command="drills run"
    )
    lock.acquire(holder)
    try:
        assert main(["--root", str(tmp_path), "rollback"]) == 2
    finally:
        lock.release()
    out = " ".join(capfd.readouterr().out.split())
    assert "environment 'staging' is in use by pid" in out
    assert "drills run pod-kill" in out
    assert "would undo that run's live faults" in out
    assert len(ledger.pending()) == 1
    assert main(["--root", str(tmp_path), "rollback"]) == 0  # the run ended: replay proceeds
    assert ledger.pending() == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


def _kubeconfig(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "drills-sandbox", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "drills-sandbox",
    }
    path.write_text(json.dumps(config))
    return path


def test_an_unreachable_cluster_keeps_the_entry_pending_with_exit_1(tmp_path: Path) -> None:
    kubeconfig = _kubeconfig(tmp_path, _closed_port())
    args: dict[str, JsonScalar] = {
        "replicas": 3,
        "kubeconfig": str(kubeconfig),
        "context": "drills-sandbox",
    }
    entry = RollbackEntry("scale-to", "default/deployment/shop", args, entry_id="aaa")
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    ledger.record(entry)
    registry = RollbackRegistry()
    register_rollbacks(registry)
    out_console, out = _console()
    assert replay(ledger.path, out_console, registry=registry) == 1
    assert "aaa scale-to default/deployment/shop: FAILED: " in _flat(out)
    assert "(stays pending)" in _flat(out)
    assert [e.entry_id for e in ledger.pending()] == ["aaa"]
