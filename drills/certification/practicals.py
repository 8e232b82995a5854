"""The catalogue of certification practicals: one per drill, its variants, page and steps.

Each `Practical` follows its RUNBOOKS.md §3 recovery steps; checkpoints recognise a step on the
evidence the trainee leaves (`drills.certification.matchers` holds the shared matchers), so
the grade can print what was expected. Severities use the P0-P3 scale of the scenarios'
markers (001/003: P0 full outage or data loss, P1 partial outage, P2 degradation); a variant
that takes the whole service down pages P0. Every practical carries the hazards of §5.2.
`practical_for(drill_id)` finds one; `PRACTICALS` lists them all.
"""

from __future__ import annotations

from drills.certification import matchers as m
from drills.core.errors import ConfigError
from drills.core.practical import Checkpoint, PagerAlert, Phase, Practical, Variant

__all__ = ["PRACTICALS", "practical_for"]

D, M, R = Phase.DETECT, Phase.MITIGATE, Phase.RESOLVE

CRASHLOOP = Practical(
    drill_id="crashloop-rollback",
    runbook="RUNBOOKS.md §3.1",
    title="A bad release crash-loops; roll it back",
    # §2.2: PodCrashLooping on more than 5 restarts in 10 min, P1 [002]
    alert=PagerAlert(
        "PodCrashLooping", "P1", "shop pods restarting (> 5 restarts in 10 min)", "shop"
    ),
    variants=(
        Variant("bad-image", "`kubectl set image` to a release that exits at start-up"),
        Variant("bad-setting", "an environment variable that makes the app exit at start-up"),
        Variant("missing-secret-key", "the container reads a Secret key that does not exist"),
    ),
    checkpoints=(
        Checkpoint(
            "find-pods", "kubectl get pods: find the pods in CrashLoopBackOff", (m.list_pods(),), D
        ),
        Checkpoint(
            "read-evidence",
            "kubectl logs --previous / describe pod (events)",
            (m.pod_logs(), m.describe_pod(), m.list_events()),
            D,
        ),
        Checkpoint(
            "rollout-undo",
            "kubectl rollout undo deployment/{deployment}",
            (m.rollout_undo(),),
            M,
            after=("find-pods",),
            expect="pod template equals the last good revision",
        ),
        Checkpoint(
            "rollout-status",
            "kubectl rollout status deployment/{deployment} until done",
            (m.read_deployment(),),
            R,
            seen_after=("rollout-undo",),
        ),
    ),
    hazards=m.HAZARDS,
)

POD_KILL = Practical(
    drill_id="pod-kill-under-load",
    runbook="RUNBOOKS.md §3.2",
    title="Pods killed under load, up to a complete outage",
    alert=PagerAlert(
        "ShopReplicasMissing", "P1", "shop: replicas below desired, errors rising", "shop"
    ),
    variants=(
        Variant("fraction", "force-delete half the shop's pods", {"fraction": "0.5"}),
        Variant(
            "all",
            "every shop pod killed at once",
            {"fraction": "1"},
            PagerAlert("ShopDown", "P0", "shop: every health check failing, 100% errors", "shop"),
        ),
        Variant(
            "zero",
            "the Deployment scaled to 0 (the [001] emergency shutdown run by mistake)",
            {"replicas": "0"},
            PagerAlert("ShopDown", "P0", "shop: every health check failing, 100% errors", "shop"),
        ),
    ),
    checkpoints=(
        Checkpoint(
            "assess",
            "kubectl get pods / nodes / events: what is gone",
            (m.list_pods(), m.list_nodes(), m.list_events()),
            D,
        ),
        Checkpoint(
            "serving-path",
            "kubectl get endpoints / describe service",
            (m.serving_path(),),
            D,
            required=False,
        ),
        Checkpoint(
            "capacity-back",
            "kubectl scale / rollout restart / rollout undo",
            (m.scale_up(1), m.rollout_restart(), m.rollout_undo()),
            M,
            after=("assess",),
            variants=frozenset({"zero"}),
        ),
        Checkpoint(
            "verify-replaced",
            "verify: pods Ready and listed again",
            (m.list_pods(), m.read_deployment(), m.serving_path()),
            R,
            seen_after=("assess",),
            variants=frozenset({"fraction", "all"}),
        ),
        Checkpoint(
            "verify-scaled",
            "verify: pods Ready and listed again",
            (m.list_pods(), m.read_deployment(), m.serving_path()),
            R,
            seen_after=("capacity-back",),
            variants=frozenset({"zero"}),
        ),
    ),
    hazards=m.HAZARDS,
)

