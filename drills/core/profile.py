"""Environment profiles: TOML files that say what a drill may touch and what it must achieve.

A profile (``fixtures/environments/<name>.toml``) holds the services with their RTO/RPO targets,
the alert thresholds, the stability window, the kill switch, the blast radius, the safety
allowlists, where the targets are and how much load to drive. `load_profile` parses and validates
it into frozen dataclasses; every error names the file, the key and the fix, and an unknown key
is an error with a did-you-mean (a typo must never silently fall back to a default).
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from math import inf
from pathlib import Path
from typing import Any

from drills.core.canary import CanarySettings
from drills.core.certification_settings import CertificationSettings
from drills.core.database_settings import (
    DATABASE_KINDS,
    RESTORED_PREFIX_MAX,
    DatabaseSettings,
    env_name_problem,
    rds_identifier_problem,
)
from drills.core.dataloss import LedgerLimits
from drills.core.ddos import DdosSettings
from drills.core.drill import DefaultWaits
from drills.core.dsn import read_dsn
from drills.core.durations import parse_duration
from drills.core.error_rate import ErrorRateSettings
from drills.core.errors import ConfigError
from drills.core.incident import PhaseBudgets
from drills.core.journeys import Journey, JourneyProblem, parse_journeys
from drills.core.memory import OomSettings, memory_bytes
from drills.core.objectives import Objective, ObjectiveKind
from drills.core.safety import Allowlist, BlastRadius
from drills.core.secrets import learn_secrets
from drills.core.services import (
    DATABASE_KINDS_OF_SERVICES,
    ServiceDatabase,
    ServiceLedger,
    ServiceLoad,
    ServiceWorkload,
)
from drills.core.trend import HistorySettings

__all__ = [
    "AutoscalingSettings",
    "Endpoints",
    "EvidenceSettings",
    "KillSwitch",
    "LoadSettings",
    "LoadShape",
    "PoolSettings",
    "Profile",
    "ServiceObjectives",
    "Targets",
    "Thresholds",
    "available_profiles",
    "load_profile",
    "parse_objective_override",
    "resolve_endpoints",
    "resolve_profile_path",
]

TARGET_KINDS = ("sandbox", "containers", "cluster")
_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_SQL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_OVERRIDE = re.compile(r"^(?P<service>[A-Za-z][\w-]*)\.(?P<kind>rto|rpo)=(?P<value>.+)$", re.I)


@dataclass(frozen=True)
class ServiceObjectives:
    """One `[services.<name>]`: its recovery targets in seconds (None: no target).

    When it names a `deployment`, also where it runs and how it is reached
    (`drills.core.services.ServiceWorkload`).
    """

    name: str
    rto_s: float | None = None
    rpo_s: float | None = None
    workload: ServiceWorkload | None = None

    def objectives(self) -> tuple[Objective, ...]:
        """The service's targets as `Objective` values."""
        pairs = ((ObjectiveKind.RTO, self.rto_s), (ObjectiveKind.RPO, self.rpo_s))
        return tuple(Objective(kind, self.name, s) for kind, s in pairs if s is not None)


@dataclass(frozen=True)
class Thresholds:
    """The user-side health thresholds steady state is judged against.

    `error_budget` is the share of user requests a fault that leaves capacity may fail between
    injection and recovery (RUNBOOKS.md §3.2 `fraction`: aim for zero with two replicas left).
    """

    error_ratio: float = 0.01
    p95_latency_s: float = 1.0
    error_budget: float = 0.01


@dataclass(frozen=True)
class PoolSettings:
    """How the `db-pool-exhaustion` drill applies the runbook's idle rule (`[pool]`).

    The runbook terminates sessions idle longer than `idle_after_s` (10 min [003]); a drill may
    scale that age with `idle_scale` so it runs in seconds (the report prints both). Once
    recovered, at least `headroom` ordinary connection slots must be free.

    The leak is capped like any fault: it fills only the slots of the shop's own role or
    database (their CONNECTION LIMIT), unless `fill_server` opts in to fill every ordinary slot
    of a server the shop does not share; `max_sessions`, when set, caps it further. Users not
    served again within `reset_after_s` of the termination get the runbook's pool reset
    (`rollout restart`, RUNBOOKS.md §3.5 step 3).
    """

    idle_after_s: float = 600.0
    idle_scale: float = 1.0
    headroom: int = 5
    fill_server: bool = False
    max_sessions: int | None = None
    reset_after_s: float = 60.0

    @property
    def idle_age_s(self) -> float:
        """The idle age the drill applies: the runbook's age times the scale."""
        return self.idle_after_s * self.idle_scale


@dataclass(frozen=True)
class KillSwitch:
    """Abort a drill when the user-side error ratio stays above `error_ratio` for `sustained_s`."""

    error_ratio: float = 0.5
    sustained_s: float = 300.0


@dataclass(frozen=True)
class Targets:
    """Where the systems under drill are; paths are relative to the repository root."""

    kind: str = "sandbox"
    endpoints_file: str | None = None
    kubeconfig: str | None = None
    kube_context: str | None = None
    namespace: str | None = None
    deployment: str = "shop"
    database_dsn_env: str | None = None
    admin_dsn_env: str | None = None
    service_url: str | None = None
    aws_region: str | None = None
    bad_release_image: str | None = None  # None: the running image's repository, tag `bad`
    pod_service_url: str | None = None  # the service inside the cluster, for in-cluster load


