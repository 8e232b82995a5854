"""Helpers the controllers share: events, owner references, pod readiness, quantities."""

from __future__ import annotations

import uuid
from typing import Any

from drills.sandbox.apiserver.selectors import label_selector_from_match
from drills.sandbox.apiserver.store import ObjectStore

__all__ = [
    "Obj",
    "is_active",
    "is_ready",
    "owned_by",
    "owner_reference",
    "parse_cpu_millicores",
    "record_event",
    "selected_pods",
]

Obj = dict[str, Any]


def owner_reference(owner: Obj) -> Obj:
    """The controller ownerReference pointing at `owner`."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned_by(obj: Obj, owner_uid: str) -> bool:
    """True when `obj`'s controller ownerReference names `owner_uid`."""
    refs = obj["metadata"].get("ownerReferences") or []
    return any(r.get("uid") == owner_uid and r.get("controller") for r in refs)


def is_active(pod: Obj) -> bool:
    """A pod that is not being deleted and has not finished."""
    phase = pod.get("status", {}).get("phase")
    return not pod["metadata"].get("deletionTimestamp") and phase not in ("Succeeded", "Failed")


def is_ready(pod: Obj) -> bool:
    """An active pod whose Ready condition is True."""
    conditions = pod.get("status", {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return ready and is_active(pod)


def selected_pods(store: ObjectStore, namespace: str, selector: Obj | None) -> list[Obj]:
    """Pods of `namespace` matching a LabelSelector object (none when it is empty)."""
    if not selector:
        return []
    match = label_selector_from_match(selector)
    pods, _ = store.list("pods", namespace)
    return [p for p in pods if match.matches_object(p)]


def parse_cpu_millicores(quantity: str | float | None) -> float:
    """'250m' -> 250.0, '1' -> 1000.0, 0.5 -> 500.0; None -> 0."""
    if quantity is None:
        return 0.0
    text = str(quantity)
    if text.endswith("m"):
        return float(text[:-1])
    return float(text) * 1000.0


def parse_quantity(quantity: str | float | None) -> float:
    """A plain or milli quantity as a float ('500m' -> 0.5, '10' -> 10.0)."""
    if quantity is None:
        return 0.0
    text = str(quantity)
    if text.endswith("m"):
        return float(text[:-1]) / 1000.0
    return float(text)


def record_event(  # noqa: PLR0913 - the fields of one event
    store: ObjectStore,
    involved: Obj,
    reason: str,
    message: str,
    *,
    component: str,
    event_type: str = "Normal",
) -> None:
    """Record a v1 Event like a real component, counting repeats of the same message."""
    meta = involved["metadata"]
    namespace = meta.get("namespace") or "default"
    now = store.timestamp()
    events, _ = store.list(
        "events",
        namespace,
        field_selector=f"involvedObject.uid={meta.get('uid', '')},reason={reason}",
    )
    for event in events:
        if event.get("message") == message:
            store.patch(
                "events",
                namespace,
                event["metadata"]["name"],
                {"count": int(event.get("count", 1)) + 1, "lastTimestamp": now},
            )
            return
    store.create(
        "events",
        {
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
            "involvedObject": {
                "kind": involved.get("kind"),
                "namespace": meta.get("namespace", ""),
                "name": meta["name"],
                "uid": meta.get("uid", ""),
                "apiVersion": involved.get("apiVersion"),
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "source": {"component": component},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": event_type,
            "reportingComponent": component,
            "reportingInstance": "",
        },
        namespace,
    )
