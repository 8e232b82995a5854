"""The node agent against a real upstream control plane: pods, logs, deletion, node lifecycle.

One control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) and one
PostgreSQL listening on the pod network's gateway serve the whole module; the kubelet of
``sandbox-node-1`` runs on a background event loop with its own node identity. Pods are made
with the admin identity, as a user would, and read back through the API server and kubectl.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from drills.core.clock import SystemClock
from drills.core.waiting import wait_until
from drills.sandbox.controlplane import free_port
from drills.sandbox.node.kubelet import MARKER_ENV, Kubelet, KubeletConfig
from drills.sandbox.node.runner import BackOff
from drills.sandbox.postgres import LocalPostgres
from tests.sandbox.aioloop import LoopThread, loop_thread
from tests.sandbox.cluster import Cluster, control_plane

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[2]
CLOCK = SystemClock()
NODE = "sandbox-node-1"
FAST = BackOff(base_s=0.3, cap_s=1.2, reset_after_s=60)


@dataclass
class Agent:
    """The running cluster, the node's kubelet, an admin client and kubectl."""

    cluster: Cluster
    loop: LoopThread
    kubelet: Kubelet
    core: Any
    kubectl_path: Path
    dsn: str

    def kubectl(self, *args: str, timeout_s: float = 30) -> subprocess.CompletedProcess[str]:
        argv = [str(self.kubectl_path), f"--kubeconfig={self.cluster.kubeconfig}", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)

    def pod(self, name: str) -> dict[str, Any] | None:
        try:
            answer = self.core.read_namespaced_pod(name, "default", _preload_content=False)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        found: dict[str, Any] = json.loads(answer.data)
        return found

    def container(self, name: str) -> dict[str, Any]:
        statuses = ((self.pod(name) or {}).get("status") or {}).get("containerStatuses") or [{}]
        return dict(statuses[0])

    def node(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.core.read_node(name, _preload_content=False).data)
        return found

    def events(self, pod: str) -> list[dict[str, Any]]:
        selector = f"involvedObject.name={pod}"
        answer = self.core.list_namespaced_event(
            "default", field_selector=selector, _preload_content=False
        )
        items: list[dict[str, Any]] = json.loads(answer.data)["items"]
        return items


def until(check: Callable[[], bool], description: str, timeout_s: float = 30) -> float:
    waited = wait_until(
        check, clock=CLOCK, timeout_s=timeout_s, poll_s=0.05, description=description
    )
    assert waited.elapsed_s is not None
    return waited.elapsed_s


def kubelet_config(cluster: Cluster, node: str) -> KubeletConfig:
    gateway = cluster.network.gateway  # type: ignore[attr-defined]
    pair = cluster.plane.serving_cert(f"kubelet-{node}", ips=[gateway], dns=[node])
    assert cluster.plane.pki is not None
    return KubeletConfig(
        node_name=node,
        kubeconfig=cluster.node_kubeconfig(node),
        repo_root=ROOT,
        state_dir=cluster.state / node,
        kubelet_port=free_port(gateway),
        serving_cert=pair.cert,
        serving_key=pair.key,
        client_ca=cluster.plane.pki.ca,
        probe_time_scale=0.25,
        readiness_time_scale=0.05,
        backoff=FAST,
    )


@pytest.fixture(scope="module")
def agent() -> Iterator[Agent]:
    with control_plane() as cluster, loop_thread() as loop, _postgres(cluster) as dsn:
        kubelet = Kubelet(kubelet_config(cluster, NODE), cluster.network)  # type: ignore[arg-type]
        loop.run(kubelet.start())
        api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
        made = Agent(cluster, loop, kubelet, client.CoreV1Api(api), _kubectl(cluster), dsn)
        until(
            lambda: made.kubectl("get", "serviceaccount", "default").returncode == 0, "default SA"
        )
        secret = {
            "metadata": {"name": "shop-database"},
            "data": {"url": base64.b64encode(dsn.encode()).decode()},
        }
        made.core.create_namespaced_secret("default", secret)
        try:
            yield made
        finally:
            loop.run(kubelet.stop())
            api.close()


@contextmanager
def _postgres(cluster: Cluster) -> Iterator[str]:
    """PostgreSQL listening on the gateway, so pods in their namespaces reach it; yields the DSN."""
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="drills-pg-"))
    root.chmod(0o755)
    (root / "listen-host").write_text(cluster.network.gateway + "\n")  # type: ignore[attr-defined]
    server = LocalPostgres(root)
    try:
        yield server.start()
    finally:
        server.remove(archive=True)
        shutil.rmtree(root, ignore_errors=True)


