"""Kubernetes adapter for PodDiagnostics: `kubectl top pods` and `kubectl logs --tail`.

CPU and memory come from the resource metrics API (`metrics.k8s.io/v1beta1` PodMetrics, served
by metrics-server, in the sandbox from the node agent's `/metrics/resource`), summed over each
pod's containers, as `kubectl top pods` prints them. Same client and error handling as
`kube.KubeWorkload`.
"""

from __future__ import annotations

from typing import Any

from drills.targets.adapters.kube import KubeWorkload, _call
from drills.targets.ports.diagnostics import PodUsage

try:
    from kubernetes import client
except ImportError as exc:  # pragma: no cover - depends on the installed extra
    raise ImportError("the metrics adapter needs the k8s extra: pip install 'drills[k8s]'") from exc

__all__ = ["KubePodDiagnostics", "parse_cpu_millicores", "parse_memory_bytes"]

_BINARY = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}
_DECIMAL = {"k": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}


def parse_cpu_millicores(quantity: str) -> float:
    """A CPU quantity (`250m`, `1`, `12345n`, `3u`) in millicores."""
    text = quantity.strip()
    for suffix, scale in (("n", 1e-6), ("u", 1e-3), ("m", 1.0)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * scale
    return float(text) * 1000.0


def parse_memory_bytes(quantity: str) -> int:
    """A memory quantity (`61Mi`, `64000Ki`, `1G`, `1024`) in bytes."""
    text = quantity.strip()
    for table in (_BINARY, _DECIMAL):
        for suffix, scale in table.items():
            if text.endswith(suffix):
                return int(float(text[: -len(suffix)]) * scale)
    return int(float(text))


class KubePodDiagnostics:
    """`kubectl top pods` and `kubectl logs --tail` for the pods of one KubeWorkload."""

    def __init__(self, workload: KubeWorkload) -> None:
        self.workload = workload
        self._metrics = client.CustomObjectsApi(workload.api.core.api_client)

    def top_pods(self) -> list[PodUsage]:
        """PodMetrics of the workload's pods, busiest CPU first (pods without metrics left out)."""
        names = {pod.name for pod in self.workload.pods()}
        listed = _call(
            "list pods.metrics.k8s.io (kubectl top pods)",
            lambda: self._metrics.list_namespaced_custom_object(
                "metrics.k8s.io", "v1beta1", self.workload.namespace, "pods"
            ),
        )
        usage = [_usage(item) for item in listed.get("items", []) if _name(item) in names]
        return sorted(usage, key=lambda u: (-u.cpu_millicores, u.name))

    def log_tail(self, pod: str, *, tail_lines: int = 200) -> str:
        """The last `tail_lines` lines of the pod's current container log."""

        def read() -> Any:
            response = self.workload.api.core.read_namespaced_pod_log(
                pod, self.workload.namespace, tail_lines=tail_lines, _preload_content=False
            )
            return response.data.decode("utf-8", errors="replace")

        return str(_call(f"read logs --tail={tail_lines} of pod/{pod}", read) or "")


def _name(item: dict[str, Any]) -> str:
    return str(item.get("metadata", {}).get("name", ""))


def _usage(item: dict[str, Any]) -> PodUsage:
    containers = item.get("containers", []) or []
    cpu = sum(parse_cpu_millicores(str(c["usage"]["cpu"])) for c in containers)
    memory = sum(parse_memory_bytes(str(c["usage"]["memory"])) for c in containers)
    return PodUsage(_name(item), cpu, memory)
