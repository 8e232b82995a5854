"""Kubernetes adapter: the Workload port over the official client, for sandbox and real clusters.

The sandbox is reached exactly like any cluster: through its kubeconfig. SDK errors are translated
in one place (`_translate`); only transient ones (409, 429, 5xx, connection trouble) are retried.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from drills.core.clock import SystemClock
from drills.core.errors import DrillError, SafetyViolation, TransientError
from drills.core.safety import Allowlist
from drills.targets.adapters.kube_events import family_events
from drills.targets.ports.workload import PodState, WorkloadEvent

try:
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException
    from urllib3.exceptions import HTTPError as Urllib3Error
except ImportError as exc:  # pragma: no cover - depends on the installed extra
    raise ImportError(
        "the Kubernetes adapter needs the k8s extra: pip install 'drills[k8s]'"
    ) from exc

__all__ = ["KubeApi", "KubeWorkload", "connect", "pod_selector", "read_deployment"]

T = TypeVar("T")
_REVISION = "deployment.kubernetes.io/revision"
_SERVICE_NAME = "kubernetes.io/service-name"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@dataclass(frozen=True)
class KubeApi:
    """Typed handles on the client APIs for one cluster context."""

    core: Any
    apps: Any
    autoscaling: Any
    context: str
    discovery: Any = None


def connect(kubeconfig: Path, *, allowlist: Allowlist, context: str | None = None) -> KubeApi:
    """Load `kubeconfig`, refuse a context the profile does not allowlist, return API handles."""
    if not kubeconfig.exists():
        raise DrillError(
            f"kubeconfig {kubeconfig} does not exist; run `drills sandbox up` for the sandbox or "
            f"set [targets] kubeconfig in the profile"
        )
    _, active = config.list_kube_config_contexts(config_file=str(kubeconfig))
    chosen = context or str(active["name"])
    allowlist.check_context(chosen)
    api_client = config.new_client_from_config(config_file=str(kubeconfig), context=chosen)
    return KubeApi(
        core=client.CoreV1Api(api_client),
        apps=client.AppsV1Api(api_client),
        autoscaling=client.AutoscalingV2Api(api_client),
        context=chosen,
        discovery=client.DiscoveryV1Api(api_client),
    )


def _translate(exc: Exception, what: str) -> DrillError:
    """Turn a client error into a DrillError that says what happened and what to do."""
    if isinstance(exc, Urllib3Error):
        return TransientError(f"{what}: the API server did not answer ({exc})", delay_s=0.5)
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", "")
    if status in (409, 429) or (isinstance(status, int) and status >= 500):
        return TransientError(f"{what}: HTTP {status} {reason}", delay_s=0.5)
    if status == 403:
        return SafetyViolation(
            f"{what}: forbidden (HTTP 403); the drill's service account lacks this permission"
        )
    if status == 404:
        return DrillError(f"{what}: not found (HTTP 404); check the namespace and name")
    return DrillError(f"{what}: HTTP {status} {reason}")


def _call(what: str, action: Callable[[], T]) -> T:
    """Run one API call, retrying transient failures a few times."""

    def attempt() -> T:
        try:
            return action()
        except (ApiException, Urllib3Error) as exc:
            raise _translate(exc, what) from exc

    retrying = Retrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop_after_attempt(4),
        wait=wait_fixed(0.5),
        reraise=True,
    )
    return retrying(attempt)


def _pod_state(pod: Any) -> PodState:
    statuses = pod.status.container_statuses or []
    ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
    waiting = next((c.state.waiting.reason for c in statuses if c.state and c.state.waiting), "")
    last = next(
        (
            c.last_state.terminated.reason
            for c in statuses
            if c.last_state and c.last_state.terminated
        ),
        "",
    )
    return PodState(
        name=str(pod.metadata.name),
        phase=str(pod.status.phase or ""),
        ready=ready and pod.metadata.deletion_timestamp is None,
        restarts=sum(int(c.restart_count or 0) for c in statuses),
        waiting_reason=str(waiting or ""),
        last_terminated_reason=str(last or ""),
        node=str(pod.spec.node_name or ""),
        ip=str(pod.status.pod_ip or ""),
        deleting=pod.metadata.deletion_timestamp is not None,
    )


def _selects(selector: dict[str, str] | None, labels: dict[str, str]) -> bool:
    """True when a Service's (non-empty) selector matches pod `labels`."""
    return bool(selector) and all(labels.get(k) == v for k, v in (selector or {}).items())


def _ready_addresses(slices: list[Any]) -> set[str]:
    """Addresses of the endpoints that are ready (an absent condition means ready)."""
    return {
        endpoint.addresses[0]
        for endpoint_slice in slices
        for endpoint in endpoint_slice.endpoints or []
        if endpoint.addresses
        and (endpoint.conditions is None or endpoint.conditions.ready is not False)
    }


