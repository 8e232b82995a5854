"""A real PostgreSQL 16 server for the sandbox, run from the `pgserver` wheel's binaries.

`initdb` and `pg_ctl` refuse to run as root, so when this process is root every PostgreSQL binary
runs as the unprivileged system user `drills` (created with `useradd --system` when missing), and
every file of the server lives in a directory that user owns. When this process is not root the
binaries run as the current user.

Each instance lives in `<root>/<name>/`:

    data/        the cluster (PGDATA), mode 0700
    server.log   the server's log (pg_ctl -l)
    port         the TCP port of the last start

and the WAL archive of the primary in `<root>/archive/` (shared by every instance under the same
root so a restore target or a replica can read it with `restore_command`).

Network and authentication: the server listens on 127.0.0.1 (no Unix socket) on a free port,
and also on the sandbox's pod-network gateway address when ``<root>/listen-host`` names one (the
sandbox daemon writes it, so that pods in their own network namespaces reach the database, and
every instance under the root, restored ones included, does the same). `pg_hba.conf` trusts
127.0.0.1/32 and that address's /24 for every role (the superuser `postgres` and the application
role `app`), normal connections and replication, except roles named `shop_login_*`
(`PASSWORD_ROLE_PREFIX`), which must give their password (scram-sha-256): the secret-rotation
drill creates them, so that an old password can be shown refused. That is acceptable for a
throw-away server reachable only from this machine and the sandbox's own namespaces; a profile
for a real environment brings its own DSN with credentials. DSNs name the listen host.

Settings that matter to the drills: `max_connections` (low, default 30, so pool exhaustion is
quick; `superuser_reserved_connections` is 3, so 27 ordinary slots), `wal_level=replica`,
`archive_mode=on`, `archive_command` copying finished segments into the archive (atomically, never
overwriting), `archive_timeout` (default 1 s, the smallest value PostgreSQL accepts apart from 0 =
off), 1 MiB WAL segments (`initdb --wal-segsize=1`) so forced segment switches stay cheap.

How the sandbox helper uses it::

    from drills.sandbox.postgres import LocalPostgres

    pg = LocalPostgres(repo_root / ".drills" / "sandbox" / "postgres", max_connections=30)
    dsn = pg.start()          # initdb on first use, then pg_ctl start -w; ~1-2 s; returns the
                              # DSN of the non-superuser role `app` that owns database `shop`
    admin = pg.admin_dsn()    # superuser `postgres`: for the harness's own probes and recovery
    pg.apply_sql(ORDERS_TABLE_DDL)   # optional: create the shop's orders table (via psql)
    ...                       # write dsn to endpoints.json as "database_dsn"
    pg.stop()                 # `drills sandbox down`; pg.stop(mode="immediate") simulates a crash
    pg.remove()               # deletes the instance's directory (and the archive with archive=True)

`start()` on an existing directory restarts the same cluster (a new free port is chosen if the old
one is taken). `status()` answers "absent", "stopped" or "running". A second instance for restores
or a replica is built with `LocalPostgres.from_base_backup(root, name, backup_dir, ...)` or
`primary.create_replica(name)`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import re
import shutil
import socket
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from drills.core.dataloss import ORDERS_TABLE_DDL
from drills.core.errors import ConfigError, DrillError

__all__ = [
    "APP_USER",
    "ORDERS_TABLE_DDL",
    "PASSWORD_ROLE_PREFIX",
    "LocalPostgres",
    "LocalPostgresFactory",
    "PostgresBinaries",
    "RecoveryTarget",
    "check_reachable",
    "free_port",
]

StopMode = Literal["smart", "fast", "immediate"]


_SUPERUSER = "postgres"
APP_USER = "app"
PASSWORD_ROLE_PREFIX = "shop_login_"  # roles whose password pg_hba.conf checks (secret-rotation)
_SERVICE_USER = "drills"
_SQL_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class PostgresBinaries:
    """Where the PostgreSQL client and server programs are."""

    bin_dir: Path

    @classmethod
    def locate(cls) -> PostgresBinaries:
        """Find the binaries of the `pgserver` wheel without importing it."""
        spec = importlib.util.find_spec("pgserver")
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(
                "PostgreSQL binaries not found: the 'pgserver' wheel is not installed. "
                "Fix: .venv/bin/pip install -c constraints.txt pgserver"
            )
        bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if not (bin_dir / "pg_ctl").exists():
            raise ConfigError(
                f"pgserver is installed but {bin_dir}/pg_ctl is missing; reinstall it"
            )
        return cls(bin_dir)

    def path(self, program: str) -> str:
        """Absolute path of one program, e.g. `pg_basebackup`."""
        return str(self.bin_dir / program)


@dataclass(frozen=True)
class RecoveryTarget:
    """Where WAL replay stops; at most one of time, lsn and name (none = end of the archive)."""

    time_iso: str | None = None
    lsn: str | None = None
    name: str | None = None
    inclusive: bool = False
    action: Literal["promote", "pause", "shutdown"] = "promote"

    def settings(self) -> dict[str, str]:
        """The recovery_target_* settings for postgresql.conf."""
        chosen = {
            "recovery_target_time": _pg_timestamp(self.time_iso),
            "recovery_target_lsn": self.lsn,
            "recovery_target_name": self.name,
        }
        given = {key: value for key, value in chosen.items() if value is not None}
        if len(given) > 1:
            raise ConfigError(f"choose one recovery target, not {sorted(given)}")
        if given:
            given["recovery_target_inclusive"] = "on" if self.inclusive else "off"
        given["recovery_target_action"] = self.action
        return given


def _pg_timestamp(iso: str | None) -> str | None:
    """ISO 8601 as PostgreSQL's recovery_target_time accepts it ('Z' -> '+00:00', no 'T')."""
    if iso is None:
        return None
    text = iso.strip().replace("T", " ", 1)
    return text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text


