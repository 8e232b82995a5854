"""The upstream Kubernetes control plane of the sandbox, run as local processes.

`ControlPlane.start()` brings up, in order: etcd (data under ``<state>/etcd``),
kube-apiserver (TLS from `drills.sandbox.certs`, RBAC with the Node authoriser, default admission
plugins plus NodeRestriction, OpenAPI served, the audit log in ``<state>/audit.log``),
kube-controller-manager (every default controller, one service account per controller) and
kube-scheduler, then metrics-server once the nodes can be scraped. Each logs to
``<state>/logs/<component>.log``. The binaries come from the pinned build
(`drills.sandbox.build`); nothing here imitates Kubernetes.

Every address is loopback or the sandbox's own bridge address (the ``gateway``): the API server
listens on the gateway so that the ``kubernetes`` Service's endpoint is a valid, non-loopback
address reachable from the host and from pods alike.

Controller timings that would make a drill last minutes are shortened by upstream flags; each
shortened value is listed by `SANDBOX_TIMINGS` with its upstream default, and `timings()` returns
them for the report. `stop()` stops the processes newest first (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from drills.core.clock import SystemClock
from drills.core.conditions import Observation
from drills.core.errors import DrillError
from drills.core.waiting import wait_until
from drills.sandbox.addons import serving_dns_names
from drills.sandbox.certs import CertPair, Pki

__all__ = [
    "SANDBOX_TIMINGS",
    "ControlPlane",
    "ControlPlaneBinaries",
    "Timing",
    "free_port",
    "write_kubeconfig",
]

CONTEXT = "drills-sandbox"
SERVICE_CIDR = "10.96.0.0/16"
_STOP_GRACE_S = 10.0
_START_TIMEOUT_S = 60.0


class ControlPlaneBinaries(Protocol):
    """Where the pinned upstream binaries are (`drills.sandbox.build.Binaries` fits)."""

    @property
    def etcd(self) -> Path:
        """The etcd binary."""

    @property
    def kube_apiserver(self) -> Path:
        """The kube-apiserver binary."""

    @property
    def kube_controller_manager(self) -> Path:
        """The kube-controller-manager binary."""

    @property
    def kube_scheduler(self) -> Path:
        """The kube-scheduler binary."""

    @property
    def metrics_server(self) -> Path:
        """The metrics-server binary."""


@dataclass(frozen=True)
class Timing:
    """One controller timing the sandbox sets away from the upstream default."""

    component: str
    flag: str
    value: str
    upstream_default: str
    why: str

    def as_dict(self) -> dict[str, str]:
        """The row the report prints."""
        return {
            "component": self.component,
            "flag": self.flag,
            "value": self.value,
            "upstream_default": self.upstream_default,
            "why": self.why,
        }


SANDBOX_TIMINGS: tuple[Timing, ...] = (
    Timing(
        "kube-controller-manager",
        "--horizontal-pod-autoscaler-sync-period",
        "2s",
        "15s",
        "the HPA decides within seconds of a spike",
    ),
    Timing(
        "kube-controller-manager",
        "--horizontal-pod-autoscaler-downscale-stabilization",
        "10s",
        "5m0s",
        "scale-in after a spike within a drill's minute",
    ),
    Timing(
        "kube-controller-manager",
        "--horizontal-pod-autoscaler-cpu-initialization-period",
        "10s",
        "5m0s",
        "new pods' CPU counts sooner",
    ),
    Timing(
        "kube-controller-manager",
        "--horizontal-pod-autoscaler-initial-readiness-delay",
        "5s",
        "30s",
        "new pods' readiness counts sooner",
    ),
    Timing(
        "kube-controller-manager",
        "--node-monitor-period",
        "1s",
        "5s",
        "node heartbeats checked every second",
    ),
    Timing(
        "kube-controller-manager",
        "--node-monitor-grace-period",
        "10s",
        "50s",
        "a silent node turns NotReady within seconds",
    ),
    Timing(
        "kube-apiserver",
        "--default-not-ready-toleration-seconds",
        "10",
        "300",
        "pods on a NotReady node are evicted after 10 s",
    ),
    Timing(
        "kube-apiserver",
        "--default-unreachable-toleration-seconds",
        "10",
        "300",
        "pods on an unreachable node are evicted after 10 s",
    ),
    Timing(
        "metrics-server",
        "--metric-resolution",
        "10s",
        "1m0s",
        "fresh CPU and memory figures for the HPA and kubectl top",
    ),
    Timing(
        "metrics-server",
        "--kubelet-request-timeout",
        "5s",
        "10s",
        "metrics-server requires it below the metric resolution",
    ),
)
"""Every flag value the sandbox sets that differs from upstream, for the report."""


def _flags(component: str) -> list[str]:
    return [f"{t.flag}={t.value}" for t in SANDBOX_TIMINGS if t.component == component]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def write_kubeconfig(  # noqa: PLR0913 - the fields of one kubeconfig
    path: Path,
    *,
    server: str,
    ca: Path,
    client: CertPair,
    user: str,
    namespace: str | None = None,
    context: str = CONTEXT,
) -> Path:
    """Write a kubeconfig (JSON, which is valid YAML) with one cluster, user and context."""
    ctx: dict[str, str] = {"cluster": context, "user": user}
    if namespace:
        ctx["namespace"] = namespace
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": context, "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate": str(client.cert),
                    "client-key": str(client.key),
                },
            }
        ],
        "contexts": [{"name": context, "context": ctx}],
        "current-context": context,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


_AUDIT_POLICY = """\
# Every request is recorded with who, verb, resource, name and time; writes with their bodies.
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  # Secrets and token requests: metadata only, so no secret value reaches the log.
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets", "serviceaccounts/token"]
      - group: "authentication.k8s.io"
        resources: ["tokenreviews"]
  - level: Request
    verbs: ["create", "update", "patch", "delete", "deletecollection"]
  - level: Metadata
