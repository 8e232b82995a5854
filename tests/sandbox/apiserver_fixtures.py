"""Shared helpers of the API server tests: a threaded server, a fake kubelet, a kubectl runner."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from drills.core.clock import SystemClock
from drills.core.waiting import wait_until
from drills.sandbox.apiserver.server import ApiConfig, SandboxApi, ThreadedSandboxApi
from drills.sandbox.apiserver.store import ObjectStore

REPO = Path(__file__).resolve().parents[2]
KUBECTL = REPO / ".drills" / "bin" / "kubectl"


class FakeKubelet:
    """Marks scheduled pods Running and Ready (or crashing, for images containing 'bad')."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self._ip = 0

    def __call__(self, event_type: str, resource: str, obj: dict[str, Any]) -> None:
        if resource != "pods" or event_type == "DELETED":
            return
        meta, spec = obj["metadata"], obj.get("spec", {})
        if meta.get("deletionTimestamp"):
            self._store.finalize_delete("pods", meta["namespace"], meta["name"])
            return
        if not spec.get("nodeName") or obj.get("status", {}).get("podIP"):
            return
        self._ip += 1
        self._store.update_status("pods", meta["namespace"], meta["name"], self._status(obj))

    def _status(self, pod: dict[str, Any]) -> dict[str, Any]:
        now = self._store.timestamp()
        image = pod["spec"]["containers"][0].get("image", "")
        bad = "bad" in image
        state = (
            {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off restarting"}}
            if bad
            else {"running": {"startedAt": now}}
        )
        ready = "False" if bad else "True"
        return {
            "phase": "Running",
            "podIP": f"127.0.0.{self._ip % 250 + 2}",
            "hostIP": "127.0.0.1",
            "startTime": now,
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                {"type": "Ready", "status": ready, "lastTransitionTime": now},
                {"type": "ContainersReady", "status": ready, "lastTransitionTime": now},
            ],
            "containerStatuses": [
                {
                    "name": c["name"],
                    "image": c.get("image", ""),
                    "imageID": "",
                    "ready": not bad,
                    "restartCount": 2 if bad else 0,
                    "started": not bad,
                    "state": state,
                }
                for c in pod["spec"]["containers"]
            ],
        }


class Cluster:
    """A running sandbox API server with its kubeconfig and clients."""

    def __init__(self, threaded: ThreadedSandboxApi, api: SandboxApi, kubeconfig: Path) -> None:
        self.threaded = threaded
        self.api = api
        self.kubeconfig = kubeconfig
        loader = client.Configuration()
        config.load_kube_config(str(kubeconfig), client_configuration=loader)
        self.client = client.ApiClient(loader)
        self.core = client.CoreV1Api(self.client)
        self.apps = client.AppsV1Api(self.client)
        self.autoscaling = client.AutoscalingV2Api(self.client)

    def run(self, function: Callable[[], Any]) -> Any:
        """Run `function` on the server's loop (store access)."""
        return self.threaded.run(function)

    def wait(self, check: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
        """Wait until `check()` holds (fails the test with `what` otherwise)."""
        waited = wait_until(
            check,
            clock=SystemClock(),
            timeout_s=timeout_s,
            poll_s=0.05,
            description=what,
            raise_on_timeout=False,
        )
        assert waited.met, f"timed out waiting for {what}"

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the extracted kubectl against this cluster."""
        binary = KUBECTL if KUBECTL.exists() else shutil.which("kubectl")
        if binary is None:
            pytest.skip("kubectl is missing; run `make .drills/bin/kubectl`")
        command = [str(binary), "--kubeconfig", str(self.kubeconfig), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        if check:
            assert result.returncode == 0, f"{command} failed: {result.stderr}"
        return result


def start_cluster(tmp: Path) -> Iterator[Cluster]:
    """Start a threaded sandbox API with a fake kubelet; yields the Cluster, then stops it."""
    threaded = ThreadedSandboxApi(
        ApiConfig(node_grace_s=None, hpa_interval_s=0.2, watch_history=300)
    )
    api = threaded.start()
    try:
        threaded.run(lambda: api.store.subscribe(FakeKubelet(api.store)))
        kubeconfig = api.write_kubeconfig(tmp / "kubeconfig")
        cluster = Cluster(threaded, api, kubeconfig)
        yield cluster
        threaded.run(api.check_errors)
    finally:
        threaded.stop()


def deployment(name: str, image: str, replicas: int = 3) -> dict[str, Any]:
    """A Deployment manifest like the shop's."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": image,
                            "ports": [{"containerPort": 8080, "name": "http"}],
                            "resources": {"requests": {"cpu": "100m"}},
                        }
                    ]
                },
            },
        },
    }