@dataclass(frozen=True)
class Endpoints:
    """Where a running environment answers (the DESIGN.md endpoints.json keys)."""

    kube_api: str | None
    service_url: str | None
    database_dsn: str | None
    namespace: str | None
    kubeconfig: Path | None
    kube_context: str | None
    admin_dsn: str | None = None  # a superuser's DSN, for drills that manage sessions or WAL
    kubernetes_version: str | None = None  # what the environment reports running, when known
    cluster_settings: tuple[Mapping[str, str], ...] = ()  # flags set away from upstream defaults
    aws_endpoint: str | None = None  # an AWS API of our own (the sandbox's moto); None: AWS's
    pod_gateway: str | None = None  # where the sandbox's pods reach this machine (in-cluster load)
    pod_service_url: str | None = None  # the service as pods reach it (in-cluster load)
    service_urls: Mapping[str, str] = field(default_factory=dict)  # per described service
    service_dsns: Mapping[str, str] = field(default_factory=dict)  # per described service
    pod_service_urls: Mapping[str, str] = field(default_factory=dict)  # per service, for pods


def resolve_endpoints(
    targets: Targets, root: Path, environ: Mapping[str, str], *, profile_path: Path | str = ""
) -> Endpoints:
    """Read the endpoints: from `endpoints_file` when set (the sandbox), else from the profile.

    The DSNs come from the variables `database_dsn_env` and `admin_dsn_env` name (checked
    whenever named: unset, empty or malformed is a ConfigError, `drills.core.dsn`), else from
    endpoints.json; they are never stored in a profile. The service URL comes from
    endpoints.json or the profile's `service_url`. Raises ConfigError saying how to bring the
    environment up. The secrets it sees (DSN passwords, the kubeconfig's credentials, AWS
    keys in `environ`) are taught to the process's redactor (`drills.core.secrets`).
    """
    data: Mapping[str, Any] = {}
    if targets.endpoints_file:
        data = _read_endpoints(root / targets.endpoints_file, targets.kind)
    where = str(profile_path or "<profile>")
    # A variable the profile names is always read and checked, and wins over endpoints.json.
    dsn = read_dsn(
        environ, targets.database_dsn_env, key="targets.database_dsn_env", where=where
    ) or data.get("database_dsn")
    admin = read_dsn(
        environ, targets.admin_dsn_env, key="targets.admin_dsn_env", where=where
    ) or data.get("admin_dsn")
    kubeconfig = Path(targets.kubeconfig).expanduser() if targets.kubeconfig else None
    if kubeconfig is not None and not kubeconfig.is_absolute():
        kubeconfig = root / kubeconfig
    service_dsns = {str(k): str(v) for k, v in (data.get("service_dsns") or {}).items()}
    learn_secrets(environ, dsns=(dsn, admin, *service_dsns.values()), kubeconfig=kubeconfig)
    return Endpoints(
        kube_api=data.get("kube_api"),
        service_url=data.get("service_url") or targets.service_url,
        database_dsn=dsn,
        namespace=data.get("namespace") or targets.namespace,
        kubeconfig=kubeconfig,
        kube_context=targets.kube_context,
        admin_dsn=admin,
        kubernetes_version=data.get("kubernetes_version"),
        cluster_settings=tuple(data.get("timings") or ()),
        aws_endpoint=data.get("aws_endpoint"),
        pod_gateway=data.get("pod_gateway"),
        pod_service_url=data.get("pod_service_url") or targets.pod_service_url,
        service_urls=dict(data.get("service_urls") or {}),
        service_dsns=service_dsns,
        pod_service_urls=dict(data.get("pod_service_urls") or {}),
    )


def _read_endpoints(path: Path, kind: str) -> Mapping[str, Any]:
    up = "run `drills sandbox up`" if kind == "sandbox" else "start the environment first"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path} does not exist, so the {kind} is not up; {up}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}); {up} again") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object; {up} again")
    return data


@dataclass(frozen=True)
class LoadShape:
    """One named traffic shape: how many users, how fast they arrive, for how long."""

    name: str
    users: int
    spawn_rate: float
    duration_s: float | None = None


@dataclass(frozen=True)
class LoadSettings:
    """Default traffic for drills: the shape used unless a scenario picks another.

    Every request gives up after `connect_timeout_s` to connect and `read_timeout_s` to answer
    (Locust's HttpSession has no timeout), so a hung request is a recorded failure. Both stay
    under the stability window: a stuck user shows up inside any window recovery is judged on.
    """

    users: int = 20
    spawn_rate: float = 10.0
    shape: str = "steady"
    shapes: tuple[LoadShape, ...] = ()
    connect_timeout_s: float = 2.0
    read_timeout_s: float = 5.0
    worker_image: str = "drills/drills-locust:dev"  # --load-in-cluster's worker pods
    worker_locustfile: str | None = None  # its path in that image (None: this machine's)

    def get(self, name: str) -> LoadShape:
        """The shape called `name`; `steady` always exists (users and spawn rate above)."""
        for shape in self.shapes:
            if shape.name == name:
                return shape
        if name == "steady":
            return LoadShape("steady", self.users, self.spawn_rate)
        known = ", ".join(sorted({"steady", *(s.name for s in self.shapes)}))
        raise ConfigError(f"no load shape '{name}' in the profile (known: {known})")


