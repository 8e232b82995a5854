"""A service as the profile describes it, and which drills can run against it.

`[services.<name>]` first held a service's recovery objectives (`rto`, `rpo`). A service a team
wants to drill also says where it runs: its Deployment and namespace, its Kubernetes Service,
the URL users reach, its health and readiness paths, its HPA, its database (the variable holding
the DSN, `postgres` or `rds`) and its load (a locustfile and its user classes, users, spawn
rate). A section without a `deployment` stays what it was: objectives only (e.g. `database`).

`DRILL_REQUIREMENTS` says what each drill needs of a service; `availability()` turns that into
"can run" or "cannot, because ..." for `drills list`, with the key to set. Pure logic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

from drills.core.journeys import Journey

__all__ = [
    "DATABASE_KINDS_OF_SERVICES",
    "DRILL_REQUIREMENTS",
    "KEY_ONLY",
    "Availability",
    "Need",
    "ServiceDatabase",
    "ServiceLedger",
    "ServiceLoad",
    "ServiceWorkload",
    "availability",
]

DATABASE_KINDS_OF_SERVICES = ("postgres", "rds")
KEY_ONLY = "key-only"
"""The payload hash of every write and row when the ledger has no `hash_column` (key alone)."""


class Need(Enum):
    """Something a drill needs the service to have."""

    DEPLOYMENT = "deployment"
    DATABASE = "database"
    HPA = "hpa"
    SERVICE = "service"
    WORKER = "worker"
    DEMO = "demo"  # the drill still uses the demo shop's own tables or settings


_HOW = MappingProxyType(
    {
        Need.DEPLOYMENT: 'no Deployment: set deployment = "<name>"',
        Need.DATABASE: "no database: add [services.{name}.database]",
        Need.HPA: 'no HPA: set hpa = "<name>"',
        Need.SERVICE: 'no Kubernetes Service: set service = "<name>"',
        Need.WORKER: 'no background worker: set worker = "<Deployment>"',
        Need.DEMO: "this drill still uses the demo shop's own tables or settings (its release "
        "switches, its orders table); `drills list` shows the drills that run for any service",
    }
)

_D, _DB, _H, _S, _W = Need.DEPLOYMENT, Need.DATABASE, Need.HPA, Need.SERVICE, Need.WORKER
_X = Need.DEMO  # checked against another service: remove it from a drill once it is
DRILL_REQUIREMENTS: Mapping[str, frozenset[Need]] = MappingProxyType(
    {
        "crashloop-rollback": frozenset({_D}),
        "pod-kill-under-load": frozenset({_D}),
        "oom-memory-leak": frozenset({_D, _X}),
        "db-connection-failure": frozenset({_D, _DB}),
        "db-pool-exhaustion": frozenset({_D, _DB}),
        "snapshot-restore": frozenset({_D, _DB}),
        "pitr": frozenset({_D, _DB}),
        "backup-verification": frozenset({_DB, _X}),
        "hpa-spike": frozenset({_D, _H, _X}),
        "high-cpu-latency": frozenset({_D, _DB, _X}),
        "error-rate-rollback": frozenset({_D, _X}),
        "ingress-unreachable": frozenset({_D, _S, _X}),
        "node-drain-reboot": frozenset({_D}),
        "secret-rotation": frozenset({_D, _DB, _X}),
        "disk-space-exhausted": frozenset({_D, _X}),
        "worker-queue-backlog": frozenset({_D, _W, _X}),
        "region-failover": frozenset({_D, _DB, _X}),
        "ddos-rate-limit": frozenset({_D, _X}),
    }
)
"""What each drill needs of the service it drills (tests check every scenario has an entry)."""


@dataclass(frozen=True)
class ServiceDatabase:
    """`[services.<name>.database]`: where the service keeps its data.

    `dsn_env` names the variable holding the DSN (never the DSN itself); None means the
    environment's endpoints give it (the sandbox's endpoints.json).
    """

    kind: str = "postgres"
    dsn_env: str | None = None


@dataclass(frozen=True)
class ServiceLoad:
    """`[services.<name>.load]`: the traffic users make, for the service's drills.

    `journeys` (`[[services.<name>.journeys]]`) stand in for a locustfile: the generic user
    runs them (drills.core.journeys); a service gives one or the other, never both.
    """

    locustfile: str | None = None
    user_classes: tuple[str, ...] = ()
    users: int | None = None
    spawn_rate: float | None = None
    journeys: tuple[Journey, ...] = ()


@dataclass(frozen=True)
class ServiceLedger:
    """`[services.<name>.ledger]`: where the acknowledged writes are read back after recovery.

    The write ledger's keys are looked up in `key_column` of `table`, and each row's
    `hash_column` must equal the payload hash the load declared (`drills.load.acknowledge`).
    Without a `hash_column` (a service that stores no hash of ours, e.g. one drilled through
    journeys) only the key's presence is checked: every write and row then carries the hash
    `KEY_ONLY`, so a row altered after its acknowledgement goes unseen.
    The default is the demo shop's `orders` table.
    """

    table: str = "orders"
    key_column: str = "order_key"
    hash_column: str | None = "payload_hash"

    @property
    def is_shop(self) -> bool:
        """The demo shop's contract (its hash is recomputed from the row's content)."""
        return self == ServiceLedger()


@dataclass(frozen=True)
class ServiceWorkload:
    """Where a service runs and how it is reached (a section with a `deployment`)."""

    deployment: str
    namespace: str | None = None
    service: str | None = None
    url: str | None = None
    pod_url: str | None = None  # where pods in the cluster reach it (--load-in-cluster)
    health_path: str = "/healthz"
    ready_path: str = "/readyz"
    hpa: str | None = None
    worker: str | None = None
    database: ServiceDatabase | None = None
    load: ServiceLoad = field(default_factory=ServiceLoad)
    ledger: ServiceLedger = field(default_factory=ServiceLedger)

    def has(self, need: Need) -> bool:
        """Whether the service provides `need`."""
        provided = {
            Need.DEPLOYMENT: True,
            Need.DATABASE: self.database is not None,
            Need.HPA: self.hpa is not None,
            Need.SERVICE: self.service is not None,
            Need.WORKER: self.worker is not None,
            Need.DEMO: self.ledger.is_shop,  # it speaks the demo shop's contract
        }
        return provided[need]


@dataclass(frozen=True)
class Availability:
    """Whether `drill` can run against `service`; `why` lists what is missing."""

    service: str
    drill: str
    why: tuple[str, ...] = ()

    @property
    def runnable(self) -> bool:
        """Nothing is missing."""
        return not self.why


def availability(
    name: str, workload: ServiceWorkload | None, drills: Iterable[str]
) -> list[Availability]:
    """For each drill id: can it run against service `name`, and if not, what to set.

    A drill with no entry in DRILL_REQUIREMENTS is reported as such rather than guessed.
    """
    found = []
    for drill in drills:
        needs = DRILL_REQUIREMENTS.get(drill)
        if needs is None:
            found.append(Availability(name, drill, ("its needs are not declared",)))
            continue
        missing = sorted(
            (n for n in needs if workload is None or not workload.has(n)), key=lambda n: n.value
        )
        why = tuple(_HOW[n].format(name=name) for n in missing)
        found.append(Availability(name, drill, why))
    return found
