"""Sandbox figures on the upstream control plane: cold start, pod replacement, peak memory.

- `sandbox_cold_start_s`: `control.up` in a scratch root with nothing running (PostgreSQL initdb,
  the pod network, etcd, kube-apiserver, kube-controller-manager, kube-scheduler, the kubelets,
  the shop applied with kubectl, metrics-server, the proxy) until the shop Deployment has 3 Ready
  pods. The upstream binaries must already be cached (`make k8s`); their build is not in the
  figure (`control.up` only looks them up). `control.up` returns once the daemon has written
  endpoints.json (after metrics-server and the aggregated APIs are registered) and 3 shop pods
  are Ready. A timeline of the steps, read from the API server's audit log, is printed with it
  (nodes registered, Deployment, ReplicaSet, pods created, bound, Ready, APIs registered), so
  the part of the figure each step takes shows. Target: under 10 s on 2 cores.
- `pod_replacement_s`: a Ready shop pod deleted through the API (the pod's own grace period, as
  `kubectl delete pod` does) until a pod that was not Ready before is Ready: the ReplicaSet
  controller, the scheduler, our kubelet and the readiness probe in turn. Median of
  `_REPLACEMENTS`. Target: under 2 s (a real cluster with containers takes several).
- `sandbox_peak_rss_mb`: the largest sum of RSS over every sandbox process, sampled every 0.2 s
  while the two figures above were measured: the daemon and everything descended from it (etcd,
  kube-apiserver, kube-controller-manager, kube-scheduler, metrics-server, kubectl, moto and the
  pods are its children), plus PostgreSQL, whose postmaster `pg_ctl` re-parents to init and
  which is found by its data directory under the sandbox's state (its backends are its
  children). The breakdown per component at the peak is printed, so a component that went
  missing shows, and so is the PSS sum at the peak (pages shared between processes, e.g. of the
  one `kube` binary that is etcd and the control plane, counted once rather than in each).
  Target: under 1,500 MB.

Each figure is printed beside its target and the earlier figure (tests/bench/figures.py).
The API is reached with urllib and the admin client certificate of the sandbox's kubeconfig.
"""

from __future__ import annotations

import json
import shutil
import ssl
import statistics
import tempfile
import threading
import urllib.request
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from drills.core.clock import SystemClock
from drills.core.waiting import wait_until
from drills.sandbox import control
from drills.sandbox.daemon import SandboxPaths
from drills.sandbox.node.kubelet import MARKER_ENV
from tests.bench.figures import figure_line

ROOT = Path(__file__).resolve().parents[2]
CLOCK = SystemClock()
_REPLACEMENTS = 5
_SAMPLE_S = 0.2
_POLL_S = 0.05
_SHOP_PODS = "/api/v1/namespaces/default/pods?labelSelector=app%3Dshop"
_CONTROL_PLANE = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "metrics-server",
    "kubectl",
)


def _proc_kib(path: str, field: str) -> int:
    """A `Field:   123 kB` value of a /proc file; 0 when the process or the field is gone."""
    try:
        text = Path(path).read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0  # a zombie has no VmRSS


def _rss_kib(pid: int) -> int:
    return _proc_kib(f"/proc/{pid}/status", "VmRSS:")


def _pss_kib(pid: int) -> int:
    """Proportional set size: pages shared by N processes count 1/N in each."""
    return _proc_kib(f"/proc/{pid}/smaps_rollup", "Pss:")


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process in /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    return children


def _sandbox_pids(paths: SandboxPaths) -> list[int]:
    """The sandbox's own processes (`control.leftover_pids`) and every descendant of them.

    `leftover_pids` finds the daemon, moto, the pods, the control plane's processes (their
    command lines name the state dir) and the PostgreSQL postmaster (by its data directory: it
    is re-parented to init by `pg_ctl`, so no walk from the daemon would reach it). The walk
    adds the postmaster's backends and short-lived children of the daemon such as kubectl.
    The control plane's processes are the daemon's children, so the walk would find them too.
    """
    pids = set(control.leftover_pids(paths))
    children = _children()
    todo = list(pids)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in pids:
                pids.add(child)
                todo.append(child)
    return sorted(pids)


