"""Replay a bad release's rollback from the ledger (entry point group `drills.rollbacks`).

When a drill process is killed outright (SIGKILL, a lost machine) its in-process rollbacks never
run; `drills rollback` replays the ledger instead. A `bad-release` entry holds the good image,
but to reach the cluster the replay also needs the kubeconfig and context the drill used:
`ClusterBound` (drills.targets.adapters.entry_cluster) wraps a fault so that its ledger entry
carries them. Replaying checks the
context and namespace against exactly what was recorded, then puts the image back unless the
Deployment already runs it (idempotent, like the in-process rollback). Every replayer here reads
first and returns `Replayed.ALREADY` when the state is already as recorded (replayed twice,
after a partial rollback, or repaired by hand), so it acts at most once.
"""

from __future__ import annotations

import json

from drills.core.errors import ConfigError
from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry
from drills.targets.adapters.ddos_rollbacks import register_rollbacks as register_ddos
from drills.targets.adapters.entry_cluster import entry_api
from drills.targets.adapters.kube import KubeWorkload
from drills.targets.adapters.kube_deployment import KubeDeployment
from drills.targets.adapters.kube_hpa import KubeAutoscaler
from drills.targets.adapters.kube_jobs import register_rollbacks as register_jobs
from drills.targets.adapters.kube_memory import KubeMemory
from drills.targets.adapters.kube_metrics_api import STOP_METRICS_KIND, restore_metrics_apis
from drills.targets.adapters.kube_routing import register_rollbacks as register_routing
from drills.targets.adapters.node_rollbacks import register_rollbacks as register_nodes
from drills.targets.adapters.rotation_rollbacks import register_rollbacks as register_rotation
from drills.targets.adapters.tmpfs_volume import register_rollbacks as register_volume
from drills.targets.ports.autoscaling import AutoscalerObject
from drills.targets.ports.memory import MemoryLimits
from drills.targets.ports.workload import DeploymentObject, Workload

__all__ = ["BAD_RELEASE_KIND", "register_rollbacks", "restore_image"]

BAD_RELEASE_KIND = "bad-release"  # = drills.faults.pods.BadRelease.kind
BAD_SETTING_KIND = "bad-setting"  # = drills.faults.pods.BadSetting.kind
BAD_SETTINGS_KIND = "bad-settings"  # = drills.faults.pods.BadSettings.kind
DELETE_DEPLOYMENT_KIND = "delete-deployment"  # = drills.faults.pods.DeleteDeployment.kind
MISSING_SECRET_KEY_KIND = "missing-secret-key"  # = drills.faults.pods.MissingSecretKey.kind
SCALE_TO_KIND = "scale-to"  # = drills.faults.pods.ScaleTo.kind
KILL_PODS_KIND = "kill-pods"  # = drills.faults.pods.KillPods.kind: the same replicas entry
DELETE_HPA_KIND = "delete-hpa"  # = drills.faults.autoscaling.DeleteHpa.kind
LEAKING_RELEASE_KIND = "leaking-release"  # = drills.faults.memory.LeakingRelease.kind


def _workload(entry: RollbackEntry, by_hand: str = "") -> KubeWorkload:
    """The Deployment the entry names; `by_hand`: the command its error suggests instead."""
    namespace, kind, name = [*entry.target.split("/"), "", "", ""][:3]
    if kind != "deployment" or not name:
        raise ConfigError(f"rollback target {entry.target!r} is not <namespace>/deployment/<name>")
    by_hand = by_hand or (
        f"kubectl -n {namespace} set image deployment/{name} <container>={entry.args.get('image')}"
    )
    return KubeWorkload(entry_api(entry, namespace, by_hand), namespace, name)


def _changed(*, same: bool) -> Replayed:
    return Replayed.ALREADY if same else Replayed.RESTORED


def restore_image(entry: RollbackEntry, *, workload: Workload | None = None) -> Replayed:
    """Put the recorded good image back on the Deployment, unless it already runs it.

    `workload` replaces the one the entry's kubeconfig and context reach (tests).
    """
    image = str(entry.args.get("image") or "")
    if not image:
        raise ConfigError(f"the {entry.kind} entry for {entry.target} records no image")
    workload = workload or _workload(entry)
    same = workload.container_image() == image
    if not same:
        workload.set_image(image)
    return _changed(same=same)


def restore_setting(entry: RollbackEntry, *, workload: Workload | None = None) -> Replayed:
    """Put the recorded env var value back (or remove it), unless the Deployment has it."""
    name = str(entry.args.get("name") or "")
    if not name:
        raise ConfigError(f"the {entry.kind} entry for {entry.target} records no variable")
    previous = entry.args.get("previous")
    value = None if previous is None else str(previous)
    workload = workload or _workload(entry)
    same = workload.container_env(name) == value
    if not same:
        workload.set_env(name, value)
    return _changed(same=same)


def restore_settings(entry: RollbackEntry, *, workload: Workload | None = None) -> Replayed:
    """Put every recorded env var value back (None: remove it), unless the Deployment has them."""
    try:
        previous = json.loads(str(entry.args.get("previous") or ""))
    except ValueError:
        previous = None
    if not isinstance(previous, dict) or not previous:
        raise ConfigError(f"the {entry.kind} entry for {entry.target} records no variables")
    values = {str(k): None if v is None else str(v) for k, v in previous.items()}
    workload = workload or _workload(entry)
    same = all(workload.container_env(name) == value for name, value in values.items())
    if not same:
        workload.set_envs(values)
    return _changed(same=same)