POOL = Practical(
    drill_id="db-pool-exhaustion",
    runbook="RUNBOOKS.md §3.5",
    title="Connection slots used up; terminate idle backends",
    # No seed names an alert or a severity (§3.5): the page quotes the server [003][004].
    alert=PagerAlert(
        "DatabaseConnectionsExhausted",
        "P1",
        "shop: new database connections refused (too many clients)",
        "shop",
    ),
    variants=(
        Variant(
            "idle-leak",
            "a leaker holds idle sessions until max_connections",
            {"idle_in_transaction_every": "0"},
        ),
        Variant(
            "idle-in-transaction-leak",
            "a leaker holds sessions idle in transaction",
            {"idle_in_transaction_every": "1"},
        ),
    ),
    checkpoints=(
        Checkpoint("size-it", "sessions by state against max_connections", (m.size_sessions(),), D),
        Checkpoint(
            "terminate-idle",
            "pg_terminate_backend of sessions idle longer than the rule",
            (m.terminate_idle(),),
            M,
            after=("size-it",),
            expect="refusals stop; only idle sessions terminated",
        ),
        Checkpoint(
            "reset-pools",
            "kubectl rollout restart deployment/{deployment}",
            (m.rollout_restart(),),
            M,
            required=False,
            after=("terminate-idle",),
        ),
        Checkpoint(
            "verify",
            "sessions below max_connections with headroom",
            (m.size_sessions(), m.list_pods()),
            R,
            seen_after=("terminate-idle",),
        ),
    ),
    hazards=m.HAZARDS,
)

SNAPSHOT_RESTORE = Practical(
    drill_id="snapshot-restore",
    runbook="RUNBOOKS.md §3.6 (data-loss-inplace [004])",
    title="Data destroyed; stop writes, keep evidence, restore, restart",
    alert=PagerAlert(
        "OrdersMissing", "P0", "shop: acknowledged orders gone from the database", "database"
    ),
    # Both variants are the in-place procedure of §3.6 (`data-loss-inplace`, §4.1's P0 item).
    variants=(
        Variant("drop-table", "DROP TABLE orders on the primary"),
        Variant("delete-rows", "DELETE most rows of orders on the primary", {"keep_every": "10"}),
    ),
    checkpoints=(
        Checkpoint(
            "assess",
            "confirm the damage: count the orders",
            (m.read_orders(refused_too=True),),
            D,
        ),
        Checkpoint(
            "stop-writes",
            "scale deployment/{deployment} to 0 replicas",
            (m.scale_to_zero(),),
            M,
            expect="replicas 0 before any restore statement",
        ),
        Checkpoint(
            "preserve-evidence",
            "pg_dump the damaged database",
            (m.evidence_dump(), m.pg_dump_session()),
            M,
            after=("stop-writes",),
        ),
        Checkpoint(
            "save-logs",
            "kubectl logs deployment/{deployment} > logs.txt",
            (m.pod_logs(),),
            M,
            required=False,
            after=("stop-writes",),
        ),
        Checkpoint(
            "list-backups",
            "aws s3 ls the backups, newest last",
            (m.list_backups(),),
            M,
            required=False,
        ),
        Checkpoint("fetch-backup", "aws s3 cp the newest dump", (m.fetch_backup(),), M),
        Checkpoint(
            "restore",
            "psql/pg_restore the newest dump",
            (m.restore_orders(),),
            M,
            after=("stop-writes", "preserve-evidence"),
        ),
        Checkpoint(
            "restart",
            "scale deployment/{deployment} back up",
            (m.scale_up(1),),
            R,
            after=("restore",),
            expect="replicas Ready; nothing acknowledged while at 0",
        ),
        Checkpoint(
            "verify",
            "count the orders again",
            (m.read_orders(),),
            R,
            required=False,
            seen_after=("restore",),
        ),
    ),
    hazards=m.HAZARDS,
)

PITR = Practical(
    drill_id="pitr",
    runbook="RUNBOOKS.md §3.7",
    title="Damage at a known time; recover to a point just before it",
    alert=PagerAlert(
        "OrdersCorrupted", "P1", "database: orders damaged by a bad statement", "database"
    ),
    variants=(
        Variant("destructive-delete", "DELETE FROM orders without WHERE at T"),
        Variant("bad-update", "UPDATE orders without WHERE at T"),
    ),
    checkpoints=(
        Checkpoint(
            "assess", "find the damage and its time: read the orders", (m.read_orders(),), D
        ),
        Checkpoint(
            "start-pitr",
            "restore to a point just before the damage",
            (m.point_in_time_restore(),),
            M,
            after=("assess",),
            expect="recovery target just before the damaging commit",
        ),
        Checkpoint(
            "check-data",
            "check the recovered data before promoting",
            (m.read_orders(),),
            M,
            seen_after=("start-pitr",),
        ),
        Checkpoint(
            "promote", "promote the recovered instance", (m.promote(),), M, after=("check-data",)
        ),
        Checkpoint(
            "repoint",
            "point the shop at the recovered database (its Secret)",
            (m.write_secret(),),
            R,
            after=("promote",),
        ),
        Checkpoint(
            "restart-app",
            "kubectl rollout restart deployment/{deployment}",
            (m.rollout_restart(),),
            R,
            after=("repoint",),
        ),
    ),
    hazards=m.HAZARDS,
)

