"""The node agent's calls to the API server: the official client under the node's identity.

`NodeApi` wraps the generated `kubernetes` client with what one kubelet needs and nothing
else, and speaks plain JSON dicts both ways (``_preload_content=False``), so no model class
leaks past this module. Every call blocks: the kubelet runs them in worker threads
(`asyncio.to_thread`), and the pod watch in a thread of its own (`PodWatch`).

Failures come out as `ApiError` with the HTTP status (0 when the server could not be reached),
so callers can tell "not found" or "conflict" from a broken connection. Patches are JSON merge
patches (RFC 7386): lists such as ``status.conditions`` are replaced whole, which is what a
writer that owns the whole list wants.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

from drills.core.errors import DrillError

__all__ = ["LEASE_NAMESPACE", "ApiError", "Json", "NodeApi", "PodWatch"]

Json = dict[str, Any]
LEASE_NAMESPACE = "kube-node-lease"
_MERGE_PATCH = "application/merge-patch+json"
_CALL_TIMEOUT_S = (5.0, 30.0)  # connect, read: no call may hang a worker thread for ever


class ApiError(DrillError):
    """A request to the API server failed; `status` is the HTTP status, 0 for no answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"API server answered {status}: {message}" if status else message)
        self.status = status

    @property
    def not_found(self) -> bool:
        """404: the object does not exist (any more)."""
        return self.status == 404

    @property
    def already_exists_or_conflict(self) -> bool:
        """409: the object exists already, or a precondition did not hold."""
        return self.status == 409

    @property
    def gone(self) -> bool:
        """410: a watch's resourceVersion is too old; list again."""
        return self.status == 410


def _error_of(exc: Exception) -> ApiError:
    if isinstance(exc, ApiException):
        body = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else exc.body
        try:
            message = str(json.loads(body or "{}").get("message") or exc.reason)
        except ValueError:
            message = str(exc.reason)
        return ApiError(int(exc.status or 0), message)
    return ApiError(0, f"API server unreachable: {type(exc).__name__}: {exc}")


