"""Per-pod resource and traffic figures: the kubelet writes them, the HPA and `kubectl top` read.

Usage from the kubelet::

    metrics = api.metrics                       # PodMetrics, shared with the API server
    metrics.record("default", "shop-abc12-xyz9q", cpu_millicores=120.0,
                   memory_bytes=48_000_000, requests_per_second=7.5)
    metrics.forget("default", "shop-abc12-xyz9q")   # when the pod is gone

Tests inject load the same way. Figures are plain numbers; nothing here touches the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PodMetrics", "PodSample"]


@dataclass(frozen=True)
class PodSample:
    """The latest figures of one pod."""

    cpu_millicores: float = 0.0
    memory_bytes: float = 0.0
    requests_per_second: float = 0.0


class PodMetrics:
    """Registry of the latest `PodSample` per (namespace, pod name)."""

    def __init__(self) -> None:
        """Start empty."""
        self._samples: dict[tuple[str, str], PodSample] = {}

    def record(
        self,
        namespace: str,
        name: str,
        *,
        cpu_millicores: float = 0.0,
        memory_bytes: float = 0.0,
        requests_per_second: float = 0.0,
    ) -> None:
        """Store the latest figures of one pod (replacing the previous ones)."""
        self._samples[(namespace, name)] = PodSample(
            cpu_millicores, memory_bytes, requests_per_second
        )

    def get(self, namespace: str, name: str) -> PodSample | None:
        """The latest figures of a pod, or None when it never reported."""
        return self._samples.get((namespace, name))

    def forget(self, namespace: str, name: str) -> None:
        """Drop a pod's figures (it was deleted)."""
        self._samples.pop((namespace, name), None)

    def pods(self) -> dict[tuple[str, str], PodSample]:
        """A copy of every (namespace, name) -> sample."""
        return dict(self._samples)