HPA_SPIKE = Practical(
    drill_id="hpa-spike",
    runbook="RUNBOOKS.md §3.9",
    title="Load spike; autoscaling must act",
    alert=PagerAlert(
        "HighLatency", "P2", "shop: p95 over the threshold during a load surge", "shop"
    ),
    variants=(
        Variant("spike", "a Locust spike with the HPA healthy"),
        # No `no-metrics` (metrics-server down) in the sandbox: its metrics-server is a host
        # process, not a kube-system pod, so the runbook's `kubectl delete pod -n kube-system -l
        # k8s-app=metrics-server` cannot bring it back, and the shop's HPA still scales on the
        # request rate the sandbox serves as custom metrics: the HPA is not blind there.
        Variant("no-hpa", "a spike with the HPA object deleted"),
    ),
    checkpoints=(
        Checkpoint(
            "inspect-hpa", "kubectl get hpa / describe hpa: current vs desired", (m.read_hpa(),), D
        ),
        Checkpoint(
            "check-metrics",
            "kubectl top pods; metrics-server deployment",
            (m.read_metrics(), m.read_metrics_server()),
            D,
            required=False,
        ),
        Checkpoint(
            "restore-hpa",
            "kubectl apply -f autoscaler.yaml",
            (m.create_hpa(),),
            M,
            variants=frozenset({"no-hpa"}),
        ),
        Checkpoint(
            "scale-by-hand",
            "kubectl scale deployment/{deployment} --replicas=10",
            (m.scale_up(3),),
            M,
            variants=frozenset({"no-hpa"}),
        ),
        Checkpoint(
            "watch-hpa",
            "re-test under load: watch kubectl get hpa",
            (m.read_hpa(), m.list_pods()),
            R,
            seen_after=("inspect-hpa",),
        ),
    ),
    hazards=m.HAZARDS,
)

PRACTICALS: tuple[Practical, ...] = (CRASHLOOP, POD_KILL, POOL, SNAPSHOT_RESTORE, PITR, HPA_SPIKE)

# Drills that run (`drills run`) but cannot be certified on yet: the hidden variants, alerts and
# checkpoints of their practical are not written. Named here so the gap is stated, not hidden;
# `drills certify start` refuses them saying so.
NO_PRACTICAL_YET: dict[str, str] = {
    "oom-memory-leak": "a hidden-variant practical (RUNBOOKS.md §4.1) still to be written",
    "high-cpu-latency": "a hidden-variant practical (RUNBOOKS.md §4.1) still to be written",
    "secret-rotation": "its order checkpoints (new secret in use, then old deleted, §4.2)",
    "ingress-unreachable": "a P0 practical (RUNBOOKS.md §4.1) over its selector and ingress faults",
    "error-rate-rollback": "a practical (RUNBOOKS.md §4.1) over both variants still to be written",
    "node-drain-reboot": "not in the §4.1 required set; a drain practical is still to be written",
    "ddos-rate-limit": "not in the §4.1 required set; a flood practical is still to be written",
    "db-connection-failure": "a practical (RUNBOOKS.md §4.1) over db-down and bad-secret, with "
    "the cause to name as its checkpoint, still to be written",
    "backup-verification": "a routine check with nothing to recover (§3.8); a practical would "
    "grade a trainee's own test restore, still to be written",
    "disk-space-exhausted": "not in the §4.1 required set; a practical grading a trainee's "
    "cleanup against the volume's inventory is still to be written",
    "worker-queue-backlog": "a practical (RUNBOOKS.md §3.16 says auto + cert) grading the "
    "trainee's restart and the failed list read, never purged, still to be written",
    "region-failover": "a human quarterly drill on staging (RUNBOOKS.md §3.17, §4.1); the "
    "sandbox only rehearses its steps with a second sandbox, so no practical grades it yet",
}


def practical_for(drill_id: str) -> Practical:
    """The practical of `drill_id`; raises ConfigError listing the drills that have one."""
    for practical in PRACTICALS:
        if practical.drill_id == drill_id:
            return practical
    if drill_id in NO_PRACTICAL_YET:
        raise ConfigError(
            f"drill {drill_id!r} has no certification practical yet "
            f"({NO_PRACTICAL_YET[drill_id]}); practicals exist for "
            f"{[p.drill_id for p in PRACTICALS]}"
        )
    raise ConfigError(
        f"no certification practical for drill {drill_id!r}; practicals exist for "
        f"{[p.drill_id for p in PRACTICALS]}"
    )