"""


@dataclass
class _Process:
    name: str
    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None


@dataclass
class ControlPlane:
    """etcd, kube-apiserver, kube-controller-manager, kube-scheduler and metrics-server."""

    state: Path
    binaries: ControlPlaneBinaries
    gateway: str
    processes: list[_Process] = field(default_factory=list)
    api_port: int = 0
    metrics_port: int = 0
    pki: Pki | None = None

    @property
    def url(self) -> str:
        """The API server's URL."""
        return f"https://{self.gateway}:{self.api_port}"

    @property
    def admin_kubeconfig(self) -> Path:
        """The cluster-admin kubeconfig of the sandbox (context ``drills-sandbox``)."""
        return self.state / "kubeconfig"

    @property
    def audit_log(self) -> Path:
        """The API server's audit log (one JSON event per line)."""
        return self.state / "audit.log"

    @property
    def logs(self) -> Path:
        """Where each component's log goes."""
        return self.state / "logs"

    @property
    def pki_dir(self) -> Path:
        """Certificates and keys."""
        return self.state / "pki"

    def _require_pki(self) -> Pki:
        if self.pki is None:
            raise DrillError("the control plane's certificates are not made yet; call start()")
        return self.pki

    # ------------------------------------------------------------------ identities
    def kubeconfig_for(
        self, name: str, user: str, groups: tuple[str, ...] = (), namespace: str | None = None
    ) -> Path:
        """A kubeconfig at ``pki/<name>.kubeconfig`` for `user` in `groups`."""
        pki = self._require_pki()
        pair = pki.client(f"{name}-client", user, groups)
        return write_kubeconfig(
            self.pki_dir / f"{name}.kubeconfig",
            server=self.url,
            ca=pki.ca,
            client=pair,
            user=user,
            namespace=namespace,
        )

    def node_kubeconfig(self, node: str) -> Path:
        """The kubeconfig of a node's kubelet (``system:node:<node>`` in ``system:nodes``)."""
        return self.kubeconfig_for(node, f"system:node:{node}", ("system:nodes",))

    def serving_cert(self, name: str, *, ips: Sequence[str], dns: Sequence[str] = ()) -> CertPair:
        """A serving certificate from the sandbox CA (kubelets, aggregated APIs)."""
        return self._require_pki().serving(name, ips=tuple(ips), dns=tuple(dns))

    # ------------------------------------------------------------------ start / stop
    def start(self, *, namespace: str = "default") -> None:
        """Make the PKI, start etcd and the API server, then the controllers and scheduler."""
        for folder in (self.state, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        # Every start is a new cluster: a dead sandbox's objects must not come back.
        for stale in (self.state / "etcd", self.pki_dir):
            shutil.rmtree(stale, ignore_errors=True)
        self.pki = Pki.create(self.pki_dir)
        self.api_port = free_port(self.gateway)
        etcd_url = self._start_etcd()
        self._start_apiserver(etcd_url)
        self.kubeconfig_for(
            "admin", "drills-admin", ("system:masters",), namespace=namespace
        ).replace(self.admin_kubeconfig)
        self._start_controllers()

    def start_metrics_server(self, *, wait: bool = True) -> None:
        """metrics-server, serving ``metrics.k8s.io`` on the gateway address.

        With `wait` False it only starts; `wait_metrics_server()` waits for it to be ready (which
        needs nodes to scrape), so the kubelets can come up meanwhile.
        """
        pki = self._require_pki()
        port = free_port(self.gateway)
        names = serving_dns_names("metrics-server")
        serving = pki.serving("metrics-server", ips=(self.gateway,), dns=names)
        config = self.kubeconfig_for("metrics-server", "drills-metrics-server", ("system:masters",))
        self._spawn(
            "metrics-server",
            [
                str(self.binaries.metrics_server),
                f"--kubeconfig={config}",
                f"--authentication-kubeconfig={config}",
                f"--authorization-kubeconfig={config}",
                f"--bind-address={self.gateway}",
                f"--secure-port={port}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--kubelet-certificate-authority={pki.ca}",
                "--kubelet-preferred-address-types=InternalIP",
                "--kubelet-use-node-status-port",
                *_flags("metrics-server"),
            ],
        )
        self.metrics_port = port
        if wait:
            self.wait_metrics_server()

    def wait_metrics_server(self) -> None:
        """Wait until metrics-server answers ``/readyz`` (it has scraped the nodes)."""
        process = next(p for p in self.processes if p.name == "metrics-server")
        url = f"https://{self.gateway}:{self.metrics_port}/readyz"
        self._wait_https(process, url, "metrics-server")

    def stop(self) -> None:
        """Stop every component, newest first; never raises for one already gone."""
        for process in reversed(self.processes):
            _terminate(process.popen)
        self.processes.clear()

    def timings(self) -> list[dict[str, str]]:
        """Every flag value that differs from upstream, as the report prints it."""
        return [timing.as_dict() for timing in SANDBOX_TIMINGS]

    # ------------------------------------------------------------------ components
    def _spawn(self, name: str, argv: list[str]) -> _Process:
        process = _Process(name, argv, self.logs / f"{name}.log")
        with process.log.open("ab") as log:
            process.popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.state,
            )
        self.processes.append(process)
        return process

    def _start_etcd(self) -> str:
        client, peer = free_port(), free_port()
        url = f"http://127.0.0.1:{client}"
        peer_url = f"http://127.0.0.1:{peer}"
        process = self._spawn(
            "etcd",
            [
                str(self.binaries.etcd),
                "--name=sandbox",
                f"--data-dir={self.state / 'etcd'}",
                f"--listen-client-urls={url}",
                f"--advertise-client-urls={url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=sandbox={peer_url}",
                "--initial-cluster-state=new",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        self._wait_http(process, f"{url}/health", "etcd")
        return url

    def _start_apiserver(self, etcd_url: str) -> None:
        pki = self._require_pki()
        serving = pki.serving(
            "apiserver",
            ips=(self.gateway, "127.0.0.1", "10.96.0.1"),
            dns=("kubernetes", "kubernetes.default", "kubernetes.default.svc", "localhost"),
        )
        kubelet_client = pki.client("apiserver-kubelet-client", "kube-apiserver-kubelet-client")
        front_proxy = pki.client("front-proxy-client", "front-proxy-client")
        policy = self.state / "audit-policy.yaml"
        policy.write_text(_AUDIT_POLICY)
        sa_key = pki.service_account_key()
        process = self._spawn(
            "kube-apiserver",
            [
                str(self.binaries.kube_apiserver),
                f"--etcd-servers={etcd_url}",
                f"--bind-address={self.gateway}",
                f"--advertise-address={self.gateway}",
                f"--secure-port={self.api_port}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={pki.ca}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                "--allow-privileged=true",
                f"--service-account-issuer={self.url}",
                f"--service-account-key-file={sa_key}",
                f"--service-account-signing-key-file={sa_key}",
                f"--kubelet-client-certificate={kubelet_client.cert}",
                f"--kubelet-client-key={kubelet_client.key}",
                f"--kubelet-certificate-authority={pki.ca}",
                "--kubelet-preferred-address-types=InternalIP",
                f"--requestheader-client-ca-file={pki.ca}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--proxy-client-cert-file={front_proxy.cert}",
                f"--proxy-client-key-file={front_proxy.key}",
                "--enable-aggregator-routing=true",
                f"--audit-policy-file={policy}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--profiling=false",
                *_flags("kube-apiserver"),
            ],
        )
        self._wait_https(process, f"{self.url}/readyz", "kube-apiserver")

    def _start_controllers(self) -> None:
        pki = self._require_pki()
        sa_key = pki.service_account_key()
        # One identity for every controller (upstream's default, --use-service-account-credentials
        # off): a service account per controller costs ~5 s of start-up on two cores.
        masters = ("system:masters",)
        kcm = self.kubeconfig_for("controller-manager", "system:kube-controller-manager", masters)
        scheduler = self.kubeconfig_for("scheduler", "system:kube-scheduler")
        self._spawn(
            "kube-controller-manager",
            [
                str(self.binaries.kube_controller_manager),
                f"--kubeconfig={kcm}",
                f"--authentication-kubeconfig={kcm}",
                f"--authorization-kubeconfig={kcm}",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                "--leader-elect=false",
                "--use-service-account-credentials=false",
                f"--service-account-private-key-file={sa_key}",
                f"--root-ca-file={pki.ca}",
                f"--cluster-signing-cert-file={pki.ca}",
                f"--cluster-signing-key-file={pki.folder / 'ca.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--profiling=false",
                *_flags("kube-controller-manager"),
            ],
        )
        self._spawn(
            "kube-scheduler",
            [
                str(self.binaries.kube_scheduler),
                f"--kubeconfig={scheduler}",
                f"--authentication-kubeconfig={scheduler}",
                f"--authorization-kubeconfig={scheduler}",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                "--leader-elect=false",
                "--profiling=false",
            ],
        )

    # ------------------------------------------------------------------ readiness
    def _alive_or_raise(self, process: _Process) -> None:
        if process.popen is not None and process.popen.poll() is not None:
            tail = _tail(process.log)
            msg = (
                f"{process.name} exited with status {process.popen.returncode} while starting; "
                f"the end of {process.log}:\n{tail}"
            )
            raise DrillError(msg)

    def _wait_http(
        self, process: _Process, url: str, what: str, context: ssl.SSLContext | None = None
    ) -> None:
        """Wait until `url` answers 200 (while the process lives; its log tail if it dies)."""

        def probe() -> Observation:
            self._alive_or_raise(process)
            try:
                with urllib.request.urlopen(url, timeout=2, context=context) as answer:
                    return Observation(ok=answer.status == 200, detail=f"HTTP {answer.status}")
            except (urllib.error.URLError, OSError) as exc:
                return Observation(ok=False, detail=str(exc))

        wait_until(
            probe,
            clock=SystemClock(),
            timeout_s=_START_TIMEOUT_S,
            poll_s=0.05,
            description=f"{what} ready",
        )

    def _wait_https(self, process: _Process, url: str, what: str) -> None:
        """`_wait_http` over TLS, trusting the sandbox CA, with an admin client certificate."""
        pki = self._require_pki()
        admin = pki.client("readiness-probe", "drills-readiness", ("system:masters",))
        context = ssl.create_default_context(cafile=str(pki.ca))
        context.load_cert_chain(str(admin.cert), str(admin.key))
        self._wait_http(process, url, what, context)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _terminate(popen: subprocess.Popen[bytes] | None) -> None:
    if popen is None or popen.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGTERM)
    try:
        popen.wait(timeout=_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait(timeout=_STOP_GRACE_S)
