"""In-cluster load: 2 Locust workers as a Job on the sandbox vs 1 local Locust process.

Both drive the same users, pacing and locustfile against one outage service listening on the
sandbox's pod gateway (so the pods reach it too) that answers 503 for a window it schedules and
reports in CLOCK_MONOTONIC seconds. Per mode:

- requests/s: the streamed requests between the first user running (+1 s) and the outage, per
  second. `in_cluster_rps_ratio` = 2 in-cluster workers ÷ 1 local process, the median of ROUNDS
  pairs run back to back with the order flipped each pair. On this 2-core machine the workers,
  the master, the outage service and the sandbox share the same cores, so the ratio says what
  the plumbing costs or gains here; on a cluster the workers have nodes of their own.
- user-side RTO error: |measured user-side outage - true outage|. The in-cluster workers stream
  wall time that the harness maps onto its monotonic axis (DRILLS_STREAM_CLOCK=wall), the local
  process monotonic time directly: `in_cluster_rto_error_s` and `local_rto_error_s` (worst of
  the rounds) show what the mapping costs.
"""

from __future__ import annotations

import functools
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drills.core.clock import SystemClock
from drills.core.safety import Allowlist
from drills.core.waiting import wait_until
from drills.load.in_cluster import worker_job_manifest
from drills.load.shapes import Steady
from drills.load.traffic import TrafficRecorder
from drills.targets.adapters.kube import connect
from drills.targets.adapters.kube_jobs import KubeJobs
from drills.targets.adapters.locust_load import LocustLoad, RemoteWorkers
from fixtures.load_cluster import worker_argv
from fixtures.outage_service import OutageService
from tests.e2e.drill_cli import sandbox_endpoints, sandboxed_project

LOCUSTFILE = Path(__file__).resolve().parents[2] / "fixtures" / "locustfiles" / "shop.py"
USERS = 20
WAIT_S = (0.0, 0.01)
LEAD_S = 25.0  # outage this long after the service starts: room for the worker pods to join
OUTAGE_S = 2.0
ROUNDS = 2
IMAGE = "drills/drills-locust:bench"
CLOCK = SystemClock()

Starter = Callable[[LocustLoad], Callable[[], None]]


def _local(url: str, recorder: TrafficRecorder, *, work: Path) -> tuple[LocustLoad, Starter]:
    load = LocustLoad(LOCUSTFILE, url, sink=recorder.add, log_dir=work, wait_s=WAIT_S)
    return load, lambda _: lambda: None


def _in_cluster(
    url: str, recorder: TrafficRecorder, *, work: Path, root: Path
) -> tuple[LocustLoad, Starter]:
    endpoints = sandbox_endpoints(root)
    remote = RemoteWorkers(2, bind_host="0.0.0.0", advertise_host=endpoints["pod_gateway"])
    load = LocustLoad(
        LOCUSTFILE, url, sink=recorder.add, log_dir=work, wait_s=WAIT_S, remote=remote
    )
    allow = Allowlist(kube_contexts=("drills-sandbox",), namespaces=("default",))
    jobs = KubeJobs(connect(Path(endpoints["kubeconfig"]), allowlist=allow), "default")

    def start(started: LocustLoad) -> Callable[[], None]:
        env, command = started.remote_worker_command()
        name = f"bench-locust-{work.name}"
        manifest = worker_job_manifest(
            name=name,
            image=IMAGE,
            count=2,
            argv=worker_argv(command, str(LOCUSTFILE)),
            env=env,
            run_id="bench",
        )
        jobs.create(manifest)
        return lambda: _delete(jobs, name)

    return load, start


def _delete(jobs: KubeJobs, name: str) -> None:
    jobs.delete(name, timeout_s=60.0)


Mode = Callable[[str, TrafficRecorder], tuple[LocustLoad, Starter]]


def _round(make: Mode, gateway: str) -> tuple[float, float]:
    """One run of a mode: (requests/s before the outage, |measured - true outage| in s)."""
    recorder = TrafficRecorder()
    with OutageService(outage_at_s=LEAD_S, outage_for_s=OUTAGE_S, host=gateway) as service:
        load, start = make(service.url, recorder)
        with load:
            load.start(Steady(users=USERS, spawn_rate=100.0))
            undo = start(load)
            try:
                _wait(lambda: load.users() >= USERS, "every user running", 90.0)
                first_s = CLOCK.now() + 1.0
                start_s, end_s = service.truth()
                if first_s + 3.0 > start_s:
                    raise RuntimeError(f"the users ran {first_s - start_s:.1f} s too late")
                _wait(lambda: CLOCK.now() > end_s + 1.5, "traffic after the outage", LEAD_S + 30)
            finally:
                load.stop()
                undo()
    rate = recorder.window(first_s, start_s - 0.1).count / (start_s - 0.1 - first_s)
    outage = recorder.outage()
    if outage is None:
        raise RuntimeError("no failed request seen during the scheduled outage")
    return rate, abs((outage[1] - outage[0]) - (end_s - start_s))


def _wait(check: Callable[[], bool], what: str, timeout_s: float) -> None:
    wait_until(check, clock=CLOCK, timeout_s=timeout_s, poll_s=0.1, description=what)


def _measure(root: Path, work: Path) -> dict[str, Any]:
    gateway = str(sandbox_endpoints(root)["pod_gateway"])
    local: list[tuple[float, float]] = []
    cluster: list[tuple[float, float]] = []
    for index in range(ROUNDS):
        pair = []
        for mode in ("local", "cluster") if index % 2 == 0 else ("cluster", "local"):
            folder = work / f"{index}-{mode}"
            folder.mkdir(parents=True)
            if mode == "local":
                local.append(_round(functools.partial(_local, work=folder), gateway))
                pair.append(("local", local[-1]))
            else:
                in_cluster = functools.partial(_in_cluster, work=folder, root=root)
                cluster.append(_round(in_cluster, gateway))
                pair.append(("2 in-cluster", cluster[-1]))
        shown = "; ".join(f"{m} {r:.0f} req/s, RTO error {e:.3f} s" for m, (r, e) in pair)
        print(f"round {index}: {shown}")  # noqa: T201
    ratios = [c[0] / loc[0] for c, loc in zip(cluster, local, strict=True)]
    return {
        "in_cluster_rps_ratio": statistics.median(ratios),
        "in_cluster_rto_error_s": max(e for _, e in cluster),
        "local_rto_error_s": max(e for _, e in local),
    }


def run() -> dict[str, float]:
    """The three figures, on a sandbox of their own."""
    with sandboxed_project("drills-bench-incluster-") as root, tempfile.TemporaryDirectory() as tmp:
        figures = _measure(root, Path(tmp))
    for name, value in figures.items():
        print(f"{name} = {value:.4f}")  # noqa: T201
    return figures


if __name__ == "__main__":
    run()
