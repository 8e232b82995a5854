"""KubeWorkload over a fake client: events by involvedObject and ownership, rollout restart."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kubernetes import client

from drills.targets.adapters.kube import KubeApi, KubeWorkload

DEPLOYMENT_UID, RS_UID, OLD_RS_UID, OTHER_RS_UID = "d-1", "rs-1", "rs-0", "rs-9"


def _meta(name: str, uid: str, *, owner: str | None = None) -> client.V1ObjectMeta:
    owners = None
    if owner is not None:
        owners = [client.V1OwnerReference(api_version="v1", kind="X", name="x", uid=owner)]
    return client.V1ObjectMeta(name=name, uid=uid, owner_references=owners, labels={"app": "shop"})


def _deployment() -> client.V1Deployment:
    return client.V1Deployment(
        metadata=_meta("shop", DEPLOYMENT_UID),
        spec=client.V1DeploymentSpec(
            selector=client.V1LabelSelector(match_labels={"app": "shop"}),
            template=client.V1PodTemplateSpec(),
        ),
    )


def _event(kind: str, name: str, uid: str = "", reason: str = "Seen") -> client.CoreV1Event:
    return client.CoreV1Event(
        metadata=client.V1ObjectMeta(name=f"{name}.1"),
        involved_object=client.V1ObjectReference(kind=kind, name=name, uid=uid or None),
        reason=reason,
        message=f"{kind} {name}",
        type="Normal",
        count=1,
    )


class _Apps:
    def __init__(self) -> None:
        self.patches: list[tuple[str, Any]] = []

    def patch_namespaced_deployment(self, name: str, namespace: str, body: Any) -> Any:
        self.patches.append((name, body))
        return _deployment()

    def read_namespaced_deployment(self, name: str, namespace: str) -> Any:
        return _deployment()

    def list_namespaced_replica_set(self, namespace: str, label_selector: str) -> Any:
        return SimpleNamespace(
            items=[
                client.V1ReplicaSet(metadata=_meta("shop-7f9c", RS_UID, owner=DEPLOYMENT_UID)),
                client.V1ReplicaSet(metadata=_meta("shop-5b2a", OLD_RS_UID, owner=DEPLOYMENT_UID)),
                # same labels, another owner: a Deployment `shop-worker` reusing app=shop
                client.V1ReplicaSet(metadata=_meta("shop-worker-1c", OTHER_RS_UID, owner="d-9")),
            ]
        )


class _Core:
    def list_namespaced_pod(self, namespace: str, label_selector: str) -> Any:
        return SimpleNamespace(
            items=[
                client.V1Pod(metadata=_meta("shop-7f9c-abcde", "p-1", owner=RS_UID)),
                client.V1Pod(metadata=_meta("shop-worker-1c-zzzzz", "p-9", owner=OTHER_RS_UID)),
            ]
        )

    def list_namespaced_event(self, namespace: str) -> Any:
        return SimpleNamespace(
            items=[
                _event("Deployment", "shop", DEPLOYMENT_UID, "ScalingReplicaSet"),
                _event("ReplicaSet", "shop-7f9c", RS_UID, "SuccessfulCreate"),
                _event("Pod", "shop-7f9c-abcde", "p-1", "BackOff"),
                _event("Pod", "shop-5b2a-qwert", "p-gone", "Killing"),  # deleted pod, old RS
                _event("Secret", "shop-database", "s-1", "Updated"),
                _event("Deployment", "shop-worker", "d-9", "ScalingReplicaSet"),
                _event("ReplicaSet", "shop-worker-1c", OTHER_RS_UID, "SuccessfulCreate"),
                _event("Pod", "shop-worker-1c-zzzzz", "p-9", "Started"),
                _event("Pod", "shop-db-0", "p-db", "Started"),
                _event("HorizontalPodAutoscaler", "shop", "h-1", "SuccessfulRescale"),
                _event("Deployment", "shop", "d-old", "ScalingReplicaSet"),  # a deleted namesake
            ]
        )


def test_events_are_those_of_the_deployment_its_replicasets_and_their_pods() -> None:
    api = KubeApi(core=_Core(), apps=_Apps(), autoscaling=None, context="test")
    shop = KubeWorkload(api, "default", "shop")
    seen = [(e.object_name, e.reason) for e in shop.events()]
    assert seen == [
        ("shop", "ScalingReplicaSet"),
        ("shop-7f9c", "SuccessfulCreate"),
        ("shop-7f9c-abcde", "BackOff"),
        ("shop-5b2a-qwert", "Killing"),
    ]


def test_rollout_restart_stamps_the_pod_template_as_kubectl_does() -> None:
    apps = _Apps()
    shop = KubeWorkload(
        KubeApi(core=_Core(), apps=apps, autoscaling=None, context="t"), "default", "shop"
    )
    stamp = shop.rollout_restart()
    [(name, body)] = apps.patches
    assert name == "shop"
    annotations = body["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"kubectl.kubernetes.io/restartedAt": stamp}
    assert stamp.endswith("Z")