@dataclass(frozen=True)
class AutoscalingSettings:
    """What the `hpa-spike` drill expects of the HorizontalPodAutoscaler (`[autoscaling]`).

    `hpa` None means the HPA is named like the Deployment. The bounds are seconds: spike start
    to the first scale-up, and spike end to being back at `min_replicas`. The spike's peak is
    `spike_factor` times the baseline users when set, else the `[load.shapes.spike]` users.
    HPA decisions are compared with the rule only once the pods have stayed unchanged for
    `metrics_settle_s` (a new pod has no metrics yet, so the HPA counts fewer pods).
    `scale_down_window_s` is the scale-down stabilisation window the HPA must keep: no scale-in
    while a higher recommendation is that recent, and the scale-in due once none is (None: the
    window the HPA declares, else upstream's 5 min). `sync_period_s` is the controller's
    `--horizontal-pod-autoscaler-sync-period` (upstream 15 s), how stale a decision may be.
    """

    hpa: str | None = None
    min_replicas: int = 3
    max_replicas: int = 10
    scale_up_within_s: float = 60.0
    scale_in_within_s: float = 120.0
    spike_hold_s: float = 40.0
    spike_factor: float | None = None  # None: the peak is [load.shapes.spike] users
    metrics_settle_s: float = 60.0  # pods unchanged this long before a decision is judged
    scale_down_window_s: float | None = None  # None: the HPA's own, else upstream's 5 min
    sync_period_s: float = 15.0  # the HPA controller's sync period


@dataclass(frozen=True)
class EvidenceSettings:
    """How `drills evidence seal` signs: `signing_key` is an Ed25519 PEM path (None: default)."""

    signing_key: Path | None = None


@dataclass(frozen=True)
class Profile:
    """A validated environment profile."""

    name: str
    path: Path
    description: str = ""
    services: tuple[ServiceObjectives, ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)
    pool: PoolSettings = field(default_factory=PoolSettings)
    oom: OomSettings = field(default_factory=OomSettings)
    error_rate: ErrorRateSettings = field(default_factory=ErrorRateSettings)
    ddos: DdosSettings = field(default_factory=DdosSettings)
    waits: DefaultWaits = field(default_factory=DefaultWaits)
    kill_switch: KillSwitch = field(default_factory=KillSwitch)
    blast_radius: BlastRadius = field(default_factory=BlastRadius)
    allowlist: Allowlist = field(default_factory=Allowlist)
    targets: Targets = field(default_factory=Targets)
    load: LoadSettings = field(default_factory=LoadSettings)
    autoscaling: AutoscalingSettings = field(default_factory=AutoscalingSettings)
    ledger: LedgerLimits = field(default_factory=LedgerLimits)
    canary: CanarySettings = field(default_factory=CanarySettings)
    phases: PhaseBudgets = field(default_factory=PhaseBudgets)
    certification: CertificationSettings = field(default_factory=CertificationSettings)
    evidence: EvidenceSettings = field(default_factory=EvidenceSettings)
    history: HistorySettings = field(default_factory=HistorySettings)
    halt_file: Path | None = None  # [safety] halt_file; None: <root>/.drills/halt/<name>
    database: DatabaseSettings = field(default_factory=DatabaseSettings)  # [database], RDS path

    def service(self, name: str) -> ServiceObjectives | None:
        """The objectives of service `name`, if the profile lists it."""
        return next((s for s in self.services if s.name == name), None)

    def is_first_service(self, name: str) -> bool:
        """Whether service `name` is the one the environment's single endpoints stand for.

        An environment gives one service URL and one database DSN (endpoints.json, `[targets]`):
        they are the first described service's. Another service needs its own (`url`,
        `dsn_env`, or the environment's `service_urls` / `service_dsns`), never those.
        """
        first = self.app_service()
        return first is None or first.name == name

    def app_service(self, name: str | None = None) -> ServiceObjectives | None:
        """The service drills run against: `name` (`--service`), else the first described one.

        None when no service names a deployment (a profile of objectives only: the drills use
        `[targets] deployment`). ConfigError when `name` is not a described service.
        """
        described = [s for s in self.services if s.workload is not None]
        if name is None:
            return described[0] if described else None
        found = next((s for s in described if s.name == name), None)
        if found is None:
            known = ", ".join(s.name for s in described) or "none"
            raise ConfigError(
                f"profile {self.path} describes no service {name!r} with a deployment (described: "
                f'{known}); add [services.{name}] with deployment = "...", or `drills init`'
            )
        return found

    def objectives(self) -> tuple[Objective, ...]:
        """Every service's objectives, in file order."""
        return tuple(o for s in self.services for o in s.objectives())

    def with_objectives(self, overrides: Iterable[Objective]) -> Profile:
        """A copy where each override replaces (or adds) that service's target."""
        services = {s.name: s for s in self.services}
        for objective in overrides:
            current = services.get(objective.service, ServiceObjectives(objective.service))
            if objective.kind is ObjectiveKind.RTO:
                current = replace(current, rto_s=objective.target_s)
            else:
                current = replace(current, rpo_s=objective.target_s)
            services[objective.service] = current
        return replace(self, services=tuple(services.values()))


def parse_objective_override(text: str, *, source: str = "--drill-objective") -> Objective:
    """Parse `SERVICE.rto=DURATION` or `SERVICE.rpo=DURATION` into an Objective."""
    match = _OVERRIDE.match(text.strip())
    if match is None:
        raise ConfigError(
            f"{source}: {text!r} is not SERVICE.rto=DURATION or SERVICE.rpo=DURATION "
            "(e.g. shop.rto=15m, database.rpo=15m)"
        )
    try:
        seconds = parse_duration(match["value"])
    except ValueError as exc:
        raise ConfigError(f"{source}: {text!r}: {exc}") from exc
    return Objective(ObjectiveKind(match["kind"].upper()), match["service"], seconds)