def _kubectl(cluster: Cluster) -> Path:
    path: Path = getattr(cluster.plane.binaries, "kubectl")  # noqa: B009 - not in the Protocol
    return path


def shop_pod(
    name: str, *, image: str = "drills/shop:1.0.0", secret_key: str = "url"
) -> dict[str, Any]:
    probe = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 2}
    env = [
        {"name": "PORT", "value": "8080"},
        {"name": "POOL_SIZE", "value": "2"},
        {
            "name": "DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": "shop-database", "key": secret_key}},
        },
        {"name": "MY_NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ]
    container = {
        "name": "shop",
        "image": image,
        "ports": [{"name": "http", "containerPort": 8080}],
        "env": env,
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "512Mi"},
        },
        "readinessProbe": probe,
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "shop"}},
        "spec": {"terminationGracePeriodSeconds": 5, "containers": [container]},
    }


def create(agent: Agent, body: dict[str, Any]) -> None:
    agent.core.create_namespaced_pod("default", body)


def ready(agent: Agent, name: str) -> bool:
    return agent.container(name).get("ready") is True


def pid_of(agent: Agent, name: str) -> int:
    return int((agent.kubelet.config.pods_dir / f"default_{name}.pid").read_text())


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_node_registers_and_keeps_its_lease(agent: Agent) -> None:
    node = agent.node(NODE)
    ready_condition = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready_condition["status"] == "True"
    info = node["status"]["nodeInfo"]
    version = json.loads(agent.kubectl("version", "-o", "json").stdout)["serverVersion"][
        "gitVersion"
    ]
    assert info["kubeletVersion"] == version
    assert info["containerRuntimeVersion"] == "drills-process://1"
    assert (
        node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        == agent.kubelet.config.kubelet_port
    )
    first = agent.kubectl(
        "get", "lease", "-n", "kube-node-lease", NODE, "-o", "jsonpath={.spec.renewTime}"
    )
    until(
        lambda: (
            agent.kubectl(
                "get", "lease", "-n", "kube-node-lease", NODE, "-o", "jsonpath={.spec.renewTime}"
            ).stdout
            != first.stdout
        ),
        "lease renewed",
        timeout_s=10,
    )


def test_pod_runs_gets_ready_with_its_pod_ip_and_logs_through_the_api_server(
    agent: Agent, record_property: Callable[[str, object], None]
) -> None:
    create(agent, shop_pod("shop-a"))
    start_to_ready_s = until(lambda: ready(agent, "shop-a"), "shop-a Ready")
    record_property("pod_create_to_ready_s", round(start_to_ready_s, 2))
    status = (agent.pod("shop-a") or {})["status"]
    assert status["phase"] == "Running"
    gateway = agent.cluster.network.gateway  # type: ignore[attr-defined]
    assert status["podIP"].rsplit(".", 1)[0] == gateway.rsplit(".", 1)[0]
    assert status["podIP"] != gateway
    assert status["hostIP"] == gateway
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    assert status["qosClass"] == "Burstable"
    with urllib.request.urlopen(f"http://{status['podIP']}:8080/version", timeout=5) as answer:
        assert json.loads(answer.read())["image"] == "drills/shop:1.0.0"
    pid = pid_of(agent, "shop-a")
    assert status["containerStatuses"][0]["containerID"] == f"drills-process://{pid}"
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert f"{MARKER_ENV}=default/shop-a".encode() in environ
    assert f"MY_NODE={NODE}".encode() in environ
    assert f"DATABASE_URL={agent.dsn}".encode() in environ
    logs = agent.kubectl("logs", "shop-a")
    assert logs.returncode == 0, logs.stderr
    assert f"listening on {status['podIP']}:8080" in logs.stdout
    stamped = agent.kubectl("logs", "shop-a", "--timestamps", "--tail=1")
    assert stamped.stdout.startswith(status["startTime"][:10])
    assert len(stamped.stdout.splitlines()) == 1
    assert agent.kubectl("logs", "shop-a", "--limit-bytes=5").stdout == logs.stdout[:5]
    reasons = {event["reason"] for event in agent.events("shop-a")}
    assert {"Scheduled", "Pulled", "Created", "Started"} <= reasons
    writes = status_writes(agent, "shop-a")
    record_property("status_writes_create_to_ready", writes)
    assert writes <= 6  # Pending, network, running, ready: changes only, bursts coalesced


def status_writes(agent: Agent, pod: str) -> int:
    """How many times the node patched the pod's status, from the API server's audit log."""
    count = 0
    for line in agent.cluster.plane.audit_log.read_text().splitlines():
        event = json.loads(line)
        ref = event.get("objectRef") or {}
        if (
            event.get("stage") == "ResponseComplete"
            and event.get("verb") == "patch"
            and (ref.get("subresource"), ref.get("name")) == ("status", pod)
            and event["user"]["username"] == f"system:node:{NODE}"
        ):
            count += 1
    return count