def restore_deployment(
    entry: RollbackEntry, *, deployment: DeploymentObject | None = None
) -> Replayed:
    """Re-create the recorded Deployment (or put its spec back), unless it is there as it was."""
    namespace, kind, name = [*entry.target.split("/"), "", "", ""][:3]
    if kind != "deployment" or not name:
        raise ConfigError(f"rollback target {entry.target!r} is not <namespace>/deployment/<name>")
    try:
        manifest = json.loads(str(entry.args.get("manifest") or ""))
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("spec"), dict):
        raise ConfigError(f"the {entry.kind} entry for {entry.target} records no manifest")
    if deployment is None:
        deployment = KubeDeployment(
            entry_api(entry, namespace, f"kubectl -n {namespace} apply -f <the shop's manifest>"),
            namespace,
            name,
        )
    now = deployment.manifest()
    same = now is not None and now.get("spec") == manifest["spec"]
    if not same:
        deployment.restore(manifest)
    return _changed(same=same)


def restore_secret_key(entry: RollbackEntry, *, workload: Workload | None = None) -> Replayed:
    """Point the env var at its recorded Secret key again, unless it reads that key already."""
    name, key = str(entry.args.get("name") or ""), str(entry.args.get("key") or "")
    if not name or not key:
        raise ConfigError(f"the {entry.kind} entry for {entry.target} records no variable or key")
    workload = workload or _workload(entry)
    same = workload.container_secret_key(name) == key
    if not same:
        workload.set_container_secret_key(name, key)
    return _changed(same=same)


def restore_replicas(entry: RollbackEntry, *, workload: Workload | None = None) -> Replayed:
    """Put the recorded spec.replicas back, unless the Deployment already asks for them."""
    recorded = entry.args.get("replicas")
    if not isinstance(recorded, int) or isinstance(recorded, bool) or recorded < 0:
        raise ConfigError(f"the {entry.kind} entry for {entry.target} records no replica count")
    if workload is None:
        namespace, _, name = [*entry.target.split("/"), "", "", ""][:3]
        by_hand = f"kubectl -n {namespace} scale deployment/{name} --replicas={recorded}"
        workload = _workload(entry, by_hand)
    same = workload.desired_replicas() == recorded
    if not same:
        workload.scale(recorded)
    return _changed(same=same)


def restore_hpa(entry: RollbackEntry, *, hpa: AutoscalerObject | None = None) -> Replayed:
    """Re-create the recorded HPA (or put its spec back), unless it is there as it was."""
    namespace, kind, name = [*entry.target.split("/"), "", "", ""][:3]
    if kind != "hpa" or not name:
        raise ConfigError(f"rollback target {entry.target!r} is not <namespace>/hpa/<name>")
    try:
        manifest = json.loads(str(entry.args.get("manifest") or ""))
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("spec"), dict):
        raise ConfigError(f"the {entry.kind} entry for {entry.target} records no HPA manifest")
    if hpa is None:
        by_hand = f"kubectl -n {namespace} apply -f <the HPA manifest>"
        hpa = KubeAutoscaler(entry_api(entry, namespace, by_hand), namespace, name)
    now = hpa.manifest()
    same = now is not None and now.get("spec") == manifest["spec"]
    if not same:
        hpa.restore(manifest)
    return _changed(same=same)


def restore_template(entry: RollbackEntry, *, memory: MemoryLimits | None = None) -> Replayed:
    """Put the recorded pod template back whole, unless the Deployment already has it.

    `memory` replaces the one the entry's kubeconfig and context reach (tests).
    """
    template = str(entry.args.get("template") or "")
    if not template:
        raise ConfigError(f"the {entry.kind} entry for {entry.target} records no pod template")
    if memory is None:
        workload = _workload(entry)
        memory = KubeMemory.of(workload)
    return _changed(same=not memory.restore_template(template))


def register_rollbacks(registry: RollbackRegistry) -> None:
    """Register the Kubernetes kinds this module can replay."""
    registry.register(BAD_RELEASE_KIND, restore_image)
    registry.register(BAD_SETTING_KIND, restore_setting)
    registry.register(BAD_SETTINGS_KIND, restore_settings)
    registry.register(DELETE_DEPLOYMENT_KIND, restore_deployment)
    registry.register(MISSING_SECRET_KEY_KIND, restore_secret_key)
    registry.register(SCALE_TO_KIND, restore_replicas)
    registry.register(KILL_PODS_KIND, restore_replicas)
    registry.register(DELETE_HPA_KIND, restore_hpa)
    registry.register(STOP_METRICS_KIND, restore_metrics_apis)
    register_rotation(registry)  # secret-rotation: a Secret, the Deployment and login roles
    registry.register(LEAKING_RELEASE_KIND, restore_template)
    register_nodes(registry)  # node-drain-reboot: cordons, a silent node, its PDB, stand-ins
    register_routing(registry)  # ingress-unreachable: a Service's selector or port, a policy
    register_ddos(registry)  # ddos-rate-limit: the web ACL, its block rule, RATE_LIMIT
    register_jobs(registry)  # --load-in-cluster: the Locust worker Job
    register_volume(registry)  # disk-space-exhausted: the capped log volume (the pods' hostPath)