def available_profiles(directory: Path) -> list[str]:
    """Profile names (file stems) found in `directory`, sorted."""
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.glob("*.toml"))


def resolve_profile_path(name_or_path: str, directory: Path) -> Path:
    """Find a profile by name in `directory`, or accept a path to a .toml file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml":
        if candidate.is_file():
            return candidate
        raise ConfigError(f"profile file {candidate} does not exist; check the path")
    path = directory / f"{name_or_path}.toml"
    if path.is_file():
        return path
    template = directory / f"{name_or_path}.example.toml"
    if template.is_file():
        raise ConfigError(
            f"no environment profile '{name_or_path}' in {directory} yet; copy {template.name} "
            f"to {path.name}, fill in its allowlists and targets, and run again"
        )
    known = available_profiles(directory)
    hint = _did_you_mean(name_or_path, known)
    raise ConfigError(
        f"no environment profile '{name_or_path}' in {directory}{hint} "
        f"(available: {', '.join(known) or 'none'}); create {path} or pick an available one"
    )


def load_profile(path: Path) -> Profile:
    """Read and validate one profile file; raises ConfigError naming file, key and fix."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"profile file {path} does not exist; check --drill-env") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from exc
    root = _Table(path, data, "")
    safety = root.table("safety")
    profile = Profile(
        name=root.text("name", path.stem),
        path=path,
        description=root.text("description", ""),
        services=_services(root.table("services")),
        thresholds=_thresholds(root.table("thresholds")),
        pool=_pool(root.table("pool")),
        oom=_oom(root.table("oom")),
        error_rate=_error_rate(root.table("error_rate")),
        ddos=_ddos(root.table("ddos")),
        waits=(waits := _waits(root.table("waits"))),
        kill_switch=_kill_switch(root.table("kill_switch")),
        blast_radius=_blast_radius(safety),
        halt_file=_halt_file(safety, path),
        allowlist=_allowlist(safety, path),
        targets=_targets(root.table("targets")),
        load=_load(root.table("load"), stability_window_s=waits.stability_window_s),
        autoscaling=_autoscaling(root.table("autoscaling")),
        ledger=_ledger(root.table("ledger")),
        canary=_canary(root.table("canary")),
        phases=_phases(root.table("phases")),
        certification=_certification(root.table("certification")),
        evidence=_evidence(root.table("evidence"), path),
        history=_history(root.table("history")),
        database=_database(root.table("database")),
    )
    root.finish()
    return profile


# -- sections ------------------------------------------------------------------------------------
def _services(table: _Table) -> tuple[ServiceObjectives, ...]:
    services = []
    for name in table.names():
        section = table.table(name)
        if not _SERVICE_NAME.match(name):
            raise table.error(name, "is not a valid service name", "use lower-case letters, - or _")
        rto_s = section.duration("rto", None)
        rpo_s = section.duration("rpo", None)
        workload = _workload(section, name)
        section.finish()
        services.append(ServiceObjectives(name, rto_s, rpo_s, workload))
    table.finish()
    return tuple(services)


def _workload(section: _Table, name: str) -> ServiceWorkload | None:
    """The service's place (`deployment` and the keys beside it), None for objectives only."""
    deployment = section.text("deployment", None)
    keys = ("namespace", "service", "url", "pod_url", "hpa", "worker")
    given = {key: section.text(key, None) for key in keys}
    paths = {key: section.text(key, None) for key in ("health_path", "ready_path")}
    database, load = section.table("database"), section.table("load")
    ledger = section.table("ledger")
    journeys = section._get("journeys")  # an array of tables: [[services.<name>.journeys]]
    if deployment is None:
        extra = [k for k in (*keys, *paths) if given.get(k) or paths.get(k)]
        extra += [t for t in ("database", "load", "ledger", "journeys") if t in section.data]
        if extra:
            raise section.error(
                extra[0],
                "describes a workload, but the service names no deployment",
                f'add deployment = "<name>" to [services.{name}], or remove {extra[0]}',
            )
        return None
    for key, value in paths.items():
        if value is not None and not value.startswith("/"):
            raise section.error(key, f"is {value!r}", f'write a path, e.g. {key} = "/healthz"')
    workload = ServiceWorkload(
        deployment=deployment,
        **given,
        health_path=paths["health_path"] or "/healthz",
        ready_path=paths["ready_path"] or "/readyz",
        database=_service_database(database) if "database" in section.data else None,
        load=_service_load(load, _service_journeys(section, journeys)),
        ledger=_service_ledger(ledger),
    )
    _check_journey_ledger(section, workload, name)
    return workload


def _check_journey_ledger(section: _Table, workload: ServiceWorkload, name: str) -> None:
    """Acknowledging journeys declare keys only, so their ledger must check keys only."""
    if not any(j.ack for j in workload.load.journeys):
        return
    if "ledger" not in section.data or workload.ledger.hash_column is not None:
        raise section.error(
            "ledger",
            "does not say where a journey's acknowledged key is read back, by key alone",
            f"add [services.{name}.ledger] with table and key_column and no hash_column "
            "(journeys declare no payload hash)",
        )


