"""Readers that turn raw logs into the trainee's `Action`s: never self-report.

- The API server's audit log (`.drills/sandbox/audit.log`: audit.k8s.io/v1 `Event` JSON lines,
  the sandbox's policy logs writes at level Request, so a patch's body is in `requestObject`):
  only stage ResponseComplete, only the trainee's user (the certificate's CN), timed by
  `requestReceivedTimestamp`. Each event keeps verb, resource, subresource, namespace, name,
  response code, body, and what kubectl command it was (`kubectl_equivalent`).
- The PostgreSQL server log (`drills.certification.sql_log`) and the AWS endpoint's request log
  (`drills.certification.aws_log`), re-exported here.

`collect(...)` reads every source the session names and says which are missing and why, which
is what `drills.core.certification.Evidence` wants.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from drills.certification.aws_log import moto_actions, read_moto_log, recording_actions
from drills.certification.reading import EvidenceRead
from drills.certification.sql_log import read_sql_log, sql_actions
from drills.core.actions import Action, BodyRule, BodyTest, Json, Source

__all__ = [
    "EvidenceRead",
    "EvidenceSources",
    "audit_actions",
    "collect",
    "kubectl_equivalent",
    "moto_actions",
    "read_audit_log",
    "read_moto_log",
    "read_sql_log",
    "recording_actions",
    "sql_actions",
]

_DONE_STAGES = ("ResponseComplete", "Panic")
_RESTARTED_AT = ("spec", "template", "metadata", "annotations", "kubectl.kubernetes.io/restartedAt")


def read_audit_log(path: Path, user: str) -> EvidenceRead:
    """The actions of `user` in the audit log at `path`; a missing file is said, not raised."""
    if not path.is_file():
        return EvidenceRead((), f"no audit log at {path} (is the sandbox up?)")
    with path.open(encoding="utf-8", errors="replace") as lines:
        actions, skipped = audit_actions(lines, user)
    return EvidenceRead(tuple(actions), None, skipped)


def audit_actions(lines: Iterable[str], user: str) -> tuple[list[Action], int]:
    """Parse audit JSON lines; return `user`'s finished requests and how many lines were bad."""
    actions, skipped = [], 0
    for line in lines:
        if f'"{user}"' not in line:  # cheap filter: most lines are the controllers'
            continue
        try:
            event = json.loads(line)
            action = _audit_action(event, user)
        except (ValueError, KeyError, TypeError):
            skipped += 1
            continue
        if action is not None:
            actions.append(action)
    return actions, skipped


def _audit_action(event: Mapping[str, Json], user: str) -> Action | None:
    who = event.get("user")
    if event.get("stage") not in _DONE_STAGES or not isinstance(who, Mapping):
        return None
    if who.get("username") != user:
        return None
    ref = event.get("objectRef")
    ref = ref if isinstance(ref, Mapping) else {}
    status = event.get("responseStatus")
    code = status.get("code") if isinstance(status, Mapping) else None
    code = code if isinstance(code, int) else None
    action = Action(
        at_s=datetime.fromisoformat(str(event["requestReceivedTimestamp"])).timestamp(),
        source=Source.KUBE,
        actor=user,
        verb=str(event["verb"]),
        resource=str(ref.get("resource", "")),
        name=str(ref.get("name", "")),
        namespace=str(ref.get("namespace", "")),
        subresource=str(ref.get("subresource", "")),
        text=str(event.get("requestURI", "")),
        agent=str(event.get("userAgent", "")),
        code=code,
        succeeded=None if code is None else code < 400,
        body=event.get("requestObject"),
    )
    return _with_summary(action)


def _with_summary(action: Action) -> Action:
    summary = kubectl_equivalent(action)
    if not summary:
        return action
    return Action(**{**vars(action), "summary": summary})


def kubectl_equivalent(action: Action) -> str:
    """The kubectl command an audit event most likely came from, or "" when unsure."""
    if action.source is not Source.KUBE:
        return ""
    if action.resource == "deployments":
        return _deployment_command(action)
    if action.resource == "pods" and action.subresource == "log":
        previous = " --previous" if "previous=true" in action.text else ""
        return f"kubectl logs {action.name}{previous}"
    return _generic_command(action)


def _generic_command(action: Action) -> str:
    kind = _KINDS.get(action.resource, action.resource)
    if action.verb == "delete" and action.name:
        force = " --grace-period=0" if _body_equals(action, ("gracePeriodSeconds",), 0) else ""
        return f"kubectl delete {kind} {action.name}{force}"
    if action.verb == "deletecollection":
        return f"kubectl delete {kind} --all"
    if action.verb in ("list", "watch") and not action.name:
        return f"kubectl get {action.resource}"
    if action.verb == "get" and not action.subresource:
        return f"kubectl get {kind} {action.name}"
    if action.verb in ("create", "update", "patch"):
        return f"kubectl {_WRITE[action.verb]} {kind} {action.name}".rstrip()
    return ""


