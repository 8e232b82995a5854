"""Database DSNs read from the environment: present and shaped like something libpq accepts.

A profile never stores a DSN; it names the variable that holds one (`[targets] database_dsn_env`,
`admin_dsn_env`). `read_dsn` reads that variable and refuses an unset, empty or malformed value
with the profile file, the key and the fix. The value itself never appears in a message: it may
hold a password. The check is the shape libpq parses (a `postgresql://` URI or `key=value`
pairs with libpq's keywords), not whether the server answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from drills.core.errors import ConfigError

__all__ = ["dsn_problem", "read_dsn"]

_SCHEMES = ("postgresql://", "postgres://")
# libpq's connection keywords (PostgreSQL 16-17, `PQconndefaults`); any other is refused by it.
_KEYWORDS = frozenset(
    {
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "require_auth",
        "channel_binding",
        "connect_timeout",
        "client_encoding",
        "options",
        "application_name",
        "fallback_application_name",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "replication",
        "gssencmode",
        "sslmode",
        "sslnegotiation",
        "requiressl",
        "sslcompression",
        "sslcert",
        "sslkey",
        "sslpassword",
        "sslcertmode",
        "sslrootcert",
        "sslcrl",
        "sslcrldir",
        "sslsni",
        "requirepeer",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "krbsrvname",
        "gsslib",
        "gssdelegation",
        "service",
        "target_session_attrs",
        "load_balance_hosts",
    }
)
# keyword = value, the value single-quoted (backslash escapes) or up to the next whitespace
_PAIR = re.compile(r"\s*([A-Za-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']\S*)\s*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FIX = "postgresql://USER@HOST:5432/DBNAME (or libpq pairs: host=HOST dbname=DBNAME user=USER)"


def dsn_problem(value: str) -> str | None:
    """What makes `value` no PostgreSQL DSN, in words that never quote it; None when it is one."""
    if not value.strip():
        return "is empty"
    if _CONTROL.search(value):
        return "contains a control character (a line break or tab pasted in?)"
    if "://" in value:
        return _uri_problem(value.strip())
    return _pairs_problem(value)


def _uri_problem(value: str) -> str | None:
    if not value.startswith(_SCHEMES):
        return "is a URL whose scheme is not postgresql:// or postgres://"
    if any(c.isspace() for c in value):
        return "is a URI with a space in it (percent-encode it as %20)"
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a port that is not a number in 0-65535
    except ValueError:
        return "is a URI whose host or port cannot be read (the port must be a number)"
    if parts.fragment:
        return "is a URI with a #fragment, which libpq does not accept"
    for item in filter(None, parts.query.split("&")):
        keyword = item.partition("=")[0]
        if "=" not in item or keyword not in _KEYWORDS:
            return "is a URI whose ?parameters are not libpq keyword=value pairs"
    return None


def _pairs_problem(value: str) -> str | None:
    position = 0
    while position < len(value):
        match = _PAIR.match(value, position)
        if match is None or match.end() == position:
            return "is neither a postgresql:// URI nor libpq key=value pairs"
        if match.group(1) not in _KEYWORDS:
            return "has a key=value pair whose key is not a libpq keyword"
        position = match.end()
    return None


def read_dsn(
    environ: Mapping[str, str], name: str | None, *, key: str, where: Path | str
) -> str | None:
    """The DSN in the variable `name` (None when the profile names none).

    `key` is the profile key that names the variable (`targets.database_dsn_env`). Raises
    ConfigError naming `where` (the profile file), the key, the variable and the fix when the
    variable is unset, empty or not a DSN; the value is never quoted.
    """
    if name is None:
        return None
    value = environ.get(name)
    if value is None:
        raise ConfigError.bad_key(
            where, key, f"names ${name}, which is not set", f"export {name}={_FIX} before the run"
        )
    problem = dsn_problem(value)
    if problem is not None:
        raise ConfigError.bad_key(
            where,
            key,
            f"names ${name}, whose value {problem} (the value is not shown: it may hold a "
            "password)",
            f"export {name}={_FIX}",
        )
    return value
