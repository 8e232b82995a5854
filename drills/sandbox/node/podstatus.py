"""A pod's ``status`` as the kubelet writes it, built from what the node knows of the pod.

Pure: `pod_status` takes the pod, its one container's status (the runner's snapshot, or a
waiting one before a runner exists) and `PodFacts`-like figures, and returns the whole status
object. The rules follow the kubelet's (``generateAPIPodStatus`` and ``getPhase`` in
``pkg/kubelet/kubelet_pods.go``, the condition builders of ``pkg/kubelet/status``):

- phase: ``Pending`` while the container waits without having run, ``Running`` while it runs
  or is between restarts, and once the pod is terminal (stopped for deletion, or its restart
  policy ended it) ``Succeeded`` when it exited 0, else ``Failed``;
- conditions, in the kubelet's order: PodReadyToStartContainers (the pod's network namespace
  exists), Initialized, Ready, ContainersReady, PodScheduled; each keeps its
  lastTransitionTime until its status changes (`Transitions`) and carries the pod's
  generation as observedGeneration;
- hostIP(s), podIP(s), startTime, qosClass, containerStatuses, observedGeneration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from drills.sandbox.node.podspec import qos_class
from drills.sandbox.node.runner import image_id

__all__ = ["PodView", "Transitions", "phase_of", "pod_status", "waiting_status"]

Json = Mapping[str, Any]


class Transitions:
    """The lastTransitionTime of each condition: kept while its status stays the same."""

    def __init__(self, existing: Sequence[Json] | None = None) -> None:
        """Start from the conditions the pod already has (the scheduler's PodScheduled...)."""
        self._seen: dict[str, tuple[str, str]] = {}
        for condition in existing or []:
            stamp = condition.get("lastTransitionTime")
            if stamp:
                self._seen[str(condition["type"])] = (str(condition["status"]), str(stamp))

    def stamp(self, kind: str, status: str, now: str) -> str:
        """The lastTransitionTime of condition `kind` now that its status is `status`."""
        previous = self._seen.get(kind)
        if previous is None or previous[0] != status:
            self._seen[kind] = (status, now)
        return self._seen[kind][1]


@dataclass(frozen=True)
class PodView:
    """What the node knows of one pod when it writes the status."""

    pod: Json
    container: Json
    host_ip: str
    pod_ip: str | None
    start_time: str
    sandbox_ready: bool
    terminal: bool


def waiting_status(container: Json, reason: str, message: str = "") -> dict[str, Any]:
    """A container status that waits (``ContainerCreating``, ``ErrImagePull``...)."""
    waiting: dict[str, Any] = {"reason": reason}
    if message:
        waiting["message"] = message
    image = str(container.get("image", ""))
    return {
        "name": container["name"],
        "image": image,
        "imageID": "",
        "ready": False,
        "started": False,
        "restartCount": 0,
        "state": {"waiting": waiting},
        "lastState": {},
    }


def _final(container: Json) -> dict[str, Any]:
    """A terminal pod's container status: one that never ran counts as lost (exit 137)."""
    status = dict(container)
    status["ready"], status["started"] = False, False
    state = status.get("state") or {}
    if "waiting" in state and not status.get("lastState"):
        status["state"] = {
            "terminated": {
                "exitCode": 137,
                "reason": "ContainerStatusUnknown",
                "message": "The container could not be located when the pod was terminated",
            }
        }
        status["imageID"] = status.get("imageID") or image_id(str(status.get("image", "")))
    return status


def phase_of(container: Json, *, terminal: bool) -> str:
    """The pod phase for a pod of one container in `container`'s state."""
    state, last = container.get("state") or {}, container.get("lastState") or {}
    if "running" in state:
        return "Running"
    if "waiting" in state and not last:
        return "Pending"
    if not terminal:
        return "Running"  # between restarts: the restart policy brings it back
    succeeded = state.get("terminated", {}).get("exitCode") == 0
    return "Succeeded" if succeeded else "Failed"


def pod_status(view: PodView, transitions: Transitions, now: str) -> dict[str, Any]:
    """The pod's whole ``status`` object (see the module docstring for the rules)."""
    container = _final(view.container) if view.terminal else dict(view.container)
    phase = phase_of(container, terminal=view.terminal)
    generation = int(view.pod["metadata"].get("generation") or 1)
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "phase": phase,
        "conditions": _conditions(view, container, phase, transitions, now),
        "hostIP": view.host_ip,
        "hostIPs": [{"ip": view.host_ip}],
        "startTime": view.start_time,
        "qosClass": qos_class(view.pod),
        "containerStatuses": [container],
    }
    if view.pod_ip:
        status["podIP"] = view.pod_ip
        status["podIPs"] = [{"ip": view.pod_ip}]
    return status


_Row = tuple[str, str, str]  # status ("True"/"False"), reason, message


def _conditions(
    view: PodView, container: Json, phase: str, transitions: Transitions, now: str
) -> list[dict[str, Any]]:
    generation = int(view.pod["metadata"].get("generation") or 1)
    ready = _ready(container, phase)
    sandbox = "True" if view.sandbox_ready and not view.terminal else "False"
    rows: list[tuple[str, _Row]] = [
        ("PodReadyToStartContainers", (sandbox, "", "")),
        ("Initialized", ("True", "PodCompleted" if phase == "Succeeded" else "", "")),
        ("Ready", ready),
        ("ContainersReady", ready),
        ("PodScheduled", ("True", "", "")),
    ]
    return [
        _condition(kind, row, generation, transitions.stamp(kind, row[0], now))
        for kind, row in rows
    ]


def _ready(container: Json, phase: str) -> _Row:
    if phase == "Succeeded":
        return "False", "PodCompleted", ""
    if phase == "Failed":
        return "False", "PodFailed", ""
    if container.get("ready"):
        return "True", "", ""
    return "False", "ContainersNotReady", f"containers with unready status: [{container['name']}]"


def _condition(kind: str, row: _Row, generation: int, since: str) -> dict[str, Any]:
    status, reason, message = row
    condition: dict[str, Any] = {
        "type": kind,
        "status": status,
        "observedGeneration": generation,
        "lastProbeTime": None,
        "lastTransitionTime": since,
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition
