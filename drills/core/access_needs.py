"""What each drill may ask of the Kubernetes API, keyed by drill id (the preflight's declaration).

Derived from the calls the adapters make for the drill, its fixtures and its rollbacks
(`drills.targets.adapters.kube`, `kube_rollout`, `kube_hpa`, `kube_config`); the client method
behind each permission is in `drills.targets.adapters.kube_access.CLIENT_CALLS`, and a unit test
fails when an adapter calls a method that table does not map, or when the shipped Role
(`drills.core.access.ROLE_PATH`) lacks anything declared here or grants anything it does not
need. Namespaces are the profile's, bound at preflight. A rollback replayed by
`drills rollback` makes the same calls as the drill's own rollback, so the same Role serves it.

Not declared: the certification practicals' extra faults (`drills certify`: deleting the HPA,
scaling to zero, bad settings), which the trainee's sandbox identity may do anyway.
"""

from __future__ import annotations

from types import MappingProxyType

from drills.core.access import Permission

__all__ = [
    "DRILL_NEEDS",
    "METRICS_APIS_NAMESPACE",
    "SHOP_DATABASE_SECRET",
    "VARIANT_NEEDS",
    "needs_for",
]

SHOP_DATABASE_SECRET = "shop-database"
"""The Secret the shop reads its database URL from (`KubeServiceConfig`'s default)."""
ROTATION_NEW_SECRET = "shop-database-new"  # = drills.core.rotation.RotationPlan.new_secret
ROTATION_KEPT_SECRET = "shop-database-drills-kept"  # = RotationPlan.kept_secret

# KubeWorkload: read the Deployment (replicas, selector, image), list its pods, find the Service
# that selects them and count ready addresses in its EndpointSlices (replicas_ready,
# endpoints_listed, the replica timeline).
WATCH_SHOP = (
    Permission("get", "deployments", "apps"),
    Permission("list", "pods"),
    Permission("list", "services"),
    Permission("list", "endpointslices", "discovery.k8s.io"),
)
# KubeWorkload.delete_pod: the KillPods fault.
KILL_PODS = (Permission("delete", "pods"),)
# KubeWorkload.scale, the scale subresource: KillPods' rollback when spec.replicas moved, the
# hpa-spike drill's settle_back.
SCALE = (Permission("patch", "deployments", "apps", "scale"),)
# KubeWorkload.set_image / rollout_undo / rollout_restart and KubeServiceConfig.restart: patches
# of the pod template (a bad release and its rollback, `rollout undo`, `rollout restart`).
CHANGE_TEMPLATE = (Permission("patch", "deployments", "apps"),)
# KubeWorkload.rollout_undo and events (the ReplicaSets of the Deployment, its events) and
# KubeRollout.previous_log (`kubectl logs --previous`).
ROLLOUT_EVIDENCE = (
    Permission("list", "replicasets", "apps"),
    Permission("list", "events"),
    Permission("get", "pods", subresource="log"),
)
# KubePodDiagnostics.log_tail: `kubectl logs --tail` (snapshot-restore `data-loss-inplace`).
POD_LOGS = (Permission("get", "pods", subresource="log"),)
# KubeWorkload.rollout_undo finds the previous revision's ReplicaSet: db-pool-exhaustion's
# `app-leak` rolls the leaking release back.
UNDO = (Permission("list", "replicasets", "apps"),)
# KubeDeployment: pod-kill-under-load's `deployment-deleted` deletes the Deployment; the
# runbook's `kubectl apply -f` and the fault's rollback create it again (or patch its spec back).
REPLACE_DEPLOYMENT = (
    Permission("delete", "deployments", "apps"),
    Permission("create", "deployments", "apps"),
    Permission("patch", "deployments", "apps"),
)
# KubeAutoscaler.status: the HPA's status, sampled through the spike.
READ_HPA = (Permission("get", "horizontalpodautoscalers", "autoscaling"),)
# KubeMemory.top: `kubectl top pods`, the PodMetrics of the metrics API (oom-memory-leak);
# KubePodDiagnostics.top_pods, the same for high-cpu-latency's runbook step 1.
READ_POD_METRICS = (Permission("list", "pods", "metrics.k8s.io"),)
# KubeServiceConfig: repoint the shop at a restored database (and back, in the rollback); the
# Secret is created only when it is missing, and `create` cannot be limited to one name.
DATABASE_URL = (
    Permission("get", "secrets", name=SHOP_DATABASE_SECRET),
    Permission("patch", "secrets", name=SHOP_DATABASE_SECRET),
    Permission("create", "secrets"),
)

