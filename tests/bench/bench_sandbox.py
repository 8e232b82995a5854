"""Sandbox figures: cold start to 3 ready shop pods, pod replacement, peak memory.

- `sandbox_cold_start_s`: `control.up` from nothing (PostgreSQL initdb included) until the
  shop Deployment has 3 ready pods (target < 5 s on 2 cores).
- `pod_replacement_s`: a Ready pod deleted through the API (kubectl's default grace) until a
  replacement is Ready; median of several (target < 1 s; a real cluster takes several).
- `sandbox_peak_rss_mb`: the largest sum of RSS of every sandbox process (daemon, pods,
  PostgreSQL, moto) seen while the other two figures were measured.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Any

from drills.core.clock import SystemClock
from drills.core.waiting import wait_until
from drills.sandbox import control
from drills.sandbox.daemon import SandboxPaths

ROOT = Path(__file__).resolve().parents[2]
CLOCK = SystemClock()
_REPLACEMENTS = 5


def _rss_mb(pids: list[int]) -> float:
    total_kib = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024


def _sandbox_pids(paths: SandboxPaths) -> list[int]:
    """The daemon and every process descended from it (pods, postgres, moto)."""
    pids = set(control.leftover_pids(paths))
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    todo = list(pids)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in pids:
                pids.add(child)
                todo.append(child)
    return sorted(pids)


class _PeakSampler(threading.Thread):
    def __init__(self, paths: SandboxPaths) -> None:
        super().__init__(daemon=True)
        self.paths = paths
        self.peak_mb = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            self.peak_mb = max(self.peak_mb, _rss_mb(_sandbox_pids(self.paths)))


def _api(endpoints: dict[str, Any], path: str, method: str = "GET") -> dict[str, Any]:
    request = urllib.request.Request(endpoints["kube_api"] + path, method=method)
    with urllib.request.urlopen(request, timeout=10) as answer:
        data: dict[str, Any] = json.loads(answer.read())
        return data


def _ready(endpoints: dict[str, Any]) -> list[str]:
    pods = _api(endpoints, "/api/v1/namespaces/default/pods?labelSelector=app%3Dshop")["items"]
    return [
        p["metadata"]["name"]
        for p in pods
        if "deletionTimestamp" not in p["metadata"]
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p.get("status", {}).get("conditions", [])
        )
    ]


def _replacement_s(endpoints: dict[str, Any]) -> float:
    before = set(_ready(endpoints))
    victim = sorted(before)[0]
    started = CLOCK.now()
    _api(endpoints, f"/api/v1/namespaces/default/pods/{victim}", method="DELETE")
    wait_until(
        lambda: len(set(_ready(endpoints)) - before) >= 1,
        clock=CLOCK,
        timeout_s=30,
        poll_s=0.01,
        description="replacement pod Ready",
    )
    elapsed = CLOCK.now() - started
    wait_until(
        lambda: len(_ready(endpoints)) >= 3 and victim not in _ready(endpoints),
        clock=CLOCK,
        timeout_s=30,
        poll_s=0.05,
    )
    return elapsed


def run() -> dict[str, float]:
    """Bring a sandbox up in a scratch root, measure, and take it down."""
    root = Path(tempfile.mkdtemp(prefix="drills-bench-sandbox-", dir="/tmp"))
    root.chmod(0o755)
    shutil.copytree(ROOT / "fixtures" / "shop", root / "fixtures" / "shop")
    paths = SandboxPaths(root)
    sampler = _PeakSampler(paths)
    sampler.start()
    try:
        started = CLOCK.now()
        state = control.up(root, timeout_s=120)
        cold_start_s = CLOCK.now() - started
        replacements = [_replacement_s(state.endpoints) for _ in range(_REPLACEMENTS)]
    finally:
        sampler.done.set()
        sampler.join()
        control.down(root)
        shutil.rmtree(root, ignore_errors=True)
    figures = {
        "sandbox_cold_start_s": round(cold_start_s, 3),
        "pod_replacement_s": round(statistics.median(replacements), 3),
        "sandbox_peak_rss_mb": round(sampler.peak_mb, 1),
    }
    for name, value in figures.items():
        print(f"{name} = {value}")  # noqa: T201
    return figures


if __name__ == "__main__":
    run()
