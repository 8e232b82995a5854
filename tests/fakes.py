"""In-memory port fakes for pure unit tests (no sockets, no processes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from drills.targets.ports.workload import PodState, WorkloadEvent


@dataclass
class FakeWorkload:
    """A Deployment in memory: pods are PodState values the test edits directly."""

    namespace: str = "default"
    name: str = "shop"
    replicas: int = 3
    image: str = "drills/shop:1.0"
    revisions: list[str] = field(default_factory=list)
    pod_list: list[PodState] = field(default_factory=list)
    deleted: list[tuple[str, int | None]] = field(default_factory=list)
    endpoint_count: int | None = None
    restarts: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    secret_keys: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.pod_list:
            self.pod_list = [
                PodState(f"shop-{i}", "Running", ready=True) for i in range(self.replicas)
            ]
        if not self.revisions:
            self.revisions = [self.image]

    def pods(self) -> list[PodState]:
        return list(self.pod_list)

    def desired_replicas(self) -> int:
        return self.replicas

    def ready_replicas(self) -> int:
        return sum(1 for p in self.pod_list if p.ready)

    def ready_endpoints(self) -> int:
        return self.ready_replicas() if self.endpoint_count is None else self.endpoint_count

    def delete_pod(self, name: str, *, grace_period_s: int | None = None) -> None:
        self.deleted.append((name, grace_period_s))
        self.pod_list = [p for p in self.pod_list if p.name != name]

    def scale(self, replicas: int) -> None:
        self.replicas = replicas

    def revision(self) -> int:
        return len(self.revisions)

    def container_image(self) -> str:
        return self.image

    def set_image(self, image: str) -> None:
        self.image = image
        self.revisions.append(image)

    def container_env(self, name: str) -> str | None:
        return self.env.get(name)

    def set_env(self, name: str, value: str | None) -> None:
        if value is None:
            self.env.pop(name, None)
        else:
            self.env[name] = value
        self.revisions.append(f"{self.image} {sorted(self.env.items())}")

    def set_envs(self, values: Mapping[str, str | None]) -> None:
        for name, value in values.items():
            if value is None:
                self.env.pop(name, None)
            else:
                self.env[name] = value
        self.revisions.append(f"{self.image} {sorted(self.env.items())}")

    def container_secret_key(self, name: str) -> str | None:
        return self.secret_keys.get(name)

    def set_container_secret_key(self, name: str, key: str) -> None:
        self.secret_keys[name] = key
        self.revisions.append(f"{self.image} {sorted(self.secret_keys.items())}")

    def rollout_undo(self) -> int:
        self.image = self.revisions[-2]
        self.revisions.append(self.image)
        return len(self.revisions) - 2

    def rollout_restart(self) -> str:
        stamp = f"restart-{len(self.restarts) + 1}"
        self.restarts.append(stamp)
        return stamp

    def events(self) -> list[WorkloadEvent]:
        return []
