"""Pod status as the kubelet writes it: phase, conditions, transitions, QoS, terminal states."""

from __future__ import annotations

from typing import Any

from drills.sandbox.node.podstatus import (
    PodView,
    Transitions,
    phase_of,
    pod_status,
    waiting_status,
)

T0, T1, T2 = "2026-01-01T12:00:00Z", "2026-01-01T12:00:05Z", "2026-01-01T12:00:09Z"
CONTAINER = {
    "name": "shop",
    "image": "shop:1.0.0",
    "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": "1"}},
}
POD: dict[str, Any] = {
    "metadata": {"name": "shop-a", "namespace": "default", "uid": "u-1", "generation": 1},
    "spec": {"containers": [CONTAINER]},
    "status": {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": T0}],
    },
}


def running(*, ready: bool, restarts: int = 0) -> dict[str, Any]:
    return {
        "name": "shop",
        "image": "shop:1.0.0",
        "imageID": "shop@sha256:x",
        "containerID": "drills-process://42",
        "ready": ready,
        "started": True,
        "restartCount": restarts,
        "state": {"running": {"startedAt": T0}},
        "lastState": {},
    }


def view(
    container: dict[str, Any], *, terminal: bool = False, ip: str | None = "10.244.3.7"
) -> PodView:
    return PodView(
        pod=POD,
        container=container,
        host_ip="10.244.3.1",
        pod_ip=ip,
        start_time=T0,
        sandbox_ready=ip is not None,
        terminal=terminal,
    )


def conditions(status: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in status["conditions"]}


def test_a_new_pod_is_pending_while_its_container_is_created() -> None:
    status = pod_status(
        view(waiting_status(CONTAINER, "ContainerCreating"), ip=None), Transitions(), T0
    )
    assert status["phase"] == "Pending"
    assert [c["type"] for c in status["conditions"]] == [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ]
    assert conditions(status)["PodReadyToStartContainers"] == "False"
    assert "podIP" not in status
    assert status["hostIPs"] == [{"ip": "10.244.3.1"}]
    assert status["qosClass"] == "Burstable"
    assert status["observedGeneration"] == 1
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "ContainersNotReady"
    assert ready["message"] == "containers with unready status: [shop]"
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}


def test_a_ready_container_makes_the_pod_running_and_ready_with_its_ip() -> None:
    status = pod_status(view(running(ready=True)), Transitions(), T1)
    assert status["phase"] == "Running"
    assert set(conditions(status).values()) == {"True"}
    assert status["podIP"] == "10.244.3.7"
    assert status["podIPs"] == [{"ip": "10.244.3.7"}]
    assert status["startTime"] == T0


def test_transition_times_move_only_when_a_condition_flips() -> None:
    transitions = Transitions(POD["status"]["conditions"])
    first = pod_status(view(running(ready=False)), transitions, T1)
    again = pod_status(view(running(ready=False)), transitions, T2)
    flipped = pod_status(view(running(ready=True)), transitions, T2)

    def since(status: dict[str, Any], kind: str) -> str:
        return str(next(c["lastTransitionTime"] for c in status["conditions"] if c["type"] == kind))

    assert since(first, "PodScheduled") == T0  # the scheduler's time is kept
    assert since(first, "Ready") == since(again, "Ready") == T1
    assert since(flipped, "Ready") == T2
    assert first == {**again, "conditions": first["conditions"]}


def test_between_restarts_the_pod_stays_running() -> None:
    crashed = {
        **running(ready=False, restarts=2),
        "started": False,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 1s"}},
        "lastState": {"terminated": {"exitCode": 3, "reason": "Error"}},
    }
    status = pod_status(view(crashed), Transitions(), T1)
    assert status["phase"] == "Running"
    assert conditions(status)["Ready"] == "False"
    assert phase_of(crashed, terminal=True) == "Failed"


def test_a_stopped_pod_ends_succeeded_or_failed() -> None:
    clean = {
        **running(ready=False),
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
    }
    killed = {**running(ready=False), "state": {"terminated": {"exitCode": 137, "reason": "Error"}}}
    done = pod_status(view(clean, terminal=True), Transitions(), T2)
    failed = pod_status(view(killed, terminal=True), Transitions(), T2)
    assert done["phase"] == "Succeeded"
    assert failed["phase"] == "Failed"
    ready = {c["type"]: c.get("reason") for c in done["conditions"]}
    assert ready["Ready"] == ready["ContainersReady"] == "PodCompleted"
    assert ready["Initialized"] == "PodCompleted"
    assert conditions(done)["PodReadyToStartContainers"] == "False"
    assert {c["type"]: c.get("reason") for c in failed["conditions"]}["Ready"] == "PodFailed"


def test_a_pod_deleted_before_its_container_ran_counts_it_as_lost() -> None:
    status = pod_status(
        view(waiting_status(CONTAINER, "ContainerCreating"), terminal=True), Transitions(), T1
    )
    terminated = status["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (137, "ContainerStatusUnknown")
    assert status["phase"] == "Failed"


def test_waiting_reasons_carry_their_message() -> None:
    waiting = waiting_status(CONTAINER, "CreateContainerConfigError", 'secret "db" not found')
    assert waiting["state"]["waiting"] == {
        "reason": "CreateContainerConfigError",
        "message": 'secret "db" not found',
    }
    assert waiting["restartCount"] == 0
    assert not waiting["ready"]
