"""Rollback kinds of `db-connection-failure` (RUNBOOKS.md §3.4) for `drills rollback`.

Registered through the `reinstate` entry point (`drills.cli.reinstate.register_rollbacks`). They
live at this layer because the stopped server is started again as the sandbox starts it
(`LocalPostgres` under the recorded root, with the recorded settings), which the adapters may
not import. Each replay is idempotent: what the drill's recovery already put back is left
alone (`Replayed.ALREADY`).

- `database-stopped`: start the server on its data directory and the recorded port;
- `database-settings`: ALTER SYSTEM RESET the recorded names still set, then reload (the admin
  DSN is stored without its password: libpq takes it from PGPASSWORD or ~/.pgpass);
- `database-host`: put the recorded host back into the Secret's URL where the wrong one still
  is, then `rollout restart`.
"""

from __future__ import annotations

import re

from drills.core.errors import ConfigError
from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry
from drills.faults.database import (
    DATABASE_HOST,
    DATABASE_STOPPED,
    SERVER_SETTINGS,
    restore_host,
    start_again,
)
from drills.sandbox.postgres import LocalPostgres
from drills.targets.adapters.entry_cluster import entry_api
from drills.targets.adapters.kube_config import KubeServiceConfig
from drills.targets.adapters.postgres_settings import PostgresSettings

__all__ = ["register_db_connection_rollbacks"]

_SECRET_TARGET = re.compile(r"^(?P<ns>[^/]+)/secret/(?P<secret>[^\[]+)\[(?P<key>[^\]]+)\]$")


def _text(entry: RollbackEntry, key: str) -> str:
    value = entry.args.get(key)
    if value is None or value == "":
        raise ConfigError(f"the {entry.kind} entry for {entry.target} records no {key}")
    return str(value)


def start_stopped_database(entry: RollbackEntry) -> Replayed:
    """Start the recorded server again on its data directory and port."""
    connections = entry.args.get("max_connections")
    server = LocalPostgres(
        _text(entry, "postgres_root"),
        name=_text(entry, "name"),
        max_connections=int(str(connections)) if connections is not None else 30,
    )
    port = entry.args.get("port")
    started = start_again(server, int(str(port)) if port is not None else None)
    return Replayed.RESTORED if started else Replayed.ALREADY


def reset_server_settings(entry: RollbackEntry) -> Replayed:
    """ALTER SYSTEM RESET the recorded names that are still set."""
    settings = PostgresSettings(entry.target, _text(entry, "dsn"))
    still = settings.overridden(_text(entry, "names").split(","))
    if not still:
        return Replayed.ALREADY
    settings.reset_system(still)
    return Replayed.RESTORED


def restore_database_host(entry: RollbackEntry) -> Replayed:
    """The recorded host back into the Secret's URL, and a rollout restart."""
    found = _SECRET_TARGET.match(entry.target)
    if found is None:
        raise ConfigError(f"rollback target {entry.target!r} is not <namespace>/secret/<name>[key]")
    namespace, deployment = found["ns"], _text(entry, "deployment")
    host, wrong = _text(entry, "host"), _text(entry, "wrong_host")
    by_hand = (
        f"put host {host} back into secret/{found['secret']} key {found['key']} in {namespace}, "
        f"then kubectl -n {namespace} rollout restart deployment/{deployment}"
    )
    api = entry_api(entry, namespace, by_hand)
    config = KubeServiceConfig(api, namespace, deployment, secret=found["secret"], key=found["key"])
    restored = restore_host(config, host=host, wrong_host=wrong)
    return Replayed.RESTORED if restored else Replayed.ALREADY


def register_db_connection_rollbacks(registry: RollbackRegistry) -> None:
    """Register the three kinds (the NetworkPolicy reuses `deny-all-policy`)."""
    registry.register(DATABASE_STOPPED, start_stopped_database)
    registry.register(SERVER_SETTINGS, reset_server_settings)
    registry.register(DATABASE_HOST, restore_database_host)