def _component(pid: int) -> str:
    """Which part of the sandbox a process is, from its command line and environment."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return "gone"
    program = Path(argv[0].decode(errors="replace")).name
    command = b" ".join(argv)
    if program in _CONTROL_PLANE:
        return program
    if program.startswith("postgres"):
        return "postgresql"
    if b"moto_server" in command:
        return "moto"
    if f"{MARKER_ENV}=".encode() in environ:
        return "pods"
    if b"drills.sandbox" in command and b"--root" in command:
        return "daemon"
    return f"other ({program})"


class _PeakSampler(threading.Thread):
    """Samples the sandbox's total RSS; keeps the peak and its breakdown by component."""

    def __init__(self, paths: SandboxPaths) -> None:
        super().__init__(daemon=True)
        self.paths = paths
        self.peak_mb = 0.0
        self.peak_pss_mb = 0.0
        self.breakdown: dict[str, float] = {}
        self.components_seen: set[str] = set()
        self.done = threading.Event()

    def sample(self) -> None:
        """One sample: every sandbox process's RSS, summed by component."""
        by_component: Counter[str] = Counter()
        pids = _sandbox_pids(self.paths)
        for pid in pids:
            by_component[_component(pid)] += _rss_kib(pid)
        self.components_seen.update(by_component)
        total_mb = sum(by_component.values()) / 1024
        if total_mb > self.peak_mb:
            self.peak_mb = total_mb
            self.peak_pss_mb = sum(_pss_kib(pid) for pid in pids) / 1024
            self.breakdown = {name: kib / 1024 for name, kib in by_component.items()}

    def run(self) -> None:
        while not self.done.wait(_SAMPLE_S):
            self.sample()


class _Api:
    """GET and DELETE on the sandbox's API server with the kubeconfig's admin certificate."""

    def __init__(self, endpoints: dict[str, Any]) -> None:
        self.url = str(endpoints["kube_api"])
        config = json.loads(Path(endpoints["kubeconfig"]).read_text())
        cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
        self.tls = ssl.create_default_context(cafile=cluster["certificate-authority"])
        self.tls.load_cert_chain(user["client-certificate"], user["client-key"])

    def call(self, path: str, method: str = "GET") -> dict[str, Any]:
        """One request; the decoded JSON answer."""
        request = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(request, timeout=10, context=self.tls) as answer:
            data: dict[str, Any] = json.loads(answer.read())
            return data

    def ready_shop_pods(self) -> set[str]:
        """Names of the shop pods that are Ready and not being deleted."""
        return {
            pod["metadata"]["name"]
            for pod in self.call(_SHOP_PODS)["items"]
            if "deletionTimestamp" not in pod["metadata"]
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in pod.get("status", {}).get("conditions", [])
            )
        }


def _audit_seconds(event: dict[str, Any], since: datetime) -> float:
    stamp = datetime.fromisoformat(str(event["requestReceivedTimestamp"]).replace("Z", "+00:00"))
    return (stamp - since).total_seconds()


def _milestone(event: dict[str, Any]) -> tuple[str, str] | None:
    """(milestone, object name) for an audit event that marks a step of the cold start."""
    ref, verb = event.get("objectRef") or {}, event.get("verb")
    resource, name = str(ref.get("resource", "")), str(ref.get("name", ""))
    sub: str | None = ref.get("subresource")
    user = str(event.get("user", {}).get("username", ""))
    if verb != "create" and not (resource == "pods" and sub == "status"):
        return None
    marks = {
        ("nodes", None): "3 nodes registered",
        ("deployments", None): "shop Deployment created",
        ("replicasets", None): "ReplicaSet created",
        ("pods", "binding"): "3 pods bound by the scheduler",
    }
    if (resource, sub) in marks:
        return marks[(resource, sub)], name
    if resource == "pods" and sub is None:
        return "3 pods created", str(event.get("auditID"))
    if resource == "apiservices" and not user.startswith("system:"):
        return "aggregated APIs registered", name
    conditions = ((event.get("requestObject") or {}).get("status") or {}).get("conditions") or []
    if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
        return "3 pods Ready", name
    return None


