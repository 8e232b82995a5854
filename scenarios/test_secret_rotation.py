"""RUNBOOKS.md §3.14 `secret-rotation`: change the shop's database credential under load.

No fault breaks anything: the rotation itself is the change under load, and what can go wrong
is its order. Before the steady state the shop is moved onto a password-checked login role of
its own (`Drill.prepare`: the sandbox trusts its usual role). Then the runbook's steps, in its
order ([002] § Secret Rotation): generate the password; create the new credential in
PostgreSQL beside the old one (the step the seed leaves out, placed where old and new overlap,
§5.1); `kubectl create secret generic shop-database-new`; `kubectl set env
--from=secret/shop-database-new` (with `--prefix=DATABASE_`, so the key `url` lands in the one
variable the shop reads); `kubectl rollout restart`; wait until every pod runs with the new
Secret; give the new Secret the old name (`kubectl rename` does not exist: the safe form copies
the new URL over the old Secret, points the Deployment back at it and then deletes the new
one); revoke the old credential; verify.

Throughout, every poll makes a real login with each credential the running pods may carry: the
old one while a pod from before the rotation is listed, the new one once the Deployment reads
the new Secret. A refusal means any reconnect, restart or scale-out in that window fails, so it
FAILs the drill, naming the order performed. The variant `wrong-order` changes the password of
the running role in PostgreSQL first, as the seed's single-username Secret invites: the drill
must catch it. At the end a real login with the old password must be refused and one with the
new password accepted. Users must stay inside `[thresholds] error_budget`, no acknowledged write
may be lost (the rotation touches no data), and the shop's RTO (15 min [002]) is judged from the
first database change. The rollback recorded before the preparation gives back the original
Secret, the Deployment reading it, the shop rolled out on it, and no login role left.
"""

from __future__ import annotations

import pytest

from drills import Database, Drill, Profile, Workload, endpoints_listed, replicas_ready
from drills.core.incident import Milestone
from drills.core.profile import Endpoints
from drills.core.rotation import LoginAttempt, RotationOrder, judge_logins
from drills.faults.rotation import SecretRotation
from fixtures.kube import ReplicaSampler, cluster_bound
from fixtures.load import Traffic, judge_error_budget

WAIT_CAP_S = 300.0  # each wait is bounded; the RTO verdict still uses the profile's target
DATABASE_STEP = {
    RotationOrder.RUNBOOK: "Create the new credential in PostgreSQL beside the old one",
    RotationOrder.WRONG_ORDER: "Change the password in PostgreSQL first (wrong order)",
}
_EVIDENCE = "evidence of the rotation; the RTO and the login and user checks judge it"


@pytest.mark.gate
@pytest.mark.drill(
    id="secret-rotation",
    runbook="RUNBOOKS.md §3.14",
    service="shop",
    severity="P2",
    variants=("runbook", "wrong-order"),
)
def test_secret_rotation(  # noqa: PLR0913 - one fixture per port the drill touches
    drill: Drill,
    drill_profile: Profile,
    drill_endpoints: Endpoints,
    drill_variant: str,
    shop: Workload,
    traffic: Traffic,
    database: Database,
    secret_rotation: SecretRotation,
    replica_timeline: ReplicaSampler,
) -> None:
    order, rotation = RotationOrder(drill_variant), secret_rotation
    limits = drill_profile.thresholds
    serving = replicas_ready(shop) & endpoints_listed(shop)
    users_ok = traffic.users_ok(drill, limits)
    existing = set(database.orders_present())  # rows from earlier runs are not this drill's
    rotation.check_preconditions()
    drill.prepare(cluster_bound(rotation.login_role(), shop, drill_endpoints))
    traffic.start()
    drill.expect_steady_state(serving & users_ok & rotation.accepted("old"))
    rotation.on_refused = lambda attempt: _detected(drill, attempt)

    with drill.step("Generate the new password (openssl rand -base64 32)"):
        rotation.generate()
        started_s = drill.clock.now()
    with drill.step(DATABASE_STEP[order]):
        drill.inject(cluster_bound(rotation.change(order), shop, drill_endpoints))
        rotation.check_logins()
    with drill.step("kubectl create secret generic shop-database-new"):
        rotation.create_new_secret()
        rotation.check_logins()
    with drill.step("kubectl set env deployment/shop --from=secret/shop-database-new"):
        rotation.point_at_new_secret()
        rotation.check_logins()
    with drill.step("kubectl rollout restart deployment/shop"):
        rotation.restart()
        rotation.check_logins()
    with drill.step("Wait for the rollout: every pod runs with the new Secret"):
        drill.await_recovery(
            rotation.watched(rotation.on_new_secret() & serving),
            timeout_s=_left_s(drill),
            stable_for_s=0,
            milestone="every pod on the new Secret",
        )
    with drill.step("Give the new Secret the old name (no kubectl rename: copy, then delete)"):
        _rename(drill, rotation)
    with drill.step("Revoke the old credential"):
        _revoke(drill, rotation, order, started_s)
    with drill.step("Verify: old password refused, new one logs in, users served"):
        drill.await_recovery(
            rotation.watched(serving & users_ok & rotation.accepted("new")),
            timeout_s=_left_s(drill),
        )
        _prove_final_logins(drill, rotation)

    users = traffic.record_user_side(drill, error_budget=limits.error_budget)
    _record_logins(drill, rotation)
    drill.assert_rto()
    failures = users.failures if users is not None else 0
    reason = judge_logins(
        rotation.record, order, since_s=drill.fault_at_s or started_s, user_failures=failures
    )
    if reason is not None:  # the order let a login fail: FAIL, naming it
        raise AssertionError(reason)
    traffic.stop()  # every acknowledged write is in the ledger before the comparison
    verified = traffic.verify_writes(drill, database, existing=existing)
    drill.assert_rpo(verified.report, lossless=True)  # a rotation touches no data
    judge_error_budget(users, limits.error_budget)


