"""The `data-reinstate` rollback kind (entry point group `drills.rollbacks`).

It composes what `drills.targets.adapters.reinstate` needs from a rollback entry: the local
PostgreSQL instances of the sandbox (`LocalPostgresFactory` under the plan's root) and the
cluster's Secret and Deployment (`KubeServiceConfig` through the recorded kubeconfig and
context). It lives at the top layer because it joins the sandbox and the adapters; the drills
use the same `reinstate_from_plan()` in process, so a replay does exactly what the drill does.
"""

from __future__ import annotations

from pathlib import Path

from drills.core.clock import DrillClock, SystemClock
from drills.core.safety import Allowlist, Replayed, RollbackEntry, RollbackRegistry
from drills.sandbox.postgres import LocalPostgresFactory
from drills.targets.adapters.kube import connect
from drills.targets.adapters.kube_config import KubeServiceConfig
from drills.targets.adapters.reinstate import (
    REINSTATE_KIND,
    Reinstated,
    ReinstatePlan,
    reinstate,
)
from drills.targets.ports.config import ServiceConfig

__all__ = ["register_rollbacks", "reinstate_from_plan", "service_config_from_plan"]


def service_config_from_plan(plan: ReinstatePlan, *, clock: DrillClock) -> KubeServiceConfig:
    """The Secret and Deployment the plan names, through its kubeconfig and context."""
    allowlist = Allowlist(kube_contexts=(plan.context,), namespaces=(plan.namespace,))
    api = connect(Path(plan.kubeconfig), allowlist=allowlist, context=plan.context)
    return KubeServiceConfig(
        api, plan.namespace, plan.deployment, secret=plan.secret, key=plan.key, clock=clock
    )


def reinstate_from_plan(
    plan: ReinstatePlan,
    *,
    clock: DrillClock,
    config: ServiceConfig | None = None,
    primary_url: str | None = None,
) -> Reinstated:
    """Run the reinstate on the sandbox instances the plan names."""
    factory = LocalPostgresFactory(plan.postgres_root)
    return reinstate(
        plan,
        primary=factory.empty(plan.primary),
        restored=factory.empty(plan.restored),
        config=config or service_config_from_plan(plan, clock=clock),
        clock=clock,
        primary_url=primary_url,
    )


def replay_reinstate(entry: RollbackEntry) -> Replayed:
    """Replay one pending `data-reinstate` entry from the ledger."""
    done = reinstate_from_plan(ReinstatePlan.from_args(entry.args), clock=SystemClock())
    return Replayed.RESTORED if done.did_anything else Replayed.ALREADY


def register_rollbacks(registry: RollbackRegistry) -> None:
    """Register the `data-reinstate` kind and the replica-promote kinds built on it."""
    from drills.cli.backup_rollbacks import register_backup_rollbacks
    from drills.cli.db_connection_rollbacks import register_db_connection_rollbacks
    from drills.cli.rds_rollbacks import register_rds_rollbacks
    from drills.cli.region_rollbacks import register_region_rollbacks
    from drills.cli.replica_rollbacks import register_replica_rollbacks  # imports this module

    registry.register(REINSTATE_KIND, replay_reinstate)
    register_replica_rollbacks(registry)
    register_backup_rollbacks(registry)  # backup-verification: the CronJob chain, the test instance
    register_db_connection_rollbacks(registry)  # db-connection-failure: server, settings, host
    register_rds_rollbacks(registry)  # the RDS profile: every instance a data drill restored
    register_region_rollbacks(registry)  # region-failover: backup region, primary, entry