def _service_database(table: _Table) -> ServiceDatabase:
    kind = table.text("kind", "postgres")
    if kind not in DATABASE_KINDS_OF_SERVICES:
        raise table.error(
            "kind", f"is {kind!r}", f"use one of {', '.join(DATABASE_KINDS_OF_SERVICES)}"
        )
    dsn_env = table.text("dsn_env", None)
    if dsn_env is not None and env_name_problem(dsn_env):
        raise table.error("dsn_env", f"is {dsn_env!r}", env_name_problem(dsn_env))
    table.finish()
    return ServiceDatabase(kind=kind, dsn_env=dsn_env)


def _service_ledger(table: _Table) -> ServiceLedger:
    """The ledger's table and columns; a given table without `hash_column` checks keys only."""
    defaults = ServiceLedger()
    if not table.data:
        return defaults
    value = ServiceLedger(
        table=table.text("table", defaults.table),
        key_column=table.text("key_column", defaults.key_column),
        hash_column=table._get("hash_column") or None,
    )
    for key in ("table", "key_column", "hash_column"):
        given = getattr(value, key)
        if given is not None and not (isinstance(given, str) and _SQL_NAME.match(given)):
            raise table.error(key, f"is {given!r}", "write a plain SQL name, e.g. notes")
    table.finish()
    return value


def _service_journeys(section: _Table, items: object) -> tuple[Journey, ...]:
    if items is None:
        return ()
    try:
        return parse_journeys(items, section.key("journeys"))
    except JourneyProblem as exc:
        raise ConfigError.bad_key(section.path, exc.key, exc.problem, exc.fix) from None


def _service_load(table: _Table, journeys: tuple[Journey, ...]) -> ServiceLoad:
    value = ServiceLoad(
        locustfile=table.text("locustfile", None),
        user_classes=table.strings("user_classes"),
        users=table.integer("users", None),
        spawn_rate=table.number("spawn_rate", 0.0) or None,
        journeys=journeys,
    )
    if value.locustfile is not None and journeys:
        raise table.error(
            "locustfile",
            "is set beside [[journeys]]: the users would be defined twice",
            "keep the locustfile (and remove the journeys) or remove locustfile = ... so the "
            "generic user runs the journeys",
        )
    table.finish()
    return value


def _thresholds(table: _Table) -> Thresholds:
    value = Thresholds(
        error_ratio=table.ratio("error_ratio", Thresholds.error_ratio),
        p95_latency_s=table.duration("p95_latency", Thresholds.p95_latency_s) or 0.0,
        error_budget=table.ratio("error_budget", Thresholds.error_budget),
    )
    table.finish()
    return value


def _evidence(table: _Table, path: Path) -> EvidenceSettings:
    text = table.text("signing_key", None)
    table.finish()
    if text is None:
        return EvidenceSettings()
    key = Path(text).expanduser()
    return EvidenceSettings(key if key.is_absolute() else path.parent / key)


def _history(table: _Table) -> HistorySettings:
    defaults = HistorySettings()
    value = HistorySettings(
        window=table.integer("window", defaults.window) or defaults.window,
        rto_growth=table.number("rto_growth", defaults.rto_growth),
        rpo_growth=table.number("rpo_growth", defaults.rpo_growth),
    )
    table.finish()
    return value


def _certification(table: _Table) -> CertificationSettings:
    defaults = CertificationSettings()
    marks = table.strings("escalation_marks")
    try:
        value = CertificationSettings(
            quiz_pass_mark=table.ratio("quiz_pass_mark", defaults.quiz_pass_mark),
            quiz_questions=table.count("quiz_questions", defaults.quiz_questions),
            recertify_every_s=_required(
                table.duration("recertify_every", defaults.recertify_every_s)
            ),
            ack_within_s=_required(table.duration("ack_within", defaults.ack_within_s)),
            escalation_marks_s=_marks(table, marks) if marks else defaults.escalation_marks_s,
            escalation_grace_s=_required(
                table.duration("escalation_grace", defaults.escalation_grace_s)
            ),
            postmortem_tolerance_s=_required(
                table.duration("postmortem_tolerance", defaults.postmortem_tolerance_s)
            ),
        )
    except ValueError as exc:
        raise ConfigError(f"{table.path}: {exc}") from exc
    table.finish()
    return value


def _marks(table: _Table, marks: tuple[str, ...]) -> tuple[float, ...]:
    try:
        return tuple(parse_duration(mark) for mark in marks)
    except ValueError as exc:
        raise table.error(
            "escalation_marks", f"is {list(marks)!r} ({exc})", 'write e.g. ["15m", "30m"]'
        ) from exc


def _phases(table: _Table) -> PhaseBudgets:
    defaults = PhaseBudgets()
    value = PhaseBudgets(
        detect_s=_required(table.duration("detect", defaults.detect_s)),
        mitigate_s=_required(table.duration("mitigate", defaults.mitigate_s)),
        resolve_s=_required(table.duration("resolve", defaults.resolve_s)),
    )
    budgets = (("detect", value.detect_s), ("mitigate", value.mitigate_s))
    for key, seconds in (*budgets, ("resolve", value.resolve_s)):
        if seconds <= 0:
            raise table.error(key, "must be above zero", f'write e.g. {key} = "5m"')
    table.finish()
    return value


