"""In-process object store of the sandbox API server: plain JSON dicts, resourceVersions, watches.

Everything runs in ONE asyncio event loop (the sandbox daemon's). Every method except `watch`
is synchronous and must be called from that loop's thread. Objects go in and come out as plain
JSON-compatible dicts shaped like the Kubernetes API (``apiVersion``, ``kind``, ``metadata``,
``spec``, ``status``); the store hands out deep copies, so mutate what you get freely and write it
back with `replace` / `update_status` / `patch`.

Keys are (resource plural, namespace, name); cluster-scoped resources (``nodes``,
``namespaces``) use namespace ``""`` (``None`` is accepted too).

How the kubelet (or any controller) uses it::

    store = api.store                                 # ObjectStore
    unsubscribe = store.subscribe(on_change)           # on_change(event_type, resource, obj)
    #   event_type is "ADDED" | "MODIFIED" | "DELETED"; called synchronously after each change,
    #   in the loop's thread. Keep callbacks short (schedule work with loop.call_soon / a queue);
    #   an exception in a callback is recorded and re-raised by ``store.check_errors()``.
    pods, rv = store.list("pods", field_selector="spec.nodeName=sandbox-node-1")
    pod = store.get("pods", "default", "shop-7d9c-abcde")
    status = pod.get("status", {})
    status.update(phase="Running", podIP="127.0.0.1", conditions=[...], containerStatuses=[...])
    store.update_status("pods", "default", pod["metadata"]["name"], status)
    #   update_status replaces .status only; metadata.resourceVersion is not checked.
    # Graceful delete: store.delete("pods", ns, name, grace_period_s=30) sets
    #   metadata.deletionTimestamp and metadata.deletionGracePeriodSeconds and emits MODIFIED;
    #   the pod stays listed until the kubelet has stopped the process and calls
    store.finalize_delete("pods", ns, name)              # emits DELETED
    #   grace_period_s=0 (or a pod never scheduled to a node) removes it at once.
    store.log_reader = lambda ns, name, container: "...text..."   # serves GET pods/NAME/log
    # Node heartbeat: patch status.conditions[type=Ready] with lastHeartbeatTime (RFC 3339 UTC,
    # e.g. store.timestamp()) through update_status("nodes", "", node_name, status).

Errors are the typed `ApiError` subclasses in ``errors.py`` (NotFound, Conflict, AlreadyExists,
Invalid, Gone), which the HTTP layer turns into ``Status`` bodies.

Semantics kept from Kubernetes:

- one global, monotonically increasing ``resourceVersion`` (a decimal string) bumped per change;
- ``uid`` and ``creationTimestamp`` set on create; ``generateName`` honoured;
- ``metadata.generation`` starts at 1 and is bumped when ``spec`` changes (not status);
- `replace` with a ``metadata.resourceVersion`` that is not the current one raises Conflict;
- watches replay changes newer than the asked resourceVersion from a bounded history window;
  older versions raise Gone (HTTP 410), as etcd compaction does.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from drills.core.clock import DrillClock, SystemClock
from drills.sandbox.apiserver.errors import (
    AlreadyExists,
    ApiError,
    BadRequest,
    Conflict,
    Gone,
    Invalid,
    NotFound,
)
from drills.sandbox.apiserver.patches import (
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)
from drills.sandbox.apiserver.quantities import canonical_quantity
from drills.sandbox.apiserver.resources import RESOURCES, Resource
from drills.sandbox.apiserver.selectors import (
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)

__all__ = ["PATCHERS", "ChangeCallback", "LogReader", "ObjectStore", "WatchEvent"]

ChangeCallback = Callable[[str, str, dict[str, Any]], None]
LogReader = Callable[[str, str, str | None], str]
Key = tuple[str, str, str]

PATCHERS: dict[str, Callable[[Any, Any], Any]] = {
    "merge": apply_merge_patch,
    "strategic": apply_strategic_merge_patch,
    "json": apply_json_patch,
}


@dataclass(frozen=True)
class WatchEvent:
    """One change: type ADDED/MODIFIED/DELETED/BOOKMARK, the resource plural, the object."""

    type: str
    resource: str
    obj: dict[str, Any]
    resource_version: int


@dataclass
class _Watcher:
    resource: str
    namespace: str | None
    queue: asyncio.Queue[WatchEvent | None] = field(default_factory=asyncio.Queue)


def _ns(resource: Resource, namespace: str | None) -> str:
    return (namespace or "") if resource.namespaced else ""


def _pod_spec(resource: str, obj: dict[str, Any]) -> dict[str, Any] | None:
    found: Any = None
    if resource == "pods":
        found = obj.get("spec")
    elif resource in ("deployments", "replicasets"):
        found = obj.get("spec", {}).get("template", {}).get("spec")
    return found if isinstance(found, dict) else None


def apply_defaults(resource: str, obj: dict[str, Any]) -> None:
    """Fill the defaults a real API server adds (port protocols, service type and targetPort)."""
    spec = _pod_spec(resource, obj)
    for container in (spec or {}).get("containers") or []:
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")
        _canonical_resources(container.get("resources"))
    if resource == "services":
        service = obj.setdefault("spec", {})
        service.setdefault("type", "ClusterIP")
        for port in service.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))


def _canonical_resources(resources: Any) -> None:
    """Store quantities the way the API server does (`1000m` -> `1`, `1024Mi` -> `1Gi`)."""
    if not isinstance(resources, dict):
        return
    for kind in ("limits", "requests"):
        values = resources.get(kind)
        if isinstance(values, dict):
            for name, quantity in values.items():
                values[name] = canonical_quantity(str(quantity))


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StoreReader(Protocol):
    """The read side of ObjectStore that in-process components (kubelet, proxy) depend on."""

    def try_get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """One object or None."""

    def list(
        self,
        resource: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[dict[str, Any]], str]:
        """Matching objects and the list's resourceVersion."""


