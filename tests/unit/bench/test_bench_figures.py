"""The bench's printed lines, the Go build figures' sources and the cold-start timeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bench.bench_k8s_build import cold_requested, figures_from
from tests.bench.bench_sandbox import cold_start_timeline
from tests.bench.figures import DRILL_SUITE_LIMIT_S, figure_line

RECORD: dict[str, Any] = {
    "cold": True,
    "seconds": 567.4,
    "peak_rss_mb": 3098.0,
    "cores": 2,
    "built_at": "2026-12-04T17:11:47+00:00",
    "go_version": "go1.26.8",
    "k8s_version": "v1.37.2",
}


def test_a_figure_is_printed_with_its_target_and_the_earlier_figure() -> None:
    line = figure_line("pod_replacement_s", 0.6)
    assert line.startswith("pod_replacement_s = 0.6 s | target < 2 s: met | earlier 0.73 s")
    assert "MISSED" in figure_line("sandbox_cold_start_s", 16.2)


def test_the_drill_suite_may_take_up_to_1_2_times_the_earlier_237_s() -> None:
    assert DRILL_SUITE_LIMIT_S == 284.4
    assert "target <= 284.4 s: met" in figure_line("drill_suite_s", 284.4)
    assert "MISSED" in figure_line("drill_suite_s", 284.5)


def test_a_figure_without_target_or_history_says_so() -> None:
    line = figure_line("k8s_build_cold_s", None)
    assert line == "k8s_build_cold_s = unavailable | no target | no earlier figure"


def test_a_cold_record_gives_both_build_figures_and_says_where_they_come_from() -> None:
    figures, where = figures_from(RECORD, measured_now=False)
    assert figures == {"k8s_build_cold_s": 567.4, "k8s_build_peak_rss_mb": 3098.0}
    assert "recorded by the cold build" in where
    assert "2026-12-04T17:11:47+00:00 on 2 cores" in where
    assert "BENCH_K8S_COLD=1" in where
    _, now = figures_from(RECORD, measured_now=True)
    assert now.startswith("measured in this run")


def test_a_warm_record_gives_no_build_figures_and_says_how_to_measure_them() -> None:
    figures, where = figures_from({**RECORD, "cold": False}, measured_now=False)
    assert figures == {"k8s_build_cold_s": None, "k8s_build_peak_rss_mb": None}
    assert "warm build" in where
    assert "BENCH_K8S_COLD=1" in where


def test_a_cold_build_is_asked_for_by_the_environment() -> None:
    assert cold_requested({"BENCH_K8S_COLD": "1"})
    assert cold_requested({"BENCH_K8S_COLD": "yes"})
    assert not cold_requested({"BENCH_K8S_COLD": "0"})
    assert not cold_requested({})


def _event(second: float, verb: str, resource: str, **extra: Any) -> dict[str, Any]:
    stamp = datetime(2026, 12, 4, 17, 0, 0, tzinfo=UTC).timestamp() + second
    when = datetime.fromtimestamp(stamp, UTC).isoformat().replace("+00:00", "Z")
    ref = {"resource": resource, **{k: v for k, v in extra.items() if k != "body"}}
    event: dict[str, Any] = {
        "verb": verb,
        "objectRef": ref,
        "user": {"username": extra.get("user", "drills-admin")},
        "auditID": f"id-{second}",
        "requestReceivedTimestamp": when,
    }
    if "body" in extra:
        event["requestObject"] = extra["body"]
    return event


def test_the_cold_start_timeline_is_read_from_the_audit_log(tmp_path: Path) -> None:
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    events = [
        _event(2.0, "get", "namespaces"),
        *(_event(3.0 + i / 10, "create", "nodes", name=f"n{i}") for i in range(3)),
        _event(4.0, "create", "deployments", name="shop"),
        _event(9.0, "create", "replicasets", name="shop-1"),
        *(_event(9.1 + i / 10, "create", "pods") for i in range(3)),
        *(_event(9.5, "create", "pods", name=f"p{i}", subresource="binding") for i in range(3)),
        _event(10.0, "patch", "pods", name="p0", subresource="status", body=ready),
        _event(10.1, "patch", "pods", name="p0", subresource="status", body=ready),
        _event(10.2, "patch", "pods", name="p1", subresource="status", body=ready),
        _event(10.3, "patch", "pods", name="p2", subresource="status", body=ready),
        _event(12.0, "create", "apiservices", name="v1beta1.metrics.k8s.io"),
        _event(12.5, "create", "apiservices", name="v1beta2.custom.metrics.k8s.io"),
        _event(13.0, "create", "apiservices", name="v1.", user="system:apiserver"),
    ]
    audit = tmp_path / "audit.log"
    audit.write_text("".join(json.dumps(e) + "\n" for e in events))
    since = datetime(2026, 12, 4, 17, 0, 0, tzinfo=UTC)
    steps = {mark: round(at, 2) for mark, at in cold_start_timeline(audit, since)}
    assert steps == {
        "API server's first request": 2.0,
        "3 nodes registered": 3.2,
        "shop Deployment created": 4.0,
        "ReplicaSet created": 9.0,
        "3 pods created": 9.3,
        "3 pods bound by the scheduler": 9.5,
        "3 pods Ready": 10.3,
        "aggregated APIs registered": 12.5,
    }
