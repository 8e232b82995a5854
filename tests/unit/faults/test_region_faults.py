"""`region-failover`'s changes: each records its rollback from data, replayable by kind."""

from __future__ import annotations

from drills.cli.reinstate import register_rollbacks
from drills.core.safety import RollbackRegistry
from drills.faults.region import (
    BACKUP_REGION,
    ENTRY_SWITCH,
    REGION_PRIMARY_KILLED,
    BackupRegion,
    EntrySwitch,
)


def test_the_backup_region_starts_on_apply_and_stops_on_rollback() -> None:
    done: list[str] = []
    region = BackupRegion(
        "drills-backup-region-x",
        start=lambda: done.append("start"),
        stop=lambda: done.append("stop"),
        args={"region_root": "/tmp/drills-backup-region-x"},
    )
    entry = region.rollback_entry()
    assert (entry.kind, entry.target) == (BACKUP_REGION, "region/drills-backup-region-x")
    assert entry.args == {"region_root": "/tmp/drills-backup-region-x"}
    region.apply()
    region.rollback()
    assert done == ["start", "stop"]
    assert "rollback: taken down" in region.describe()


def test_the_entry_switch_names_the_entry_and_switches_back() -> None:
    done: list[str] = []
    args = {"namespace": "default", "slice": "shop-r", "kubeconfig": "/k", "context": "c"}
    switch = EntrySwitch(
        "default/service/shop",
        "drills-backup-region-x",
        switch=lambda: done.append("switch"),
        switch_back=lambda: done.append("back"),
        args=args,
    )
    entry = switch.rollback_entry()
    assert (entry.kind, entry.target, dict(entry.args)) == (
        ENTRY_SWITCH,
        "entry/default/service/shop",
        args,
    )
    switch.apply()
    switch.rollback()
    assert done == ["switch", "back"]
    assert "drills-backup-region-x" in switch.describe()


def test_drills_rollback_knows_every_region_kind() -> None:
    registry = RollbackRegistry()
    register_rollbacks(registry)
    for kind in (BACKUP_REGION, ENTRY_SWITCH, REGION_PRIMARY_KILLED):
        assert kind in registry.kinds(), kind
