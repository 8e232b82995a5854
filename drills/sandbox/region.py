"""A second sandbox beside the first: the backup region of `region-failover` (RUNBOOKS.md §3.17).

The sandbox keeps all its state under ``<root>/.drills/sandbox`` and claims a pod-network block
of its own, so two run side by side. `start_region` makes a root for the second one (a copy of
the shop's files only: its pods run ``fixtures/shop/app.py`` from their root), starts the daemon
there with `nodes` nodes (one by default: a smaller region, quicker to start) and returns its
``endpoints.json`` once written (the daemon writes it last, after the shop is deployed).
`stop_region` is `drills.sandbox.control.down` on that root (every process, the network, no
leftover allowed) followed by removing the root; both the drill's rollback and `drills rollback`
after a SIGKILL call it.

The region's root is kept outside the primary's root on purpose: `control.leftover_pids` finds
pod processes by their root in the command line, and a path below the primary's would make the
backup's pods look like the primary's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from drills.core.clock import DrillClock
from drills.core.conditions import Observation
from drills.core.errors import DrillError
from drills.core.waiting import wait_until
from drills.sandbox import control
from drills.sandbox.build import binaries
from drills.sandbox.daemon import SandboxPaths
from drills.sandbox.postgres import check_reachable

__all__ = ["REGION_PARTS", "start_region", "stop_region"]

REGION_PARTS = (Path("fixtures", "shop"),)  # manifests and the app its pods run


def _prepare_root(source_root: Path, region_root: Path) -> SandboxPaths:
    region_root.mkdir(parents=True, exist_ok=True)
    region_root.chmod(0o755)  # PostgreSQL's unprivileged user must traverse it
    for part in REGION_PARTS:
        shutil.copytree(source_root / part, region_root / part, dirs_exist_ok=True)
    paths = SandboxPaths(region_root.resolve())
    check_reachable(paths.state / "postgres")
    paths.state.mkdir(parents=True, exist_ok=True)
    return paths


def _written(paths: SandboxPaths, daemon: subprocess.Popen[bytes]) -> Observation:
    if daemon.poll() is not None:
        log = paths.log.read_text(errors="replace")[-2000:] if paths.log.exists() else ""
        raise DrillError(f"the backup region's daemon exited ({daemon.returncode}); log:\n{log}")
    done = paths.endpoints.exists() and paths.kubeconfig.exists()
    return Observation(ok=done, detail="endpoints.json written" if done else "starting")


def start_region(
    source_root: Path,
    region_root: Path,
    *,
    clock: DrillClock,
    nodes: int = 1,
    timeout_s: float = 120.0,
) -> dict[str, Any]:
    """Start a sandbox under `region_root` with `nodes` nodes; return its endpoints.json.

    Raises DrillError when the daemon exits or is not up within `timeout_s`; the caller's
    rollback (`stop_region`) removes whatever started.
    """
    paths = _prepare_root(source_root, region_root)
    binaries(progress=False)  # built by the primary already: a cache hit
    with paths.log.open("ab") as log:
        daemon = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "drills.sandbox",
                "--root",
                str(paths.root),
                "--nodes",
                f"{nodes}",
            ],
            cwd=paths.root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_until(
        lambda: _written(paths, daemon),
        clock=clock,
        timeout_s=timeout_s,
        poll_s=0.1,
        description="backup region's sandbox up (endpoints.json written)",
    )
    data: dict[str, Any] = json.loads(paths.endpoints.read_text())
    return data


def stop_region(region_root: Path) -> bool:
    """Take the region's sandbox down and remove its root; True when there was one.

    Raises DrillError naming the processes left, and then keeps the root so that a second
    `drills rollback` can find them again.
    """
    if not region_root.exists():
        return False
    state = control.down(region_root)
    if state.leftovers:
        raise DrillError(f"the backup region at {region_root} left processes {state.leftovers}")
    shutil.rmtree(region_root, ignore_errors=True)
    return True
