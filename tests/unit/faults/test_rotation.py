"""SecretRotation over in-memory ports: the runbook order keeps every login, the wrong one not."""

from __future__ import annotations

import json

import pytest

from drills.core.clock import FakeClock
from drills.core.errors import CouldNotVerify
from drills.core.rotation import (
    LoginAttempt,
    RotationOrder,
    RotationPlan,
    fingerprint,
    judge_logins,
)
from drills.faults.rotation import SecretRotation
from drills.targets.ports.workload import PodState
from tests.fakes import FakeWorkload
from tests.rotation_fakes import ORIGINAL_URL, FakeLogins, FakeSecrets

ROLES = ("shop_login_0000000a", "shop_login_0000000b")


def _rotation(secrets: FakeSecrets, logins: FakeLogins, shop: FakeWorkload) -> SecretRotation:
    plan = RotationPlan("default", "shop", ROLES, fingerprint(ORIGINAL_URL), "postgresql://admin")
    generation = [0]

    def rolled() -> None:  # every template change replaces the pods with new names
        generation[0] += 1
        shop.pod_list = [
            PodState(f"shop-g{generation[0]}-{i}", "Running", ready=True) for i in range(3)
        ]

    secrets.rolled = rolled
    return SecretRotation(
        plan,
        secrets,
        logins,
        shop,
        original_url=ORIGINAL_URL,
        member_of="app",
        source=secrets.source(),
        undo=lambda: None,
        clock=FakeClock(),
    )


def _rotate(rotation: SecretRotation, order: RotationOrder) -> list[LoginAttempt]:
    """Every step of the drill, in its order, checking logins as the scenario's polls do."""
    refused: list[LoginAttempt] = []
    rotation.on_refused = refused.append
    rotation.login_role().apply()
    rotation.generate()
    rotation.change(order).apply()
    for step in (rotation.create_new_secret, rotation.point_at_new_secret, rotation.restart):
        rotation.check_logins()
        step()
        rotation.check_logins()
    assert rotation.on_new_secret()().ok
    rotation.copy_over_old_secret()
    assert rotation.on_renamed_secret()().ok
    assert rotation.delete_new_secret()
    rotation.revoke_old(order)
    return refused


def test_the_runbook_order_keeps_every_login_and_revokes_the_old_password() -> None:
    secrets, logins = FakeSecrets(), FakeLogins()
    rotation = _rotation(secrets, logins, FakeWorkload())
    refused = _rotate(rotation, RotationOrder.RUNBOOK)
    assert refused == []
    assert rotation.record.attempts
    assert not rotation.record.refused
    (old_ok, old_said), (new_ok, _) = rotation.final_logins()
    assert (old_ok, new_ok) == (False, True)
    assert "password authentication failed" in old_said
    assert logins.members == {ROLES[0]: "app", ROLES[1]: "app"}
    assert secrets.secrets["shop-database"].startswith(f"postgresql://{ROLES[1]}:")
    assert "shop-database-new" not in secrets.secrets
    assert secrets.reads_from == "shop-database"
    assert secrets.secrets["shop-database-drills-kept"] == ORIGINAL_URL
    verdict = judge_logins(rotation.record, RotationOrder.RUNBOOK, since_s=0.0, user_failures=0)
    assert verdict is None


def test_changing_the_password_first_refuses_the_pods_credential_at_once() -> None:
    rotation = _rotation(FakeSecrets(), FakeLogins(), FakeWorkload())
    refused = _rotate(rotation, RotationOrder.WRONG_ORDER)
    assert len(refused) == 1  # the callback fires for the first refusal only
    assert (refused[0].credential, refused[0].role) == ("old", ROLES[0])
    assert len(rotation.record.refused) >= 2  # and the record keeps every one
    reason = judge_logins(rotation.record, RotationOrder.WRONG_ORDER, since_s=0.0, user_failures=2)
    assert reason is not None
    assert "the password was changed in PostgreSQL before the Secret" in reason
    assert "users saw 2 failed requests during the rotation" in reason
    assert "password authentication failed" in reason
    (old_ok, _), (new_ok, _) = rotation.final_logins()
    assert (old_ok, new_ok) == (False, True)


def test_the_old_credential_leaves_service_only_when_no_pod_from_before_is_listed() -> None:
    secrets, logins, shop = FakeSecrets(), FakeLogins(), FakeWorkload()
    rotation = _rotation(secrets, logins, shop)
    rotation.login_role().apply()
    rotation.generate()
    before = list(shop.pod_list)
    rotation.change(RotationOrder.WRONG_ORDER).apply()
    secrets.rolled = lambda: None  # the rollout has not replaced anyone yet
    rotation.point_at_new_secret()
    rotation.check_logins()
    assert rotation.record.refused  # old pods listed: their credential is still tried
    shop.pod_list = [PodState("shop-new", "Running", ready=True)]
    count = len(rotation.record.attempts)
    rotation.check_logins()
    assert [a.credential for a in rotation.record.attempts[count:]] == ["new"]
    assert before  # the pods from before the rotation were there to begin with


def test_a_server_that_trusts_the_role_makes_the_drill_unverifiable() -> None:
    rotation = _rotation(FakeSecrets(), FakeLogins(trust_everyone=True), FakeWorkload())
    with pytest.raises(CouldNotVerify, match="wrong password"):
        rotation.login_role().apply()


def test_no_password_reaches_the_rollback_entry() -> None:
    secrets, logins = FakeSecrets(), FakeLogins()
    rotation = _rotation(secrets, logins, FakeWorkload())
    _rotate(rotation, RotationOrder.RUNBOOK)
    entry = rotation.change(RotationOrder.RUNBOOK).rollback_entry()
    text = json.dumps(dict(entry.args))
    passwords = [p for p in logins.roles.values() if p]
    assert passwords
    assert not any(p in text for p in passwords)
    assert entry.kind == "secret-rotation"
    assert entry.args["original_sha256"] == fingerprint(ORIGINAL_URL)


def test_preconditions_name_a_deployment_that_does_not_read_the_secret() -> None:
    secrets = FakeSecrets(reads_from="elsewhere")
    rotation = _rotation(secrets, FakeLogins(), FakeWorkload())
    with pytest.raises(
        CouldNotVerify, match="does not read DATABASE_URL from secret/shop-database"
    ):
        rotation.check_preconditions()
