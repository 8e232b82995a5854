"""DSN rewriting: passwords never reach a ledger, a log or a report."""

from __future__ import annotations

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
