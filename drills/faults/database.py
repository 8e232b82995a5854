"""The application cannot reach its database (RUNBOOKS.md §3.4 `db-connection-failure`).

Four changes, each with its rollback recorded before it acts:

- `StopDatabase` (`db-down`): `pg_ctl stop -m immediate` on the server, a crash without the
  shutdown checkpoint, so the restart runs crash recovery. The fix and the rollback are the same
  act, starting the server again on its data directory; it must come back on the port the
  clients' DSNs name, else it is an error, not a recovery.
- `ServerSettingsChange`: ALTER SYSTEM values for a while (the drill's defect: commits
  acknowledged before their WAL is written). The rollback resets only the names it set.
- `WrongDatabaseHost` (`bad-secret`): the shop's database URL gets another host, then a rollout
  restart makes the new pods read it. The rollback puts the recorded host back where the wrong
  one still is and restarts again. The entry keeps hosts only, never the URL: a real one may
  carry a password, and the replay rebuilds the URL from the one in the Secret.
- `DenyDatabaseEgress` (`netpol`): a NetworkPolicy letting the shop's pods reach DNS only, so
  egress to PostgreSQL's 5432 is denied where policies are enforced. Its entry has the kind of
  the ingress drill's deny-all policy, whose replay deletes the named policy alone (never
  `kubectl delete networkpolicy --all`, RUNBOOKS.md §5.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from drills.core.clock import DrillClock
from drills.core.conditions import Observation
from drills.core.errors import DrillError, InjectionFailed
from drills.core.safety import JsonScalar, RollbackEntry
from drills.core.waiting import wait_until
from drills.targets.ports.config import ServiceConfig
from drills.targets.ports.database_server import DatabaseServer, ServerSettings
from drills.targets.ports.routing import Routing

__all__ = [
    "DATABASE_HOST",
    "DATABASE_STOPPED",
    "DENY_POLICY",
    "SERVER_SETTINGS",
    "DenyDatabaseEgress",
    "ServerSettingsChange",
    "StopDatabase",
    "WrongDatabaseHost",
    "database_egress_manifest",
    "host_of",
    "restore_host",
    "start_again",
    "with_host",
]

DATABASE_STOPPED = "database-stopped"
SERVER_SETTINGS = "database-settings"
DATABASE_HOST = "database-host"
DENY_POLICY = "deny-all-policy"  # = drills.targets.adapters.kube_routing.DENY_ALL_KIND
SETTLE_S = 10.0  # a reload reaches new sessions within milliseconds; this bounds the wait


def start_again(server: DatabaseServer, port: int | None) -> bool:
    """Start a stopped server on its data; False when it was running already.

    Raises DrillError when it came back on another port than `port`: every client's DSN names
    the old one, so that is no recovery (something took the port while the server was down).
    """
    if server.status() == "running":
        return False
    server.start()
    if port is not None and server.port != port:
        raise DrillError(
            f"PostgreSQL '{server.name}' came back on port {server.port}, not {port}: another "
            f"process took {port} while it was down, and the clients' DSNs name {port}"
        )
    return True


@dataclass
class StopDatabase:
    """`pg_ctl stop -m immediate`: the server crashes; starting it again runs crash recovery.

    `where` is what a replay needs to find the server again (its root and settings); the
    entry adds the port it must come back on.
    """

    server: DatabaseServer
    where: Mapping[str, JsonScalar] = field(default_factory=dict)
    kind: str = DATABASE_STOPPED
    port: int | None = None

    @property
    def target(self) -> str:
        """The server stopped."""
        return f"postgres/{self.server.name}"

    def describe(self) -> str:
        """One line for the plan."""
        return f"pg_ctl stop -m immediate on {self.target} (a crash: no shutdown checkpoint)"

    def rollback_entry(self) -> RollbackEntry:
        """Start it again on the same data and port."""
        self.port = self.server.port
        args: dict[str, JsonScalar] = {**self.where, "name": self.server.name}
        if self.port is not None:
            args["port"] = self.port
        return RollbackEntry(self.kind, self.target, args)

    def apply(self) -> None:
        """Stop immediately; a server that was not running, or still runs, is no fault."""
        if self.server.status() != "running":
            raise InjectionFailed(f"{self.target} is not running: there is nothing to stop")
        self.server.stop("immediate")
        if self.server.status() == "running":
            raise InjectionFailed(f"{self.target} still runs after pg_ctl stop -m immediate")

    def rollback(self) -> None:
        """Start it again unless the recovery did; idempotent."""
        start_again(self.server, self.port)


@dataclass
class ServerSettingsChange:
    """ALTER SYSTEM SET `values` and reload; the rollback resets those names alone.

    Refused when one of the names is already set by ALTER SYSTEM (resetting it afterwards would
    remove an operator's own setting). `apply` waits until a new session shows every value.
    """

    settings: ServerSettings
    values: Mapping[str, str]
    clock: DrillClock
    where: Mapping[str, JsonScalar] = field(default_factory=dict)
    kind: str = SERVER_SETTINGS

    @property
    def target(self) -> str:
        """The server reconfigured."""
        return f"postgres/{self.settings.name}"

    def describe(self) -> str:
        """One line for the plan."""
        listed = ", ".join(f"{k} = {v}" for k, v in self.values.items())
        return f"ALTER SYSTEM SET {listed} on {self.target}, then pg_reload_conf()"

    def rollback_entry(self) -> RollbackEntry:
        """The names to reset, and where (`where`: the admin DSN without its password)."""
        return RollbackEntry(self.kind, self.target, {**self.where, "names": ",".join(self.values)})

    def apply(self) -> None:
        """Set, reload, and wait until a new session shows the values."""
        taken = self.settings.overridden(list(self.values))
        if taken:
            raise InjectionFailed(
                f"{', '.join(taken)} already set by ALTER SYSTEM on {self.target}: not the "
                "drill's to change and reset"
            )
        self.settings.alter_system(self.values)

        def shown() -> Observation:
            now = self.settings.show(list(self.values))
            return Observation(now == dict(self.values), f"a new session shows {now}")

        seen = wait_until(
            shown,
            clock=self.clock,
            timeout_s=SETTLE_S,
            poll_s=0.1,
            description="the new settings in force",
            raise_on_timeout=False,
        )
        if not seen.met:
            raise InjectionFailed(f"the settings did not take: {seen.last.detail}")

    def rollback(self) -> None:
        """Reset the names still set; idempotent."""
        still = self.settings.overridden(list(self.values))
        if still:
            self.settings.reset_system(still)


def host_of(url: str) -> str:
    """The host a database URL names ("" when it names none)."""
    return urlsplit(url).hostname or ""


def with_host(url: str, host: str) -> str:
    """The URL with its host replaced; user, password, port, path and query kept as they are."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    port = f":{parts.port}" if parts.port is not None else ""
    del hostport
    return urlunsplit(parts._replace(netloc=f"{userinfo}{at}{host}{port}"))


def restore_host(config: ServiceConfig, *, host: str, wrong_host: str) -> bool:
    """Put `host` back into the URL where `wrong_host` still is, then restart; False if not.

    The restart makes the pods read the URL again (they read it once, at start).
    """
    url = config.database_url()
    if url is None or host_of(url) != wrong_host:
        return False
    config.set_database_url(with_host(url, host))
    config.restart()
    return True


@dataclass
class WrongDatabaseHost:
    """The shop's database URL names `wrong_host`; a rollout restart makes new pods read it."""

    config: ServiceConfig
    wrong_host: str
    namespace: str
    deployment: str
    kind: str = DATABASE_HOST
    host: str | None = None

    @property
    def target(self) -> str:
        """The Secret changed."""
        return self.config.where

    def describe(self) -> str:
        """One line for the plan."""
        return (
            f"set the database host in {self.target} to {self.wrong_host}, then kubectl "
            f"rollout restart deployment/{self.deployment}"
        )

    def rollback_entry(self) -> RollbackEntry:
        """The host read now (never the URL: it may carry a password) and the wrong one."""
        url = self.config.database_url()
        self.host = None if url is None else host_of(url)
        args: dict[str, JsonScalar] = {
            "namespace": self.namespace,
            "deployment": self.deployment,
            "host": self.host or "",
            "wrong_host": self.wrong_host,
        }
        return RollbackEntry(self.kind, self.target, args)

    def apply(self) -> None:
        """Write the wrong host and restart the Deployment."""
        url = self.config.database_url()
        if url is None or not self.host:
            raise InjectionFailed(f"{self.target} holds no database URL with a host")
        if self.host == self.wrong_host:
            raise InjectionFailed(f"{self.target} names {self.wrong_host} already")
        self.config.set_database_url(with_host(url, self.wrong_host))
        self.config.restart()

    def rollback(self) -> None:
        """The recorded host back (and a restart) unless the recovery did; idempotent."""
        if self.host:
            restore_host(self.config, host=self.host, wrong_host=self.wrong_host)


def database_egress_manifest(name: str, selector: Mapping[str, str]) -> dict[str, Any]:
    """A NetworkPolicy letting the selected pods reach DNS (53) only: 5432 is denied."""
    dns = [{"protocol": protocol, "port": 53} for protocol in ("UDP", "TCP")]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "drills"}},
        "spec": {
            "podSelector": {"matchLabels": dict(selector)},
            "policyTypes": ["Egress"],
            "egress": [{"ports": dns}],
        },
    }


@dataclass
class DenyDatabaseEgress:
    """Create `name`: the shop's pods may reach DNS only, so not their database on 5432."""

    routing: Routing
    name: str
    selector: Mapping[str, str]
    kind: str = DENY_POLICY

    @property
    def target(self) -> str:
        """The policy created."""
        return f"{self.routing.namespace}/networkpolicy/{self.name}"

    def describe(self) -> str:
        """One line for the plan."""
        labels = ",".join(f"{k}={v}" for k, v in sorted(self.selector.items()))
        return f"create {self.target} (pods {labels}: egress to DNS only, 5432 denied)"

    def rollback_entry(self) -> RollbackEntry:
        """The name of the policy to delete (alone)."""
        return RollbackEntry(self.kind, self.target, {"name": self.name})

    def apply(self) -> None:
        """Create the policy; refused when one of that name exists (it would not be ours)."""
        if any(p.name == self.name for p in self.routing.policies()):
            raise InjectionFailed(f"{self.target} exists already: it is not the drill's to delete")
        self.routing.create_policy(database_egress_manifest(self.name, self.selector))

    def rollback(self) -> None:
        """Delete this policy alone unless the recovery did; idempotent."""
        self.routing.delete_policy(self.name)
