"""DSN rewriting: passwords never reach a ledger, a log or a report."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.secrets import masked_password, without_password


@pytest.mark.parametrize(
    ("url", "stripped", "masked"),
    [
        (
            "postgresql://app:s3cret@db.internal:5432/shop?sslmode=require",
            "postgresql://app@db.internal:5432/shop?sslmode=require",
            "postgresql://app:***@db.internal:5432/shop?sslmode=require",
        ),
        ("postgresql://app@db/shop", "postgresql://app@db/shop", "postgresql://app@db/shop"),
        ("postgresql://:pw@db/shop", "postgresql://db/shop", "postgresql://:***@db/shop"),
    ],
)
def test_passwords_are_removed_or_masked_and_nothing_else_changes(
    url: str, stripped: str, masked: str
) -> None:
    assert without_password(url) == stripped
    assert masked_password(url) == masked
    assert "s3cret" not in without_password(url) + masked_password(url)


def test_no_url_at_all_says_so() -> None:
    assert masked_password(None) == "(none set)"


def test_redactor_masks_every_spelling_of_a_learnt_secret() -> None:
    from drills.core.secrets import Redactor

    redactor = Redactor()
    redactor.add_dsn('postgresql://app:p%40ss&word"x@db/shop')
    text = 'raw p@ss&word"x, json p@ss&word\\"x, html p@ss&amp;word&quot;x, url p%40ss%26word%22x'
    assert "word" not in redactor.redact(text).replace("***", "")


def test_redactor_learns_dsns_kubeconfig_and_aws_keys(tmp_path: Path) -> None:
    from drills.core.secrets import Redactor

    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "users:\n- name: a\n  user:\n    token: tok-123456\n    client-key-data: S0VZS0VZ\n"
        '- name: b\n  user: {"password": "kube-pw-77"}\n'
    )
    redactor = Redactor()
    redactor.add_kubeconfig(kubeconfig)
    redactor.add_environment(
        {
            "AWS_SECRET_ACCESS_KEY": "aws-secret-9",
            "AWS_SESSION_TOKEN": "testing",  # moto's public dummy: not a secret
            "SHOP_DSN": "host=db password='libpq pw' user=app",
        }
    )
    text = "tok-123456 S0VZS0VZ kube-pw-77 aws-secret-9 libpq pw testing"
    assert redactor.redact(text) == "*** *** *** *** *** testing"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://u:hunter22@h:5432/d", "postgresql://u:***@h:5432/d"),
        ("redis://:pw1234@h/0", "redis://:***@h/0"),
        ("host=h password=abc123 user=u", "host=h password=*** user=u"),
        ("Authorization: Bearer eyJhbGciOi.x-y_z", "Authorization: Bearer ***"),
        ("{'authorization': 'Basic dXNlcjpwdw=='}", "{'authorization': 'Basic ***'}"),
        ("http://host:8080/path and Basic checks", "http://host:8080/path and Basic checks"),
    ],
)
def test_credential_shapes_are_masked_whoever_owns_them(text: str, expected: str) -> None:
    from drills.core.secrets import Redactor

    assert Redactor().redact(text) == expected


def test_short_and_public_values_are_not_treated_as_secrets() -> None:
    from drills.core.secrets import Redactor

    redactor = Redactor()
    for value in ("pw", "testing", "", None):
        redactor.add(value)
    assert redactor.known == 0


def test_redact_tree_rewrites_text_files_and_leaves_binary_ones(tmp_path: Path) -> None:
    from drills.core.secrets import Redactor

    redactor = Redactor()
    redactor.add("Sup3rSecret")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.json").write_text('{"x": "Sup3rSecret"}')
    (tmp_path / "b.png").write_bytes(b"\x89PNG\xff Sup3rSecret")
    assert redactor.redact_tree(tmp_path) == [tmp_path / "sub" / "a.json"]
    assert (tmp_path / "sub" / "a.json").read_text() == '{"x": "***"}'
