"""The pure parts of the credential rotation: passwords, URLs, the ledger plan, the verdict."""

from __future__ import annotations

import base64
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drills.core.errors import ConfigError
from drills.core.rotation import (
    LoginAttempt,
    LoginRecord,
    RotationOrder,
    RotationPlan,
    fingerprint,
    judge_logins,
    new_password,
    role_of,
    with_credential,
)

URL = "postgresql://app@10.244.1.1:5432/shop"


def test_a_new_password_is_openssl_rand_base64_32() -> None:
    first, second = new_password(), new_password()
    assert len(base64.b64decode(first, validate=True)) == 32
    assert len(first) == 44
    assert first != second


@given(st.text(min_size=1, max_size=40))
def test_any_password_survives_the_url_as_libpq_reads_it(password: str) -> None:
    url = with_credential(URL, "shop_login_x", password)
    parts = urlsplit(url)
    assert unquote(parts.password or "") == password
    assert (parts.username, parts.hostname, parts.port, parts.path) == (
        "shop_login_x",
        "10.244.1.1",
        5432,
        "/shop",
    )


def test_a_url_replaces_any_credential_it_had_and_keeps_an_ipv6_host() -> None:
    assert with_credential("postgresql://a:b@[::1]:5/db?x=1", "r", "p+/=") == (
        "postgresql://r:p%2B%2F%3D@[::1]:5/db?x=1"
    )
    assert role_of(URL) == "app"
    assert role_of(None) == ""


def test_the_fingerprint_recognises_a_value_without_holding_it() -> None:
    assert fingerprint(URL) == fingerprint(URL) != fingerprint(URL + "x")
    assert URL not in fingerprint(URL)


def test_the_plan_goes_through_the_ledger_and_back() -> None:
    plan = RotationPlan("default", "shop", ("r1", "r2"), "abc", "postgresql://postgres@h/shop")
    assert RotationPlan.from_args(plan.args()) == plan
    assert plan.target == "default/secret/shop-database"
    with pytest.raises(ConfigError, match="lacks roles, original_sha256"):
        RotationPlan.from_args({"namespace": "default", "deployment": "shop", "admin_dsn": "x"})


def _attempt(at_s: float, *, accepted: bool, credential: str = "old") -> LoginAttempt:
    detail = "ok" if accepted else 'FATAL:  password authentication failed for user "r"'
    return LoginAttempt(at_s, credential, "r", accepted, detail)


def test_no_refused_login_is_no_reason_to_fail() -> None:
    record = LoginRecord([_attempt(1.0, accepted=True), _attempt(2.0, accepted=True)])
    assert judge_logins(record, RotationOrder.RUNBOOK, since_s=0.0, user_failures=0) is None
    assert record.summary(0.0) == "all 2 logins with the pods' credentials were accepted"


def test_a_refused_login_fails_naming_when_the_order_and_what_users_saw() -> None:
    record = LoginRecord(
        [
            _attempt(10.5, accepted=True),
            _attempt(11.0, accepted=False),
            _attempt(13.0, accepted=False),
            _attempt(14.0, accepted=True, credential="new"),
        ]
    )
    assert record.first_refused() == record.attempts[1]
    reason = judge_logins(record, RotationOrder.WRONG_ORDER, since_s=10.0, user_failures=0)
    assert reason == (
        "the database refused the credential the running pods carry: 2 of 4 logins with the "
        "credential the running pods carried were refused (old credential, role r), from +1.0 s "
        'to +3.0 s: FATAL:  password authentication failed for user "r"; users saw no failed '
        "request only because the pods kept their open connections. Order performed: "
        + RotationOrder.WRONG_ORDER.describe()
    )
    assert "before the Secret and the pods were updated" in RotationOrder.WRONG_ORDER.describe()