def _pool(table: _Table) -> PoolSettings:
    defaults = PoolSettings()
    value = PoolSettings(
        idle_after_s=_required(table.duration("idle_after", defaults.idle_after_s)),
        idle_scale=table.ratio("idle_scale", defaults.idle_scale),
        headroom=table.integer("headroom", defaults.headroom) or defaults.headroom,
        fill_server=table.flag("fill_server", default=defaults.fill_server),
        max_sessions=table.integer("max_sessions", defaults.max_sessions),
        reset_after_s=_required(table.duration("reset_after", defaults.reset_after_s)),
    )
    if value.idle_after_s <= 0:
        raise table.error("idle_after", "must be above zero", 'write e.g. idle_after = "10m"')
    if value.idle_scale == 0:
        raise table.error("idle_scale", "is 0", "use a fraction in (0, 1], e.g. 0.005")
    table.finish()
    return value


def _oom(table: _Table) -> OomSettings:
    defaults = OomSettings()
    value = OomSettings(
        leak_kb=table.integer("leak_kb_per_request", defaults.leak_kb) or defaults.leak_kb,
        limit=table.text("limit", defaults.limit),
        raised_limit=table.text("raised_limit", defaults.raised_limit),
        memory_warning=table.ratio("memory_warning", defaults.memory_warning),
        top_for_s=_required(table.duration("top_for", defaults.top_for_s)),
    )
    for key, quantity in (("limit", value.limit), ("raised_limit", value.raised_limit)):
        try:
            memory_bytes(quantity)
        except ValueError as exc:
            raise table.error(key, str(exc), f'write e.g. {key} = "1Gi"') from exc
    if value.raised_limit_bytes <= value.limit_bytes:
        raise table.error("raised_limit", "is not above limit", 'raise it, e.g. "1Gi" [000]')
    table.finish()
    return value


def _optional_number(table: _Table, key: str) -> float | None:
    """A number >= 0 when the key is there, else None."""
    return table.number(key, -1.0) if key in table.data else None


def _ddos(table: _Table) -> DdosSettings:
    defaults = DdosSettings()
    value = DdosSettings(
        rate_limit=table.text("rate_limit", defaults.rate_limit),
        attacker_users=table.integer("attacker_users", defaults.attacker_users) or 0,
        attacker_rate=table.number("attacker_rate", defaults.attacker_rate),
        attacker_identities=table.strings("attacker_identities") or defaults.attacker_identities,
        offender_factor=table.number("offender_factor", defaults.offender_factor),
        throttled_share=table.ratio("throttled_share", defaults.throttled_share),
        throttled_within_s=_required(
            table.duration("throttled_within", defaults.throttled_within_s)
        ),
        load_balancer_arn=table.text("load_balancer_arn", defaults.load_balancer_arn),
        users=table.integer("users", defaults.users),
        users_think=_optional_number(table, "users_think"),
        cpu_work_ms=_optional_number(table, "cpu_work_ms"),
    )
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?(/[sm])?", value.rate_limit):
        raise table.error("rate_limit", "is not N, N/s or N/m", 'write e.g. rate_limit = "100/s"')
    if value.attacker_users < 1:
        raise table.error("attacker_users", "must be at least 1", "write e.g. attacker_users = 30")
    if value.offender_factor <= 1:
        raise table.error("offender_factor", "must be above 1", "write e.g. offender_factor = 10")
    table.finish()
    return value


def _error_rate(table: _Table) -> ErrorRateSettings:
    defaults = ErrorRateSettings()
    value = ErrorRateSettings(
        window_s=_required(table.duration("window", defaults.window_s)),
        window_scale=table.ratio("window_scale", defaults.window_scale),
        critical=table.ratio("critical", defaults.critical),
        warning=table.ratio("warning", defaults.warning),
        p2=table.ratio("p2", defaults.p2),
        fail_share=table.ratio("fail_share", defaults.fail_share),
    )
    if value.effective_window_s <= 0:
        raise table.error("window", "times window_scale is 0", 'write e.g. window = "5m"')
    if value.fail_share <= value.critical:
        raise table.error(
            "fail_share", "is not above the critical line", "the release must fire it, e.g. 0.1"
        )
    table.finish()
    return value


def _ledger(table: _Table) -> LedgerLimits:
    defaults = LedgerLimits()
    value = LedgerLimits(
        max_duplicates=table.count("max_duplicates", defaults.max_duplicates),
        max_unexpected_ratio=table.ratio("max_unexpected_ratio", defaults.max_unexpected_ratio),
    )
    table.finish()
    return value


def _canary(table: _Table) -> CanarySettings:
    defaults = CanarySettings()
    value = CanarySettings(
        enabled=table.flag("enabled", default=defaults.enabled),
        rate_per_s=table.number("rate_per_s", defaults.rate_per_s),
    )
    if not 0.1 <= value.rate_per_s <= 200:
        raise table.error(
            "rate_per_s",
            f"is {value.rate_per_s:g}",
            "write a rate between 0.1 and 200 canary writes per second, e.g. rate_per_s = 20",
        )
    table.finish()
    return value


def _waits(table: _Table) -> DefaultWaits:
    defaults = DefaultWaits()
    value = DefaultWaits(
        steady_state_timeout_s=_required(
            table.duration("steady_state_timeout", defaults.steady_state_timeout_s)
        ),
        stability_window_s=_required(
            table.duration("stability_window", defaults.stability_window_s)
        ),
        poll_s=_required(table.duration("poll", defaults.poll_s)),
    )
    if value.poll_s <= 0:
        raise table.error("poll", "must be above zero", 'write e.g. poll = "200ms"')
    table.finish()
    return value