# secret-rotation (RUNBOOKS.md §3.14): the shop's Secret is read and overwritten, the second
# Secret (`shop-database-new`) and the kept original (`shop-database-drills-kept`) are created,
# read and deleted (KubeSecretStore); `create` cannot be limited to names.
ROTATION_SECRETS = (
    Permission("get", "secrets", name=SHOP_DATABASE_SECRET),
    Permission("patch", "secrets", name=SHOP_DATABASE_SECRET),
    Permission("create", "secrets"),
    Permission("get", "secrets", name=ROTATION_NEW_SECRET),
    Permission("patch", "secrets", name=ROTATION_NEW_SECRET),
    Permission("delete", "secrets", name=ROTATION_NEW_SECRET),
    Permission("get", "secrets", name=ROTATION_KEPT_SECRET),
    Permission("patch", "secrets", name=ROTATION_KEPT_SECRET),
    Permission("delete", "secrets", name=ROTATION_KEPT_SECRET),
)

# hpa-spike `no-hpa` (RUNBOOKS.md §3.9): KubeAutoscaler deletes the HPA, reads its manifest first,
# and the runbook's `kubectl apply -f` and the fault's rollback create it again or replace it.
MANAGE_HPA = (
    Permission("delete", "horizontalpodautoscalers", "autoscaling"),
    Permission("create", "horizontalpodautoscalers", "autoscaling"),
    Permission("update", "horizontalpodautoscalers", "autoscaling"),
)
METRICS_APIS_NAMESPACE = "kube-system"
"""Where the metrics APIs' Services usually live (metrics-server's home, the sandbox's too).

The adapter reads the namespace from each APIService at run time; the preflight asks about this
one, so a cluster that serves them elsewhere gets a clear refusal from the fault instead."""
# hpa-spike `no-metrics`: KubeMetricsApis lists the APIServices (cluster-wide), reads the
# Deployment behind each and empties then refills the EndpointSlices of its Service.
STOP_METRICS = (
    Permission("list", "apiservices", "apiregistration.k8s.io", cluster=True),
    Permission("get", "deployments", "apps", namespace=METRICS_APIS_NAMESPACE),
    Permission("list", "endpointslices", "discovery.k8s.io", namespace=METRICS_APIS_NAMESPACE),
    Permission("patch", "endpointslices", "discovery.k8s.io", namespace=METRICS_APIS_NAMESPACE),
)

# ingress-unreachable (RUNBOOKS.md §3.12): KubeRouting patches the shop Service's selector or
# targetPort (and back), lists Ingresses (step 1) and NetworkPolicies (step 5), and creates and
# deletes one NetworkPolicy by name (`netpol`; never `--all`). Not declared: creating and
# deleting a second Service, which only the test defect DRILLS_INGRESS_DEFECT does.
ROUTING = (
    Permission("patch", "services"),
    Permission("list", "ingresses", "networking.k8s.io"),
    Permission("list", "networkpolicies", "networking.k8s.io"),
    Permission("create", "networkpolicies", "networking.k8s.io"),
    Permission("delete", "networkpolicies", "networking.k8s.io"),
)

# node-drain-reboot (RUNBOOKS.md §3.13): KubeNodes reads, cordons and uncordons the nodes
# (cluster-wide), lists the pods bound to one in the shop's namespace and evicts them (the
# eviction subresource: the budget decides); KubeDisruptionBudgets creates, reads and deletes the
# drain's PodDisruptionBudget. `no-room` also loses one shop pod (KillPods: delete, scale back).
NODE_MAINTENANCE = (
    Permission("list", "nodes", cluster=True),
    Permission("get", "nodes", cluster=True),
    Permission("patch", "nodes", cluster=True),
    Permission("create", "pods", subresource="eviction"),
    Permission("create", "poddisruptionbudgets", "policy"),
    Permission("get", "poddisruptionbudgets", "policy"),
    Permission("delete", "poddisruptionbudgets", "policy"),
)

# backup-verification (RUNBOOKS.md §3.8): KubeBackupJobs creates the backup CronJob (and deletes
# it, its Jobs with it), lists its Jobs, creates the manual one (`kubectl create job --from`),
# deletes the Jobs left, and reads the last Job's pod log (`kubectl logs -l job-name=...`).
BACKUP_JOBS = (
    Permission("create", "cronjobs", "batch"),
    Permission("get", "cronjobs", "batch"),
    Permission("delete", "cronjobs", "batch"),
    Permission("list", "jobs", "batch"),
    Permission("create", "jobs", "batch"),
    Permission("delete", "jobs", "batch"),
    Permission("list", "pods"),
    Permission("get", "pods", subresource="log"),
)

# db-connection-failure (RUNBOOKS.md §3.4): reads the shop's Secret (step 3) and, in `bad-secret`,
# writes its URL and restarts the Deployment (DATABASE_URL, CHANGE_TEMPLATE); a new pod's
# Unhealthy events are the detection (KubeWorkload.events lists the ReplicaSets and events).
# `netpol` lists, creates and deletes one NetworkPolicy by name (never `--all`).
DB_CONNECTION_EVENTS = (Permission("list", "replicasets", "apps"), Permission("list", "events"))
DB_CONNECTION_POLICY = (
    Permission("list", "networkpolicies", "networking.k8s.io"),
    Permission("create", "networkpolicies", "networking.k8s.io"),
    Permission("delete", "networkpolicies", "networking.k8s.io"),
)

