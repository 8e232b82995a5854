"""The evidence readers on lines captured from a real API server, PostgreSQL and moto.

data/audit.jsonl: kubectl run as `drills-trainee:alice` against the sandbox's API server (plus the
same request under the admin and a controller, which must be left out); data/server.log: psql and
pg_dump as `trainee_alice` with log_statement = 'all' on the role; data/moto.log and
data/moto-recording.jsonl: boto3 against moto_server. Identifiers and times are anonymised.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from drills.certification import matchers as m
from drills.certification.aws_log import PARTIAL_LOG, moto_actions, recording_actions
from drills.certification.evidence import (
    EvidenceSources,
    audit_actions,
    collect,
    kubectl_equivalent,
    read_audit_log,
    read_moto_log,
    read_sql_log,
)
from drills.certification.sql_log import sql_actions
from drills.core.actions import Action, Matcher, Source

DATA = Path(__file__).parent / "data"
USER = "drills-trainee:alice"
NAMES = {"deployment": "shop", "namespace": "default"}
T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC).timestamp()
PREFIX = "[1] trainee_alice@shop psql LOG:  statement:"


@pytest.fixture(scope="module")
def kube() -> list[Action]:
    with (DATA / "audit.jsonl").open() as lines:
        actions, skipped = audit_actions(lines, USER)
    assert skipped == 0
    return actions


def test_only_the_trainees_finished_requests_are_read(kube: list[Action]) -> None:
    assert {a.actor for a in kube} == {USER}
    assert len(kube) == 43  # 45 of alice's lines; two are ResponseStarted (log stream, watch)
    assert kube[0].at_s == T0
    assert all(a.source is Source.KUBE for a in kube)


def test_each_kubectl_command_is_recognised(kube: list[Action]) -> None:
    said = [a.summary for a in kube if a.verb in ("patch", "delete", "create")]
    assert said == [
        "kubectl create deployment shop",
        "kubectl set image/env deployment/shop",
        "kubectl rollout undo deployment/shop",
        "kubectl rollout restart deployment/shop",
        "kubectl scale deployment/shop --replicas=3",
        "kubectl patch deployment/shop replicas=0",
        "kubectl patch deployment/shop replicas=10",
        "kubectl delete pod shop-56799999db-bzvlr --grace-period=0",
        "kubectl create networkpolicy deny-a",
        "kubectl create networkpolicy deny-b",
        "kubectl delete networkpolicy deny-a",
        "kubectl delete networkpolicy deny-b",
    ]
    logs = next(a for a in kube if a.subresource == "log")
    assert kubectl_equivalent(logs) == "kubectl logs shop-5f976dc959-872b5 --previous"


def _matching(kube: list[Action], matcher: Matcher) -> list[str]:
    return [a.summary or f"{a.verb} {a.target}" for a in kube if matcher.matches(a, NAMES)]


def test_the_practicals_matchers_fit_real_kubectl_requests(kube: list[Action]) -> None:
    assert _matching(kube, m.rollout_undo()) == ["kubectl rollout undo deployment/shop"]
    assert _matching(kube, m.rollout_restart()) == ["kubectl rollout restart deployment/shop"]
    assert _matching(kube, m.scale_to_zero()) == ["kubectl patch deployment/shop replicas=0"]
    assert _matching(kube, m.scale_up(3)) == [
        "kubectl scale deployment/shop --replicas=3",
        "kubectl patch deployment/shop replicas=10",
    ]
    assert len(_matching(kube, m.list_pods())) == 3
    assert _matching(kube, m.pod_logs()) == ["kubectl logs shop-5f976dc959-872b5 --previous"]
    assert "kubectl rollout status deployment/shop" in _matching(kube, m.read_deployment())
    hazard = next(h for h in m.HAZARDS if h.id == "delete-network-policies")
    assert len(_matching(kube, hazard.matcher)) == 2


def test_a_missing_audit_log_is_said_not_raised(tmp_path: Path) -> None:
    read = read_audit_log(tmp_path / "audit.log", USER)
    assert read.actions == ()
    assert read.missing == f"no audit log at {tmp_path / 'audit.log'} (is the sandbox up?)"


def test_a_broken_audit_line_is_counted() -> None:
    actions, skipped = audit_actions([f'{{"user": "{USER}", broken'], USER)
    assert (actions, skipped) == ([], 1)


@pytest.fixture(scope="module")
def statements() -> list[Action]:
    with (DATA / "server.log").open() as lines:
        actions, skipped = sql_actions(lines, "trainee_alice")
    assert skipped == 0
    return actions


def test_only_the_roles_statements_are_read_whole(statements: list[Action]) -> None:
    assert {a.actor for a in statements} == {"trainee_alice"}
    assert [a.verb for a in statements[:6]] == [
        "select",
        "show",
        "select",
        "select",
        "select",
        "select",
    ]
    assert statements[3].text == (
        "SELECT pg_terminate_backend(pid)\n  FROM pg_stat_activity\n WHERE state = 'idle'\n"
        "   AND state_change < NOW() - INTERVAL '10 minutes';"
    )
    assert statements[0].at_s == T0 + 40.543
    assert statements[0].agent == "psql"
    assert statements[0].name == "shop"


def test_a_statement_the_server_refused_is_marked_failed(statements: list[Action]) -> None:
    failed = [a.text for a in statements if a.succeeded is False]
    assert failed == ["SELECT * FROM no_such_table;"]


def test_sql_matchers_tell_the_idle_rule_from_terminating_everything(
    statements: list[Action],
) -> None:
    idle = [a.text.split("\n")[0] for a in statements if m.terminate_idle().matches(a, NAMES)]
    assert idle == ["SELECT pg_terminate_backend(pid)"]
    hazard = next(h for h in m.HAZARDS if h.id == "terminate-every-active-query")
    assert [a.text for a in statements if hazard.matcher.matches(a, NAMES)] == [
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid();"
    ]
    dumps = [a for a in statements if m.evidence_dump().matches(a, NAMES)]
    assert [a.agent for a in dumps] == ["pg_dump"]
    assert len([a for a in statements if m.size_sessions().matches(a, NAMES)]) == 3


def test_restore_statements_are_recognised() -> None:
    line = (
        "2026-01-01 10:05:00.000 UTC [9] trainee_alice@shop pg_restore LOG:  statement: "
        "COPY public.orders (id, order_key) FROM stdin;"
    )
    actions, _ = sql_actions([line], "trainee_alice")
    assert m.restore_orders().matches(actions[0], NAMES)
    assert not m.evidence_dump().matches(actions[0], NAMES)


def test_server_log_zones_and_an_unknown_zone(tmp_path: Path) -> None:
    lines = [
        f"2026-01-01 16:00:00.000 +06 {PREFIX} SELECT 1",
        f"2026-01-01 10:00:00.000 Europe/Paris {PREFIX} SELECT 2",
        f"2026-01-01 10:00:00.000 XYZT {PREFIX} SELECT 3",
    ]
    actions, skipped = sql_actions(lines, "trainee_alice")
    assert [a.at_s for a in actions] == [T0, T0 - 3600]
    assert skipped == 1


def test_sql_logs_read_from_every_instance(tmp_path: Path) -> None:
    restored = tmp_path / "restored" / "server.log"
    restored.parent.mkdir()
    restored.write_text(f"2026-01-01 10:10:00.000 UTC {PREFIX} SELECT pg_promote();\n")
    read = read_sql_log(
        [DATA / "server.log", restored, tmp_path / "gone" / "server.log"], "trainee_alice"
    )
    assert read.missing is None
    assert read.actions[-1].text == "SELECT pg_promote();"
    assert read_sql_log([tmp_path / "none.log"], "trainee_alice").missing is not None


def test_moto_request_log_gives_s3_operations_without_identity() -> None:
    with (DATA / "moto.log").open() as lines:
        actions, skipped = moto_actions(lines, tz=UTC)
    assert skipped == 0
    assert [(a.verb, a.name, a.code) for a in actions] == [
        ("HeadBucket", "drills-backups", 404),
        ("ListObjectsV2", "drills-backups", 200),
        ("HeadObject", "drills-backups/snapshots/dump-20260101T095000-5f5fe6/dump.pgc", 200),
        ("GetObject", "drills-backups/snapshots/dump-20260101T095000-5f5fe6/dump.pgc", 200),
        ("POST", "", 200),
    ]
    assert actions[0].at_s == T0 + 70
    assert m.fetch_backup().matches(actions[3], NAMES)
    assert read_moto_log(DATA / "moto.log", tz=UTC).missing == PARTIAL_LOG


def test_moto_recording_gives_the_trainees_actions_with_their_bodies() -> None:
    with (DATA / "moto-recording.jsonl").open() as lines:
        actions, skipped = recording_actions(lines, "drills-trainee-alice")
    assert skipped == 0
    assert [(a.resource, a.verb, a.name) for a in actions] == [
        ("s3", "CreateBucket", "drills-backups"),
        ("s3", "PutObject", "drills-backups/snapshots/a/dump.pgc"),
        ("s3", "ListObjectsV2", "drills-backups"),
        ("rds", "CreateDBInstance", "shop-db"),
        ("rds", "RestoreDBInstanceToPointInTime", "shop-db-restored"),
        ("rds", "DescribeDBInstances", "shop-db"),
    ]  # the harness's own ListBuckets (another key) is left out
    assert actions[0].at_s == T0 + 60
    assert m.point_in_time_restore().matches(actions[4], NAMES)
    body = actions[4].body
    assert isinstance(body, dict)
    assert body["RestoreTime"] == "2026-01-01T10:00:00Z"


def test_collect_merges_sources_and_names_what_is_missing(tmp_path: Path) -> None:
    actions, missing = collect(
        EvidenceSources(
            kube_user=USER,
            audit_log=DATA / "audit.jsonl",
            db_role="trainee_alice",
            sql_logs=(DATA / "server.log",),
            aws_log=tmp_path / "moto.log",
        )
    )
    assert [a.at_s for a in actions] == sorted(a.at_s for a in actions)
    assert {a.source for a in actions} == {Source.KUBE, Source.SQL}
    assert missing == {
        Source.AWS: f"no moto request log at {tmp_path / 'moto.log'} (is the sandbox up?)"
    }
    _, nothing = collect(EvidenceSources(kube_user=USER))
    assert set(nothing) == {Source.KUBE, Source.SQL, Source.AWS}