class ObjectStore:
    """The sandbox's etcd: objects keyed by (plural, namespace, name), see the module doc."""

    def __init__(self, *, clock: DrillClock | None = None, history_limit: int = 2000) -> None:
        """Create an empty store; `history_limit` bounds how far back a watch may start."""
        self._clock = clock or SystemClock()
        self._objects: dict[Key, dict[str, Any]] = {}
        self._rv = 1
        self._history: deque[WatchEvent] = deque(maxlen=history_limit)
        self._subscribers: list[ChangeCallback] = []
        self._watchers: list[_Watcher] = []
        self._errors: list[BaseException] = []
        self.log_reader: LogReader | None = None

    # ----------------------------------------------------------------- helpers
    def timestamp(self) -> str:
        """Now as the API's RFC 3339 UTC second-precision string."""
        return _rfc3339(self._clock.wall())

    def wall(self) -> datetime:
        """The wall-clock time of the store's clock."""
        return self._clock.wall()

    @property
    def resource_version(self) -> str:
        """The current global resourceVersion."""
        return str(self._rv)

    def _resource(self, plural: str) -> Resource:
        if plural not in RESOURCES:
            raise NotFound(f"the server could not find the requested resource ({plural})")
        return RESOURCES[plural]

    def _find(self, plural: str, namespace: str | None, name: str) -> tuple[Key, dict[str, Any]]:
        res = self._resource(plural)
        key = (plural, _ns(res, namespace), name)
        found = self._objects.get(key)
        if found is None:
            raise NotFound(f'{plural} "{name}" not found', kind=plural, name=name, group=res.group)
        return key, found

    def _emit(self, event_type: str, plural: str, obj: dict[str, Any]) -> None:
        event = WatchEvent(event_type, plural, copy.deepcopy(obj), self._rv)
        self._history.append(event)
        for watcher in list(self._watchers):
            if watcher.resource == plural and watcher.namespace in (
                None,
                obj["metadata"].get("namespace", ""),
            ):
                watcher.queue.put_nowait(event)
        for callback in list(self._subscribers):
            try:
                callback(event_type, plural, copy.deepcopy(obj))
            except Exception as exc:  # recorded, re-raised by check_errors
                self._errors.append(exc)

    def _bump(self, obj: dict[str, Any]) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)

    def record_error(self, error: BaseException) -> None:
        """Remember an error from a controller task so `check_errors` re-raises it."""
        self._errors.append(error)

    def check_errors(self) -> None:
        """Raise the first error recorded from a callback or controller task, if any."""
        if self._errors:
            first = self._errors[0]
            raise RuntimeError(f"a sandbox controller failed: {first!r}") from first

    # ----------------------------------------------------------------- reads
    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        """A deep copy of one object; NotFound when absent."""
        return copy.deepcopy(self._find(resource, namespace, name)[1])

    def try_get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """Like `get` but None when absent."""
        try:
            return self.get(resource, namespace, name)
        except NotFound:
            return None

    def list(
        self,
        resource: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[dict[str, Any]], str]:
        """Objects of `resource` (all namespaces when `namespace` is None) and the list's RV."""
        self._resource(resource)
        try:
            labels = parse_label_selector(label_selector)
            fields = parse_field_selector(field_selector)
        except SelectorError as exc:
            raise BadRequest(str(exc)) from exc
        items = [
            copy.deepcopy(obj)
            for (plural, ns, _), obj in sorted(self._objects.items())
            if plural == resource
            and (namespace is None or ns == namespace)
            and labels.matches_object(obj)
            and fields.matches_object(obj)
        ]
        return items, str(self._rv)

    # ----------------------------------------------------------------- writes
    def create(
        self, resource: str, obj: dict[str, Any], namespace: str | None = None
    ) -> dict[str, Any]:
        """Store a new object; sets uid, resourceVersion, creationTimestamp, generation."""
        res = self._resource(resource)
        new = copy.deepcopy(obj)
        apply_defaults(resource, new)
        meta = new.setdefault("metadata", {})
        ns = _ns(res, namespace or meta.get("namespace"))
        if res.namespaced:
            if not ns:
                ns = "default"
            meta["namespace"] = ns
            if resource != "events" and ("namespaces", "", ns) not in self._objects:
                raise NotFound(f'namespaces "{ns}" not found', kind="namespaces", name=ns)
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        name = meta.get("name")
        if not name:
            raise Invalid(
                f"{res.kind} is invalid: metadata.name: Required value: name or generateName "
                "is required",
                kind=res.kind,
            )
        key = (resource, ns, name)
        if key in self._objects:
            raise AlreadyExists(
                f'{resource} "{name}" already exists', kind=resource, name=name, group=res.group
            )
        new["apiVersion"] = res.api_version
        new["kind"] = res.kind
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = self.timestamp()
        meta.pop("deletionTimestamp", None)
        if "spec" in new or resource in ("deployments", "replicasets", "pods"):
            meta["generation"] = 1
        self._bump(new)
        self._objects[key] = new
        self._emit("ADDED", resource, new)
        return copy.deepcopy(new)

    def _store_update(
        self, key: Key, old: dict[str, Any], new: dict[str, Any], *, keep_status: bool
    ) -> dict[str, Any]:
        res = self._resource(key[0])
        apply_defaults(key[0], new)
        meta = new.setdefault("metadata", {})
        for fixed in ("uid", "creationTimestamp", "deletionTimestamp", "name"):
            if fixed in old["metadata"]:
                meta[fixed] = old["metadata"][fixed]
        if res.namespaced:
            meta["namespace"] = key[1]
        new["apiVersion"] = res.api_version
        new["kind"] = res.kind
        if keep_status and "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        generation = old["metadata"].get("generation")
        if generation is not None:
            changed = new.get("spec") != old.get("spec")
            meta["generation"] = generation + 1 if changed else generation
        if new == old:
            return copy.deepcopy(old)
        self._bump(new)
        self._objects[key] = new
        self._emit("MODIFIED", key[0], new)
        return copy.deepcopy(new)

    def replace(
        self, resource: str, namespace: str | None, name: str, obj: dict[str, Any]
    ) -> dict[str, Any]:
        """Replace spec/metadata (status is kept); Conflict on a stale resourceVersion."""
        key, old = self._find(resource, namespace, name)
        new = copy.deepcopy(obj)
        given_rv = new.get("metadata", {}).get("resourceVersion")
        if given_rv and given_rv != old["metadata"]["resourceVersion"]:
            raise Conflict(
                f'Operation cannot be fulfilled on {resource} "{name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
                kind=resource,
                name=name,
                group=self._resource(resource).group,
            )
        new.setdefault("metadata", {})["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self._store_update(key, old, new, keep_status=resource != "namespaces")

    def patch(  # noqa: PLR0913 - the patch call's natural arguments
        self,
        resource: str,
        namespace: str | None,
        name: str,
        patch: Any,
        patch_type: str = "merge",
        *,
        status_only: bool = False,
    ) -> dict[str, Any]:
        """Apply a 'merge', 'strategic' or 'json' patch; `status_only` keeps all but status."""
        key, old = self._find(resource, namespace, name)
        try:
            new = PATCHERS[patch_type](copy.deepcopy(old), patch)
        except (PatchError, KeyError, ValueError, TypeError) as exc:
            raise Invalid(f"the patch cannot be applied: {exc}", kind=resource, name=name) from exc
        if not isinstance(new, dict):
            raise Invalid("the patch did not leave an object", kind=resource, name=name)
        given_rv = new.get("metadata", {}).get("resourceVersion")
        if given_rv and given_rv != old["metadata"]["resourceVersion"]:
            raise Conflict(
                f'Operation cannot be fulfilled on {resource} "{name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
                kind=resource,
                name=name,
            )
        if status_only:
            status = new.get("status", {})
            new = copy.deepcopy(old)
            new["status"] = status
        return self._store_update(key, old, new, keep_status=False)

    def update_status(
        self, resource: str, namespace: str | None, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        """Replace the object's `.status` (no resourceVersion check); returns the new object."""
        key, old = self._find(resource, namespace, name)
        new = copy.deepcopy(old)
        new["status"] = copy.deepcopy(status)
        return self._store_update(key, old, new, keep_status=False)

    def delete(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        grace_period_s: int | None = None,
    ) -> dict[str, Any]:
        """Delete an object; a scheduled pod with grace > 0 is only marked (see module doc)."""
        key, old = self._find(resource, namespace, name)
        if resource == "pods":
            grace = grace_period_s
            if grace is None:
                grace = int(old.get("spec", {}).get("terminationGracePeriodSeconds", 30))
            if grace > 0 and old.get("spec", {}).get("nodeName"):
                return self._mark_deleting(key, old, grace)
        return self._remove(key)

    def _mark_deleting(self, key: Key, old: dict[str, Any], grace: int) -> dict[str, Any]:
        meta = old["metadata"]
        if "deletionTimestamp" in meta and grace >= int(meta.get("deletionGracePeriodSeconds", 0)):
            return copy.deepcopy(old)
        new = copy.deepcopy(old)
        new["metadata"]["deletionTimestamp"] = self.timestamp()
        new["metadata"]["deletionGracePeriodSeconds"] = grace
        self._bump(new)
        self._objects[key] = new
        self._emit("MODIFIED", key[0], new)
        return copy.deepcopy(new)

    def _remove(self, key: Key) -> dict[str, Any]:
        old = self._objects.pop(key)
        self._bump(old)
        self._emit("DELETED", key[0], old)
        if key[0] == "namespaces":
            for other in [k for k in self._objects if k[1] == key[2] and k[0] != "namespaces"]:
                if other in self._objects:
                    self._remove(other)
        return copy.deepcopy(old)

    def finalize_delete(self, resource: str, namespace: str | None, name: str) -> None:
        """Remove an object marked for deletion (the kubelet calls it once the process ended)."""
        try:
            key, _ = self._find(resource, namespace, name)
        except NotFound:
            return
        self._remove(key)

    # ----------------------------------------------------------------- change feeds
    def subscribe(self, callback: ChangeCallback) -> Callable[[], None]:
        """Call `callback(event_type, resource, obj)` after every change; returns unsubscribe."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _check_rv(self, resource_version: str | None) -> int:
        if not resource_version or resource_version == "0":
            return self._rv
        try:
            asked = int(resource_version)
        except ValueError as exc:
            raise BadRequest(f"resourceVersion {resource_version!r} is not a number") from exc
        oldest = self._history[0].resource_version if self._history else self._rv
        if asked < oldest - 1 and asked < self._rv:
            raise Gone(
                f"too old resource version: {asked} ({oldest - 1}); list again and watch "
                "from the list's resourceVersion"
            )
        return asked

    async def watch(  # noqa: PLR0913 - the watch query parameters, keyword-only
        self,
        resource: str,
        namespace: str | None = None,
        resource_version: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_s: float = 300.0,
        bookmark_interval_s: float | None = None,
        send_initial_events: bool = False,
    ) -> AsyncIterator[WatchEvent]:
        """Yield changes after `resource_version` until `timeout_s`; Gone when it is too old.

        An empty or "0" resourceVersion starts with ADDED events for every current object.
        With `bookmark_interval_s`, idle periods yield BOOKMARK events carrying the current RV.
        With `send_initial_events` (the streaming list kubectl uses), the current objects come
        as ADDED events followed by a BOOKMARK annotated ``k8s.io/initial-events-end``.
        """
        self._resource(resource)
        try:
            labels = parse_label_selector(label_selector)
            fields = parse_field_selector(field_selector)
        except SelectorError as exc:
            raise BadRequest(str(exc)) from exc
        backlog = self._backlog(
            resource, namespace, "" if send_initial_events else resource_version
        )
        watcher = _Watcher(resource, namespace)
        self._watchers.append(watcher)
        try:
            for event in backlog:
                if labels.matches_object(event.obj) and fields.matches_object(event.obj):
                    yield event
            if send_initial_events:
                end = self._bookmark(resource)
                end.obj["metadata"]["annotations"] = {"k8s.io/initial-events-end": "true"}
                yield end
            async for event in self._follow(watcher, timeout_s, bookmark_interval_s):
                if event.type == "BOOKMARK" or (
                    labels.matches_object(event.obj) and fields.matches_object(event.obj)
                ):
                    yield event
        finally:
            self._watchers.remove(watcher)

    def _backlog(
        self, resource: str, namespace: str | None, resource_version: str | None
    ) -> builtins.list[WatchEvent]:
        start = self._check_rv(resource_version)
        if not resource_version or resource_version == "0":
            items, _ = self.list(resource, namespace)
            return [WatchEvent("ADDED", resource, i, self._rv) for i in items]
        return [
            e
            for e in self._history
            if e.resource == resource
            and e.resource_version > start
            and namespace in (None, e.obj["metadata"].get("namespace", ""))
        ]

    async def _follow(
        self, watcher: _Watcher, timeout_s: float, bookmark_interval_s: float | None
    ) -> AsyncIterator[WatchEvent]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (left := deadline - loop.time()) > 0:
            wait_s = min(left, bookmark_interval_s or left)
            try:
                event: WatchEvent | None = await asyncio.wait_for(watcher.queue.get(), wait_s)
            except TimeoutError:
                if bookmark_interval_s and deadline - loop.time() > 0:
                    yield self._bookmark(watcher.resource)
                continue
            if event is None:
                return
            yield event

    def _bookmark(self, resource: str) -> WatchEvent:
        res = self._resource(resource)
        obj = {
            "kind": res.kind,
            "apiVersion": res.api_version,
            "metadata": {"resourceVersion": str(self._rv)},
        }
        return WatchEvent("BOOKMARK", resource, obj, self._rv)

    def close_watches(self) -> None:
        """End every open watch (on shutdown)."""
        for watcher in self._watchers:
            watcher.queue.put_nowait(None)


def is_api_error(error: BaseException) -> bool:
    """True for the typed errors the HTTP layer maps to Status bodies."""
    return isinstance(error, ApiError)
