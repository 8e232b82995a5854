"""Give the environment back as found after a credential rotation, in process or from the ledger.

One function serves the drill's own rollback and `drills rollback` after a crash (kind
`secret-rotation`, registered with the Kubernetes kinds): whatever step the rotation reached,
`restore_as_found` puts the original URL back into the shop's Secret (from the copy kept in the
cluster, checked against the SHA-256 the ledger holds), points `DATABASE_URL` at that Secret
again, deletes the rotation's second Secret, rolls the shop out on the original credential and
waits for it, drops the login roles the rotation created, and deletes the kept copy last (so a
replay interrupted half-way can run again). Each part reads first, so a second replay does
nothing and says so.
"""

from __future__ import annotations

from pathlib import Path

from drills.core.clock import DrillClock, SystemClock
from drills.core.conditions import Observation
from drills.core.errors import ConfigError
from drills.core.rotation import SECRET_ROTATION_KIND, RotationPlan, fingerprint
from drills.core.safety import Allowlist, Replayed, RollbackEntry, RollbackRegistry
from drills.core.waiting import wait_until
from drills.targets.ports.credentials import LoginRoles, SecretStore

__all__ = ["SECRET_ROTATION_KIND", "register_rollbacks", "replay_rotation", "restore_as_found"]

ROLLOUT_TIMEOUT_S = 180.0


def _original_back(plan: RotationPlan, secrets: SecretStore) -> bool:
    """Put the kept original URL back into the Secret; True when something changed."""
    kept, current = secrets.read(plan.kept_secret), secrets.read(plan.secret)
    if kept is None:
        if fingerprint(current) == plan.original_sha256:
            return False
        raise ConfigError(
            f"secret/{plan.secret} in {plan.namespace} does not hold the URL it held before the "
            f"rotation and the kept copy secret/{plan.kept_secret} is gone: put the shop's "
            "database URL back by hand (kubectl create secret generic ... --dry-run=client -o "
            "yaml | kubectl apply -f -), then run `drills rollback` again"
        )
    if fingerprint(kept) != plan.original_sha256:
        raise ConfigError(
            f"secret/{plan.kept_secret} does not hold the URL recorded before the rotation "
            "(its SHA-256 differs): someone changed it; restore the shop's Secret by hand"
        )
    if current == kept:
        return False
    secrets.write(plan.secret, kept)
    return True


def _rolled_out(secrets: SecretStore) -> Observation:
    state = secrets.rollout()
    return Observation(ok=state.complete, detail=f"rollout: {state.describe()}")


def restore_as_found(
    plan: RotationPlan,
    secrets: SecretStore,
    logins: LoginRoles,
    *,
    clock: DrillClock,
    timeout_s: float = ROLLOUT_TIMEOUT_S,
) -> Replayed:
    """Undo every step of a rotation (module doc); RESTORED, or ALREADY when nothing was left.

    Raises ConfigError when the original URL cannot be recognised, WaitTimeout when the
    rollout on it does not finish within `timeout_s`.
    """
    changed = _original_back(plan, secrets)
    if secrets.source() != plan.secret:
        secrets.read_from(plan.secret)
        changed = True
    changed = secrets.delete(plan.new_secret) or changed
    roles_left = logins.existing(plan.roles)
    if changed or roles_left:  # pods may carry a rotated credential: restart them on the original
        secrets.restart()
        wait_until(
            lambda: _rolled_out(secrets),
            clock=clock,
            timeout_s=timeout_s,
            poll_s=0.25,
            description=f"deployment/{plan.deployment} rolled out on the original credential",
        )
    logins.drop_logins(plan.roles)
    kept_deleted = secrets.delete(plan.kept_secret)
    return Replayed.RESTORED if changed or roles_left or kept_deleted else Replayed.ALREADY


def replay_rotation(entry: RollbackEntry) -> Replayed:
    """`drills rollback`: rebuild the ports from the entry (cluster, admin DSN) and restore."""
    from drills.targets.adapters.kube import connect
    from drills.targets.adapters.kube_secrets import KubeSecretStore
    from drills.targets.adapters.postgres import PostgresDatabase
    from drills.targets.adapters.postgres_logins import PostgresLogins

    plan = RotationPlan.from_args(entry.args)
    kubeconfig, context = entry.args.get("kubeconfig"), entry.args.get("context")
    if not kubeconfig or not context:
        raise ConfigError(
            f"the {entry.kind} entry for {entry.target} does not say which cluster it touched; "
            f"restore secret/{plan.secret} from secret/{plan.kept_secret} by hand"
        )
    allowlist = Allowlist(kube_contexts=(str(context),), namespaces=(plan.namespace,))
    allowlist.check_namespace(plan.namespace)
    api = connect(Path(str(kubeconfig)), allowlist=allowlist, context=str(context))
    secrets = KubeSecretStore(api, plan.namespace, plan.deployment)
    logins = PostgresLogins(PostgresDatabase("admin", plan.admin_dsn))
    return restore_as_found(plan, secrets, logins, clock=SystemClock())


def register_rollbacks(registry: RollbackRegistry) -> None:
    """Register `secret-rotation`."""
    registry.register(SECRET_ROTATION_KIND, replay_rotation)
