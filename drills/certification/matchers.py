"""The evidence matchers the practicals share, one per thing a runbook step makes a person do.

Kubernetes matchers read the audit log's verb, resource, subresource, name and body as
`kubectl` sends them (captured from a real API server: `rollout undo` is a JSON patch replacing
`/spec/template`, `rollout restart` a patch setting the `restartedAt` annotation, `scale` a patch
of `deployments/scale`, `delete pod --force` a delete with `gracePeriodSeconds: 0`,
`delete networkpolicy --all` a list then one delete per policy). SQL matchers read the
statement text; AWS matchers the operation.
"""

from __future__ import annotations

from drills.core.actions import BodyRule, BodyTest, Matcher, Source
from drills.core.practical import Hazard

__all__ = ["HAZARDS"]

K, Q, A = Source.KUBE, Source.SQL, Source.AWS
_READ = ("get", "list", "watch")
_WRITE = ("patch", "update")
_NS = "{namespace}"
_DEPLOYMENT = "{deployment}"
_RESTARTED_AT = ("spec", "template", "metadata", "annotations", "kubectl.kubernetes.io/restartedAt")
# The runbook's idle predicate: state 'idle' (or 'idle in transaction') [003][004].
_IDLE = r"state\s*(?:=|in\s*\()\s*'idle"
_AGE = r"(?:state_change|query_start|xact_start)\s*<"
_ORDERS = r"\borders\b"


def list_pods() -> Matcher:
    """`kubectl get pods` in the shop's namespace."""
    return Matcher(K, ("list", "watch"), "pods", "", namespace=_NS, what="kubectl get pods")


def describe_pod() -> Matcher:
    """`kubectl describe pod NAME` (a get of the pod)."""
    return Matcher(K, ("get",), "pods", "", namespace=_NS, what="kubectl describe pod <pod>")


def pod_logs() -> Matcher:
    """`kubectl logs POD [--previous]`."""
    return Matcher(K, ("get",), "pods", "log", namespace=_NS, what="kubectl logs <pod>")


def list_events() -> Matcher:
    """`kubectl get events` (describe lists them too)."""
    return Matcher(K, ("list", "watch"), "events", what="kubectl get events")


def list_nodes() -> Matcher:
    """`kubectl get nodes`."""
    return Matcher(K, ("list", "watch"), "nodes", what="kubectl get nodes")


def serving_path() -> Matcher:
    """`kubectl get endpoints` / EndpointSlices / `describe service`."""
    return Matcher(
        K,
        _READ,
        "endpoints",
        what="kubectl get endpoints",
    )


def read_deployment() -> Matcher:
    """`kubectl rollout status` / `get deployment` of the shop."""
    return Matcher(K, _READ, "deployments", "", _DEPLOYMENT, _NS, what="kubectl rollout status")


def rollout_undo() -> Matcher:
    """`kubectl rollout undo`: a JSON patch replacing the whole pod template."""
    return Matcher(
        K,
        _WRITE,
        "deployments",
        "",
        _DEPLOYMENT,
        _NS,
        body=(BodyRule(("spec", "template"), BodyTest.REPLACED),),
        what="kubectl rollout undo deployment/{deployment}",
    )


def rollout_restart() -> Matcher:
    """`kubectl rollout restart`: the pod template's restartedAt annotation set."""
    return Matcher(
        K,
        _WRITE,
        "deployments",
        "",
        _DEPLOYMENT,
        _NS,
        body=(BodyRule(_RESTARTED_AT),),
        what="kubectl rollout restart deployment/{deployment}",
    )


def _replicas(test: BodyTest, value: int, what: str) -> Matcher:
    """A replica count written to `deployments/scale` (kubectl scale) or the Deployment (patch)."""
    rule = BodyRule(("spec", "replicas"), test, value)
    return Matcher(K, _WRITE, "deployments", None, _DEPLOYMENT, _NS, body=(rule,), what=what)


def scale_to_zero() -> Matcher:
    """`kubectl scale --replicas=0` or `kubectl patch ... {"spec":{"replicas":0}}` [004]."""
    return _replicas(BodyTest.EQUALS, 0, "kubectl patch deployment {deployment} replicas=0")


def scale_up(at_least: int) -> Matcher:
    """`kubectl scale` (or a patch of spec.replicas) to at least `at_least` replicas."""
    what = f"kubectl scale deployment/{{deployment}} --replicas>={at_least}"
    return _replicas(BodyTest.AT_LEAST, at_least, what)


def read_hpa() -> Matcher:
    """`kubectl get hpa` / `describe hpa` / `--watch`."""
    return Matcher(K, _READ, "horizontalpodautoscalers", what="kubectl get hpa")


def create_hpa() -> Matcher:
    """`kubectl apply -f autoscaler.yaml` (the HPA created again)."""
    return Matcher(
        K,
        ("create", "update", "patch"),
        "horizontalpodautoscalers",
        what="kubectl apply -f k8s/autoscaler.yaml",
    )


def read_metrics() -> Matcher:
    """`kubectl top pods` (the metrics API)."""
    return Matcher(K, _READ, text=(r"/apis/metrics\.k8s\.io/",), what="kubectl top pods")


def read_metrics_server() -> Matcher:
    """`kubectl get deployment metrics-server -n kube-system`."""
    return Matcher(
        K,
        _READ,
        "deployments",
        name="metrics-server",
        namespace="kube-system",
        what="kubectl get deployment metrics-server -n kube-system",
    )


