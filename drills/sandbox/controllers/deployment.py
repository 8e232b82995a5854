"""Deployment controller: ReplicaSets per pod template, rolling updates, revisions, status.

Follows the documented algorithm: the new ReplicaSet (named ``<deployment>-<pod-template-hash>``)
scales up while the total stays within replicas + maxSurge; old ReplicaSets scale down while the
available pods stay at or above replicas - maxUnavailable. ``kubectl rollout undo`` copies an
old ReplicaSet's template back into the Deployment, whose hash then matches that ReplicaSet again,
which becomes the newest revision.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from datetime import datetime

from drills.sandbox.apiserver.store import ObjectStore
from drills.sandbox.controllers.common import Obj, owned_by, owner_reference, record_event

__all__ = ["DeploymentController", "pod_template_hash", "resolve_surge"]

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_COMPONENT = "deployment-controller"


def pod_template_hash(template: Obj) -> str:
    """A stable, name-safe hash of a pod template (without its own hash label)."""
    clean = copy.deepcopy(template)
    clean.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
    digest = hashlib.sha256(json.dumps(clean, sort_keys=True).encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:10])


def _scaled(value: int | str | None, total: int, default: str, *, round_up: bool) -> int:
    raw = default if value is None else value
    if isinstance(raw, int):
        return raw
    text = str(raw)
    if not text.endswith("%"):
        return int(text)
    exact = total * int(text[:-1]) / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def resolve_surge(deploy: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as pod counts; both zero becomes (0, 1) as Kubernetes does."""
    replicas = int(deploy.get("spec", {}).get("replicas", 1))
    rolling = deploy.get("spec", {}).get("strategy", {}).get("rollingUpdate") or {}
    surge = _scaled(rolling.get("maxSurge"), replicas, "25%", round_up=True)
    unavailable = _scaled(rolling.get("maxUnavailable"), replicas, "25%", round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _revision(rs: Obj) -> int:
    return int(rs["metadata"].get("annotations", {}).get(REVISION, "0") or 0)


class DeploymentController:
    """Reconciles every Deployment in the store."""

    def __init__(self, store: ObjectStore) -> None:
        """Work on `store`."""
        self._store = store

    def sync(self) -> None:
        """One pass over all Deployments, then ReplicaSets whose Deployment is gone."""
        deployments, _ = self._store.list("deployments")
        for deploy in deployments:
            self._sync_one(deploy)
        live = {d["metadata"]["uid"] for d in deployments}
        sets, _ = self._store.list("replicasets")
        for rs in sets:
            refs = rs["metadata"].get("ownerReferences") or []
            if any(r.get("kind") == "Deployment" and r.get("uid") not in live for r in refs):
                self._store.delete(
                    "replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"]
                )

    def _owned_sets(self, deploy: Obj) -> list[Obj]:
        sets, _ = self._store.list("replicasets", deploy["metadata"]["namespace"])
        return [rs for rs in sets if owned_by(rs, deploy["metadata"]["uid"])]

    def _sync_one(self, deploy: Obj) -> None:
        sets = self._owned_sets(deploy)
        if deploy.get("spec", {}).get("paused"):
            self._write_status(deploy, sets, None)
            return
        new_rs = self._new_set(deploy, sets)
        old = [rs for rs in sets if rs["metadata"]["uid"] != new_rs["metadata"]["uid"]]
        if deploy.get("spec", {}).get("strategy", {}).get("type") == "Recreate":
            self._recreate(deploy, new_rs, old)
        else:
            self._roll(deploy, new_rs, old)
        self._prune(deploy, old)
        self._write_status(deploy, self._owned_sets(deploy), new_rs)

    def _new_set(self, deploy: Obj, sets: list[Obj]) -> Obj:
        template = deploy.get("spec", {}).get("template", {})
        wanted_hash = pod_template_hash(template)
        top = max((_revision(rs) for rs in sets), default=0)
        for rs in sets:
            if rs["metadata"].get("labels", {}).get(HASH_LABEL) == wanted_hash:
                if _revision(rs) < top:
                    annotations = {REVISION: str(top + 1)}
                    rs = self._store.patch(
                        "replicasets",
                        rs["metadata"]["namespace"],
                        rs["metadata"]["name"],
                        {"metadata": {"annotations": annotations}},
                    )
                self._annotate_deploy(deploy, rs)
                return rs
        rs = self._create_set(deploy, template, wanted_hash, top + 1, first=not sets)
        self._annotate_deploy(deploy, rs)
        return rs

    def _annotate_deploy(self, deploy: Obj, rs: Obj) -> None:
        revision = str(_revision(rs))
        if deploy["metadata"].get("annotations", {}).get(REVISION) != revision:
            meta = deploy["metadata"]
            patch = {"metadata": {"annotations": {REVISION: revision}}}
            updated = self._store.patch("deployments", meta["namespace"], meta["name"], patch)
            deploy["metadata"] = updated["metadata"]

    def _create_set(
        self, deploy: Obj, template: Obj, hash_: str, revision: int, *, first: bool
    ) -> Obj:
        meta = deploy["metadata"]
        pod_template = copy.deepcopy(template)
        pod_template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = hash_
        selector = copy.deepcopy(deploy.get("spec", {}).get("selector", {}))
        selector.setdefault("matchLabels", {})[HASH_LABEL] = hash_
        replicas = int(deploy.get("spec", {}).get("replicas", 1)) if first else 0
        surge, _ = resolve_surge(deploy)
        rs = {
            "metadata": {
                "name": f"{meta['name']}-{hash_}",
                "namespace": meta["namespace"],
                "labels": dict(pod_template["metadata"]["labels"]),
                "annotations": {
                    REVISION: str(revision),
                    "deployment.kubernetes.io/desired-replicas": str(
                        deploy["spec"].get("replicas", 1)
                    ),
                    "deployment.kubernetes.io/max-replicas": str(
                        int(deploy["spec"].get("replicas", 1)) + surge
                    ),
                },
                "ownerReferences": [owner_reference(deploy)],
            },
            "spec": {"replicas": replicas, "selector": selector, "template": pod_template},
        }
        created = self._store.create("replicasets", rs, meta["namespace"])
        if replicas:
            self._event_scaled(deploy, created, 0, replicas)
        return created

    def _event_scaled(self, deploy: Obj, rs: Obj, before: int, after: int) -> None:
        verb = "up" if after > before else "down"
        message = f"Scaled {verb} replica set {rs['metadata']['name']} from {before} to {after}"
        record_event(self._store, deploy, "ScalingReplicaSet", message, component=_COMPONENT)

    def _scale(self, deploy: Obj, rs: Obj, replicas: int) -> None:
        before = int(rs.get("spec", {}).get("replicas", 0))
        if before == replicas:
            return
        meta = rs["metadata"]
        updated = self._store.patch(
            "replicasets", meta["namespace"], meta["name"], {"spec": {"replicas": replicas}}
        )
        rs["spec"] = updated["spec"]
        self._event_scaled(deploy, rs, before, replicas)

    def _recreate(self, deploy: Obj, new_rs: Obj, old: list[Obj]) -> None:
        for rs in old:
            self._scale(deploy, rs, 0)
        if any(int(rs.get("status", {}).get("replicas", 0)) for rs in old):
            return
        self._scale(deploy, new_rs, int(deploy.get("spec", {}).get("replicas", 1)))

    def _available(self, rs: Obj) -> int:
        return int(rs.get("status", {}).get("availableReplicas", 0))

    def _roll(self, deploy: Obj, new_rs: Obj, old: list[Obj]) -> None:
        replicas = int(deploy.get("spec", {}).get("replicas", 1))
        surge, unavailable = resolve_surge(deploy)
        active_old = [rs for rs in old if int(rs.get("spec", {}).get("replicas", 0)) > 0]
        new_count = int(new_rs.get("spec", {}).get("replicas", 0))
        if not active_old:
            self._scale(deploy, new_rs, replicas)
            return
        total = new_count + sum(int(rs["spec"].get("replicas", 0)) for rs in active_old)
        room = replicas + surge - total
        if room > 0 and new_count < replicas:
            self._scale(deploy, new_rs, min(replicas, new_count + room))
        elif new_count > replicas:
            self._scale(deploy, new_rs, replicas)
        self._scale_down_old(deploy, new_rs, active_old, replicas - unavailable)

    def _scale_down_old(self, deploy: Obj, new_rs: Obj, old: list[Obj], min_available: int) -> None:
        all_count = int(new_rs["spec"].get("replicas", 0)) + sum(
            int(rs["spec"].get("replicas", 0)) for rs in old
        )
        new_unavailable = max(0, int(new_rs["spec"].get("replicas", 0)) - self._available(new_rs))
        budget = all_count - min_available - new_unavailable
        # First drop old pods that are not available anyway (they cost no availability).
        for rs in sorted(old, key=_revision):
            if budget <= 0:
                return
            unhealthy = int(rs["spec"].get("replicas", 0)) - self._available(rs)
            cut = min(budget, max(0, unhealthy))
            if cut:
                self._scale(deploy, rs, int(rs["spec"]["replicas"]) - cut)
                budget -= cut
        available = self._available(new_rs) + sum(self._available(rs) for rs in old)
        budget = available - min_available
        for rs in sorted(old, key=_revision):
            if budget <= 0:
                return
            cut = min(budget, int(rs["spec"].get("replicas", 0)))
            if cut:
                self._scale(deploy, rs, int(rs["spec"]["replicas"]) - cut)
                budget -= cut

    def _prune(self, deploy: Obj, old: list[Obj]) -> None:
        limit = int(deploy.get("spec", {}).get("revisionHistoryLimit", 10))
        idle = [
            rs
            for rs in old
            if int(rs.get("spec", {}).get("replicas", 0)) == 0
            and int(rs.get("status", {}).get("replicas", 0)) == 0
        ]
        for rs in sorted(idle, key=_revision)[: max(0, len(idle) - limit)]:
            self._store.delete("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"])

    def _write_status(self, deploy: Obj, sets: list[Obj], new_rs: Obj | None) -> None:
        replicas = int(deploy.get("spec", {}).get("replicas", 1))
        _, unavailable = resolve_surge(deploy)
        total = sum(int(rs.get("status", {}).get("replicas", 0)) for rs in sets)
        ready = sum(int(rs.get("status", {}).get("readyReplicas", 0)) for rs in sets)
        available = sum(self._available(rs) for rs in sets)
        fresh = next(
            (rs for rs in sets if new_rs and rs["metadata"]["uid"] == new_rs["metadata"]["uid"]),
            None,
        )
        updated = int((fresh or {}).get("status", {}).get("replicas", 0))
        complete = updated == replicas and total == replicas and available >= replicas
        status: Obj = {
            "observedGeneration": deploy["metadata"].get("generation", 1),
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "unavailableReplicas": max(0, replicas - available),
        }
        before = deploy.get("status", {})
        progressed = any(
            before.get(k) != status[k]
            for k in ("observedGeneration", "updatedReplicas", "readyReplicas", "availableReplicas")
        )
        status["conditions"] = self._conditions(
            deploy,
            fresh,
            available_ok=available >= replicas - unavailable,
            complete=complete,
            progressed=progressed,
        )
        current = deploy.get("status", {})
        if current != status and _differs(current, status):
            meta = deploy["metadata"]
            self._store.update_status("deployments", meta["namespace"], meta["name"], status)

    def _progressing(
        self, deploy: Obj, prior: Obj, rs_name: str, *, complete: bool, progressed: bool
    ) -> tuple[str, str, str, str]:
        """The Progressing condition, failing after progressDeadlineSeconds without progress."""
        if complete:
            return (
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
            )
        deadline_s = float(deploy.get("spec", {}).get("progressDeadlineSeconds", 600))
        stalled_s = _seconds_since(prior.get("lastUpdateTime"), self._store.timestamp())
        if not progressed and stalled_s > deadline_s:
            message = f'ReplicaSet "{rs_name}" has timed out progressing.'
            return ("Progressing", "False", "ProgressDeadlineExceeded", message)
        if prior.get("reason") == "ProgressDeadlineExceeded" and not progressed:
            return ("Progressing", "False", "ProgressDeadlineExceeded", str(prior.get("message")))
        return (
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            f'ReplicaSet "{rs_name}" is progressing.',
        )

    def _conditions(
        self,
        deploy: Obj,
        fresh: Obj | None,
        *,
        available_ok: bool,
        complete: bool,
        progressed: bool,
    ) -> list[Obj]:
        now = self._store.timestamp()
        old = {c["type"]: c for c in deploy.get("status", {}).get("conditions") or []}
        rs_name = fresh["metadata"]["name"] if fresh else deploy["metadata"]["name"]
        wanted = [
            (
                "Available",
                "True" if available_ok else "False",
                "MinimumReplicasAvailable" if available_ok else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if available_ok
                else "Deployment does not have minimum availability.",
            ),
            self._progressing(
                deploy,
                old.get("Progressing", {}),
                rs_name,
                complete=complete,
                progressed=progressed,
            ),
        ]
        result = []
        for kind, state, reason, message in wanted:
            prior = old.get(kind, {})
            same = prior.get("status") == state and prior.get("reason") == reason
            same = same and not (kind == "Progressing" and progressed)
            result.append(
                {
                    "type": kind,
                    "status": state,
                    "lastUpdateTime": prior.get("lastUpdateTime", now) if same else now,
                    "lastTransitionTime": prior.get("lastTransitionTime", now)
                    if prior.get("status") == state
                    else now,
                    "reason": reason,
                    "message": message,
                }
            )
        return result


def _seconds_since(stamp: str | None, now: str) -> float:
    if not stamp:
        return 0.0
    start = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z")
    end = datetime.strptime(now, "%Y-%m-%dT%H:%M:%S%z")
    return (end - start).total_seconds()


def _differs(current: Obj, wanted: Obj) -> bool:
    return any(current.get(k) != v for k, v in wanted.items())
