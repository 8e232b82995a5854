"""Rotate the shop's database credential under load (RUNBOOKS.md §3.14), step by step.

`SecretRotation` performs each runbook step as one call, so the scenario can time each as a named
step, and keeps the credentials only in memory (each password is taught to the redactor the
moment it exists). The changes that need a rollback are Faults of kind `secret-rotation`:

- `login_role()`, for `Drill.prepare`: the shop starts the drill on a password-checked login
  role of its own (the sandbox trusts its usual role without a password, so there would be
  nothing to rotate). The original URL is first copied into Secret `kept_secret`, the role is
  created beside the data's owner (a member of it), the server must refuse it a wrong password,
  then the Secret holds the role's URL and the shop is rolled out on it.
- `create_alongside()` (the `runbook` order) or `change_password_first()` (`wrong-order`), for
  `Drill.inject`: the first change of the rotation itself, which starts the RTO clock.

Both record the same rollback (`RotationPlan.args()`): everything back as found, whatever step
was reached (`drills.targets.adapters.rotation_rollbacks.restore_as_found`, handed in as `undo`).
`check_logins()` makes a real login with every credential the running pods may carry: the old
one while any pod from before the rotation is listed, the new one once the Deployment reads the
new Secret. Scenarios call it through `watched(condition)` on every poll of their waits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from drills.core.clock import DrillClock
from drills.core.conditions import Condition, ConditionLike, Observation, observe
from drills.core.errors import CouldNotVerify, DrillError
from drills.core.rotation import (
    SECRET_ROTATION_KIND,
    LoginAttempt,
    LoginRecord,
    RotationOrder,
    RotationPlan,
    new_password,
    with_credential,
)
from drills.core.safety import RollbackEntry
from drills.core.secrets import REDACTOR
from drills.core.waiting import wait_until
from drills.targets.ports.credentials import LoginRoles, SecretStore
from drills.targets.ports.workload import Workload

__all__ = ["Credential", "RotationChange", "SecretRotation"]

ROLLOUT_TIMEOUT_S = 180.0


@dataclass
class Credential:
    """A login the pods may carry: its role and URL (the password lives only in the URL)."""

    label: str  # "old" or "new"
    role: str
    url: str = field(repr=False)
    in_service: bool = False


@dataclass
class RotationChange:
    """One change of the rotation as a Fault whose rollback restores everything (module doc)."""

    plan: RotationPlan
    description: str
    action: Callable[[], None]
    undo: Callable[[], object]
    kind: str = SECRET_ROTATION_KIND

    @property
    def target(self) -> str:
        """The shop's Secret."""
        return self.plan.target

    def describe(self) -> str:
        """The change; the rollback gives the environment back as found."""
        return f"{self.description} (rollback: Secret, Deployment and login roles as found)"

    def rollback_entry(self) -> RollbackEntry:
        """Names and a fingerprint only: no password reaches the ledger."""
        return RollbackEntry(self.kind, self.plan.target, self.plan.args())

    def apply(self) -> None:
        """Make the change."""
        self.action()

    def rollback(self) -> None:
        """Restore as found (idempotent: a second call finds nothing left)."""
        self.undo()


