"""Ask the API server what the drills' identity may do: SelfSubjectAccessReview, one per need.

`review_access(api, permissions)` sends one SelfSubjectAccessReview per distinct permission
(the authorizer's own decision, RBAC or any other) and returns the decisions; a review creates
nothing, so it is safe under `--dry-run`. `who_am_i(api)` names the identity through a
SelfSubjectReview, falling back to the context when the server does not offer it.

`CLIENT_CALLS` maps every client method the Kubernetes adapters call to the permission it needs;
`drills.core.access_needs` declares per drill which of them it uses, and a unit test keeps the
two and the adapters' source in step.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from drills.core.access import AccessDecision, Permission
from drills.core.errors import ConfigError, DrillError
from drills.core.safety import Allowlist
from drills.targets.adapters.kube import KubeApi, _call, connect

try:
    from kubernetes import client
    from kubernetes.config.config_exception import ConfigException
except ImportError as exc:  # pragma: no cover - depends on the installed extra
    raise ImportError(
        "the Kubernetes adapter needs the k8s extra: pip install 'drills[k8s]'"
    ) from exc

__all__ = ["CLIENT_CALLS", "connect_for_review", "review_access", "who_am_i"]

_APPS, _HPA, _SLICES = "apps", "autoscaling", "discovery.k8s.io"
_NET = "networking.k8s.io"
_BATCH = "batch"
CLIENT_CALLS = MappingProxyType(
    {
        "read_namespaced_deployment": Permission("get", "deployments", _APPS),
        # drills init: what runs in the namespace (kube_inventory), read only
        "list_namespaced_deployment": Permission("list", "deployments", _APPS),
        "list_namespaced_horizontal_pod_autoscaler": Permission(
            "list", "horizontalpodautoscalers", _HPA
        ),
        "patch_namespaced_deployment": Permission("patch", "deployments", _APPS),
        "patch_namespaced_deployment_scale": Permission("patch", "deployments", _APPS, "scale"),
        "delete_namespaced_deployment": Permission("delete", "deployments", _APPS),
        "create_namespaced_deployment": Permission("create", "deployments", _APPS),
        "list_namespaced_replica_set": Permission("list", "replicasets", _APPS),
        "list_namespaced_pod": Permission("list", "pods"),
        "delete_namespaced_pod": Permission("delete", "pods"),
        "read_namespaced_pod_log": Permission("get", "pods", subresource="log"),
        # the only custom objects read: PodMetrics (`kubectl top pods`, adapters/kube_top.py)
        "list_namespaced_custom_object": Permission("list", "pods", "metrics.k8s.io"),
        "list_namespaced_service": Permission("list", "services"),
        # ingress-unreachable: the Service patched and back (kube_routing); the defect twin's
        # second Service created and deleted
        "patch_namespaced_service": Permission("patch", "services"),
        "create_namespaced_service": Permission("create", "services"),
        "delete_namespaced_service": Permission("delete", "services"),
        "list_namespaced_ingress": Permission("list", "ingresses", _NET),
        "list_namespaced_network_policy": Permission("list", "networkpolicies", _NET),
        "create_namespaced_network_policy": Permission("create", "networkpolicies", _NET),
        "delete_namespaced_network_policy": Permission("delete", "networkpolicies", _NET),
        "list_namespaced_event": Permission("list", "events"),
        "list_namespaced_endpoint_slice": Permission("list", "endpointslices", _SLICES),
        # hpa-spike `no-metrics`: the metrics API's slice emptied and refilled (kube_metrics_api)
        "patch_namespaced_endpoint_slice": Permission("patch", "endpointslices", _SLICES),
        # region-failover: the DNS change's imported slice, created and deleted (region_entry)
        "create_namespaced_endpoint_slice": Permission("create", "endpointslices", _SLICES),
        "delete_namespaced_endpoint_slice": Permission("delete", "endpointslices", _SLICES),
        "read_namespaced_secret": Permission("get", "secrets"),
        "patch_namespaced_secret": Permission("patch", "secrets"),
        "create_namespaced_secret": Permission("create", "secrets"),
        "delete_namespaced_secret": Permission("delete", "secrets"),
        # backup-verification: the backup CronJob, its Jobs (scheduled and `create job --from`)
        "create_namespaced_cron_job": Permission("create", "cronjobs", _BATCH),
        "read_namespaced_cron_job": Permission("get", "cronjobs", _BATCH),
        "delete_namespaced_cron_job": Permission("delete", "cronjobs", _BATCH),
        "list_namespaced_job": Permission("list", "jobs", _BATCH),
        "create_namespaced_job": Permission("create", "jobs", _BATCH),
        "delete_namespaced_job": Permission("delete", "jobs", _BATCH),
        # --load-in-cluster: the Locust worker Job's state (kube_jobs)
        "read_namespaced_job": Permission("get", "jobs", _BATCH),
        # node-drain-reboot: the drain's evictions and its PodDisruptionBudget (kube_nodes)
        "create_namespaced_pod_eviction": Permission("create", "pods", subresource="eviction"),
        "create_namespaced_pod_disruption_budget": Permission(
            "create", "poddisruptionbudgets", "policy"
        ),
        "read_namespaced_pod_disruption_budget": Permission(
            "get", "poddisruptionbudgets", "policy"
        ),
        "delete_namespaced_pod_disruption_budget": Permission(
            "delete", "poddisruptionbudgets", "policy"
        ),
        # node-drain-reboot: `kubectl get nodes`, `describe node`, cordon and uncordon
        "list_node": Permission("list", "nodes"),
        "read_node": Permission("get", "nodes"),
        "patch_node": Permission("patch", "nodes"),
        # hpa-spike `no-metrics`: the APIServices of the metrics APIs (cluster-scoped)
        "list_api_service": Permission("list", "apiservices", "apiregistration.k8s.io"),
        "read_namespaced_horizontal_pod_autoscaler": Permission(
            "get", "horizontalpodautoscalers", _HPA
        ),
        "create_namespaced_horizontal_pod_autoscaler": Permission(
            "create", "horizontalpodautoscalers", _HPA
        ),
        "replace_namespaced_horizontal_pod_autoscaler": Permission(
            "update", "horizontalpodautoscalers", _HPA
        ),
        "delete_namespaced_horizontal_pod_autoscaler": Permission(
            "delete", "horizontalpodautoscalers", _HPA
        ),
    }
)
"""Client method -> the permission it needs (names, when the Role limits them, are per call)."""


def connect_for_review(kubeconfig: Path, *, allowlist: Allowlist, context: str | None) -> KubeApi:
    """`kube.connect`, with an unreadable kubeconfig as a ConfigError rather than the client's."""
    try:
        return connect(kubeconfig, allowlist=allowlist, context=context)
    except (ConfigException, ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"kubeconfig {kubeconfig} cannot be used: {exc}") from exc


