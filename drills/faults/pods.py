"""Pod faults from the runbooks: kill a share of a workload's pods, roll out a bad release."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drills.core.errors import InjectionFailed
from drills.core.safety import BlastRadius, RollbackEntry
from drills.targets.ports.workload import DeploymentObject, Workload

__all__ = [
    "BAD_TAG",
    "BadRelease",
    "BadSetting",
    "BadSettings",
    "DeleteDeployment",
    "KillPods",
    "MissingSecretKey",
    "ScaleTo",
    "bad_release_image",
]

BAD_TAG = "bad"  # the demo app's broken build exits during start-up (fixtures/shop/app.py)


def bad_release_image(image: str, *, tag: str = BAD_TAG) -> str:
    """The broken build of the same repository: `repo[:tag][@digest]` -> `repo:<tag>`.

    A digest pins content, so `repo@sha256:...` must not become `repo@sha256:bad` (no such
    digest, an invalid reference): the digest and any tag are dropped and `tag` is put on the
    repository. A registry port (`registry:5000/shop`) is not a tag.
    """
    repository = image.split("@", 1)[0]
    name_start = repository.rfind("/") + 1
    colon = repository.rfind(":")
    if colon >= name_start:
        repository = repository[:colon]
    if not repository:
        raise ValueError(f"image reference {image!r} names no repository")
    return f"{repository}:{tag}"


@dataclass
class KillPods:
    """Force-delete a fraction of the workload's pods (RUNBOOKS.md §3.2, variant `fraction`).

    The blast radius caps how many may go. The rollback restores spec.replicas if anything changed
    it; the pods themselves come back through the ReplicaSet, which is what the drill measures.
    """

    workload: Workload
    fraction: float = 0.5
    blast_radius: BlastRadius = field(default_factory=BlastRadius)
    grace_period_s: int = 0
    kind: str = "kill-pods"
    killed: list[str] = field(default_factory=list)
    _replicas: int | None = None

    @property
    def target(self) -> str:
        """The Deployment the pods belong to."""
        return f"{self.workload.namespace}/deployment/{self.workload.name}"

    def _count(self, total: int) -> int:
        # Round down like the blast radius does: half of 3 pods is 1, never 2.
        return max(1, math.floor(total * self.fraction + 1e-9)) if total else 0

    def describe(self) -> str:
        """One line for the plan."""
        return f"force-delete {self.fraction:.0%} of the pods of {self.target}"

    def rollback_entry(self) -> RollbackEntry:
        """Restore the replica count seen before the kill."""
        self._replicas = self.workload.desired_replicas()
        return RollbackEntry(self.kind, self.target, {"replicas": self._replicas})

    def apply(self) -> None:
        """Delete the chosen pods; refuses to exceed the blast radius."""
        live = [p for p in self.workload.pods() if not p.deleting]
        wanted = self._count(len(live))
        if wanted == 0:
            raise InjectionFailed(f"{self.target} has no running pods to kill")
        self.blast_radius.check(wanted, len(live), "pods")
        for pod in sorted(live, key=lambda p: p.name)[:wanted]:
            self.workload.delete_pod(pod.name, grace_period_s=self.grace_period_s)
            self.killed.append(pod.name)

    def rollback(self) -> None:
        """Put spec.replicas back if it moved; idempotent."""
        if self._replicas is not None and self.workload.desired_replicas() != self._replicas:
            self.workload.scale(self._replicas)


@dataclass
class BadRelease:
    """Roll out an image that crashes at start-up (RUNBOOKS.md §3.1); rollback restores it."""

    workload: Workload
    image: str
    kind: str = "bad-release"
    _good_image: str = ""

    @property
    def target(self) -> str:
        """The Deployment receiving the release."""
        return f"{self.workload.namespace}/deployment/{self.workload.name}"

    def describe(self) -> str:
        """One line for the plan."""
        return f"roll out image {self.image} to {self.target}"

    def rollback_entry(self) -> RollbackEntry:
        """Remember the image running now, to put it back."""
        self._good_image = self.workload.container_image()
        return RollbackEntry(self.kind, self.target, {"image": self._good_image})

    def apply(self) -> None:
        """Patch the pod template's image."""
        if self.image == self._good_image:
            raise InjectionFailed(f"{self.target} already runs {self.image}")
        self.workload.set_image(self.image)

    def rollback(self) -> None:
        """Restore the good image unless the runbook's recovery already did; idempotent."""
        if self._good_image and self.workload.container_image() != self._good_image:
            self.workload.set_image(self._good_image)