class _Runner:
    """Runs PostgreSQL programs as the unprivileged service user when this process is root."""

    def __init__(self, binaries: PostgresBinaries) -> None:
        self.binaries = binaries
        self.as_root = os.geteuid() == 0
        self.uid, self.gid = self._ensure_user() if self.as_root else (os.getuid(), os.getgid())

    @staticmethod
    def _ensure_user() -> tuple[int, int]:
        try:
            entry = pwd.getpwnam(_SERVICE_USER)
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    _SERVICE_USER,
                ],
                check=False,
                capture_output=True,
            )
            entry = pwd.getpwnam(_SERVICE_USER)
        return entry.pw_uid, entry.pw_gid

    def own(self, path: Path, *, recursive: bool = True) -> None:
        """Hand `path` (recursively unless told otherwise) to the service user."""
        if not self.as_root:
            return
        os.chown(path, self.uid, self.gid)
        if recursive and path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                for child in (*dirnames, *filenames):
                    os.chown(Path(dirpath) / child, self.uid, self.gid, follow_symlinks=False)

    def run(
        self,
        program: str,
        args: Sequence[str],
        *,
        timeout_s: float = 120.0,
        check: bool = True,
        stdin_text: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run one PostgreSQL program; raise DrillError with its stderr when it fails."""
        env = {"PATH": f"{self.binaries.bin_dir}:/usr/bin:/bin", "LC_ALL": "C", "TZ": "UTC"}
        proc = subprocess.run(
            [self.binaries.path(program), *args],
            user=self.uid if self.as_root else None,
            group=self.gid if self.as_root else None,
            extra_groups=[] if self.as_root else None,
            env=env,
            cwd="/",
            input=stdin_text,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if check and proc.returncode != 0:
            raise DrillError(
                f"{program} {' '.join(args[:3])}... exited {proc.returncode}: "
                f"{proc.stderr.strip()[-800:]}"
            )
        return proc


def check_reachable(path: Path) -> None:
    """Refuse a directory PostgreSQL's service user cannot traverse to (e.g. a 0700 home).

    Only as root: PostgreSQL then runs as the unprivileged user `drills`, which needs the
    execute bit for others on every parent. Raises ConfigError naming the parent and the fix.
    """
    if os.geteuid() != 0:
        return  # PostgreSQL runs as this very user, who reaches the path already
    for parent in path.resolve().parents:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise ConfigError(
                f"{parent} is not traversable by other users (mode "
                f"{parent.stat().st_mode & 0o777:04o}), so PostgreSQL's unprivileged user "
                f"'{_SERVICE_USER}' cannot reach {path}. Fix: `chmod o+x {parent}` (and any "
                "other such parent), or put the clone or sandbox root under a directory others "
                "can traverse (e.g. /srv, or tempfile.mkdtemp(dir='/tmp') in tests)"
            )


class LocalPostgres:
    """One local PostgreSQL 16 instance under `<root>/<name>/` (see the module docstring)."""

    def __init__(  # noqa: PLR0913 - keyword-only settings of one server
        self,
        root: Path | str,
        *,
        name: str = "primary",
        dbname: str = "shop",
        max_connections: int = 30,
        archive_timeout_s: int = 1,
        archive: bool = True,
        binaries: PostgresBinaries | None = None,
    ) -> None:
        self.root = Path(root).absolute()
        self.name = name
        self.dbname = dbname
        self.max_connections = max_connections
        self.archive_timeout_s = archive_timeout_s
        self.archive = archive
        self.binaries = binaries or PostgresBinaries.locate()
        self._runner: _Runner | None = None
        self.extra_settings: dict[str, str] = {}

    # -- paths ---------------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        """The instance's own directory."""
        return self.root / self.name

    @property
    def data_dir(self) -> Path:
        """PGDATA."""
        return self.home / "data"

    @property
    def archive_dir(self) -> Path:
        """The WAL archive shared by the instances under this root."""
        return self.root / "archive"

    @property
    def log_path(self) -> Path:
        """The server log."""
        return self.home / "server.log"

    @property
    def runner(self) -> _Runner:
        """Lazily built: creating the service user is a side effect."""
        if self._runner is None:
            self._runner = _Runner(self.binaries)
        return self._runner

    @property
    def host(self) -> str:
        """The address clients use: the root's ``listen-host`` if written, else 127.0.0.1."""
        path = self.root / "listen-host"
        text = path.read_text().strip() if path.exists() else ""
        return text or "127.0.0.1"

    @property
    def port(self) -> int | None:
        """TCP port of the last start, None before the first."""
        path = self.home / "port"
        return int(path.read_text()) if path.exists() else None

    def dsn(self, dbname: str | None = None, *, user: str = APP_USER) -> str:
        """Return the libpq URI of this instance for the application role (no secret inside).

        The application role `app` is not a superuser, so a leak that fills the ordinary slots
        leaves `superuser_reserved_connections` free for `admin_dsn()`, as on a real server.
        """
        if self.port is None:
            raise DrillError(f"PostgreSQL '{self.name}' was never started; call start() first")
        return f"postgresql://{user}@{self.host}:{self.port}/{dbname or self.dbname}"

    def admin_dsn(self, dbname: str | None = None) -> str:
        """URI for the superuser `postgres` (uses the reserved slots when the server is full)."""
        return self.dsn(dbname, user=_SUPERUSER)

    # -- lifecycle -----------------------------------------------------------------------------
    def _prepare_dirs(self) -> None:
        check_reachable(self.root)
        for path in (self.root, self.home, self.archive_dir):
            path.mkdir(parents=True, exist_ok=True)
            self.runner.own(path, recursive=False)

    def init(self) -> None:
        """Run initdb once (idempotent); create the application database on first start."""
        self._prepare_dirs()
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.runner.run(
            "initdb",
            [
                "-D",
                str(self.data_dir),
                "-U",
                _SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
                "--wal-segsize=1",
                "--no-sync",
            ],
        )
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as handle:
            handle.write("\ninclude_if_exists = 'drills.conf'\n")
        self._write_hba()
        self.runner.own(self.data_dir)
        (self.home / ".needs-db").touch()

    def _write_hba(self) -> None:
        networks = ["127.0.0.1/32"]
        if self.host != "127.0.0.1":
            networks.append(f"{self.host.rsplit('.', 1)[0]}.0/24")
        # First match wins: login roles named shop_login_* must give their password.
        checked = [f"host all /^{PASSWORD_ROLE_PREFIX} {net} scram-sha-256\n" for net in networks]
        lines = checked + [
            f"host {db} all {net} trust\n" for net in networks for db in ("all", "replication")
        ]
        path = self.data_dir / "pg_hba.conf"
        path.write_text("".join(lines))
        self.runner.own(path)

    def settings(self, port: int) -> dict[str, str]:
        """postgresql.conf settings written on every start."""
        archive_command = (
            f"test ! -f {self.archive_dir}/%f && cp %p {self.archive_dir}/%f.part "
            f"&& mv {self.archive_dir}/%f.part {self.archive_dir}/%f"
        )
        values = {
            "listen_addresses": f"'{','.join(sorted({'127.0.0.1', self.host}))}'",
            "port": str(port),
            "unix_socket_directories": "''",
            "max_connections": str(self.max_connections),
            "wal_level": "replica",
            "max_wal_senders": "5",
            "fsync": "on",
            "synchronous_commit": "on",
            "archive_mode": "on" if self.archive else "off",
            "archive_command": f"'{archive_command}'",
            "archive_timeout": f"{self.archive_timeout_s}s",
            "shared_buffers": "32MB",
            "log_line_prefix": "'%m [%p] %q%u@%d %a '",  # %u@%d: certification's evidence
            "hot_standby": "on",
        }
        values.update(self.extra_settings)
        return values

    def _write_settings(self, port: int) -> None:
        text = "".join(f"{key} = {value}\n" for key, value in self.settings(port).items())
        self._write_hba()
        path = self.data_dir / "drills.conf"
        path.write_text(text)
        self.runner.own(path)
        (self.home / "port").write_text(str(port))

    def start(self, *, timeout_s: float = 60.0) -> str:
        """Init if needed, start and wait until it accepts connections; return the DSN."""
        self.init()
        if self.status() == "running":
            return self.dsn()
        port = self.port if self.port and _port_free(self.port) else free_port()
        self._write_settings(port)
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / "postmaster.pid").unlink()  # stale after a crash of the machine
        try:
            self.runner.run(
                "pg_ctl",
                [
                    "start",
                    "-w",
                    "-t",
                    str(int(timeout_s)),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_path),
                ],
                timeout_s=timeout_s + 10,
            )
        except DrillError as exc:
            raise DrillError(f"{exc}\nlast lines of {self.log_path}:\n{self.log_tail()}") from exc
        if (self.home / ".needs-db").exists():
            self._create_database()
        return self.dsn()

    def _create_database(self) -> None:
        self.psql(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" + APP_USER + "')"
            " THEN CREATE ROLE " + APP_USER + " LOGIN; END IF; END $$;",
            dbname="postgres",
        )
        exists = self.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{self.dbname}'", dbname="postgres"
        )
        if not exists.strip():
            self.psql(f'CREATE DATABASE "{self.dbname}" OWNER {APP_USER}', dbname="postgres")
        (self.home / ".needs-db").unlink()

    def ensure_service_database(self, role: str, dbname: str, *, connection_limit: int) -> str:
        """A login role owning a database of its own (both created if missing); returns its DSN.

        For a second service on the same server (the sandbox's notes): its own role with its own
        CONNECTION LIMIT, so a pool leak with that role fills that service's slots only, and its
        sessions are told apart from the shop's by role and database. The role is trusted by
        pg_hba.conf like `app`. Idempotent: a restart, or a restore of a base backup that holds
        them, changes nothing but the limit.
        """
        if not (_SQL_IDENTIFIER.match(role) and _SQL_IDENTIFIER.match(dbname)):
            raise ConfigError(f"role {role!r} and database {dbname!r} must be plain identifiers")
        self.psql(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
            f"THEN CREATE ROLE {role} LOGIN; END IF; END $$; "
            f"ALTER ROLE {role} CONNECTION LIMIT {int(connection_limit)};",
            dbname="postgres",
        )
        exists = self.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{dbname}'", dbname="postgres"
        )
        if not exists.strip():
            self.psql(f'CREATE DATABASE "{dbname}" OWNER {role}', dbname="postgres")
        return self.dsn(dbname, user=role)

    def log_tail(self, lines: int = 15) -> str:
        """The end of the server log (for error messages)."""
        if not self.log_path.exists():
            return "(no log yet)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, mode: StopMode = "fast", *, timeout_s: float = 60.0) -> None:
        """Stop the server; `immediate` skips the shutdown checkpoint, like a crash."""
        if self.status() != "running":
            return
        self.runner.run(
            "pg_ctl",
            ["stop", "-w", "-t", str(int(timeout_s)), "-m", mode, "-D", str(self.data_dir)],
            timeout_s=timeout_s + 10,
        )

    def status(self) -> Literal["absent", "stopped", "running"]:
        """Whether the cluster exists and whether its postmaster runs."""
        if not (self.data_dir / "PG_VERSION").exists():
            return "absent"
        proc = self.runner.run("pg_ctl", ["status", "-D", str(self.data_dir)], check=False)
        return "running" if proc.returncode == 0 else "stopped"

    def remove(self, *, archive: bool = False) -> None:
        """Stop (immediately) and delete the instance; the shared archive only when asked."""
        if self.status() == "running":
            self.stop("immediate")
        shutil.rmtree(self.home, ignore_errors=True)
        if archive:
            shutil.rmtree(self.archive_dir, ignore_errors=True)

    # -- tools ---------------------------------------------------------------------------------
    def psql(self, sql: str, *, dbname: str | None = None, user: str = _SUPERUSER) -> str:
        """Run SQL through psql (unaligned, tuples only) and return its output."""
        proc = self.runner.run(
            "psql",
            ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.dsn(dbname, user=user)],
            stdin_text=sql,
        )
        return proc.stdout

    def apply_sql(self, sql: str, *, dbname: str | None = None) -> None:
        """Run DDL or other statements as the application role, e.g. ORDERS_TABLE_DDL."""
        self.psql(sql, dbname=dbname, user=APP_USER)

    def base_backup(self, target: Path, *, fmt: Literal["p", "t"] = "p") -> Path:
        """pg_basebackup of this instance into `target` (WAL streamed, checkpoint fast)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        self.runner.own(target.parent, recursive=False)
        self.runner.run(
            "pg_basebackup",
            [
                "-d",
                self.admin_dsn("postgres"),
                "-D",
                str(target),
                f"-F{fmt}",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
        )
        return target

    def create_replica(
        self,
        name: str,
        *,
        timeout_s: float = 60.0,
        slot: str | None = None,
        settings: Mapping[str, str] | None = None,
        root: Path | None = None,
    ) -> LocalPostgres:
        """A streaming replica: pg_basebackup -R into a new instance, started.

        `slot` (an existing physical slot on this server) makes the replica stream through it,
        so the primary keeps the WAL it has not received; `settings` are extra postgresql.conf
        lines of the replica (e.g. `recovery_min_apply_delay`, values quoted as in the file).
        `root` puts the replica under another instances' root (default: this server's), so it
        listens on that root's `listen-host`: another sandbox's pods reach it there.
        """
        replica = LocalPostgres(
            root or self.root,
            name=name,
            dbname=self.dbname,
            max_connections=self.max_connections,
            archive=False,
            binaries=self.binaries,
        )
        replica.extra_settings.update(settings or {})
        replica._prepare_dirs()
        self.runner.run(
            "pg_basebackup",
            [
                "-d",
                self.admin_dsn("postgres"),
                "-D",
                str(replica.data_dir),
                "-Fp",
                "-X",
                "stream",
                "-c",
                "fast",
                "-R",
                *(["-S", slot] if slot else []),
                "--no-sync",
            ],
        )
        replica.start(timeout_s=timeout_s)
        return replica

    @classmethod
    def from_base_backup(  # noqa: PLR0913 - keyword-only options of one restore
        cls,
        root: Path | str,
        name: str,
        backup: Path,
        *,
        target: RecoveryTarget | None = None,
        archive_dir: Path | None = None,
        dbname: str = "shop",
        max_connections: int = 30,
    ) -> LocalPostgres:
        """A new, not yet started instance whose data comes from a base backup.

        With `target` (or an `archive_dir`), it is set up for archive recovery: recovery.signal,
        `restore_command` reading the archive and the recovery target. Start it with `start()`.
        """
        instance = cls(
            root, name=name, dbname=dbname, max_connections=max_connections, archive=False
        )
        instance._prepare_dirs()
        if instance.data_dir.exists():
            raise DrillError(f"{instance.data_dir} already exists; remove() it or pick a new name")
        _unpack_backup(backup, instance.data_dir)
        instance.data_dir.chmod(0o700)
        if target is not None or archive_dir is not None:
            instance.configure_recovery(target or RecoveryTarget(), archive_dir=archive_dir)
        instance.runner.own(instance.data_dir)
        return instance

    def configure_recovery(self, target: RecoveryTarget, *, archive_dir: Path | None) -> None:
        """Write recovery.signal and the restore settings (applied at the next start)."""
        source = archive_dir or self.archive_dir
        self.extra_settings["restore_command"] = f"'cp {source}/%f %p'"
        for key, value in target.settings().items():
            self.extra_settings[key] = f"'{value}'"
        (self.data_dir / "recovery.signal").touch()
        (self.data_dir / "standby.signal").unlink(missing_ok=True)
        (self.home / "recovery.json").write_text(repr(target))

    def run_tool(
        self, program: str, args: Sequence[str], *, timeout_s: float = 300.0, check: bool = True
    ) -> str:
        """Run any PostgreSQL program as the service user; return its stdout."""
        return self.runner.run(program, args, timeout_s=timeout_s, check=check).stdout

    def own(self, path: Path, *, recursive: bool = True) -> None:
        """Give a path to the service user (for files the tools must read or write)."""
        self.runner.own(path, recursive=recursive)


def _port_free(port: int) -> bool:
    """True when a server could listen on the port (SO_REUSEADDR, as PostgreSQL binds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _unpack_backup(backup: Path, data_dir: Path) -> None:
    """Copy a plain backup directory, or extract base.tar (+ pg_wal.tar) of a tar backup."""
    base_tar = backup / "base.tar"
    if base_tar.exists():
        data_dir.mkdir(parents=True)
        with tarfile.open(base_tar) as tar:
            tar.extractall(data_dir, filter="data")
        wal_tar = backup / "pg_wal.tar"
        if wal_tar.exists():
            with tarfile.open(wal_tar) as tar:
                tar.extractall(data_dir / "pg_wal", filter="data")
        return
    shutil.copytree(backup, data_dir, symlinks=True)


class _RequestLike(Protocol):
    """Duck type of drills.targets.ports.data.RecoveryRequest (the sandbox cannot import it)."""

    @property
    def time_iso(self) -> str | None:
        """Recover to this time (ISO 8601), if set."""

    @property
    def lsn(self) -> str | None:
        """Recover to this WAL position, if set."""

    @property
    def name(self) -> str | None:
        """Recover to this named restore point, if set."""


class LocalPostgresFactory:
    """Builds restore targets under one root; satisfies the ServerFactory port structurally."""

    def __init__(self, root: Path | str, *, dbname: str = "shop", max_connections: int = 30):
        self.root = Path(root).absolute()
        self.dbname = dbname
        self.max_connections = max_connections

    def from_backup(
        self,
        name: str,
        backup: Path,
        *,
        request: _RequestLike | None,
        archive_dir: Path | None,
    ) -> LocalPostgres:
        """A new, not yet started instance from a base backup; archive recovery when asked."""
        target = None
        if request is not None:
            target = RecoveryTarget(time_iso=request.time_iso, lsn=request.lsn, name=request.name)
        return LocalPostgres.from_base_backup(
            self.root,
            name,
            backup,
            target=target,
            archive_dir=archive_dir,
            dbname=self.dbname,
            max_connections=self.max_connections,
        )

    def reconfigure_recovery(
        self, name: str, *, request: _RequestLike | None, archive_dir: Path | None
    ) -> LocalPostgres:
        """The existing instance `name`, set up for another archive recovery.

        Used to recover to the end of the archive when the requested target is unreachable.
        """
        instance = self.empty(name)
        target = RecoveryTarget()
        if request is not None:
            target = RecoveryTarget(time_iso=request.time_iso, lsn=request.lsn, name=request.name)
        instance.configure_recovery(target, archive_dir=archive_dir)
        return instance

    def empty(self, name: str) -> LocalPostgres:
        """A new, not yet started, empty instance with the application database."""
        return LocalPostgres(
            self.root,
            name=name,
            dbname=self.dbname,
            max_connections=self.max_connections,
            archive=False,
        )