def review_access(
    api: KubeApi, permissions: Iterable[Permission]
) -> dict[Permission, AccessDecision]:
    """One SelfSubjectAccessReview per distinct permission; the server's decision for each.

    Raises SafetyViolation when the identity may not even review its own access (HTTP 403),
    DrillError/TransientError when the server cannot be asked (after a few retries).
    """
    reviews = client.AuthorizationV1Api(api.core.api_client)
    decisions: dict[Permission, AccessDecision] = {}
    for permission in dict.fromkeys(permissions):
        status = _review(reviews, permission)
        decisions[permission] = AccessDecision(
            allowed=bool(status.allowed), reason=str(status.reason or status.evaluation_error or "")
        )
    return decisions


def _review(reviews: Any, permission: Permission) -> Any:
    body = client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=_attributes(permission))
    )
    answer = _call(
        f"review `{permission.describe()}` (SelfSubjectAccessReview)",
        lambda: reviews.create_self_subject_access_review(body),
    )
    return answer.status


def _attributes(permission: Permission) -> Any:
    return client.V1ResourceAttributes(
        verb=permission.verb,
        group=permission.group,
        resource=permission.resource,
        subresource=permission.subresource or None,
        name=permission.name or None,
        namespace=permission.namespace or None,
    )


def who_am_i(api: KubeApi) -> str:
    """`user NAME` as the server authenticates this client, else `the user of context CTX`."""
    reviews = client.AuthenticationV1Api(api.core.api_client)
    try:
        answer = _call(
            "who am I (SelfSubjectReview)",
            lambda: reviews.create_self_subject_review(client.V1SelfSubjectReview()),
        )
    except DrillError:  # an older server, or the review is not allowed: name the context
        return f"the user of context {api.context}"
    return f"user {answer.status.user_info.username}"
