"""The process kubelet bound to the real object store: pods become processes and statuses."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drills.core.clock import SystemClock
from drills.core.waiting import wait_until
from drills.sandbox.apiserver.store import ObjectStore
from drills.sandbox.kubelet import MARKER_ENV, Kubelet, KubeletConfig, command_for_image
from drills.sandbox.pods import BackOff
from tests.sandbox.aioloop import LoopThread, loop_thread
from tests.sandbox.pgkit import PgKit, local_postgres

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[2]
CLOCK = SystemClock()
NODE = "sandbox-node-1"


@pytest.fixture(scope="module")
def kit() -> Iterator[PgKit]:
    with local_postgres(max_connections=30) as started:
        yield started


class Node:
    """A store and one kubelet on a background loop; calls go through the loop thread."""

    def __init__(self, loop: LoopThread, state_dir: Path, dsn: str) -> None:
        self.loop = loop
        self.store = ObjectStore()
        config = KubeletConfig(
            node_name=NODE,
            repo_root=ROOT,
            state_dir=state_dir,
            backoff=BackOff(base_s=0.3, cap_s=1.2, reset_after_s=60),
            probe_time_scale=0.1,
            usage_period_s=0.2,
            heartbeat_period_s=0.2,
            default_env={"DATABASE_URL": dsn},
        )
        self.usage: dict[str, tuple[float, int]] = {}
        self.kubelet = Kubelet(self.store, config, usage_sink=self._usage)

    def _usage(self, namespace: str, name: str, millicores: float, rss: int) -> None:
        self.usage[name] = (millicores, rss)

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        async def run() -> Any:
            return fn(*args, **kwargs)

        return self.loop.run(run())

    def pod(self, name: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.call(self.store.try_get, "pods", "default", name)
        return found

    def container_status(self, name: str) -> dict[str, Any]:
        pod = self.pod(name) or {}
        statuses = pod.get("status", {}).get("containerStatuses") or [{}]
        return dict(statuses[0])


@pytest.fixture
def node(kit: PgKit, tmp_path: Path) -> Iterator[Node]:
    with loop_thread() as loop:
        made = Node(loop, tmp_path / "state", kit.primary.dsn())
        made.call(made.store.create, "namespaces", {"metadata": {"name": "default"}})
        loop.run(made.kubelet.start())
        try:
            yield made
        finally:
            loop.run(made.kubelet.stop())


def shop_pod(
    name: str, *, env: dict[str, str] | None = None, memory: str = "512Mi"
) -> dict[str, Any]:
    values = {"PORT": "8080", "POOL_SIZE": "2", "CPU_WORK_MS": "1", **(env or {})}
    probe = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 1}
    return {
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "shop"}},
        "spec": {
            "nodeName": NODE,
            "terminationGracePeriodSeconds": 5,
            "containers": [
                {
                    "name": "shop",
                    "image": "drills/shop:1.0.0",
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "env": [{"name": k, "value": v} for k, v in values.items()],
                    "resources": {"limits": {"memory": memory, "cpu": "1"}},
                    "readinessProbe": probe,
                    "livenessProbe": {
                        **probe,
                        "initialDelaySeconds": 30,
                        "httpGet": {"path": "/healthz", "port": 8080},
                    },
                }
            ],
        },
    }


def test_image_table_maps_the_shop_and_rejects_others() -> None:
    argv = command_for_image("registry.example/drills/shop:1.2.3", ROOT)
    assert argv[-1].endswith("fixtures/shop/app.py")
    with pytest.raises(LookupError, match="no local command"):
        command_for_image("nginx:1.27", ROOT)


def test_pod_runs_as_a_process_and_reports_ready(node: Node) -> None:
    node.call(node.store.create, "pods", shop_pod("shop-a"))
    waited = wait_until(
        lambda: node.container_status("shop-a").get("ready") is True,
        clock=CLOCK,
        timeout_s=30,
        poll_s=0.05,
        description="shop-a Ready",
    )
    assert waited.met
    pod = node.pod("shop-a") or {}
    status = pod["status"]
    assert status["phase"] == "Running"
    assert status["podIP"].startswith("127.0.")
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == {
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    with urllib.request.urlopen(f"http://{status['podIP']}:8080/version", timeout=5) as answer:
        assert answer.status == 200
    pid = int((node.kubelet.pods_dir / "default_shop-a.pid").read_text())
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert f"{MARKER_ENV}=default/shop-a".encode() in environ
    events, _ = node.call(node.store.list, "events", "default")
    assert {"Pulled", "Created", "Started"} <= {event["reason"] for event in events}
    assert wait_until(lambda: "shop-a" in node.usage, clock=CLOCK, timeout_s=5, poll_s=0.05).met
    assert node.usage["shop-a"][1] > 0


def test_graceful_delete_stops_the_process_then_removes_the_pod(node: Node) -> None:
    node.call(node.store.create, "pods", shop_pod("shop-b"))
    assert wait_until(
        lambda: node.container_status("shop-b").get("ready") is True,
        clock=CLOCK,
        timeout_s=30,
        poll_s=0.05,
    ).met
    pid = int((node.kubelet.pods_dir / "default_shop-b.pid").read_text())
    node.call(node.store.delete, "pods", "default", "shop-b", grace_period_s=5)
    gone = wait_until(lambda: node.pod("shop-b") is None, clock=CLOCK, timeout_s=15, poll_s=0.05)
    assert gone.met
    assert not os.path.exists(f"/proc/{pid}") or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_bad_release_crash_loops_with_growing_back_off(node: Node) -> None:
    node.call(node.store.create, "pods", shop_pod("shop-bad", env={"APP_VERSION": "bad"}))
    looped = wait_until(
        lambda: (
            node.container_status("shop-bad").get("restartCount", 0) >= 2
            and node.container_status("shop-bad")["state"].get("waiting", {}).get("reason")
            == "CrashLoopBackOff"
        ),
        clock=CLOCK,
        timeout_s=30,
        poll_s=0.05,
        description="CrashLoopBackOff",
    )
    assert looped.met
    status = node.container_status("shop-bad")
    assert status["lastState"]["terminated"]["exitCode"] != 0
    assert "back-off" in status["state"]["waiting"]["message"]
    assert (node.pod("shop-bad") or {})["status"]["conditions"][1]["status"] == "False"


def test_leaking_pod_is_oom_killed(node: Node) -> None:
    pod = shop_pod("shop-leak", env={"LEAK_KB_PER_REQUEST": "4096"}, memory="120Mi")
    node.call(node.store.create, "pods", pod)
    assert wait_until(
        lambda: node.container_status("shop-leak").get("ready") is True,
        clock=CLOCK,
        timeout_s=30,
        poll_s=0.05,
    ).met
    ip = (node.pod("shop-leak") or {})["status"]["podIP"]

    def leak_until_killed() -> bool:
        try:
            with urllib.request.urlopen(f"http://{ip}:8080/orders/none", timeout=5):
                pass
        except OSError:
            pass
        last = node.container_status("shop-leak").get("lastState", {})
        return bool(last.get("terminated", {}).get("reason") == "OOMKilled")

    assert wait_until(leak_until_killed, clock=CLOCK, timeout_s=60, poll_s=0.01).met
    assert node.container_status("shop-leak")["lastState"]["terminated"]["exitCode"] == 137
