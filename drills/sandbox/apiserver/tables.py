"""Server-side ``Table`` rendering (``Accept: application/json;as=Table;g=meta.k8s.io;v=v1``).

kubectl asks for tables and prints their columns as they come, so these follow the columns a
real API server returns for each kind (``kubectl get pods`` prints NAME READY STATUS RESTARTS
AGE, deployments NAME READY UP-TO-DATE AVAILABLE AGE, and so on).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from drills.sandbox.apiserver.resources import Resource

__all__ = ["format_age", "render_table", "wants_table"]

Obj = dict[str, Any]
Row = list[Any]


def wants_table(accept: str) -> bool:
    """True when the Accept header asks for a meta.k8s.io Table first."""
    first = accept.split(",")[0]
    return "as=Table" in first


def format_age(created: str | None, now: datetime) -> str:
    """Kubernetes' short human age: 45s, 3m20s, 5h, 2d."""
    if not created:
        return "<unknown>"
    started = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = max(0, int((now - started).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s"
    hours = minutes // 60
    if hours < 3:
        return f"{minutes}m" if hours == 0 else f"{hours}h{minutes % 60}m"
    days = hours // 24
    return f"{hours}h" if days < 2 else f"{days}d"


def _pod_ready(pod: Obj) -> str:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    total = len(pod.get("spec", {}).get("containers") or []) or len(statuses)
    ready = sum(1 for s in statuses if s.get("ready"))
    return f"{ready}/{total}"


def _pod_status(pod: Obj) -> str:
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status", {})
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        reason = (state.get("waiting") or state.get("terminated") or {}).get("reason")
        if reason:
            return str(reason)
    return str(status.get("reason") or status.get("phase") or "Pending")


def _restarts(pod: Obj) -> int:
    return sum(
        int(s.get("restartCount", 0)) for s in pod.get("status", {}).get("containerStatuses") or []
    )


def _pod_cells(pod: Obj) -> Row:
    return [
        _pod_ready(pod),
        _pod_status(pod),
        _restarts(pod),
        pod.get("status", {}).get("podIP") or "<none>",
        pod.get("spec", {}).get("nodeName") or "<none>",
    ]


def _deploy_cells(obj: Obj) -> Row:
    status = obj.get("status", {})
    wanted = obj.get("spec", {}).get("replicas", 1)
    return [
        f"{status.get('readyReplicas', 0)}/{wanted}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
    ]


def _rs_cells(obj: Obj) -> Row:
    status = obj.get("status", {})
    return [
        obj.get("spec", {}).get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
    ]


def _node_cells(obj: Obj) -> Row:
    conditions = obj.get("status", {}).get("conditions") or []
    ready: Obj = next((c for c in conditions if c.get("type") == "Ready"), {})
    state = "Ready" if ready.get("status") == "True" else "NotReady"
    if obj.get("spec", {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    version = obj.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "")
    return [state, "<none>", version]


def _svc_cells(obj: Obj) -> Row:
    spec = obj.get("spec", {})
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    return [spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>", ports or "<none>"]


def _ep_cells(obj: Obj) -> Row:
    pairs = [
        f"{a.get('ip')}:{p.get('port')}"
        for subset in obj.get("subsets") or []
        for a in subset.get("addresses") or []
        for p in subset.get("ports") or [{}]
    ]
    return [",".join(pairs[:3]) + (" + more..." if len(pairs) > 3 else "") or "<none>"]


def _metric_text(metric: Obj, current: Obj | None) -> str:
    if metric.get("type") == "Resource":
        target = metric["resource"].get("target", {})
        now = (current or {}).get("resource", {}).get("current", {}).get("averageUtilization")
        shown = "<unknown>" if now is None else f"{now}%"
        return f"cpu: {shown}/{target.get('averageUtilization')}%"
    target = metric.get("pods", {}).get("target", {})
    now = (current or {}).get("pods", {}).get("current", {}).get("averageValue")
    return f"{now if now is not None else '<unknown>'}/{target.get('averageValue')}"


def _hpa_cells(obj: Obj) -> Row:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    currents = status.get("currentMetrics") or []
    metrics = spec.get("metrics") or []
    targets = ", ".join(
        _metric_text(m, currents[i] if i < len(currents) else None) for i, m in enumerate(metrics)
    )
    ref = spec.get("scaleTargetRef", {})
    return [
        f"{ref.get('kind')}/{ref.get('name')}",
        targets or "<none>",
        spec.get("minReplicas", 1),
        spec.get("maxReplicas"),
        status.get("currentReplicas", 0),
    ]


def _ns_cells(obj: Obj) -> Row:
    return [obj.get("status", {}).get("phase", "Active")]


def _event_row(obj: Obj, now: datetime) -> Row:
    involved = obj.get("involvedObject", {})
    return [
        format_age(obj.get("lastTimestamp") or obj["metadata"].get("creationTimestamp"), now),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        obj.get("message", ""),
    ]


_Columns = list[tuple[str, str]]
_COLUMNS: dict[str, tuple[_Columns, Callable[[Obj], Row]]] = {
    "pods": (
        [
            ("Ready", "string"),
            ("Status", "string"),
            ("Restarts", "integer"),
            ("IP", "string"),
            ("Node", "string"),
        ],
        _pod_cells,
    ),
    "deployments": (
        [("Ready", "string"), ("Up-to-date", "integer"), ("Available", "integer")],
        _deploy_cells,
    ),
    "replicasets": (
        [("Desired", "integer"), ("Current", "integer"), ("Ready", "integer")],
        _rs_cells,
    ),
    "nodes": ([("Status", "string"), ("Roles", "string"), ("Version", "string")], _node_cells),
    "services": ([("Type", "string"), ("Cluster-IP", "string"), ("Port(s)", "string")], _svc_cells),
    "endpoints": ([("Endpoints", "string")], _ep_cells),
    "horizontalpodautoscalers": (
        [
            ("Reference", "string"),
            ("Targets", "string"),
            ("MinPods", "integer"),
            ("MaxPods", "integer"),
            ("Replicas", "integer"),
        ],
        _hpa_cells,
    ),
    "namespaces": ([("Status", "string")], _ns_cells),
}
# Columns after Age that only `-o wide` shows (priority 1).
_WIDE = {"pods": {"IP", "Node"}}
# Columns that follow Age in the default view (nodes show VERSION last).
_AFTER_AGE = {"Version"}


def _column(name: str, kind: str, *, priority: int = 0) -> Obj:
    return {
        "name": name,
        "type": kind,
        "format": "name" if name == "Name" else "",
        "description": name,
        "priority": priority,
    }


def _partial(obj: Obj) -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def render_table(resource: Resource, items: list[Obj], resource_version: str, now: datetime) -> Obj:
    """A meta.k8s.io/v1 Table of `items` with the kind's columns."""
    if resource.plural == "events":
        names = [
            ("Last Seen", "string"),
            ("Type", "string"),
            ("Reason", "string"),
            ("Object", "string"),
            ("Message", "string"),
        ]
        columns = [_column(n, t) for n, t in names]
        rows = [{"cells": _event_row(i, now), "object": _partial(i)} for i in items]
    else:
        extra, cells = _COLUMNS.get(resource.plural, ([], lambda _o: []))
        wide = _WIDE.get(resource.plural, set()) | _AFTER_AGE
        main = [(n, t) for n, t in extra if n not in wide]
        tail = [(n, t) for n, t in extra if n in wide]
        columns = [_column("Name", "string")]
        columns += [_column(n, t) for n, t in main]
        columns.append(_column("Age", "string"))
        columns += [_column(n, t, priority=0 if n in _AFTER_AGE else 1) for n, t in tail]
        rows = []
        for item in items:
            values = dict(zip([n for n, _ in extra], cells(item), strict=True))
            row = [item["metadata"]["name"]] + [values[n] for n, _ in main]
            row.append(format_age(item["metadata"].get("creationTimestamp"), now))
            row += [values[n] for n, _ in tail]
            rows.append({"cells": row, "object": _partial(item)})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": rows,
    }
