"""Keeping passwords out of ledgers, logs and reports: the one place DSNs are rewritten."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit, urlunsplit

__all__ = ["masked_password", "without_password"]


def _with_userinfo(parts: SplitResult, userinfo: str) -> str:
    host = parts.hostname or ""
    netloc = f"{userinfo}@{host}" if userinfo else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def without_password(url: str) -> str:
    """The URL with its password removed, for files replayed later.

    Whoever replays it gives the password the libpq way (PGPASSWORD or ~/.pgpass).
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return _with_userinfo(parts, parts.username or "")


def masked_password(url: str | None) -> str:
    """The URL with any password shown as `***`, for logs and reports."""
    if url is None:
        return "(none set)"
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return _with_userinfo(parts, f"{parts.username or ''}:***")