def _json_call(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Json:
    try:
        response = call(*args, _preload_content=False, _request_timeout=_CALL_TIMEOUT_S, **kwargs)
    except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise _error_of(exc) from exc
    data = response.data
    answer: Json = json.loads(data) if data else {}
    return answer


class PodWatch:
    """One streaming watch of pods: iterate for events, `abort()` from any thread to end it."""

    def __init__(self, response: Any) -> None:
        self._response = response

    def __iter__(self) -> Iterator[Json]:
        """Watch events ``{"type": ..., "object": {...}}`` until the server ends the stream."""
        try:
            for line in iter_resp_lines(self._response):
                if line.strip():
                    event: Json = json.loads(line)
                    yield event
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise _error_of(exc) from exc
        finally:
            self._response.release_conn()

    def abort(self) -> None:
        """Make the blocked read return at once (the watch then ends)."""
        try:
            self._response.shutdown()
        except (ValueError, RuntimeError, OSError):
            self._response.close()


class NodeApi:
    """What a kubelet asks of the API server, as JSON; every method blocks."""

    def __init__(self, api_client: Any) -> None:
        """Use `api_client` (a configured `kubernetes.client.ApiClient`)."""
        self._client = api_client
        self._core = client.CoreV1Api(api_client)
        self._leases = client.CoordinationV1Api(api_client)
        self._version = client.VersionApi(api_client)

    @classmethod
    def from_kubeconfig(cls, kubeconfig: Path) -> NodeApi:
        """A client with the identity (client certificate) of `kubeconfig`'s current context."""
        return cls(config.new_client_from_config(config_file=str(kubeconfig)))

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    # -- discovery ------------------------------------------------------------------------------

    def server_version(self) -> str:
        """The API server's ``gitVersion`` (``GET /version``)."""
        return str(_json_call(self._version.get_code)["gitVersion"])

    # -- node and lease -------------------------------------------------------------------------

    def get_node(self, name: str) -> Json | None:
        """The Node, or None when it is not registered."""
        return self._maybe(self._core.read_node, name)

    def create_node(self, body: Json) -> Json:
        """Register a Node."""
        return _json_call(self._core.create_node, body)

    def patch_node_status(self, name: str, patch: Json) -> Json:
        """Merge-patch ``nodes/<name>/status``."""
        return _json_call(self._core.patch_node_status, name, patch, _content_type=_MERGE_PATCH)

    def get_lease(self, name: str) -> Json | None:
        """The node's Lease in kube-node-lease, or None."""
        return self._maybe(self._leases.read_namespaced_lease, name, LEASE_NAMESPACE)

    def create_lease(self, body: Json) -> Json:
        """Create the node's Lease in kube-node-lease."""
        return _json_call(self._leases.create_namespaced_lease, LEASE_NAMESPACE, body)

    def patch_lease(self, name: str, patch: Json) -> Json:
        """Merge-patch the node's Lease."""
        call = self._leases.patch_namespaced_lease
        return _json_call(call, name, LEASE_NAMESPACE, patch, _content_type=_MERGE_PATCH)

    # -- pods -----------------------------------------------------------------------------------

    def list_pods(self, field_selector: str) -> tuple[list[Json], str]:
        """Pods of every namespace matching `field_selector`, and the list's resourceVersion."""
        answer = _json_call(self._core.list_pod_for_all_namespaces, field_selector=field_selector)
        return list(answer.get("items") or []), str(answer["metadata"]["resourceVersion"])

    def watch_pods(self, field_selector: str, resource_version: str, timeout_s: int) -> PodWatch:
        """Open a watch from `resource_version`; the server ends it after `timeout_s`."""
        try:
            response = self._core.list_pod_for_all_namespaces(
                field_selector=field_selector,
                resource_version=resource_version,
                watch=True,
                allow_watch_bookmarks=True,
                timeout_seconds=timeout_s,
                _preload_content=False,
                _request_timeout=(_CALL_TIMEOUT_S[0], timeout_s + 30.0),
            )
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _error_of(exc) from exc
        return PodWatch(response)

    def patch_pod_status(self, namespace: str, name: str, patch: Json) -> Json:
        """Merge-patch ``pods/<name>/status``."""
        call = self._core.patch_namespaced_pod_status
        return _json_call(call, name, namespace, patch, _content_type=_MERGE_PATCH)

    def delete_pod(self, namespace: str, name: str, uid: str) -> None:
        """Remove a pod at once (grace 0), only if it is still the one with `uid`."""
        body = {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
        _json_call(self._core.delete_namespaced_pod, name, namespace, body=body)

    # -- what pods reference --------------------------------------------------------------------

    def read_secret(self, namespace: str, name: str) -> Json | None:
        """A Secret (the Node authoriser allows those of pods bound to this node), or None."""
        return self._maybe(self._core.read_namespaced_secret, name, namespace)

    def read_config_map(self, namespace: str, name: str) -> Json | None:
        """A ConfigMap referenced by a pod of this node, or None."""
        return self._maybe(self._core.read_namespaced_config_map, name, namespace)

    # -- events ---------------------------------------------------------------------------------

    def create_event(self, namespace: str, body: Json) -> Json:
        """Create a core/v1 Event."""
        return _json_call(self._core.create_namespaced_event, namespace, body)

    def patch_event(self, namespace: str, name: str, patch: Json) -> Json:
        """Merge-patch a core/v1 Event (its count and lastTimestamp)."""
        call = self._core.patch_namespaced_event
        return _json_call(call, name, namespace, patch, _content_type=_MERGE_PATCH)

    @staticmethod
    def _maybe(call: Callable[..., Any], *args: Any) -> Json | None:
        try:
            return _json_call(call, *args)
        except ApiError as exc:
            if exc.not_found:
                return None
            raise