def _kill_switch(table: _Table) -> KillSwitch:
    value = KillSwitch(
        error_ratio=table.ratio("error_ratio", KillSwitch.error_ratio),
        sustained_s=_required(table.duration("sustained", KillSwitch.sustained_s)),
    )
    table.finish()
    return value


def _blast_radius(table: _Table) -> BlastRadius:
    fraction = table.ratio("max_fraction", 0.5)
    if fraction == 0:
        raise table.error("max_fraction", "is 0, so no fault could act", "use a value in (0, 1]")
    count = table.integer("max_count", None)
    return BlastRadius(max_fraction=fraction, max_count=count)


def _halt_file(table: _Table, path: Path) -> Path | None:
    """`[safety] halt_file`: the halt lever's path (relative paths: from the profile's folder)."""
    text = table.text("halt_file", None)
    if text is None:
        return None
    halt = Path(text).expanduser()
    return halt if halt.is_absolute() else path.parent / halt


def _allowlist(table: _Table, path: Path) -> Allowlist:
    value = Allowlist(
        kube_contexts=table.strings("kube_contexts"),
        namespaces=table.strings("namespaces"),
        aws_accounts=table.strings("aws_accounts"),
        source=str(path),
    )
    table.finish()
    return value


def _targets(table: _Table) -> Targets:
    kind = table.text("kind", "sandbox")
    if kind not in TARGET_KINDS:
        raise table.error("kind", f"is {kind!r}", f"use one of {', '.join(TARGET_KINDS)}")
    value = Targets(
        kind=kind,
        endpoints_file=table.text("endpoints_file", None),
        kubeconfig=table.text("kubeconfig", None),
        kube_context=table.text("kube_context", None),
        namespace=table.text("namespace", None),
        deployment=table.text("deployment", "shop"),
        database_dsn_env=table.text("database_dsn_env", None),
        admin_dsn_env=table.text("admin_dsn_env", None),
        service_url=table.text("service_url", None),
        aws_region=table.text("aws_region", None),
        bad_release_image=table.text("bad_release_image", None),
        pod_service_url=table.text("pod_service_url", None),
    )
    table.finish()
    return value


def _database(table: _Table) -> DatabaseSettings:
    """`[database]`: local tools (default) or the RDS API (drills.core.database_settings)."""
    kind = table.text("kind", "local")
    if kind not in DATABASE_KINDS:
        raise table.error("kind", f"is {kind!r}", f"use one of {', '.join(DATABASE_KINDS)}")
    if kind != "rds":
        table.finish()  # the RDS keys mean nothing here: finish() names any as unknown
        return DatabaseSettings(kind=kind)
    defaults = DatabaseSettings()
    value = DatabaseSettings(
        kind=kind,
        instance_id=table.text("instance_id", None),
        region=table.text("region", None),
        restored_prefix=table.text("restored_prefix", defaults.restored_prefix),
        restored_dsn_env=table.text("restored_dsn_env", None),
        wait_timeout_s=_required(table.duration("wait_timeout", defaults.wait_timeout_s)),
        wait_poll_s=_required(table.duration("wait_poll", defaults.wait_poll_s)),
        sandbox_creating_s=table.duration("sandbox_creating", None),
    )
    for key, example in (("instance_id", '"shop-db"'), ("region", '"eu-west-1"')):
        if getattr(value, key) is None:
            raise table.error(key, "is missing", f'kind = "rds" needs it, e.g. {key} = {example}')
    _rds_ids(table, value)
    if value.restored_dsn_env is not None and env_name_problem(value.restored_dsn_env):
        raise table.error(
            "restored_dsn_env", env_name_problem(value.restored_dsn_env), 'e.g. "RESTORED_DSN"'
        )
    if not 0 < value.wait_poll_s < value.wait_timeout_s:
        raise table.error(
            "wait_poll", "must be above 0 and below wait_timeout", 'e.g. wait_poll = "15s"'
        )
    table.finish()
    return value


def _rds_ids(table: _Table, value: DatabaseSettings) -> None:
    checks = (
        ("instance_id", value.instance_id or "", 63),
        ("restored_prefix", value.restored_prefix, RESTORED_PREFIX_MAX),
    )
    for key, text, most in checks:
        problem = rds_identifier_problem(text, max_len=most)
        if problem:
            raise table.error(key, f"is {text!r}: an RDS identifier {problem}", 'e.g. "shop-db"')


def _load(table: _Table, *, stability_window_s: float) -> LoadSettings:
    shapes_table = table.table("shapes")
    shapes = tuple(_shape(name, shapes_table.table(name)) for name in shapes_table.names())
    shapes_table.finish()
    value = LoadSettings(
        users=table.integer("users", LoadSettings.users) or 0,
        spawn_rate=table.number("spawn_rate", LoadSettings.spawn_rate),
        shape=table.text("shape", LoadSettings.shape),
        shapes=shapes,
        connect_timeout_s=_required(
            table.duration("connect_timeout", LoadSettings.connect_timeout_s)
        ),
        read_timeout_s=_required(table.duration("read_timeout", LoadSettings.read_timeout_s)),
        worker_image=table.text("worker_image", LoadSettings.worker_image),
        worker_locustfile=table.text("worker_locustfile", None),
    )
    table.finish()
    for key, seconds in (
        ("connect_timeout", value.connect_timeout_s),
        ("read_timeout", value.read_timeout_s),
    ):
        if not 0 < seconds < stability_window_s:
            raise table.error(
                key,
                f"is {seconds:g} s; it must be above 0 and under the stability window "
                f"({stability_window_s:g} s), or a hung request hides from the window",
                f'write e.g. {key} = "{min(5.0, stability_window_s / 2):g}s"',
            )
    try:
        value.get(value.shape)
    except ConfigError as exc:
        raise table.error("shape", str(exc), "define [load.shapes.<name>] or use steady") from exc
    return value