_KINDS = {
    "pods": "pod",
    "deployments": "deployment",
    "networkpolicies": "networkpolicy",
    "secrets": "secret",
    "horizontalpodautoscalers": "hpa",
    "events": "event",
    "replicasets": "replicaset",
}
_WRITE = {"create": "create", "update": "replace", "patch": "patch"}


def _deployment_command(action: Action) -> str:
    target = f"deployment/{action.name}"
    if action.subresource == "scale" and action.verb in ("patch", "update"):
        replicas = _replicas(action)
        return f"kubectl scale {target} --replicas={replicas}" if replicas else ""
    if action.subresource or action.verb not in ("patch", "update"):
        return _deployment_read(action, target)
    if action.verb == "update":
        return f"kubectl replace {target}"
    if BodyRule(("spec", "template"), BodyTest.REPLACED).holds(action.body):
        return f"kubectl rollout undo {target}"
    if BodyRule(_RESTARTED_AT).holds(action.body):
        return f"kubectl rollout restart {target}"
    if BodyRule(("spec", "template", "spec", "containers")).holds(action.body):
        return f"kubectl set image/env {target}"
    replicas = _replicas(action)
    if replicas:
        return f"kubectl patch {target} replicas={replicas}"
    return f"kubectl {_WRITE[action.verb]} {target}"


def _deployment_read(action: Action, target: str) -> str:
    if action.verb in ("create", "delete") and not action.subresource:
        return f"kubectl {action.verb} deployment {action.name}"
    verb = {"get": "get", "watch": "rollout status", "list": "get"}.get(action.verb, "")
    return f"kubectl {verb} {target}" if verb and action.name else ""


def _replicas(action: Action) -> str:
    body = action.body
    if isinstance(body, Mapping):
        spec = body.get("spec")
        if isinstance(spec, Mapping) and "replicas" in spec:
            return str(spec["replicas"])
    return ""


def _body_equals(action: Action, path: tuple[str, ...], value: int) -> bool:
    return BodyRule(path, BodyTest.EQUALS, value).holds(action.body)


@dataclass(frozen=True)
class EvidenceSources:
    """Where the trainee's evidence is, and under which identity.

    `sql_logs`: every server log the trainee may have connected to (the primary and any
    restored instance). `aws_log`: moto's request log (no identity: every request in it counts)
    or, with `aws_recording`, moto's request recording filtered to `aws_access_key`.
    """

    kube_user: str
    audit_log: Path | None = None
    db_role: str | None = None
    sql_logs: Sequence[Path] = ()
    aws_log: Path | None = None
    aws_recording: Path | None = None
    aws_access_key: str | None = None


def collect(sources: EvidenceSources) -> tuple[tuple[Action, ...], dict[Source, str]]:
    """Read every source; return all actions (time order) and the missing sources with why."""
    reads: dict[Source, EvidenceRead] = {
        Source.KUBE: _kube(sources),
        Source.SQL: _sql(sources),
        Source.AWS: _aws(sources),
    }
    actions = sorted((a for r in reads.values() for a in r.actions), key=lambda a: a.at_s)
    missing = {source: r.missing for source, r in reads.items() if r.missing is not None}
    return tuple(actions), missing


def _kube(sources: EvidenceSources) -> EvidenceRead:
    if sources.audit_log is None:
        return EvidenceRead((), "this environment names no Kubernetes audit log")
    return read_audit_log(sources.audit_log, sources.kube_user)


def _sql(sources: EvidenceSources) -> EvidenceRead:
    if sources.db_role is None or not sources.sql_logs:
        return EvidenceRead((), "no PostgreSQL statement log or trainee role for this run")
    return read_sql_log(sources.sql_logs, sources.db_role)


def _aws(sources: EvidenceSources) -> EvidenceRead:
    if sources.aws_recording is not None and sources.aws_access_key:
        path = sources.aws_recording
        if not path.is_file():
            return EvidenceRead((), f"no moto request recording at {path}")
        with path.open(encoding="utf-8", errors="replace") as lines:
            actions, skipped = recording_actions(lines, sources.aws_access_key)
        return EvidenceRead(tuple(actions), None, skipped)
    if sources.aws_log is None:
        return EvidenceRead((), "this environment names no AWS request log")
    return read_moto_log(sources.aws_log)
