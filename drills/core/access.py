"""Kubernetes permissions the drills need, and which of them an identity lacks (pure logic).

A `Permission` is one question a SelfSubjectAccessReview answers: may this identity <verb> the
<resource>[/<subresource>] of API group <group> (the object <name>, when given) in <namespace>?
The drills declare theirs in `drills.core.access_needs`; the preflight binds them to the
profile's namespace (`needs_of`), asks the API server about each once, and refuses the run with
`refusal(...)` when `missing(...)` is not empty. `RoleRule` reads the rules of an RBAC Role the
way the RBAC authorizer matches them, so a test can hold the shipped Role
(`fixtures/rbac/drills-operator.yaml`) against the declaration in both directions: everything
needed is granted (`uncovered`), nothing is granted that no drill needs (`unneeded`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

__all__ = [
    "ROLE_PATH",
    "AccessDecision",
    "Permission",
    "RoleRule",
    "missing",
    "needs_of",
    "refusal",
    "uncovered",
    "unneeded",
]

ROLE_PATH = "fixtures/rbac/drills-operator.yaml"
"""The shipped Role that grants exactly what the drills declare (README: Least privilege)."""

_WRITES = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclass(frozen=True, order=True)
class Permission:
    """One verb on one resource; `group` "" is the core API, `namespace` "" not bound yet.

    `cluster` marks a cluster-scoped resource (nodes, APIServices): it is never bound to a
    namespace. A permission declared with a namespace (another namespace than the shop's, e.g.
    where the metrics APIs are served) keeps it.
    """

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str = ""
    cluster: bool = False

    def in_namespace(self, namespace: str) -> Permission:
        """The same permission, asked about `namespace` (unless cluster-wide or already bound)."""
        if self.cluster or self.namespace:
            return self
        return replace(self, namespace=namespace)

    def unbound(self) -> Permission:
        """The same permission as an RBAC rule grants it: no namespace, no scope."""
        return replace(self, namespace="", cluster=False)

    @property
    def rbac_resource(self) -> str:
        """The resource as an RBAC rule names it: `deployments/scale`, `pods`."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    @property
    def writes(self) -> bool:
        """True for the verbs that change state (create, update, patch, delete...)."""
        return self.verb in _WRITES

    def describe(self) -> str:
        """`patch deployments.apps/scale in namespace default`, as the refusal lists it."""
        kind = f"{self.resource}.{self.group}" if self.group else self.resource
        text = f"{self.verb} {kind}" + (f"/{self.subresource}" if self.subresource else "")
        text += f" named {self.name}" if self.name else ""
        if self.cluster:
            return text + " (cluster-wide)"
        return text + (f" in namespace {self.namespace}" if self.namespace else "")


@dataclass(frozen=True)
class AccessDecision:
    """The API server's answer to one review; `reason` is the authorizer's words, if any."""

    allowed: bool
    reason: str = ""


def needs_of(
    drill_ids: Iterable[str], namespace: str, declared: Mapping[str, tuple[Permission, ...]]
) -> dict[Permission, tuple[str, ...]]:
    """Every permission the drills need in `namespace`, each with the drills that need it.

    A drill without a declaration needs nothing (toy drills, drills without a cluster). The
    result is sorted, one entry per distinct permission, so each is reviewed once per session.
    """
    wanted: dict[Permission, set[str]] = {}
    for drill_id in drill_ids:
        for permission in declared.get(drill_id, ()):
            wanted.setdefault(permission.in_namespace(namespace), set()).add(drill_id)
    return {p: tuple(sorted(wanted[p])) for p in sorted(wanted)}


def missing(
    needs: Mapping[Permission, tuple[str, ...]], decisions: Mapping[Permission, AccessDecision]
) -> dict[Permission, tuple[str, ...]]:
    """The needed permissions not allowed; one the server was not asked about counts as missing."""
    return {
        permission: drills
        for permission, drills in needs.items()
        if not decisions.get(permission, AccessDecision(allowed=False)).allowed
    }


def refusal(
    lacking: Mapping[Permission, tuple[str, ...]], *, identity: str, dry_run: bool = False
) -> str:
    """One message: who lacks what, for which drills, and how to grant it.

    Lists exactly the permissions in `lacking`, one per line, in a stable order.
    """
    count = len(lacking)
    head = "dry run: a real run would be refused" if dry_run else "refused before any fault"
    lines = [
        f"{head}: {identity} lacks {count} Kubernetes permission{'s' if count != 1 else ''} "
        "the selected drills need:"
    ]
    lines += [f"  - {p.describe()} (for {', '.join(drills)})" for p, drills in lacking.items()]
    lines.append(
        f"Grant them by binding the Role in {ROLE_PATH} to this identity in that namespace "
        "(README: Least privilege on a cluster), or select only drills it may run."
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class RoleRule:
    """One rule of an RBAC Role, matched as the RBAC authorizer matches it ("*" included)."""

    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    resource_names: tuple[str, ...] = ()

    @classmethod
    def from_manifest(cls, rule: Mapping[str, object]) -> RoleRule:
        """Read one entry of a Role's `rules` (keys apiGroups, resources, verbs, resourceNames)."""

        def strings(key: str) -> tuple[str, ...]:
            value = rule.get(key) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"rule {dict(rule)}: {key} must be a list of strings")
            return tuple(value)

        return cls(
            strings("apiGroups"), strings("resources"), strings("verbs"), strings("resourceNames")
        )

    def allows(self, permission: Permission) -> bool:
        """True when this rule grants `permission` (a named rule never grants an unnamed ask)."""
        return (
            _matches(self.verbs, permission.verb)
            and _matches(self.api_groups, permission.group)
            and self._has_resource(permission)
            and (not self.resource_names or permission.name in self.resource_names)
        )

    def _has_resource(self, permission: Permission) -> bool:
        wanted = permission.rbac_resource
        if _matches(self.resources, wanted):
            return True
        return bool(permission.subresource) and f"*/{permission.subresource}" in self.resources

    def grants(self) -> list[Permission]:
        """Each (verb, group, resource, name) this rule grants, as an unbound Permission."""
        names = self.resource_names or ("",)
        return [
            Permission(verb, resource.partition("/")[0], group, resource.partition("/")[2], name)
            for group in self.api_groups
            for resource in self.resources
            for verb in self.verbs
            for name in names
        ]


def _matches(allowed: tuple[str, ...], value: str) -> bool:
    return "*" in allowed or value in allowed


def uncovered(rules: Iterable[RoleRule], permissions: Iterable[Permission]) -> list[Permission]:
    """The permissions no rule grants, in order."""
    kept = list(rules)
    return sorted({p for p in permissions if not any(rule.allows(p) for rule in kept)})


def unneeded(rules: Iterable[RoleRule], permissions: Iterable[Permission]) -> list[Permission]:
    """What the rules grant that no permission asks for (a wildcard is never needed).

    Permissions are compared without their namespace: a Role is bound in one namespace.
    """
    asked = {p.unbound() for p in permissions}
    granted = {grant for rule in rules for grant in rule.grants()}
    return sorted(grant for grant in granted if grant not in asked)
