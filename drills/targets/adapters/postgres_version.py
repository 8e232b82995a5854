"""Ask a PostgreSQL server its version (`SHOW server_version`) for the run's provenance."""

from __future__ import annotations

import psycopg

__all__ = ["server_version"]

_CONNECT_TIMEOUT_S = 3  # provenance is worth a short wait, never a stalled drill


def server_version(dsn: str) -> str:
    """The server's `server_version` (e.g. "16.2"); "" when it cannot be reached or asked."""
    try:
        with psycopg.connect(
            dsn,
            connect_timeout=_CONNECT_TIMEOUT_S,
            application_name="drills-provenance",
            autocommit=True,
        ) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return ""
    return str(row[0]) if row else ""
