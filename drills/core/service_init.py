"""`drills init`'s pure part: a profile section and a locustfile skeleton for one Deployment.

The section is TOML with a comment on every line a person must check; what the cluster showed
(the Deployment, its Service and HPA, its probe paths) is filled in, what it cannot show (the
URL users reach, the variable holding the database DSN, the objectives) is left for the team,
commented out with an example. The caller validates the result with the profile loader before
writing anything, and never overwrites: `section_exists` and the locustfile's existence refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "FoundDeployment",
    "locustfile_skeleton",
    "profile_section",
    "section_exists",
    "service_name",
]

_DB_HINT = re.compile(r"(DATABASE|DB|DSN|POSTGRES|PG)", re.I)


@dataclass(frozen=True)
class FoundDeployment:
    """One Deployment as `drills init` saw it in the cluster."""

    name: str
    namespace: str
    replicas: int
    image: str
    port: int | None = None
    health_path: str | None = None
    ready_path: str | None = None
    services: tuple[str, ...] = ()
    service_port: int | None = None
    hpas: tuple[str, ...] = ()
    env_names: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for the choice: name, replicas, Service and HPA."""
        service = ", ".join(self.services) or "no Service"
        hpa = ", ".join(self.hpas) or "no HPA"
        return f"{self.name}: {self.replicas} replica(s), {self.image}; {service}; {hpa}"


def service_name(deployment: str) -> str:
    """A valid `[services.<name>]` name from a Deployment name."""
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", deployment.lower()).strip("-_")
    return cleaned if cleaned[:1].isalpha() else f"svc-{cleaned}"


def section_exists(profile_text: str, name: str) -> bool:
    """Whether the profile already has `[services.<name>]` (or one of its sub-tables)."""
    pattern = rf"^\s*\[services\.{re.escape(name)}(\.[a-z_]+)?\]"
    return re.search(pattern, profile_text, re.M) is not None


def _line(key: str, value: str | None, comment: str) -> str:
    if value is None:
        return f'# {key} = "..."  # {comment}'
    return f'{key} = "{value}"  # {comment}'


def profile_section(found: FoundDeployment, name: str, locustfile: str) -> str:
    """The `[services.<name>]` section for `found`, commented for the person who checks it."""
    database_vars = [v for v in found.env_names if _DB_HINT.search(v)]
    service = found.services[0] if found.services else None
    in_cluster = (
        f"http://{service}.{found.namespace}.svc:{found.service_port}"
        if service and found.service_port
        else None
    )
    lines = [
        f"# Written by `drills init` from namespace {found.namespace}: check every line.",
        f"[services.{name}]",
        '# rto = "15m"  # the recovery time objective this service is held to',
        '# rpo = "5m"   # the recovery point objective (data it may lose)',
        _line("deployment", found.name, f"{found.replicas} replica(s) of {found.image}"),
        _line("namespace", found.namespace, "where it runs"),
        _line("service", service, "the Kubernetes Service selecting its pods"),
        _line("url", None, f"what users reach (in the cluster: {in_cluster or 'no Service'})"),
        _line("hpa", found.hpas[0] if found.hpas else None, "its HorizontalPodAutoscaler"),
        _line(
            "health_path",
            found.health_path or "/healthz",
            _probe_note(found.health_path, "liveness"),
        ),
        _line(
            "ready_path", found.ready_path or "/readyz", _probe_note(found.ready_path, "readiness")
        ),
        "",
        f"# [services.{name}.database]  # uncomment for the database drills",
        '# kind = "postgres"            # or "rds"',
        f'# dsn_env = "{name.upper().replace("-", "_")}_DATABASE_URL"  # the variable holding the '
        "DSN on the harness's machine"
        + (f" (the pods read {', '.join(database_vars)})" if database_vars else ""),
        "",
        f"[services.{name}.load]",
        _line("locustfile", locustfile, "written by drills init: fill in the journeys"),
        f"# or, without a locustfile: [[services.{name}.journeys]] tables (the generic user)",
        "users = 20",
        "spawn_rate = 10",
    ]
    return "\n".join(lines) + "\n"


def _probe_note(path: str | None, kind: str) -> str:
    return f"from its {kind} probe" if path else f"no {kind} probe found: check the path"


def locustfile_skeleton(found: FoundDeployment, name: str) -> str:
    """A locustfile on `drills.locustfile` that checks health and readiness; journeys to add."""
    health = found.health_path or "/healthz"
    ready = found.ready_path or "/readyz"
    class_name = "".join(part.capitalize() for part in re.split(r"[-_]", name)) + "User"
    return f'''"""Users of {name} for drills (written by `drills init`; fill in the journeys).

Each task is one thing a user does. `drills.locustfile` streams every request to the harness and
follows the drill's load shape; pass `timeout=TIMEOUT` on every request. A write users must not
lose carries `context=ack_context(key, payload_hash)` (any 2xx acknowledges it; the ledger reads
it back through [services.{name}.ledger]); a read-back of it carries `read_context(key)` (a 404
is a lost write). Without such writes the canary ledger still measures data loss ([canary]).
"""

from __future__ import annotations

from locust import HttpUser, events, task

from drills.locustfile import TIMEOUT, DrillsShape, setup, think_time

setup(events)
__all__ = ["DrillsShape", "{class_name}"]  # Locust finds the users and the shape among these


class {class_name}(HttpUser):
    """One user of {name}."""

    wait_time = think_time()

    @task(1)
    def health(self) -> None:
        """The liveness endpoint answers."""
        self.client.get("{health}", name="{health}", timeout=TIMEOUT)

    @task(1)
    def ready(self) -> None:
        """The readiness endpoint answers."""
        self.client.get("{ready}", name="{ready}", timeout=TIMEOUT)

    # @task(5)
    # def write(self) -> None:
    #     """A write users must not lose (from drills.load.acknowledge import ack_context)."""
    #     key = uuid.uuid4().hex
    #     self.client.put(f"/items/{{key}}", json={{"name": "drill"}}, name="/items/[key]",
    #                     context=ack_context(key, payload_hash), timeout=TIMEOUT)
'''