def test_crash_loop_backs_off_and_shows_the_previous_run(agent: Agent) -> None:
    create(agent, shop_pod("shop-bad", image="drills/shop:bad"))

    def looping() -> bool:
        found = agent.container("shop-bad")
        waiting = (found.get("state") or {}).get("waiting") or {}
        return found.get("restartCount", 0) >= 3 and waiting.get("reason") == "CrashLoopBackOff"

    until(looping, "CrashLoopBackOff with 3 restarts")
    last = agent.container("shop-bad")["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (3, "Error")
    previous = agent.kubectl("logs", "shop-bad", "--previous")
    assert previous.returncode == 0, previous.stderr
    assert "refusing to start" in previous.stdout
    assert len(previous.stdout.splitlines()) == 1  # one run, not all of them
    backoffs = [event for event in agent.events("shop-bad") if event["reason"] == "BackOff"]
    until(
        lambda: (
            max(e.get("count", 1) for e in agent.events("shop-bad") if e["reason"] == "BackOff")
            >= 2
        ),
        "BackOff count",
    )
    assert len(backoffs) == 1  # repeats fold into one Event's count
    agent.core.delete_namespaced_pod("shop-bad", "default")
    until(lambda: agent.pod("shop-bad") is None, "crash-looping pod removed")


def test_graceful_delete_stops_the_process_then_removes_the_pod(
    agent: Agent, record_property: Callable[[str, object], None]
) -> None:
    create(agent, shop_pod("shop-b"))
    until(lambda: ready(agent, "shop-b"), "shop-b Ready")
    pid = pid_of(agent, "shop-b")
    follower = subprocess.Popen(
        [
            str(agent.kubectl_path),
            f"--kubeconfig={agent.cluster.kubeconfig}",
            "logs",
            "-f",
            "shop-b",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        assert "listening on" in follower.stdout.readline()
        started = CLOCK.now()
        agent.core.delete_namespaced_pod("shop-b", "default")
        until(lambda: agent.pod("shop-b") is None, "shop-b gone", timeout_s=20)
        delete_to_gone_s = CLOCK.now() - started
        record_property("pod_delete_to_gone_s", round(delete_to_gone_s, 2))
        assert not alive(pid)
        assert follower.wait(timeout=10) == 0  # following ends with the container's run
    finally:
        follower.kill()
    assert not [pod for pod in agent.cluster.network.pods() if "/shop-b/" in pod.key]  # type: ignore[attr-defined]
    assert "Killing" in {event["reason"] for event in agent.events("shop-b")}


def test_force_delete_kills_at_once(agent: Agent) -> None:
    create(agent, shop_pod("shop-c"))
    until(lambda: ready(agent, "shop-c"), "shop-c Ready")
    pid = pid_of(agent, "shop-c")
    removed = agent.kubectl("delete", "pod", "shop-c", "--grace-period=0", "--force")
    assert removed.returncode == 0, removed.stderr
    until(lambda: not alive(pid), "shop-c process killed", timeout_s=5)
    assert agent.pod("shop-c") is None


def test_missing_secret_key_waits_until_the_key_exists(agent: Agent) -> None:
    create(agent, shop_pod("shop-d", secret_key="later"))

    def waiting_reason() -> str:
        return str(
            ((agent.container("shop-d").get("state") or {}).get("waiting") or {}).get("reason")
        )

    until(lambda: waiting_reason() == "CreateContainerConfigError", "CreateContainerConfigError")
    message = agent.container("shop-d")["state"]["waiting"]["message"]
    assert message == "couldn't find key later in Secret default/shop-database"
    assert (agent.pod("shop-d") or {})["status"]["phase"] == "Pending"
    later = {"data": {"later": base64.b64encode(agent.dsn.encode()).decode()}}
    agent.core.patch_namespaced_secret("shop-database", "default", later)
    until(lambda: ready(agent, "shop-d"), "shop-d Ready once the key exists")
    agent.core.delete_namespaced_pod("shop-d", "default")
    until(lambda: agent.pod("shop-d") is None, "shop-d gone")


def test_unknown_image_is_err_image_pull(agent: Agent) -> None:
    create(agent, shop_pod("nginx-e", image="nginx:1.27"))
    until(
        lambda: (
            ((agent.container("nginx-e").get("state") or {}).get("waiting") or {}).get("reason")
            == "ErrImagePull"
        ),
        "ErrImagePull",
    )
    agent.core.delete_namespaced_pod("nginx-e", "default")
    until(lambda: agent.pod("nginx-e") is None, "nginx-e gone")


def metrics_server_get(agent: Agent, path: str) -> dict[str, Any] | None:
    """GET from metrics-server itself (no APIService here), as the admin."""
    plane = agent.cluster.plane
    assert plane.pki is not None
    context = ssl.create_default_context(cafile=str(plane.pki.ca))
    user = json.loads(plane.admin_kubeconfig.read_text())["users"][0]["user"]
    context.load_cert_chain(user["client-certificate"], user["client-key"])
    url = f"https://{plane.gateway}:{plane.metrics_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as answer:
            found: dict[str, Any] = json.loads(answer.read())
            return found
    except (urllib.error.URLError, OSError):
        return None


def test_resource_metrics_reach_metrics_server(
    agent: Agent, record_property: Callable[[str, object], None]
) -> None:
    create(agent, shop_pod("shop-m"))
    until(lambda: ready(agent, "shop-m"), "shop-m Ready")
    path = f"/api/v1/nodes/{NODE}/proxy/metrics/resource"
    text = agent.kubectl("get", "--raw", path).stdout
    assert (
        'container_cpu_usage_seconds_total{container="shop",namespace="default",pod="shop-m"}'
        in text
    )
    assert "node_memory_working_set_bytes " in text
    health = agent.kubectl("get", "--raw", f"/api/v1/nodes/{NODE}/proxy/healthz")
    assert health.stdout == "ok"
    agent.cluster.plane.start_metrics_server()
    pod_path = "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/shop-m"
    waited_s = until(
        lambda: metrics_server_get(agent, pod_path) is not None, "pod metrics", timeout_s=90
    )
    record_property("metrics_server_first_pod_metrics_s", round(waited_s, 1))
    metrics = metrics_server_get(agent, pod_path) or {}
    usage = metrics["containers"][0]["usage"]
    assert metrics["containers"][0]["name"] == "shop"
    assert usage["memory"].endswith("Ki")
    assert int(usage["memory"][:-2]) > 10_000  # a Python app holds well over 10 MiB
    node = metrics_server_get(agent, f"/apis/metrics.k8s.io/v1beta1/nodes/{NODE}")
    assert node is not None
    assert node["usage"]["memory"].endswith("Ki")
    agent.core.delete_namespaced_pod("shop-m", "default")
    until(lambda: agent.pod("shop-m") is None, "shop-m gone")


def test_silent_node_goes_unknown_and_its_pods_are_evicted(
    agent: Agent, record_property: Callable[[str, object], None]
) -> None:
    node = "sandbox-node-2"
    kubelet = Kubelet(kubelet_config(agent.cluster, node), agent.cluster.network)  # type: ignore[arg-type]
    agent.loop.run(kubelet.start())
    try:
        body = shop_pod("shop-z")
        body["spec"]["nodeName"] = node
        create(agent, body)
        until(lambda: ready(agent, "shop-z"), "shop-z Ready on node 2")

        def ready_status() -> str:
            conditions = agent.node(node)["status"]["conditions"]
            return str(next(c["status"] for c in conditions if c["type"] == "Ready"))

        kubelet.stop_heartbeats()
        silent_s = until(lambda: ready_status() == "Unknown", "node 2 Ready=Unknown", timeout_s=60)
        record_property("heartbeats_stopped_to_unknown_s", round(silent_s, 1))
        evicted_s = until(lambda: agent.pod("shop-z") is None, "shop-z evicted", timeout_s=60)
        record_property("unknown_to_pod_evicted_s", round(evicted_s, 1))
        kubelet.resume_heartbeats()
        until(lambda: ready_status() == "True", "node 2 Ready again", timeout_s=30)
    finally:
        agent.loop.run(kubelet.stop())
        agent.core.delete_node(node)


def test_stop_leaves_no_pod_process(agent: Agent) -> None:
    node = "sandbox-node-3"
    kubelet = Kubelet(kubelet_config(agent.cluster, node), agent.cluster.network)  # type: ignore[arg-type]
    agent.loop.run(kubelet.start())
    body = shop_pod("shop-s")
    body["spec"]["nodeName"] = node
    create(agent, body)
    until(lambda: ready(agent, "shop-s"), "shop-s Ready on node 3")
    pid = int((kubelet.config.pods_dir / "default_shop-s.pid").read_text())
    agent.loop.run(kubelet.stop())
    assert not alive(pid)
    assert not [pod for pod in agent.cluster.network.pods() if "/shop-s/" in pod.key]  # type: ignore[attr-defined]
    agent.core.delete_namespaced_pod("shop-s", "default", grace_period_seconds=0)
    agent.core.delete_node(node)
    assert os.path.exists(kubelet.config.pods_dir / "default_shop-s_shop.log")
