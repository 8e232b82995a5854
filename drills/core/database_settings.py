"""`[database]` of a profile: how the drills reach the database's recovery (local or RDS).

`kind = "local"` (the default) restores with the PostgreSQL tools into local instances: the
sandbox's. `kind = "rds"` restores through the RDS API (describe-db-snapshots,
restore-db-instance-from-db-snapshot, restore-db-instance-to-point-in-time, waiters, then
delete-db-instance --skip-final-snapshot as the rollback of every instance a drill created);
it needs the instance, its region, how restored instances are named and which environment
variable holds the DSN of the restored instance's user (its host and port are replaced by the
Endpoint the RDS API answers; the password never sits in a profile).

Identifiers follow the RDS rules (1-63 characters: a letter first, then letters, digits and
hyphens, no two hyphens in a row, none at the end), checked here so a typo fails at load time
rather than at the restore call, mid-drill.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "DATABASE_KINDS",
    "RESTORED_PREFIX_MAX",
    "DatabaseSettings",
    "env_name_problem",
    "rds_identifier_problem",
    "restored_name",
]

DATABASE_KINDS = ("local", "rds")
RESTORED_PREFIX_MAX = 40  # leaves room for "-<drill id>-<6 hex>" within RDS's 63 characters
_RDS_ID = re.compile(r"^[a-z][a-z0-9-]*$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
RDS_ID_MAX = 63


@dataclass(frozen=True)
class DatabaseSettings:
    """The validated `[database]` table (module doc)."""

    kind: str = "local"
    instance_id: str | None = None
    region: str | None = None
    restored_prefix: str = "drills-restored"
    restored_dsn_env: str | None = None
    wait_timeout_s: float = 1800.0  # RDS restores take minutes ([000] says about 5): 30 min cap
    wait_poll_s: float = 15.0
    sandbox_creating_s: float | None = None  # the sandbox's moto backing: modelled `creating`

    @property
    def rds(self) -> bool:
        """True when the drills restore through the RDS API."""
        return self.kind == "rds"


def rds_identifier_problem(value: str, *, max_len: int = RDS_ID_MAX) -> str:
    """Why `value` is not a valid RDS identifier ("" when it is)."""
    if not value or len(value) > max_len:
        return f"must be 1 to {max_len} characters"
    if not _RDS_ID.match(value):
        return "must start with a lower-case letter and hold only a-z, 0-9 and hyphens"
    if "--" in value or value.endswith("-"):
        return "must not hold two hyphens in a row nor end with one"
    return ""


def env_name_problem(value: str) -> str:
    """Why `value` is not an environment variable name ("" when it is)."""
    return "" if _ENV_NAME.match(value) else "must be an upper-case variable name, e.g. RDS_DSN"


def restored_name(prefix: str, drill_id: str, suffix: str) -> str:
    """The name of the instance a drill restores into: `<prefix>-<drill id>-<suffix>`."""
    name = f"{prefix}-{drill_id}-{suffix}"
    problem = rds_identifier_problem(name)
    if problem:
        raise ValueError(f"restored instance name {name!r} {problem}")
    return name