def _left_s(drill: Drill) -> float:
    """What is left of the RTO target (at least a second), capped so no wait is unbounded."""
    spent_s = drill.clock.now() - (drill.fault_at_s or drill.clock.now())
    return min(WAIT_CAP_S, max(1.0, drill.rto_target_s() - spent_s + 1.0))


def _detected(drill: Drill, attempt: LoginAttempt) -> None:
    """TTD: the first refused login with a credential the running pods carry."""
    drill.record_detected(
        f"login as {attempt.role} with the {attempt.credential} password refused while pods "
        f"carried it: {attempt.detail} (DatabaseConnectionFailed [002] would have cause)"
    )


def _rename(drill: Drill, rotation: SecretRotation) -> None:
    """Runbook step 5 in its safe form (see `SecretRotation.copy_over_old_secret`)."""
    drill.say(
        "`kubectl rename` does not exist (RUNBOOKS.md §5.2): the new URL is copied over "
        "secret/shop-database, the Deployment reads it again, then shop-database-new is deleted"
    )
    rotation.copy_over_old_secret()
    drill.wait_until(
        rotation.watched(rotation.on_renamed_secret() & replicas_ready(rotation.shop)),
        timeout_s=_left_s(drill),
        description="the rollout back onto secret/shop-database",
    )
    deleted = rotation.delete_new_secret()
    drill.record_since_fault(
        "new Secret renamed",
        detail="shop-database holds the new URL and is read again; shop-database-new "
        + ("deleted" if deleted else "was already gone"),
        no_target=_EVIDENCE,
    )


def _revoke(drill: Drill, rotation: SecretRotation, order: RotationOrder, started_s: float) -> None:
    """Revoke the old login once no pod carries it; a session still on it is a FAIL."""
    still_open = rotation.revoke_old(order)
    drill.record_figure(
        "rotation duration",
        drill.clock.now() - started_s,
        "s",
        detail="from the new password to the old credential revoked",
        no_target=_EVIDENCE,
    )
    drill.record_figure(
        "sessions on the old credential when revoked",
        None if still_open is None else float(still_open),
        "sessions",
        target=0.0,
        detail="ended by the revocation"
        if still_open is not None
        else "the wrong order replaced the old password at its first step: nothing left to revoke",
    )
    if still_open:
        raise AssertionError(
            f"{still_open} sessions were still logged in with the old credential when it was "
            "revoked: a pod still carried it after the rollout"
        )


def _prove_final_logins(drill: Drill, rotation: SecretRotation) -> None:
    """A real login with each password: the old refused, the new accepted."""
    (old_ok, old_said), (new_ok, new_said) = rotation.final_logins()
    drill.record_figure(
        "logins accepted with the old password",
        1.0 if old_ok else 0.0,
        "logins",
        target=0.0,
        detail=f"as {rotation.old_role}: {old_said}",
    )
    drill.record_figure(
        "logins refused with the new password",
        0.0 if new_ok else 1.0,
        "logins",
        target=0.0,
        detail=new_said,
    )
    if old_ok:
        raise AssertionError(f"the old password still logs in ({old_said}): it was not revoked")
    if not new_ok:
        raise AssertionError(f"the new password is refused: {new_said}")


def _record_logins(drill: Drill, rotation: SecretRotation) -> None:
    """The logins made with the pods' credentials during the rotation, and TTD if none failed."""
    record = rotation.record
    since_s = drill.fault_at_s or drill.clock.now()
    drill.record_figure(
        "refused logins with the pods' credentials",
        float(len(record.refused)),
        "logins",
        target=0.0,
        detail=record.summary(since_s),
    )
    if not drill.has_recorded(Milestone.TTD):
        drill.record_not_detected(
            f"no login with the pods' credentials was refused ({len(record.attempts)} tried): "
            "a rotation in the runbook's order raises no alert ([002] DatabaseConnectionFailed)"
        )
