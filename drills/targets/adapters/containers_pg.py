"""PostgreSQL in a container (environment `containers`), through testcontainers.

Where no Docker engine answers, `docker_engine_answers()` says so in words the skip message can
carry ("no Docker engine answers; use --drill-env sandbox"), and nothing is started.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from drills.core.errors import ConfigError
from drills.targets.adapters.postgres import PostgresDatabase

__all__ = ["NO_DOCKER", "docker_engine_answers", "postgres_container"]

NO_DOCKER = "no Docker engine answers; use --drill-env sandbox"


def docker_engine_answers() -> tuple[bool, str]:
    """(True, version) when a Docker engine answers a ping, else (False, the reason)."""
    try:
        import docker  # type: ignore[import-untyped]
    except ImportError:
        return False, f"{NO_DOCKER} (the docker SDK is missing: pip install 'drills[containers]')"
    try:
        client = docker.from_env(timeout=3)
        client.ping()
        version = str(client.version().get("Version", "?"))
    except Exception as exc:
        return False, f"{NO_DOCKER} ({type(exc).__name__})"
    return True, version


@contextmanager
def postgres_container(
    image: str = "postgres:16-alpine", *, max_connections: int = 30
) -> Iterator[PostgresDatabase]:
    """A throw-away PostgreSQL 16 with WAL archiving settings like the sandbox's."""
    answers, reason = docker_engine_answers()
    if not answers:
        raise ConfigError(reason)
    from testcontainers.community.postgres import PostgresContainer

    container = PostgresContainer(image, username="app", password="app", dbname="shop", driver=None)
    container.with_command(
        f"postgres -c max_connections={max_connections} -c wal_level=replica "
        "-c archive_mode=on -c archive_command=/bin/true -c archive_timeout=1"
    )
    with container:
        yield PostgresDatabase("container", container.get_connection_url())
