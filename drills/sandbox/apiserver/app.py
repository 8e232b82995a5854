"""The aiohttp application that speaks the Kubernetes REST conventions over the `ObjectStore`.

Paths: ``/api/v1/...`` (core) and ``/apis/<group>/<version>/...``, each either
``<plural>[/<name>[/<sub>]]`` (cluster-scoped, or all namespaces) or
``namespaces/<ns>/<plural>[/<name>[/<sub>]]``. Subresources: status, scale, eviction, log.
Errors become ``Status`` bodies; ``?watch=true`` streams newline-delimited WatchEvents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from drills.sandbox.apiserver import discovery
from drills.sandbox.apiserver.errors import (
    ApiError,
    BadRequest,
    Gone,
    MethodNotAllowed,
    NotFound,
    UnsupportedMediaType,
)
from drills.sandbox.apiserver.resources import RESOURCES, Resource
from drills.sandbox.apiserver.store import PATCHERS, ObjectStore
from drills.sandbox.apiserver.tables import render_table, wants_table
from drills.sandbox.metrics import PodMetrics

__all__ = ["STORE_KEY", "build_app"]

STORE_KEY = web.AppKey("store", ObjectStore)
METRICS_KEY = web.AppKey("metrics", PodMetrics)
_PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/json-patch+json": "json",
}
_JSON = "application/json"


@dataclass(frozen=True)
class Target:
    """What a request path names."""

    resource: Resource
    namespace: str | None
    name: str | None = None
    sub: str | None = None


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type=_JSON)


def _error(error: ApiError) -> web.Response:
    return _json(error.status(), error.code)


def _pick_resource(group: str, version: str, plural: str) -> Resource:
    res = RESOURCES.get(plural)
    if res is None or res.group != group or res.version != version:
        raise NotFound(f"the server could not find the requested resource ({plural})")
    return res


def _name_sub(rest: list[str]) -> tuple[str | None, str | None]:
    if len(rest) > 2:
        raise NotFound("the server could not find the requested resource")
    padded: list[str | None] = [*rest, None, None]
    return padded[0], padded[1]


def parse_target(group: str, version: str, parts: list[str]) -> Target:
    """Turn the path segments after the group/version into a `Target`."""
    if len(parts) >= 3 and parts[0] == "namespaces" and parts[2] in RESOURCES:
        res = _pick_resource(group, version, parts[2])
        if res.namespaced:
            return Target(res, parts[1], *_name_sub(parts[3:]))
    if not parts or len(parts) > 3:
        raise NotFound("the server could not find the requested resource")
    res = _pick_resource(group, version, parts[0])
    return Target(res, None, *_name_sub(parts[1:]))


def _name(target: Target) -> str:
    if target.name is None:
        raise NotFound("the request names no object")
    return target.name


def _store(request: web.Request) -> ObjectStore:
    return request.app[STORE_KEY]


async def _body(request: web.Request) -> Any:
    if "protobuf" in request.headers.get("Content-Type", ""):
        raise UnsupportedMediaType(
            "the sandbox reads JSON request bodies only (no protobuf); write objects from a "
            "manifest with `kubectl apply --validate=false -f FILE`"
        )
    text = await request.text()
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the request body is not JSON: {exc}") from exc


def _as_list(target: Target, items: list[dict[str, Any]], rv: str) -> dict[str, Any]:
    return {
        "kind": target.resource.list_kind,
        "apiVersion": target.resource.api_version,
        "metadata": {"resourceVersion": rv},
        "items": items,
    }


def _maybe_table(
    request: web.Request, target: Target, items: list[dict[str, Any]], rv: str, *, single: bool
) -> web.Response | None:
    if not wants_table(request.headers.get("Accept", "")):
        return None
    table = render_table(target.resource, items, rv, _store(request).wall())
    return _json(table) if table["rows"] or not single else None


# ---------------------------------------------------------------- collections
async def _list_or_watch(request: web.Request, target: Target) -> web.StreamResponse:
    query = request.query
    if str(query.get("watch", "")).lower() in ("true", "1"):
        return await _watch(request, target)
    items, rv = _store(request).list(
        target.resource.plural,
        target.namespace,
        query.get("labelSelector"),
        query.get("fieldSelector"),
    )
    table = _maybe_table(request, target, items, rv, single=False)
    return table or _json(_as_list(target, items, rv))


def _watch_line(
    request: web.Request, event_type: str, target: Target, obj: dict[str, Any]
) -> bytes:
    if event_type != "BOOKMARK" and wants_table(request.headers.get("Accept", "")):
        rv = obj["metadata"].get("resourceVersion", "")
        obj = render_table(target.resource, [obj], rv, _store(request).wall())
    return (json.dumps({"type": event_type, "object": obj}) + "\n").encode()


async def _watch(request: web.Request, target: Target) -> web.StreamResponse:
    query = request.query
    timeout_s = float(query.get("timeoutSeconds") or 1800)
    bookmarks = str(query.get("allowWatchBookmarks", "")).lower() in ("true", "1")
    events = _store(request).watch(
        target.resource.plural,
        target.namespace,
        query.get("resourceVersion"),
        label_selector=query.get("labelSelector"),
        field_selector=query.get("fieldSelector"),
        timeout_s=timeout_s,
        bookmark_interval_s=min(timeout_s / 2, 5.0) if bookmarks else None,
        send_initial_events=str(query.get("sendInitialEvents", "")).lower() == "true",
    )
    response = web.StreamResponse(headers={"Content-Type": _JSON, "Transfer-Encoding": "chunked"})
    await response.prepare(request)
    try:
        async for event in events:
            await response.write(_watch_line(request, event.type, target, event.obj))
    except Gone as exc:
        # A real API server reports an expired watch as an ERROR event with a 410 Status.
        await response.write(
            (json.dumps({"type": "ERROR", "object": exc.status()}) + "\n").encode()
        )
    except ConnectionResetError:
        return response
    await response.write_eof()
    return response


async def _create(request: web.Request, target: Target) -> web.Response:
    body = await _body(request)
    created = _store(request).create(target.resource.plural, body, target.namespace)
    return _json(created, 201)


async def _delete_collection(request: web.Request, target: Target) -> web.Response:
    store = _store(request)
    options = await _body(request)
    query = request.query
    items, rv = store.list(
        target.resource.plural,
        target.namespace,
        query.get("labelSelector"),
        query.get("fieldSelector"),
    )
    grace = _grace(query, options)
    for item in items:
        meta = item["metadata"]
        store.delete(target.resource.plural, meta.get("namespace"), meta["name"], grace)
    return _json(_as_list(target, items, rv))


def _grace(query: Any, options: dict[str, Any]) -> int | None:
    raw = query.get("gracePeriodSeconds", options.get("gracePeriodSeconds"))
    return None if raw is None else int(raw)


# ---------------------------------------------------------------- objects
async def _get(request: web.Request, target: Target) -> web.Response:
    obj = _store(request).get(target.resource.plural, target.namespace, _name(target))
    table = _maybe_table(request, target, [obj], obj["metadata"]["resourceVersion"], single=True)
    return table or _json(obj)


async def _replace(request: web.Request, target: Target) -> web.Response:
    body = await _body(request)
    return _json(
        _store(request).replace(target.resource.plural, target.namespace, _name(target), body)
    )


def _patch_type(request: web.Request) -> str:
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
    if content_type not in _PATCH_TYPES:
        raise UnsupportedMediaType(
            f"the patch content type {content_type!r} is not supported; use merge, strategic-merge "
            "or JSON patch (server-side apply is not served by the sandbox)"
        )
    return _PATCH_TYPES[content_type]


async def _patch(request: web.Request, target: Target) -> web.Response:
    kind = _patch_type(request)
    body = await _body(request)
    patched = _store(request).patch(
        target.resource.plural,
        target.namespace,
        _name(target),
        body,
        kind,
        status_only=target.sub == "status",
    )
    return _json(patched)


async def _delete(request: web.Request, target: Target) -> web.Response:
    options = await _body(request)
    removed = _store(request).delete(
        target.resource.plural, target.namespace, _name(target), _grace(request.query, options)
    )
    return _json(removed)


# ---------------------------------------------------------------- subresources
def _scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    labels = obj.get("spec", {}).get("selector", {}).get("matchLabels", {})
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 1)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        },
    }


async def _scale(request: web.Request, target: Target) -> web.Response:
    store = _store(request)
    plural, ns, name = target.resource.plural, target.namespace, _name(target)
    current = store.get(plural, ns, name)
    if request.method == "GET":
        return _json(_scale_of(current))
    body = await _body(request)
    if request.method == "PATCH":
        body = PATCHERS[_patch_type(request)](_scale_of(current), body)
    replicas = int(body.get("spec", {}).get("replicas", 0))
    rv = body.get("metadata", {}).get("resourceVersion")
    patch: dict[str, Any] = {"spec": {"replicas": replicas}}
    if rv and request.method == "PUT":
        patch["metadata"] = {"resourceVersion": rv}
    return _json(_scale_of(store.patch(plural, ns, name, patch, "merge")))


async def _status(request: web.Request, target: Target) -> web.Response:
    store = _store(request)
    if request.method == "GET":
        return _json(store.get(target.resource.plural, target.namespace, _name(target)))
    if request.method == "PATCH":
        return await _patch(request, target)
    body = await _body(request)
    return _json(
        store.update_status(
            target.resource.plural, target.namespace, _name(target), body.get("status", {})
        )
    )


async def _eviction(request: web.Request, target: Target) -> web.Response:
    if request.method != "POST":
        raise MethodNotAllowed("evictions are created with POST")
    body = await _body(request)
    options = body.get("deleteOptions") or {}
    _store(request).delete("pods", target.namespace, _name(target), _grace({}, options))
    success = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": 201,
    }
    return _json(success, 201)


async def _log(request: web.Request, target: Target) -> web.Response:
    store = _store(request)
    store.get("pods", target.namespace, _name(target))
    reader = store.log_reader
    text = (
        reader(target.namespace or "default", _name(target), request.query.get("container"))
        if reader
        else ""
    )
    return web.Response(text=text, content_type="text/plain")


_SUBS = {"scale": _scale, "status": _status, "eviction": _eviction, "log": _log}
_COLLECTION = {"GET": _list_or_watch, "POST": _create, "DELETE": _delete_collection}
_OBJECT = {"GET": _get, "PUT": _replace, "PATCH": _patch, "DELETE": _delete}


async def _dispatch(
    request: web.Request, group: str, version: str, tail: str
) -> web.StreamResponse:
    try:
        target = parse_target(group, version, [p for p in tail.split("/") if p])
        if target.sub is not None:
            if target.sub not in target.resource.subresources:
                raise NotFound(f"the server could not find the requested resource ({target.sub})")
            return await _SUBS[target.sub](request, target)
        table = _OBJECT if target.name else _COLLECTION
        handler = table.get(request.method)
        if handler is None:
            raise MethodNotAllowed(f"{request.method} is not allowed here")
        return await handler(request, target)
    except ApiError as error:
        return _error(error)


# ---------------------------------------------------------------- metrics.k8s.io
def _quantity_cpu(millicores: float) -> str:
    return f"{round(millicores)}m"


def _quantity_memory(memory_bytes: float) -> str:
    return f"{round(memory_bytes / 1024)}Ki"


async def _metrics(request: web.Request) -> web.Response:
    store, metrics = request.app[STORE_KEY], request.app[METRICS_KEY]
    kind = request.match_info["kind"]
    namespace = request.match_info.get("ns") or None
    now = store.timestamp()
    if kind == "nodes":
        nodes, _ = store.list("nodes")
        items = [_node_metrics(n["metadata"]["name"], store, metrics, now) for n in nodes]
        return _json(
            {
                "kind": "NodeMetricsList",
                "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {},
                "items": items,
            }
        )
    pods, _ = store.list("pods", namespace, request.query.get("labelSelector"))
    items = []
    for pod in pods:
        meta = pod["metadata"]
        sample = metrics.get(meta["namespace"], meta["name"])
        if sample is None:
            continue
        containers = [
            {
                "name": c["name"],
                "usage": {
                    "cpu": _quantity_cpu(sample.cpu_millicores),
                    "memory": _quantity_memory(sample.memory_bytes),
                },
            }
            for c in pod.get("spec", {}).get("containers", [])[:1]
        ]
        items.append(
            {
                "metadata": {
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "labels": meta.get("labels", {}),
                },
                "timestamp": now,
                "window": "15s",
                "containers": containers,
            }
        )
    return _json(
        {
            "kind": "PodMetricsList",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {},
            "items": items,
        }
    )


def _node_metrics(node: str, store: ObjectStore, metrics: PodMetrics, now: str) -> dict[str, Any]:
    pods, _ = store.list("pods", field_selector=f"spec.nodeName={node}")
    cpu = memory = 0.0
    for pod in pods:
        sample = metrics.get(pod["metadata"]["namespace"], pod["metadata"]["name"])
        if sample is not None:
            cpu += sample.cpu_millicores
            memory += sample.memory_bytes
    usage = {"cpu": _quantity_cpu(cpu), "memory": _quantity_memory(memory)}
    return {"metadata": {"name": node}, "timestamp": now, "window": "15s", "usage": usage}


# ---------------------------------------------------------------- discovery
async def _discovery(request: web.Request) -> web.StreamResponse:
    path = request.path.rstrip("/")
    if path == "/api":
        return _json(discovery.api_versions(request.host))
    if path == "/apis":
        return _json(discovery.api_group_list())
    return _error(NotFound("the server could not find the requested resource"))


async def _core(request: web.Request) -> web.StreamResponse:
    tail = request.match_info["tail"]
    if not tail.strip("/"):
        return _json(discovery.resource_list("", "v1"))
    return await _dispatch(request, "", "v1", tail)


async def _grouped(request: web.Request) -> web.StreamResponse:
    group, version, tail = (
        request.match_info["group"],
        request.match_info["version"],
        request.match_info["tail"],
    )
    if not tail.strip("/"):
        body = discovery.resource_list(group, version)
        if body is None:
            return _error(
                NotFound(f"the server could not find the requested resource ({group}/{version})")
            )
        return _json(body)
    return await _dispatch(request, group, version, tail)


async def _group(request: web.Request) -> web.Response:
    group = request.match_info["group"]
    for name, version in discovery.GROUPS:
        if name == group:
            gv = {"groupVersion": f"{name}/{version}", "version": version}
            return _json(
                {
                    "kind": "APIGroup",
                    "apiVersion": "v1",
                    "name": name,
                    "versions": [gv],
                    "preferredVersion": gv,
                }
            )
    return _error(NotFound(f"the server could not find the requested resource ({group})"))


async def _version(_request: web.Request) -> web.Response:
    return _json(discovery.version_info())


async def _ok(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def build_app(store: ObjectStore, metrics: PodMetrics) -> web.Application:
    """The aiohttp application serving `store` (and `metrics` for metrics.k8s.io)."""
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[STORE_KEY] = store
    app[METRICS_KEY] = metrics
    app.router.add_get("/version", _version)
    for probe in ("/healthz", "/readyz", "/livez"):
        app.router.add_get(probe, _ok)
    app.router.add_get("/api", _discovery)
    app.router.add_get("/apis", _discovery)
    app.router.add_get("/apis/metrics.k8s.io/v1beta1/{kind:pods|nodes}", _metrics)
    app.router.add_get("/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/{kind:pods}", _metrics)
    app.router.add_route("*", "/api/v1{tail:.*}", _core)
    app.router.add_get("/apis/{group}", _group)
    app.router.add_route("*", "/apis/{group}/{version}{tail:.*}", _grouped)
    return app