def read_deployment(api: KubeApi, namespace: str, name: str) -> Any:
    """The Deployment `namespace/name` as the client returns it (errors translated)."""
    return _call(
        f"read deployment/{name}",
        lambda: api.apps.read_namespaced_deployment(name, namespace),
    )


def pod_selector(deployment: Any) -> str:
    """The Deployment's `matchLabels` as a label selector, e.g. `app=shop`."""
    labels = deployment.spec.selector.match_labels or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


class KubeWorkload:
    """A Deployment and its pods in one namespace, through the official client.

    The Service in front of it is `service` when given, else found by its selector.
    """

    def __init__(self, api: KubeApi, namespace: str, name: str, *, service: str | None = None):
        self.api, self.namespace, self.name = api, namespace, name
        self.service = service

    def _deployment(self) -> Any:
        return read_deployment(self.api, self.namespace, self.name)

    def _selector(self) -> str:
        return pod_selector(self._deployment())

    def pods(self) -> list[PodState]:
        """Pods matching the Deployment's selector, sorted by name."""
        selector = self._selector()
        listed = _call(
            f"list pods {selector}",
            lambda: self.api.core.list_namespaced_pod(self.namespace, label_selector=selector),
        )
        return sorted((_pod_state(p) for p in listed.items), key=lambda p: p.name)

    def desired_replicas(self) -> int:
        """spec.replicas."""
        return int(self._deployment().spec.replicas or 0)

    def ready_replicas(self) -> int:
        """status.readyReplicas, 0 when absent."""
        return int(self._deployment().status.ready_replicas or 0)

    def service_name(self) -> str:
        """The Service in front of the pods: the one given, else the one selecting them.

        Among several Services selecting the pods, the one named like the Deployment wins,
        else the first by name. Raises DrillError when no Service selects them.
        """
        if self.service is None:
            labels = self._deployment().spec.template.metadata.labels or {}
            listed = _call(
                "list services",
                lambda: self.api.core.list_namespaced_service(self.namespace),
            )
            names = sorted(
                s.metadata.name for s in listed.items if _selects(s.spec.selector, labels)
            )
            if not names:
                raise DrillError(
                    f"no Service in namespace {self.namespace} selects the pods of "
                    f"deployment/{self.name} ({labels}); create one or name it in the profile"
                )
            self.service = self.name if self.name in names else names[0]
        return self.service

    def ready_endpoints(self) -> int:
        """Ready endpoint addresses in the Service's EndpointSlices (discovery.k8s.io/v1)."""
        service = self.service_name()
        selector = f"{_SERVICE_NAME}={service}"
        listed = _call(
            f"list endpointslices of service/{service}",
            lambda: self.api.discovery.list_namespaced_endpoint_slice(
                self.namespace, label_selector=selector
            ),
        )
        return len(_ready_addresses(listed.items))

    def delete_pod(self, name: str, *, grace_period_s: int | None = None) -> None:
        """Delete a pod; grace 0 forces it."""
        _call(
            f"delete pod/{name}",
            lambda: self.api.core.delete_namespaced_pod(
                name, self.namespace, grace_period_seconds=grace_period_s
            ),
        )

    def scale(self, replicas: int) -> None:
        """Patch the scale subresource, as `kubectl scale` does."""
        body = {"spec": {"replicas": replicas}}
        _call(
            f"scale deployment/{self.name}",
            lambda: self.api.apps.patch_namespaced_deployment_scale(
                self.name, self.namespace, body
            ),
        )

    def revision(self) -> int:
        """deployment.kubernetes.io/revision, 0 when not yet set."""
        annotations = self._deployment().metadata.annotations or {}
        return int(annotations.get(_REVISION, 0))

    def container_image(self) -> str:
        """Image of the first container."""
        return str(self._deployment().spec.template.spec.containers[0].image)

    def set_image(self, image: str) -> None:
        """Strategic-merge patch of the first container's image (`kubectl set image`)."""
        container = self._deployment().spec.template.spec.containers[0].name
        body = {
            "spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}
        }
        _call(
            f"set image on deployment/{self.name}",
            lambda: self.api.apps.patch_namespaced_deployment(self.name, self.namespace, body),
        )

    def container_env(self, name: str) -> str | None:
        """The literal value of env var `name` in the first container (None: not set)."""
        container = self._deployment().spec.template.spec.containers[0]
        found = next((e for e in container.env or [] if e.name == name), None)
        return None if found is None or found.value is None else str(found.value)

    def set_env(self, name: str, value: str | None) -> None:
        """Strategic-merge patch of one env var of the first container (`kubectl set env`)."""
        self.set_envs({name: value})

    def set_envs(self, values: Mapping[str, str | None]) -> None:
        """One strategic-merge patch of several env vars of the first container (one rollout)."""
        container = self._deployment().spec.template.spec.containers[0].name
        entries: list[dict[str, str]] = [
            {"name": name, "$patch": "delete"} if value is None else {"name": name, "value": value}
            for name, value in values.items()
        ]
        body = {
            "spec": {"template": {"spec": {"containers": [{"name": container, "env": entries}]}}}
        }
        names = ", ".join(values)
        _call(
            f"set env {names} on deployment/{self.name}",
            lambda: self.api.apps.patch_namespaced_deployment(self.name, self.namespace, body),
        )

    def container_secret_key(self, name: str) -> str | None:
        """The Secret key env var `name` of the first container reads (None: not from a Secret)."""
        container = self._deployment().spec.template.spec.containers[0]
        found = next((e for e in container.env or [] if e.name == name), None)
        ref = found.value_from.secret_key_ref if found and found.value_from else None
        return None if ref is None else str(ref.key)

    def set_container_secret_key(self, name: str, key: str) -> None:
        """Point env var `name` at another key of its Secret (a strategic-merge patch)."""
        container = self._deployment().spec.template.spec.containers[0]
        found = next((e for e in container.env or [] if e.name == name), None)
        ref = found.value_from.secret_key_ref if found and found.value_from else None
        if ref is None:
            raise DrillError(f"env {name} of deployment/{self.name} is not read from a Secret")
        source = {"secretKeyRef": {"name": ref.name, "key": key}}
        env = [{"name": name, "valueFrom": source}]
        body = {
            "spec": {"template": {"spec": {"containers": [{"name": container.name, "env": env}]}}}
        }
        _call(
            f"point env {name} of deployment/{self.name} at key {key}",
            lambda: self.api.apps.patch_namespaced_deployment(self.name, self.namespace, body),
        )

    def rollout_undo(self) -> int:
        """Copy the previous revision's pod template back, like `kubectl rollout undo`."""
        deployment = self._deployment()
        current = int((deployment.metadata.annotations or {}).get(_REVISION, 0))
        previous = self._previous_replicaset(deployment, current)
        if previous is None:
            raise DrillError(
                f"deployment/{self.name} has no revision before {current} to roll back to"
            )
        template = self.api.apps.api_client.sanitize_for_serialization(previous.spec.template)
        template.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
        body = [{"op": "replace", "path": "/spec/template", "value": template}]
        _call(
            f"rollout undo deployment/{self.name}",
            lambda: self.api.apps.patch_namespaced_deployment(self.name, self.namespace, body),
        )
        return int(previous.metadata.annotations[_REVISION])

    def rollout_restart(self) -> str:
        """Stamp the pod template with restartedAt, as `kubectl rollout restart`; return it."""
        stamp = _restart_stamp()
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        _call(
            f"rollout restart deployment/{self.name}",
            lambda: self.api.apps.patch_namespaced_deployment(self.name, self.namespace, body),
        )
        return stamp

    def _owned_replicasets(self, deployment: Any) -> list[Any]:
        uid = deployment.metadata.uid
        listed = _call(
            "list replicasets",
            lambda: self.api.apps.list_namespaced_replica_set(
                self.namespace, label_selector=self._selector()
            ),
        )
        return [
            rs
            for rs in listed.items
            if any(o.uid == uid for o in rs.metadata.owner_references or [])
        ]

    def _previous_replicaset(self, deployment: Any, current: int) -> Any:
        owned = [
            rs
            for rs in self._owned_replicasets(deployment)
            if int((rs.metadata.annotations or {}).get(_REVISION, 0)) < current
        ]
        return max(owned, key=lambda rs: int(rs.metadata.annotations[_REVISION]), default=None)

    def events(self) -> list[WorkloadEvent]:
        """Events whose involvedObject is the Deployment, one of its ReplicaSets or their pods.

        Selected by ownership, not by name prefix (`kube_events.family_events`).
        """
        deployment = self._deployment()
        replicasets = self._owned_replicasets(deployment)
        pods = self._raw_pods()
        listed = _call("list events", lambda: self.api.core.list_namespaced_event(self.namespace))
        return family_events(deployment, replicasets, pods, listed.items)

    def _raw_pods(self) -> list[Any]:
        selector = self._selector()
        listed = _call(
            f"list pods {selector}",
            lambda: self.api.core.list_namespaced_pod(self.namespace, label_selector=selector),
        )
        return list(listed.items)


def _restart_stamp() -> str:
    """The wall time `kubectl rollout restart` writes (RFC 3339, UTC)."""
    return SystemClock().wall().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