class SecretRotation:
    """The rotation's steps over the ports; see the module docstring."""

    def __init__(  # noqa: PLR0913 - the ports and the plan, keyword-only after them
        self,
        plan: RotationPlan,
        secrets: SecretStore,
        logins: LoginRoles,
        shop: Workload,
        *,
        original_url: str,
        member_of: str,
        source: str | None,
        undo: Callable[[], object],
        clock: DrillClock,
    ) -> None:
        self.plan, self.secrets, self.logins, self.shop = plan, secrets, logins, shop
        self.original_url, self.member_of, self.source = original_url, member_of, source
        self.undo, self.clock = undo, clock
        self.old: Credential | None = None
        self.new: Credential | None = None
        self._new_password = ""
        self._pods_before: set[str] = set()
        self.record = LoginRecord([])
        self.on_refused: Callable[[LoginAttempt], None] = lambda _: None

    @property
    def old_role(self) -> str:
        """The login role the shop starts the drill on."""
        return self.plan.roles[0]

    @property
    def new_role(self) -> str:
        """The login role created beside it in the runbook order."""
        return self.plan.roles[1]

    def _change(self, description: str, action: Callable[[], None]) -> RotationChange:
        return RotationChange(self.plan, description, action, self.undo)

    # -- preparation ------------------------------------------------------------------------
    def check_preconditions(self) -> None:
        """CouldNotVerify unless the shop reads a URL with a user name from the plan's Secret."""
        if self.source != self.plan.secret:
            raise CouldNotVerify(
                f"deployment/{self.plan.deployment} does not read DATABASE_URL from "
                f"secret/{self.plan.secret} (it reads {self.source or 'no Secret'}): there is no "
                "Secret to rotate; apply fixtures/shop/k8s/deployment.yaml unchanged"
            )
        if not self.member_of:
            raise CouldNotVerify(
                f"secret/{self.plan.secret} holds no database URL with a user name under key "
                "`url`; create it as fixtures/shop/k8s/deployment.yaml says"
            )

    def login_role(self) -> RotationChange:
        """The Fault `Drill.prepare` applies: the shop on a password-checked role of its own."""
        return self._change(
            f"give deployment/{self.plan.deployment} a password-checked login role "
            f"{self.old_role} (member of {self.member_of})",
            self._prepare,
        )

    def _prepare(self) -> None:
        self.secrets.write(self.plan.kept_secret, self.original_url)
        password = _remembered(new_password())
        self.logins.create_login(self.old_role, password, member_of=self.member_of)
        self._require_password_check()
        self.old = Credential(
            "old", self.old_role, with_credential(self.original_url, self.old_role, password)
        )
        accepted, said = self.logins.try_login(self.old.url)
        if not accepted:
            raise DrillError(f"the new login role {self.old_role} cannot log in: {said}")
        self.secrets.write(self.plan.secret, self.old.url)
        self.secrets.restart()
        self.wait_rolled_out(f"deployment/{self.plan.deployment} on role {self.old_role}")
        self.old.in_service = True

    def _require_password_check(self) -> None:
        """A server that lets the role in with a wrong password makes the drill prove nothing."""
        wrong = with_credential(self.original_url, self.old_role, new_password())
        accepted, said = self.logins.try_login(wrong)
        if accepted:
            raise CouldNotVerify(
                f"PostgreSQL let role {self.old_role} log in with a wrong password ({said}): its "
                "pg_hba.conf does not check passwords for it, so no refusal could be shown; on "
                "the sandbox restart it (`drills sandbox down && drills sandbox up`, whose "
                "pg_hba.conf asks shop_login_* roles for scram-sha-256), elsewhere require "
                "scram-sha-256 for the rotation's roles"
            )

    def wait_rolled_out(self, what: str) -> None:
        """Wait (bounded) until `kubectl rollout status` would say the rollout finished."""
        wait_until(
            self.rolled_out,
            clock=self.clock,
            timeout_s=ROLLOUT_TIMEOUT_S,
            poll_s=0.25,
            description=what,
        )

    def rolled_out(self) -> Observation:
        """One reading of the rollout."""
        state = self.secrets.rollout()
        return Observation(ok=state.complete, detail=f"rollout: {state.describe()}")

    # -- the rotation, in the runbook's steps -------------------------------------------------
    def generate(self) -> None:
        """Step 1: a new password (`openssl rand -base64 32`), known to the redactor at once."""
        self._new_password = _remembered(new_password())
        self._pods_before = {pod.name for pod in self.shop.pods()}

    def create_alongside(self) -> RotationChange:
        """The `runbook` order's database step: a second login role, old and new both valid."""

        def create() -> None:
            self.logins.create_login(self.new_role, self._new_password, member_of=self.member_of)
            self.new = Credential("new", self.new_role, self._url(self.new_role))

        return self._change(
            f"create login role {self.new_role} beside {self.old_role} (both valid)", create
        )

    def change_password_first(self) -> RotationChange:
        """The `wrong-order` database step: the running role's password changes under the pods."""

        def alter() -> None:
            self.logins.set_password(self.old_role, self._new_password)
            self.new = Credential("new", self.old_role, self._url(self.old_role))

        return self._change(
            f"change the password of {self.old_role} in PostgreSQL while the pods still carry "
            "the old one",
            alter,
        )

    def change(self, order: RotationOrder) -> RotationChange:
        """The database change of `order`."""
        if order is RotationOrder.RUNBOOK:
            return self.create_alongside()
        return self.change_password_first()

    def _url(self, role: str) -> str:
        return with_credential(self.original_url, role, self._new_password)

    def _credential(self, which: Credential | None) -> Credential:
        if which is None:
            raise DrillError("the rotation's steps ran out of order: no credential yet")
        return which

    def create_new_secret(self) -> None:
        """`kubectl create secret generic shop-database-new` with the new credential."""
        self.secrets.write(self.plan.new_secret, self._credential(self.new).url)

    def point_at_new_secret(self) -> None:
        """`kubectl set env deployment/shop --from=secret/shop-database-new --prefix=DATABASE_`."""
        self.secrets.read_from(self.plan.new_secret)
        self._credential(self.new).in_service = True

    def restart(self) -> str:
        """`kubectl rollout restart deployment/shop`."""
        return self.secrets.restart()

    def on_new_secret(self) -> Condition:
        """The rollout finished on the new Secret and no pod from before the rotation is left."""

        def check() -> Observation:
            source = self.secrets.source()
            state = self.secrets.rollout()
            left = self._pods_before & {pod.name for pod in self.shop.pods()}
            ok = state.complete and source == self.plan.new_secret and not left
            return Observation(
                ok,
                f"DATABASE_URL from secret/{source}; rollout: {state.describe()}; "
                f"{len(left)} pods from before the rotation",
            )

        return Condition(f"every pod of deployment/{self.plan.deployment} on the new Secret", check)

    def copy_over_old_secret(self) -> None:
        """Give the new Secret the old name, safe form: overwrite the old one, read it again.

        `kubectl rename` does not exist, and deleting the Secret first (the seed's order) would
        leave a pod that starts meanwhile without its DATABASE_URL: the old Secret is
        overwritten with the new one's URL and DATABASE_URL is pointed back at it (a rollout the
        caller waits for); `delete_new_secret` deletes the new name once that is done.
        """
        self.secrets.write(self.plan.secret, self._credential(self.new).url)
        self.secrets.read_from(self.plan.secret)

    def delete_new_secret(self) -> bool:
        """`kubectl delete secret shop-database-new`, once no pod reads it."""
        return self.secrets.delete(self.plan.new_secret)

    def on_renamed_secret(self) -> Condition:
        """The rollout finished with DATABASE_URL read from the old name again."""

        def check() -> Observation:
            source = self.secrets.source()
            state = self.secrets.rollout()
            return Observation(
                state.complete and source == self.plan.secret,
                f"DATABASE_URL from secret/{source}; rollout: {state.describe()}",
            )

        return Condition(f"deployment/{self.plan.deployment} on secret/{self.plan.secret}", check)

    def revoke_old(self, order: RotationOrder) -> int | None:
        """Revoke the old login (NOLOGIN, no password); the sessions that were still open.

        None in the wrong order: the old password was replaced in the database at its first
        step, so there is no separate login left to revoke.
        """
        old = self._credential(self.old)
        old.in_service = False
        if order is RotationOrder.WRONG_ORDER:
            return None
        return self.logins.revoke_login(old.role)

    # -- evidence -----------------------------------------------------------------------------
    def check_logins(self) -> None:
        """One real login with each credential the running pods may carry (module doc)."""
        if self.old is not None and self.old.in_service and self._pods_before:
            listed = {pod.name for pod in self.shop.pods()}
            self.old.in_service = bool(self._pods_before & listed)
        for credential in (self.old, self.new):
            if credential is None or not credential.in_service:
                continue
            accepted, said = self.logins.try_login(credential.url)
            attempt = LoginAttempt(
                self.clock.now(), credential.label, credential.role, accepted, said
            )
            first = not self.record.refused
            self.record.attempts.append(attempt)
            if not accepted and first:
                self.on_refused(attempt)

    def watched(self, condition: ConditionLike) -> Condition:
        """`condition`, with the logins of the pods' credentials checked on every poll."""

        def check() -> Observation:
            self.check_logins()
            return observe(condition)

        return Condition(f"{getattr(condition, 'name', 'condition')} (logins watched)", check)

    def accepted(self, label: str) -> Condition:
        """A real login with the `old` or `new` credential succeeds."""

        def check() -> Observation:
            credential = self._credential(self.old if label == "old" else self.new)
            accepted, said = self.logins.try_login(credential.url)
            return Observation(accepted, f"login as {credential.role} ({label} password): {said}")

        return Condition(f"the {label} credential logs in", check)

    def final_logins(self) -> tuple[tuple[bool, str], tuple[bool, str]]:
        """A real login with the old password, then with the new: (accepted, server's words)."""
        old, new = self._credential(self.old), self._credential(self.new)
        return self.logins.try_login(old.url), self.logins.try_login(new.url)


def _remembered(password: str) -> str:
    """Teach the redactor `password` (and its URL spelling) before anything could print it."""
    REDACTOR.add(password)
    return password