@dataclass
class BadSetting:
    """Roll out a release whose env var `name` is `value` (a bad configuration, RUNBOOKS §3.1).

    The shop refuses to start with APP_VERSION=bad, as a release with a wrong setting would
    crash at start-up. The rollback puts the previous value back (or removes the variable).
    """

    workload: Workload
    name: str
    value: str
    kind: str = "bad-setting"
    _previous: str | None = None

    @property
    def target(self) -> str:
        """The Deployment receiving the release."""
        return f"{self.workload.namespace}/deployment/{self.workload.name}"

    def describe(self) -> str:
        """One line for the plan."""
        return f"roll out {self.name}={self.value} to {self.target}"

    def rollback_entry(self) -> RollbackEntry:
        """Remember the value set now, to put it back."""
        self._previous = self.workload.container_env(self.name)
        args: dict[str, str | None] = {"name": self.name, "previous": self._previous}
        return RollbackEntry(self.kind, self.target, args)

    def apply(self) -> None:
        """Patch the env var into the pod template."""
        if self._previous == self.value:
            raise InjectionFailed(f"{self.target} already sets {self.name}={self.value}")
        self.workload.set_env(self.name, self.value)

    def rollback(self) -> None:
        """Restore the previous value unless a recovery already did; idempotent."""
        if self.workload.container_env(self.name) != self._previous:
            self.workload.set_env(self.name, self._previous)


@dataclass
class BadSettings:
    """Roll out a release whose env vars are `values`, all in one revision (RUNBOOKS §3.5).

    `app-leak`: the shop's own HOLD_CONNECTIONS, a release whose code never gives pooled
    connections back. One patch, so the release is one revision and `rollout undo` takes every
    setting back at once. The rollback puts each previous value back (or removes the variable).
    """

    workload: Workload
    values: Mapping[str, str]
    kind: str = "bad-settings"
    _previous: dict[str, str | None] = field(default_factory=dict)

    @property
    def target(self) -> str:
        """The Deployment receiving the release."""
        return f"{self.workload.namespace}/deployment/{self.workload.name}"

    @property
    def settings(self) -> str:
        """The release's settings as `kubectl set env` takes them: `A=1 B=2`."""
        return " ".join(f"{k}={v}" for k, v in self.values.items())

    def describe(self) -> str:
        """One line for the plan."""
        return f"roll out {self.settings} to {self.target}"

    def rollback_entry(self) -> RollbackEntry:
        """Remember every value set now (None: not set), to put them back."""
        self._previous = {name: self.workload.container_env(name) for name in self.values}
        return RollbackEntry(self.kind, self.target, {"previous": json.dumps(self._previous)})

    def apply(self) -> None:
        """Patch every variable into the pod template at once."""
        if not self.values:
            raise InjectionFailed(f"no setting to roll out to {self.target}")
        if all(self._previous.get(k) == v for k, v in self.values.items()):
            raise InjectionFailed(f"{self.target} already sets {self.settings}")
        self.workload.set_envs(self.values)

    def rollback(self) -> None:
        """Restore the previous values unless a recovery already did; idempotent."""
        now = {name: self.workload.container_env(name) for name in self._previous}
        if now != self._previous:
            self.workload.set_envs(self._previous)