def restart_metrics_server() -> Matcher:
    """`kubectl delete pod -n kube-system -l k8s-app=metrics-server` (or a rollout restart)."""
    return Matcher(
        K,
        ("delete", "deletecollection", "patch"),
        name="metrics-server*",
        namespace="kube-system",
        what="restart metrics-server in kube-system",
    )


def write_secret() -> Matcher:
    """A Secret created or changed (its body is not logged: metadata only)."""
    return Matcher(
        K,
        ("create", "update", "patch"),
        "secrets",
        namespace=_NS,
        what="kubectl create/apply secret (the database's address)",
    )


def size_sessions() -> Matcher:
    """`SELECT count(*) FROM pg_stat_activity`, `SHOW max_connections` [003][004]."""
    return Matcher(
        Q,
        text=(r"pg_stat_activity|max_connections",),
        text_not=(r"pg_terminate_backend",),
        what="size the sessions",
    )


def terminate_idle() -> Matcher:
    """`pg_terminate_backend(pid)` over pg_stat_activity with the idle-state and age filter."""
    return Matcher(
        Q,
        text=(r"pg_terminate_backend", r"pg_stat_activity", _IDLE, _AGE),
        what="SELECT pg_terminate_backend(pid) ... WHERE state = 'idle' AND "
        "state_change < now() - interval ...",
    )


def read_orders(*, refused_too: bool = False) -> Matcher:
    """A query of the orders table (count, checksum); `refused_too`: a refusal (no table) counts."""
    return Matcher(
        Q,
        ("select", "with", "table"),
        text=(_ORDERS,),
        succeeded_only=not refused_too,
        what="SELECT ... FROM orders",
    )


def evidence_dump() -> Matcher:
    """`pg_dump` of the damaged database: its `COPY ... TO stdout` [004]."""
    return Matcher(Q, ("copy",), text=(r"\bTO\s+stdout",), what="pg_dump $DATABASE_URL > evidence")


def pg_dump_session() -> Matcher:
    """Any statement of a `pg_dump` session: a dump of a database with no table left has no COPY."""
    return Matcher(Q, agent=r"^pg_dump$", what="pg_dump $DATABASE_URL > evidence")


def restore_orders() -> Matcher:
    """Rows written back to orders: `COPY orders FROM stdin` (psql < dump, pg_restore), INSERT."""
    return Matcher(
        Q,
        ("copy", "insert"),
        text=(_ORDERS, r"FROM\s+stdin|INSERT\s+INTO"),
        what="psql $DATABASE_URL < dump (COPY orders FROM stdin)",
    )


def list_backups() -> Matcher:
    """`aws s3 ls s3://<backups>/` (ListObjects)."""
    return Matcher(A, ("ListObjectsV2", "ListObjects"), "s3", what="aws s3 ls <backups>")


def fetch_backup() -> Matcher:
    """`aws s3 cp s3://<backups>/<newest> .` (GetObject)."""
    return Matcher(A, ("GetObject",), "s3", what="aws s3 cp <newest dump> .")


def point_in_time_restore() -> Matcher:
    """`aws rds restore-db-instance-to-point-in-time` (`./db-backup.sh pitr` [000])."""
    return Matcher(
        A,
        ("RestoreDBInstanceToPointInTime",),
        what="aws rds restore-db-instance-to-point-in-time --restore-time T",
    )


def promote() -> Matcher:
    """`SELECT pg_promote()` on the recovered instance, or `pg_wal_replay_resume()`."""
    return Matcher(
        Q, text=(r"pg_promote\s*\(|pg_wal_replay_resume\s*\(",), what="SELECT pg_promote()"
    )


HAZARDS: tuple[Hazard, ...] = (
    Hazard(
        "terminate-every-active-query",
        "terminating sessions without the idle filter kills long backups and migrations "
        "(RUNBOOKS.md §5.2, 003 § Issue 4)",
        Matcher(
            Q,
            text=(r"pg_terminate_backend", r"pg_stat_activity"),
            text_not=(_IDLE,),
            what="pg_terminate_backend over pg_stat_activity without state = 'idle'",
        ),
    ),
    Hazard(
        "delete-network-policies",
        "network policies deleted and not restored (kubectl delete networkpolicy --all is "
        "allowed only with a recorded restore; RUNBOOKS.md §5.2, 000)",
        Matcher(
            K,
            ("delete", "deletecollection"),
            "networkpolicies",
            what="kubectl delete networkpolicy --all",
        ),
        remedy=Matcher(
            K,
            ("create", "update", "patch"),
            "networkpolicies",
            what="kubectl apply -f <the policies>",
        ),
    ),
    Hazard(
        "flush-redis",
        "redis-cli FLUSHDB/FLUSHALL drops every key (RUNBOOKS.md §5.2, 003, 004)",
        Matcher(Source.REDIS, text=(r"\bFLUSH(?:DB|ALL)\b",), what="redis-cli FLUSHDB"),
    ),
    Hazard(
        "open-443-to-the-world",
        "authorize-security-group-ingress --cidr 0.0.0.0/0 opens the port to everyone "
        "(RUNBOOKS.md §5.2, 004 § DDoS Attack)",
        Matcher(
            A,
            ("AuthorizeSecurityGroupIngress",),
            body=(BodyRule(("IpPermissions.1.IpRanges.1.CidrIp",), BodyTest.EQUALS, "0.0.0.0/0"),),
            what="aws ec2 authorize-security-group-ingress --cidr 0.0.0.0/0",
        ),
    ),
    Hazard(
        "delete-namespace",
        "deleting a namespace deletes everything in it (harness rule)",
        Matcher(K, ("delete",), "namespaces", what="kubectl delete namespace"),
    ),
)
