"""The resource kinds the sandbox API server serves, with the facts discovery and routing need."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RESOURCES", "Resource", "by_group_version", "resource"]


@dataclass(frozen=True)
class Resource:
    """One REST resource: its plural, kind, group/version, scope and discovery facts."""

    plural: str
    kind: str
    group: str
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    singular: str = ""

    @property
    def api_version(self) -> str:
        """The apiVersion objects of this resource carry (``v1``, ``apps/v1``...)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        """The kind of the list object, e.g. ``PodList``."""
        return f"{self.kind}List"


_ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


def _cluster(plural: str, kind: str, short: str) -> Resource:
    return Resource(plural, kind, "", "v1", False, (short,), ("status",), kind.lower())  # noqa: FBT003


def _spaced(plural: str, kind: str, group_version: str, short: str, *subs: str) -> Resource:
    group, _, version = group_version.rpartition("/")
    shorts = (short,) if short else ()
    return Resource(plural, kind, group, version, True, shorts, subs, kind.lower())  # noqa: FBT003


RESOURCES: dict[str, Resource] = {
    r.plural: r
    for r in (
        _cluster("namespaces", "Namespace", "ns"),
        _cluster("nodes", "Node", "no"),
        _spaced("pods", "Pod", "v1", "po", "status", "eviction", "log"),
        _spaced("services", "Service", "v1", "svc", "status"),
        _spaced("endpoints", "Endpoints", "v1", "ep"),
        _spaced("events", "Event", "v1", "ev"),
        _spaced("configmaps", "ConfigMap", "v1", "cm"),
        _spaced("secrets", "Secret", "v1", ""),
        _spaced("deployments", "Deployment", "apps/v1", "deploy", "status", "scale"),
        _spaced("replicasets", "ReplicaSet", "apps/v1", "rs", "status", "scale"),
        _spaced(
            "horizontalpodautoscalers", "HorizontalPodAutoscaler", "autoscaling/v2", "hpa", "status"
        ),
    )
}

ALL_VERBS = _ALL_VERBS


def resource(plural: str) -> Resource:
    """The resource named by its plural; KeyError names the known ones."""
    try:
        return RESOURCES[plural]
    except KeyError:
        known = ", ".join(sorted(RESOURCES))
        raise KeyError(f"the sandbox does not serve {plural!r}; it serves {known}") from None


def by_group_version(group: str, version: str) -> list[Resource]:
    """Every resource served under one group/version (``""`` is the core group)."""
    return [r for r in RESOURCES.values() if r.group == group and r.version == version]
