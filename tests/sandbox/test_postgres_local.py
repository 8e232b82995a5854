"""The sandbox's PostgreSQL provisioner and moto server as real processes; containers if Docker."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drills.certification.aws_log import recording_actions
from drills.core.clock import SystemClock
from drills.core.errors import ConfigError
from drills.probes.sql import sql_reachable
from drills.sandbox.aws import RECORDING_NAME, MotoServer, set_recording
from drills.sandbox.postgres import LocalPostgres
from drills.targets.adapters.containers_pg import docker_engine_answers, postgres_container
from drills.targets.adapters.postgres import PostgresDatabase


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(dir="/tmp", prefix="drills-pg-life-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.sandbox
def test_lifecycle_start_stop_crash_restart_remove(root: Path) -> None:
    pg = LocalPostgres(root, max_connections=25)
    clock = SystemClock()
    try:
        assert pg.status() == "absent"
        started = clock.now()
        dsn = pg.start()
        print(f"cold start {clock.now() - started:.2f} s")  # noqa: T201
        assert dsn.startswith("postgresql://app@127.0.0.1:")
        db = PostgresDatabase("life", pg.admin_dsn())
        assert sql_reachable(db)().ok
        limits = db.limits()
        assert limits.max_connections == 25
        assert pg.psql("SHOW archive_mode").strip() == "on"
        assert pg.psql("SHOW wal_level").strip() == "replica"
        pg.stop("immediate")  # a crash: no shutdown checkpoint
        assert pg.status() == "stopped"
        assert not sql_reachable(db)().ok
        assert pg.start() == dsn  # same directory, same port: crash recovery, then up
        assert sql_reachable(db)().ok
        pg.stop("fast")
        assert pg.status() == "stopped"
    finally:
        pg.remove(archive=True)
    assert pg.status() == "absent"


@pytest.mark.sandbox
def test_unreachable_root_is_refused_with_a_fix(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root hands the files to the unprivileged user")
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    os.chmod(tmp_path, 0o700)
    with pytest.raises(ConfigError, match="not traversable"):
        LocalPostgres(hidden / "pg").start()


@pytest.mark.sandbox
def test_moto_server_answers_then_stops() -> None:
    moto = MotoServer()
    endpoint = moto.start()
    try:
        assert endpoint.startswith("http://127.0.0.1:")
        assert moto.answers().ok
    finally:
        moto.stop()
    assert not moto.running()


@pytest.mark.sandbox
def test_moto_records_the_trainees_signed_calls_only_while_recording(root: Path) -> None:
    """The practical's AWS evidence: RDS actions and the caller's key, between start and stop."""
    boto3 = pytest.importorskip("boto3")
    recording = root / RECORDING_NAME
    moto = MotoServer(recording_path=recording)
    endpoint = moto.start()
    try:

        def rds(key: str) -> Any:
            return boto3.client(
                "rds",
                endpoint_url=endpoint,
                aws_access_key_id=key,
                aws_secret_access_key="testing",
                region_name="us-east-1",
            )

        rds("drills-trainee-alice").describe_db_instances()  # before: not recorded
        set_recording(endpoint, on=True)
        rds("drills-trainee-alice").describe_db_instances()
        rds("harness").describe_db_snapshots()  # someone else: recorded, not the trainee's
        set_recording(endpoint, on=False)
        rds("drills-trainee-alice").describe_db_clusters()  # after: not recorded
    finally:
        moto.stop()
    with recording.open(encoding="utf-8") as lines:
        actions, skipped = recording_actions(lines, "drills-trainee-alice")
    assert skipped == 0
    assert [(a.verb, a.resource, a.actor) for a in actions] == [
        ("DescribeDBInstances", "rds", "drills-trainee-alice")
    ]


@pytest.mark.containers
def test_postgres_in_a_container() -> None:
    answers, reason = docker_engine_answers()
    if not answers:
        pytest.skip(reason)
    with postgres_container() as db:
        assert db.is_reachable()
        assert db.limits().max_connections == 30