def cold_start_timeline(audit_log: Path, since: datetime) -> list[tuple[str, float]]:
    """When each step of the cold start happened, in seconds after `since`, from the audit log.

    Multi-object steps count when their third object is reached; "aggregated APIs registered"
    is the last such create.
    """
    seen: dict[str, set[str]] = {}
    when: dict[str, float] = {}
    for line in audit_log.read_text(errors="replace").splitlines():
        event = json.loads(line)
        offset = _audit_seconds(event, since)
        when.setdefault("API server's first request", offset)
        found = _milestone(event)
        if found is None:
            continue
        mark, name = found
        names = seen.setdefault(mark, set())
        names.add(name)
        needed = 3 if mark.startswith("3 ") else 1
        if len(names) >= needed and (mark not in when or mark.startswith("aggregated")):
            when[mark] = offset
    return sorted(when.items(), key=lambda item: item[1])


def _print_timeline(paths: SandboxPaths, since: datetime, cold_start_s: float) -> None:
    try:
        steps = cold_start_timeline(paths.audit_log, since)
    except (OSError, ValueError, KeyError) as exc:
        print(f"(no cold-start timeline: {type(exc).__name__}: {exc})")  # noqa: T201
        return
    steps.append(("control.up returned", cold_start_s))
    print("cold start, s after control.up began (from the audit log):")  # noqa: T201
    for mark, offset in steps:
        print(f"  {offset:6.2f}  {mark}")  # noqa: T201


def _replacement_s(api: _Api) -> float:
    """Delete one Ready pod; seconds until a pod that was not Ready before is Ready."""
    before = api.ready_shop_pods()
    victim = sorted(before)[0]
    started = CLOCK.now()
    api.call(f"/api/v1/namespaces/default/pods/{victim}", method="DELETE")
    wait_until(
        lambda: bool(api.ready_shop_pods() - before),
        clock=CLOCK,
        timeout_s=30,
        poll_s=_POLL_S,
        description="replacement pod Ready",
    )
    elapsed = CLOCK.now() - started
    wait_until(
        lambda: len(api.ready_shop_pods()) >= 3,
        clock=CLOCK,
        timeout_s=30,
        poll_s=_POLL_S,
        description="3 Ready shop pods again",
    )
    return elapsed


def _print_breakdown(sampler: _PeakSampler) -> None:
    parts = ", ".join(
        f"{name} {mb:.0f}" for name, mb in sorted(sampler.breakdown.items(), key=lambda i: -i[1])
    )
    print(f"RSS at the peak, MB: {parts}")  # noqa: T201
    print(  # noqa: T201
        f"PSS at the peak (shared pages, such as the one `kube` binary's, counted once): "
        f"{sampler.peak_pss_mb:.0f} MB"
    )
    wanted = {"daemon", "postgresql", "moto", "pods", *_CONTROL_PLANE} - {"kubectl"}
    missing = sorted(wanted - sampler.components_seen)
    if missing:
        print(f"WARNING: never saw these sandbox processes: {', '.join(missing)}")  # noqa: T201


def run() -> dict[str, float]:
    """Bring a sandbox up in a scratch root, measure, and take it down."""
    root = Path(tempfile.mkdtemp(prefix="drills-bench-sandbox-", dir="/tmp"))
    root.chmod(0o755)  # the unprivileged PostgreSQL user must traverse it
    shutil.copytree(ROOT / "fixtures" / "shop", root / "fixtures" / "shop")
    paths = SandboxPaths(root)
    sampler = _PeakSampler(paths)
    sampler.start()
    try:
        started, started_wall = CLOCK.now(), CLOCK.wall()
        state = control.up(root, timeout_s=120)
        cold_start_s = CLOCK.now() - started
        _print_timeline(paths, started_wall, cold_start_s)
        api = _Api(state.endpoints)
        replacements = [_replacement_s(api) for _ in range(_REPLACEMENTS)]
    finally:
        sampler.done.set()
        sampler.join()
        left = control.down(root).leftovers
        shutil.rmtree(root, ignore_errors=True)
    figures = {
        "sandbox_cold_start_s": round(cold_start_s, 3),
        "pod_replacement_s": round(statistics.median(replacements), 3),
        "sandbox_peak_rss_mb": round(sampler.peak_mb, 1),
    }
    print(f"pod replacements, s: {[round(r, 3) for r in replacements]}")  # noqa: T201
    _print_breakdown(sampler)
    if left:
        print(f"WARNING: sandbox processes left after down: {left}")  # noqa: T201
    for name, value in figures.items():
        print(figure_line(name, value))  # noqa: T201
    return figures


if __name__ == "__main__":
    run()
