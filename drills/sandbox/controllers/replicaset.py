"""ReplicaSet controller: keep `spec.replicas` active pods, replace deleted ones, report status."""

from __future__ import annotations

import copy
import secrets

from drills.sandbox.apiserver.store import ObjectStore
from drills.sandbox.controllers.common import (
    Obj,
    is_active,
    is_ready,
    owned_by,
    owner_reference,
    record_event,
    selected_pods,
)

__all__ = ["ReplicaSetController", "random_suffix"]

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_COMPONENT = "replicaset-controller"


def random_suffix(length: int = 5) -> str:
    """The random tail of a generated pod name (the alphabet Kubernetes uses)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _deletion_rank(pod: Obj) -> tuple[int, int, str]:
    """Sort key: unscheduled, then not ready, then newest go first."""
    scheduled = 1 if pod.get("spec", {}).get("nodeName") else 0
    ready = 1 if is_ready(pod) else 0
    created = pod["metadata"].get("creationTimestamp", "")
    return (scheduled, ready, "".join(chr(255 - ord(c)) for c in created))


class ReplicaSetController:
    """Reconciles every ReplicaSet in the store against its pods."""

    def __init__(self, store: ObjectStore) -> None:
        """Work on `store`."""
        self._store = store

    def sync(self) -> None:
        """One reconciliation pass over all ReplicaSets, then orphaned pods."""
        sets, _ = self._store.list("replicasets")
        for rs in sets:
            self._sync_one(rs)
        live = {rs["metadata"]["uid"] for rs in sets}
        pods, _ = self._store.list("pods")
        for pod in pods:
            refs = pod["metadata"].get("ownerReferences") or []
            orphan = any(r.get("kind") == "ReplicaSet" and r.get("uid") not in live for r in refs)
            if orphan and not pod["metadata"].get("deletionTimestamp"):
                meta = pod["metadata"]
                self._store.delete("pods", meta["namespace"], meta["name"])

    def _sync_one(self, rs: Obj) -> None:
        ns = rs["metadata"]["namespace"]
        pods = [
            p
            for p in selected_pods(self._store, ns, rs.get("spec", {}).get("selector"))
            if owned_by(p, rs["metadata"]["uid"])
        ]
        active = [p for p in pods if is_active(p)]
        wanted = int(rs.get("spec", {}).get("replicas", 1))
        if len(active) < wanted:
            for _ in range(wanted - len(active)):
                active.append(self._create_pod(rs))
        elif len(active) > wanted:
            doomed = sorted(active, key=_deletion_rank)[: len(active) - wanted]
            for pod in doomed:
                self._store.delete("pods", ns, pod["metadata"]["name"])
                record_event(
                    self._store,
                    rs,
                    "SuccessfulDelete",
                    f"Deleted pod: {pod['metadata']['name']}",
                    component=_COMPONENT,
                )
                active.remove(pod)
        self._write_status(rs, active)

    def _create_pod(self, rs: Obj) -> Obj:
        template = copy.deepcopy(rs.get("spec", {}).get("template", {}))
        meta = template.get("metadata", {})
        meta["name"] = f"{rs['metadata']['name']}-{random_suffix()}"
        meta["namespace"] = rs["metadata"]["namespace"]
        meta["ownerReferences"] = [owner_reference(rs)]
        pod = {
            "metadata": meta,
            "spec": template.get("spec", {}),
            "status": {"phase": "Pending", "qosClass": "Burstable"},
        }
        pod["spec"].setdefault("restartPolicy", "Always")
        pod["spec"].setdefault("terminationGracePeriodSeconds", 30)
        pod["spec"].setdefault("schedulerName", "default-scheduler")
        created = self._store.create("pods", pod, meta["namespace"])
        record_event(
            self._store,
            rs,
            "SuccessfulCreate",
            f"Created pod: {meta['name']}",
            component=_COMPONENT,
        )
        return created

    def _write_status(self, rs: Obj, active: list[Obj]) -> None:
        ready = sum(1 for p in active if is_ready(p))
        status = {
            "replicas": len(active),
            "fullyLabeledReplicas": len(active),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        current = rs.get("status", {})
        if any(current.get(k) != v for k, v in status.items()):
            merged = {**current, **status}
            self._store.update_status(
                "replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"], merged
            )
