"""The backup chain's pure parts: the CronJob manifest, the Job fingerprints, a broken archive."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from drills.targets.adapters.backups import (
    BACKUP_LABEL,
    backup_cronjob,
    manifest_of,
    restore_dump,
)
from drills.targets.ports.data import TableFingerprint


def test_the_cronjob_runs_one_pod_per_backup_with_the_dsn_from_the_secret() -> None:
    made = backup_cronjob(
        "shop-db-backup",
        image="drills.local/pg-backup:1",
        schedule="* * * * *",
        env={"BACKUP_BUCKET": "b"},
        url_secret=("shop-database", "url"),
        suspend=True,
    )
    spec = made["spec"]
    assert (spec["schedule"], spec["suspend"], spec["concurrencyPolicy"]) == (
        "* * * * *",
        True,
        "Forbid",
    )
    job = spec["jobTemplate"]
    assert job["metadata"]["labels"] == {BACKUP_LABEL: "shop-db-backup"}
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] == 0
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "shop-database",
        "key": "url",
    }
    assert env["BACKUP_BUCKET"]["value"] == "b"


def test_the_fingerprints_come_from_the_object_metadata() -> None:
    meta = {"fingerprints": json.dumps({"orders": [3, "abc"]})}
    assert manifest_of(meta) == {"orders": TableFingerprint("orders", 3, "abc")}
    assert manifest_of({}) == {}


class _NoServer:
    """A restore that must not reach a server: the archive is broken before any load."""

    name = "never"

    def run_tool(self, *_: object, **__: object) -> str:
        raise AssertionError("no load may run")


def test_a_cut_archive_is_reported_not_loaded(tmp_path: Path) -> None:
    packed = gzip.compress(b"-- dump\n" * 1000)
    outcome = restore_dump(
        "k",
        packed[: len(packed) // 2],
        {},
        _NoServer(),  # type: ignore[arg-type]
        work=tmp_path,
    )
    assert not outcome.ok
    assert outcome.error.startswith("gunzip:")
    assert "restore of k failed: gunzip:" in outcome.summary()