@dataclass
class DeleteDeployment:
    """Delete the Deployment (RUNBOOKS.md §3.2 `deployment-deleted`): nothing recreates pods.

    The rollback re-creates it from the manifest read before the deletion (kept in the ledger
    entry as JSON, so `drills rollback` can do the same after a crash), or puts that spec back
    when the recovery re-created it differently; one back as it was is left alone. The whole
    Deployment goes, so the blast radius must allow touching every replica.
    """

    deployment: DeploymentObject
    blast_radius: BlastRadius = field(default_factory=BlastRadius)
    kind: str = "delete-deployment"
    _manifest: dict[str, Any] | None = None

    @property
    def target(self) -> str:
        """The Deployment deleted."""
        return f"{self.deployment.namespace}/deployment/{self.deployment.name}"

    def describe(self) -> str:
        """One line for the plan."""
        return f"delete {self.target} (its ReplicaSets and pods follow)"

    def rollback_entry(self) -> RollbackEntry:
        """Remember the Deployment as it is now, to re-create it."""
        self._manifest = self.deployment.manifest()
        manifest = "" if self._manifest is None else json.dumps(self._manifest, sort_keys=True)
        return RollbackEntry(self.kind, self.target, {"manifest": manifest})

    def apply(self) -> None:
        """Delete the Deployment; there must be one, and the cap must allow all its replicas."""
        if self._manifest is None:
            raise InjectionFailed(f"there is no {self.target} to delete")
        replicas = int(self._manifest.get("spec", {}).get("replicas", 1) or 0)
        if replicas:
            self.blast_radius.check(replicas, replicas, "replicas")
        self.deployment.delete()

    def rollback(self) -> None:
        """Re-create the Deployment (or its spec) unless it is back as it was; idempotent."""
        if self._manifest is None:
            return
        now = self.deployment.manifest()
        if now is None or now.get("spec") != self._manifest.get("spec"):
            self.deployment.restore(self._manifest)


@dataclass
class MissingSecretKey:
    """Roll out a release whose env var reads a Secret key that does not exist (RUNBOOKS §3.1).

    The kubelet cannot build the container's environment (CreateContainerConfigError), as after a
    rotation that renamed a key. The rollback points the variable at its previous key again.
    """

    workload: Workload
    name: str
    key: str
    kind: str = "missing-secret-key"
    _previous: str | None = None

    @property
    def target(self) -> str:
        """The Deployment receiving the release."""
        return f"{self.workload.namespace}/deployment/{self.workload.name}"

    def describe(self) -> str:
        """One line for the plan."""
        return f"read {self.name} from Secret key {self.key} in {self.target}"

    def rollback_entry(self) -> RollbackEntry:
        """Remember the key read now, to put it back."""
        self._previous = self.workload.container_secret_key(self.name)
        return RollbackEntry(self.kind, self.target, {"name": self.name, "key": self._previous})

    def apply(self) -> None:
        """Patch the env var's secretKeyRef key; a variable not read from a Secret is no fault."""
        if self._previous is None:
            raise InjectionFailed(f"{self.name} of {self.target} is not read from a Secret")
        if self._previous == self.key:
            raise InjectionFailed(f"{self.target} already reads {self.name} from key {self.key}")
        self.workload.set_container_secret_key(self.name, self.key)

    def rollback(self) -> None:
        """Read the previous key again unless a recovery already did; idempotent."""
        previous = self._previous
        if previous is not None and self.workload.container_secret_key(self.name) != previous:
            self.workload.set_container_secret_key(self.name, previous)


@dataclass
class ScaleTo:
    """Set spec.replicas to `replicas` (RUNBOOKS.md §3.2 `zero`: the [001] shutdown by mistake).

    Scaling down takes pods away, so the blast radius caps it like `KillPods`: going from 3 to 0
    touches 3 of 3 replicas. The rollback puts back the spec.replicas read before, unless a
    recovery already did; the pods come back through the ReplicaSet.
    """

    workload: Workload
    replicas: int = 0
    blast_radius: BlastRadius = field(default_factory=BlastRadius)
    kind: str = "scale-to"
    _previous: int | None = None

    @property
    def target(self) -> str:
        """The Deployment scaled."""
        return f"{self.workload.namespace}/deployment/{self.workload.name}"

    def describe(self) -> str:
        """One line for the plan."""
        return f"scale {self.target} to {self.replicas} replicas"

    def rollback_entry(self) -> RollbackEntry:
        """Remember spec.replicas now, to put it back."""
        self._previous = self.workload.desired_replicas()
        return RollbackEntry(self.kind, self.target, {"replicas": self._previous})

    def apply(self) -> None:
        """Patch the scale subresource; refuses to take away more replicas than the cap allows."""
        now = self.workload.desired_replicas() if self._previous is None else self._previous
        if now == self.replicas:
            raise InjectionFailed(f"{self.target} already runs {self.replicas} replicas")
        if self.replicas < now:
            self.blast_radius.check(now - self.replicas, now, "replicas")
        self.workload.scale(self.replicas)

    def rollback(self) -> None:
        """Put spec.replicas back unless a recovery already did; idempotent."""
        if self._previous is not None and self.workload.desired_replicas() != self._previous:
            self.workload.scale(self._previous)
