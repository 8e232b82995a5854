"""Pure parts of the data tier: fingerprint comparison, recovery settings, log parsing."""

from __future__ import annotations

import pytest

from drills.core.errors import ConfigError
from drills.sandbox.postgres import RecoveryTarget
from drills.targets.adapters.localdb import destructive_commits, reached_point_from_log
from drills.targets.ports.data import RecoveryRequest, TableFingerprint, verify_fingerprints


def test_fingerprint_mismatch_names_the_tables() -> None:
    expected = {
        "orders": TableFingerprint("orders", 10, "aa"),
        "customers": TableFingerprint("customers", 3, "bb"),
        "items": TableFingerprint("items", 1, "cc"),
    }
    actual = {
        "orders": TableFingerprint("orders", 9, "ab"),
        "customers": TableFingerprint("customers", 3, "bb"),
    }
    result = verify_fingerprints(expected, actual)
    assert not result.ok
    assert result.mismatched == ("orders",)
    assert result.missing == ("items",)
    assert "orders: rows 9 vs 10" in result.detail
    assert verify_fingerprints(expected, dict(expected)).ok


def test_recovery_target_settings() -> None:
    assert RecoveryTarget(name="before-drop").settings() == {
        "recovery_target_name": "before-drop",
        "recovery_target_inclusive": "off",
        "recovery_target_action": "promote",
    }
    assert RecoveryTarget().settings() == {"recovery_target_action": "promote"}
    with pytest.raises(ConfigError, match="choose one recovery target"):
        RecoveryTarget(name="x", lsn="0/1").settings()


def test_reached_point_is_read_from_the_server_log() -> None:
    log = (
        "2026-11-23 08:10:08.1 UTC [9]  LOG:  redo done at 0/B5D908 system usage: ...\n"
        '2026-11-23 08:10:08.1 UTC [9]  LOG:  recovery stopping at restore point "p", '
        "time 2026-11-23 08:10:07.785868+00\n"
    )
    assert reached_point_from_log(log) == ("2026-11-23T08:10:07.785868+00:00", "0/B5D908")
    fallback = "LOG:  last completed transaction was at log time 2026-11-23 08:00:00.5+00\n"
    assert reached_point_from_log(fallback) == ("2026-11-23T08:00:00.500000+00:00", None)
    assert reached_point_from_log("") == (None, None)


def test_recovery_request_describes_itself() -> None:
    assert RecoveryRequest(name="p").describe() == "restore point 'p'"
    assert RecoveryRequest().describe() == "end of the WAL archive"


def test_destructive_commits_are_found_in_waldump_output() -> None:
    output = (
        "rmgr: Transaction len (rec/tot):     34/    34, tx:        733, lsn: 0/00976688, "
        "prev 0/00976648, desc: COMMIT 2026-11-23 08:19:39.091439 UTC\n"
        "rmgr: Transaction len (rec/tot):   2077/  2077, tx:        734, lsn: 0/009777D0, "
        "prev 0/00977798, desc: COMMIT 2026-11-23 08:19:39.097235 UTC; rels: base/1/2; "
        "dropped stats: 2/1/2\n"
    )
    found = destructive_commits(output)
    assert len(found) == 1
    assert found[0].xid == 734
    assert found[0].lsn == "0/009777D0"
    assert found[0].wall_iso == "2026-11-23T08:19:39.097235+00:00"


def test_recovery_target_time_is_written_as_postgresql_reads_it() -> None:
    settings = RecoveryTarget(time_iso="2026-11-23T08:21:20.316013Z").settings()
    assert settings["recovery_target_time"] == "2026-11-23 08:21:20.316013+00:00"
