"""Reading OOM evidence and memory figures out of pod and PodMetrics documents (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from drills.core.memory import (
    ContainerMemory,
    MemoryReading,
    OomKill,
    Termination,
    containers_of,
    format_bytes,
    growth_per_s,
    memory_bytes,
    oom_kills,
    readings_of,
    rss_at_kill,
    seconds_after,
)

KILLED = {"reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-12-05T04:00:10Z"}


def _pod(
    name: str = "shop-1",
    *,
    state: dict[str, Any] | None = None,
    last: dict[str, Any] | None = None,
    limit: str | None = "96Mi",
    restarts: int = 1,
    deleting: bool = False,
) -> dict[str, Any]:
    """A pod document as the API serves it (camelCase), shaped like the node agent's status."""
    resources = {"limits": {"memory": limit, "cpu": "1"}} if limit else {}
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-05T04:00:30Z"
    return {
        "metadata": meta,
        "spec": {"containers": [{"name": "shop", "image": "shop:1.0.0", "resources": resources}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "shop",
                    "restartCount": restarts,
                    "state": state or {"running": {"startedAt": "2026-12-05T04:00:11Z"}},
                    "lastState": {"terminated": last} if last else {},
                }
            ],
        },
    }


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("512Mi", 512 * 2**20),
        ("1Gi", 2**30),
        ("53212Ki", 53212 * 1024),
        ("128M", 128_000_000),
        ("1000", 1000),
        ("1.5Gi", 3 * 2**29),
    ],
)
def test_memory_quantities_read_as_kubectl_writes_them(quantity: str, expected: int) -> None:
    assert memory_bytes(quantity) == expected


def test_a_quantity_that_is_not_one_says_what_to_write() -> None:
    with pytest.raises(ValueError, match=r"write e\.g\. 512Mi"):
        memory_bytes("lots")


def test_bytes_are_shown_in_the_units_the_runbook_uses() -> None:
    assert [format_bytes(v) for v in (2**30, 96 * 2**20, 85 * 2**20 + 2**19, None)] == [
        "1Gi",
        "96Mi",
        "85.5Mi",
        "none",
    ]


def test_describe_pod_evidence_is_read_from_the_spec_and_the_last_state() -> None:
    [container] = containers_of(_pod(last=KILLED, restarts=2))
    assert container == ContainerMemory(
        pod="shop-1",
        container="shop",
        limit_bytes=96 * 2**20,
        restarts=2,
        state=None,
        last_state=Termination("OOMKilled", 137, "2026-12-05T04:00:10Z"),
    )
    assert container.last_reason == "OOMKilled"
    assert container.describe() == "shop-1/shop: limit 96Mi, 2 restarts, last OOMKilled (exit 137)"


def test_a_pod_without_a_status_or_a_limit_reads_as_none() -> None:
    pod = _pod(limit=None, deleting=True)
    del pod["status"]
    [container] = containers_of(pod)
    assert (container.limit_bytes, container.restarts, container.deleting) == (None, 0, True)
    assert container.last_reason == ""


def test_a_kill_seen_as_state_and_later_as_last_state_counts_once() -> None:
    just_killed = containers_of(_pod(state={"terminated": KILLED}, restarts=0))
    restarted = containers_of(_pod(last=KILLED, restarts=1))
    expected = {OomKill("shop-1", "shop", "2026-12-05T04:00:10Z", 96 * 2**20)}
    assert oom_kills(just_killed) == oom_kills(restarted) == expected
    assert oom_kills([*just_killed, *restarted]) == expected


@pytest.mark.parametrize(
    "ended",
    [
        {"reason": "Error", "exitCode": 137, "finishedAt": "t"},  # SIGKILL, not for memory
        {"reason": "OOMKilled", "exitCode": 1, "finishedAt": "t"},  # not the OOM killer's code
        {"reason": "Completed", "exitCode": 0, "finishedAt": "t"},
    ],
)
def test_only_oomkilled_with_exit_code_137_is_an_oom_kill(ended: dict[str, Any]) -> None:
    assert oom_kills(containers_of(_pod(last=ended))) == set()


def test_kubectl_top_readings_come_from_pod_metrics() -> None:
    document = {
        "metadata": {"name": "shop-2", "namespace": "default"},
        "timestamp": "2026-12-05T04:00:20Z",
        "window": "10.5s",
        "containers": [
            {"name": "shop", "usage": {"cpu": "12m", "memory": "61440Ki"}},
            {"name": "sidecar", "usage": {"cpu": "1m"}},
        ],
    }
    assert readings_of(document) == (
        MemoryReading("shop-2", "shop", 60 * 2**20, "2026-12-05T04:00:20Z"),
    )


def _reading(pod: str, mib: int, second: int) -> MemoryReading:
    return MemoryReading(pod, "shop", mib * 2**20, f"2026-12-05T04:00:{second:02d}Z")


def test_growth_is_read_between_scrapes_of_one_run() -> None:
    readings = [
        _reading("a", 60, 0),
        _reading("a", 60, 0),  # the same scrape read twice
        _reading("a", 80, 10),
        _reading("b", 90, 0),
        _reading("b", 55, 10),  # restarted in between: two runs, no growth
        _reading("c", 70, 10),  # one scrape only
    ]
    assert growth_per_s(readings) == {"a/shop": 2 * 2**20}


def test_a_finish_time_is_placed_after_the_fault() -> None:
    fault = datetime(2026, 12, 5, 4, 0, 2, 500000, tzinfo=UTC)
    assert seconds_after("2026-12-05T04:00:10Z", fault) == 7.5
    assert seconds_after("not a time", fault) is None
    assert seconds_after("2026-12-05T04:00:10", fault) is None  # no zone: not comparable


def test_the_node_agents_oom_event_states_the_rss_it_measured() -> None:
    said = "Memory cgroup out of memory: killed shop (rss 99012 kB > limit 98304 kB)"
    assert rss_at_kill(said) == 99012 * 1024
    assert rss_at_kill("System OOM encountered, victim process: python, pid: 7") is None