# region-failover (RUNBOOKS.md §3.17): the primary's shop scaled to 0 and back (ScaleTo, the
# scale subresource) and the DNS change, one EndpointSlice of the shop's Service created and
# deleted (drills.targets.adapters.region_entry). The backup region's own calls go to the
# cluster the drill starts (its admin kubeconfig), not to the profile's.
REGION_ENTRY = (
    Permission("create", "endpointslices", "discovery.k8s.io"),
    Permission("delete", "endpointslices", "discovery.k8s.io"),
)

DRILL_NEEDS = MappingProxyType(
    {
        "pod-kill-under-load": WATCH_SHOP + KILL_PODS + SCALE + REPLACE_DEPLOYMENT,
        "crashloop-rollback": WATCH_SHOP + CHANGE_TEMPLATE + ROLLOUT_EVIDENCE,
        "db-pool-exhaustion": WATCH_SHOP + CHANGE_TEMPLATE + UNDO,
        "hpa-spike": WATCH_SHOP + READ_HPA + SCALE,
        "oom-memory-leak": WATCH_SHOP
        + CHANGE_TEMPLATE
        + ROLLOUT_EVIDENCE
        + READ_HPA
        + READ_POD_METRICS,
        "snapshot-restore": WATCH_SHOP + CHANGE_TEMPLATE + DATABASE_URL,
        "pitr": WATCH_SHOP + CHANGE_TEMPLATE + DATABASE_URL,
        "secret-rotation": WATCH_SHOP + CHANGE_TEMPLATE + ROTATION_SECRETS,
        "ingress-unreachable": WATCH_SHOP + ROUTING,
        "db-connection-failure": WATCH_SHOP + CHANGE_TEMPLATE + DATABASE_URL + DB_CONNECTION_EVENTS,
        "node-drain-reboot": WATCH_SHOP + NODE_MAINTENANCE,
        # the workers (shop-worker) scaled to 3 and to 0, rollout restart, their logs (`kubectl
        # logs deployment/...`, KubePodDiagnostics); BROKER_URL set on the shop and taken back
        "worker-queue-backlog": WATCH_SHOP + SCALE + CHANGE_TEMPLATE + POD_LOGS,
        # RATE_LIMIT JSON-patched into the shop container and back, rollout status, the pods'
        # logs for the client ranking (KubeContainerEnv, KubeRollout, KubePodDiagnostics)
        "ddos-rate-limit": WATCH_SHOP + CHANGE_TEMPLATE + ROLLOUT_EVIDENCE,
        # the release (set env), rollout undo and restart, logs and ReplicaSets; the no-history
        # defect patches revisionHistoryLimit (the same patch permission)
        "error-rate-rollback": WATCH_SHOP + CHANGE_TEMPLATE + ROLLOUT_EVIDENCE,
        # cpu: the release (set env), scale out, rollout undo, the HPA's CPU; both: top and logs
        "backup-verification": WATCH_SHOP + BACKUP_JOBS,
        "region-failover": WATCH_SHOP + SCALE + REGION_ENTRY,
        "high-cpu-latency": WATCH_SHOP
        + ROLLOUT_EVIDENCE
        + READ_POD_METRICS
        + READ_HPA
        + SCALE
        + CHANGE_TEMPLATE,
        # LOG_DIR and the runaway release (set env) and back, rollout status, the pods' logs for
        # their failed log writes (KubeWorkload, KubeRollout, KubePodDiagnostics)
        "disk-space-exhausted": WATCH_SHOP + CHANGE_TEMPLATE + POD_LOGS,
    }
)
"""Drill id -> the permissions it may use, in the profile's namespace."""

VARIANT_NEEDS = MappingProxyType(
    {
        ("hpa-spike", "no-hpa"): MANAGE_HPA,
        ("hpa-spike", "no-metrics"): STOP_METRICS,
        ("node-drain-reboot", "no-room"): KILL_PODS + SCALE,
        ("db-connection-failure", "netpol"): DB_CONNECTION_POLICY,
        # [004] in place: scale to 0 and back to 10 (the scale subresource; the change's
        # rollback gives the count back), `kubectl logs` of the stopping pods (evidence)
        ("snapshot-restore", "data-loss-inplace"): SCALE + POD_LOGS,
    }
)
"""(drill id, variant) -> what that variant needs beyond the drill's own declaration."""


def needs_for(drill_id: str, variant: str = "") -> tuple[Permission, ...]:
    """The permissions one drill needs when it runs `variant` ("" or the default: its own)."""
    return DRILL_NEEDS.get(drill_id, ()) + VARIANT_NEEDS.get((drill_id, variant), ())