def _autoscaling(table: _Table) -> AutoscalingSettings:
    defaults = AutoscalingSettings()
    value = AutoscalingSettings(
        hpa=table.text("hpa", None),
        min_replicas=table.integer("min_replicas", defaults.min_replicas) or 1,
        max_replicas=table.integer("max_replicas", defaults.max_replicas) or 1,
        scale_up_within_s=_required(table.duration("scale_up_within", defaults.scale_up_within_s)),
        scale_in_within_s=_required(table.duration("scale_in_within", defaults.scale_in_within_s)),
        spike_hold_s=_required(table.duration("spike_hold", defaults.spike_hold_s)),
        spike_factor=_factor(table),
        metrics_settle_s=_required(table.duration("metrics_settle", defaults.metrics_settle_s)),
        scale_down_window_s=table.duration("scale_down_window", None),
        sync_period_s=_required(table.duration("sync_period", defaults.sync_period_s)),
    )
    if value.max_replicas < value.min_replicas:
        raise table.error(
            "max_replicas",
            f"is {value.max_replicas}, below min_replicas {value.min_replicas}",
            "make max_replicas >= min_replicas",
        )
    for key, seconds in (
        ("scale_up_within", value.scale_up_within_s),
        ("spike_hold", value.spike_hold_s),
        ("sync_period", value.sync_period_s),
    ):
        if seconds <= 0:
            raise table.error(key, "must be above zero", f'write e.g. {key} = "60s"')
    table.finish()
    return value


def _factor(table: _Table) -> float | None:
    if table.data.get("spike_factor") is None:
        return None
    factor = table.number("spike_factor", 1.0)
    if factor < 1:
        raise table.error("spike_factor", f"is {factor}, below 1", "write e.g. spike_factor = 3")
    return factor


def _shape(name: str, table: _Table) -> LoadShape:
    value = LoadShape(
        name=name,
        users=table.integer("users", None) or _missing(table, "users", "users = 50"),
        spawn_rate=table.number("spawn_rate", 10.0),
        duration_s=table.duration("duration", None),
    )
    table.finish()
    return value


def _missing(table: _Table, key: str, example: str) -> int:
    raise table.error(key, "is missing", f"add `{example}`")


def _required(value: float | None) -> float:
    return 0.0 if value is None else value


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Table:
    """One TOML table being read; keys nobody asked for are reported by `finish`."""

    def __init__(self, path: Path, data: Mapping[str, Any], prefix: str) -> None:
        self.path, self.data, self.prefix = path, data, prefix
        self._known: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, name: str, problem: str, fix: str) -> ConfigError:
        return ConfigError.bad_key(self.path, self.key(name), problem, fix)

    def names(self) -> list[str]:
        self._known.update(self.data)
        return list(self.data)

    def _get(self, name: str) -> Any:
        self._known.add(name)
        return self.data.get(name)

    def table(self, name: str) -> _Table:
        value = self._get(name)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self.error(name, "must be a table", f"write it as [{self.key(name)}]")
        return _Table(self.path, value, self.key(name))

    def text(self, name: str, default: str | None) -> Any:
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, str) or not value:
            raise self.error(name, f"is {value!r}", f'write a non-empty string, e.g. {name} = "x"')
        return value

    def strings(self, name: str) -> tuple[str, ...]:
        value = self._get(name)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(name, f"is {value!r}", f'write a list of strings, e.g. {name} = ["a"]')
        return tuple(value)

    def duration(self, name: str, default: float | None) -> float | None:
        value = self._get(name)
        if value is None:
            return default
        try:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise ValueError(f"not a duration: {value!r}")
            return parse_duration(value)
        except ValueError as exc:
            raise self.error(name, f"is {value!r} ({exc})", f'write e.g. {name} = "15m"') from exc

    def number(self, name: str, default: float) -> float:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < inf:
            raise self.error(name, f"is {value!r}", f"write a finite number >= 0, e.g. {name} = 10")
        return float(value)

    def integer(self, name: str, default: int | None) -> int | None:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(name, f"is {value!r}", f"write a whole number >= 1, e.g. {name} = 5")
        return value

    def count(self, name: str, default: int) -> int:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error(name, f"is {value!r}", f"write a whole number >= 0, e.g. {name} = 0")
        return value

    def flag(self, name: str, *, default: bool) -> bool:
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(name, f"is {value!r}", f"write true or false, e.g. {name} = true")
        return value

    def ratio(self, name: str, default: float) -> float:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise self.error(
                name,
                f"is {value!r}, not a fraction",
                f"write a fraction >= 0 and <= 1, e.g. {name} = 0.05 for 5%",
            )
        return float(value)

    def finish(self) -> None:
        for name in self.data:
            if name not in self._known:
                hint = _did_you_mean(name, self._known)
                known = ", ".join(sorted(self._known)) or "none"
                raise self.error(
                    name, f"is not a known key{hint}", f"remove it or use one of: {known}"
                )
