"""The crash matrix: kill `drills run` at each of its moments and check what the kill left behind.

For one drill on a live sandbox project (tests/e2e/drill_cli.py):

1. a clean run gives the drill's steps and faults (from its journal) and proves the
   fingerprint comes back after a drill that was not killed;
2. each kill point runs the drill again with `DRILLS_FAILPOINT` (pytest_plugin/failpoints.py):
   SIGINT, SIGTERM and SIGKILL as each step starts, and SIGKILL right after each fault's
   rollback is recorded and right after the fault acted;
3. after SIGINT or SIGTERM nothing may stay pending in the rollback ledger (the harness restores
   on its way out, without `drills rollback`); after SIGKILL one `drills rollback` must do it;
4. then the environment must come back to its pre-drill fingerprint (below) within
   `SETTLE_S`: pods come back at their own pace, so the check waits, and names what still
   differs when the time is up.

The fingerprint: every Deployment's replica count and pod template (without annotations such as
`kubectl.kubernetes.io/restartedAt`, which a rollout restart sets by design), HPAs, Services,
NetworkPolicies, Secrets (hashed) and namespaces; on the primary database every row present
before the drill and every order the killed run acknowledged, and no session of a leak or of
the harness left open; no PostgreSQL server but the ones before (a restored instance left
running), no RDS instance on moto but the ones before; no Locust process; mounts under the
project root and network interfaces and namespaces as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psycopg

from drills.core.clock import SystemClock
from drills.core.conditions import Observation
from drills.core.dataloss import payload_hash
from drills.core.safety import RollbackLedger
from drills.core.waiting import wait_until
from tests.e2e.drill_cli import REPO, kubectl, latest_scenario, sandbox_endpoints
from tests.interrupts import default_sigint

CLOCK = SystemClock()
SETTLE_S = 120.0  # time for the pods and the HPA to come back after a kill and its rollback
RUN_TIMEOUT_S = 420.0
SIGNALS = ("SIGINT", "SIGTERM", "SIGKILL")

Fingerprint = dict[str, Any]


@dataclass(frozen=True)
class KillPoint:
    """One place to kill the harness: `DRILLS_FAILPOINT` value and what it stands for."""

    drill: str
    failpoint: str
    what: str

    @property
    def signal(self) -> str:
        """SIGINT, SIGTERM or SIGKILL."""
        return self.failpoint.rsplit("=", 1)[1]


@dataclass
class KillResult:
    """What one kill point did: reached, how the harness ended, and what it left behind."""

    point: KillPoint
    reached: str = ""
    exit_code: int | None = None
    pending_after_exit: int = 0
    rollback_code: int | None = None
    left_behind: list[str] = field(default_factory=list)

    @property
    def restored(self) -> bool:
        """Reached, and nothing left behind (for SIGINT/SIGTERM without `drills rollback`)."""
        return bool(self.reached) and not self.left_behind

    def describe(self) -> str:
        """One line for the bench and a failing assertion."""
        state = "restored" if self.restored else "LEFT: " + "; ".join(self.left_behind)
        return f"{self.point.drill} {self.point.failpoint} ({self.point.what}): {state}"


def _env(root: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), **(extra or {})}


def cli(root: Path, *args: str, extra: Mapping[str, str] | None = None) -> tuple[int, str]:
    """`drills --root ROOT ARGS` with `extra` in its environment: (exit code, output)."""
    command = [sys.executable, "-m", "drills.cli", "--root", str(root), *args]
    done = subprocess.run(
        command,
        env=_env(root, extra),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        preexec_fn=default_sigint,  # a SIGINT failpoint must act even under `make test &`
    )
    return done.returncode, done.stdout + done.stderr


# -- the fingerprint ---------------------------------------------------------------------------
def _kube(root: Path) -> Fingerprint:
    kinds = "deployments,horizontalpodautoscalers,services,networkpolicies,secrets"
    listed = json.loads(kubectl(root, "get", kinds, "--all-namespaces", "-o", "json"))
    found: Fingerprint = {}
    for item in listed["items"]:
        meta, spec = item["metadata"], item.get("spec", {})
        key = f"{item['kind']}/{meta.get('namespace', '')}/{meta['name']}"
        if item["kind"] == "Deployment":
            template = spec["template"]
            found[key] = {
                "replicas": spec.get("replicas"),
                "labels": template["metadata"].get("labels"),
                "spec": template["spec"],
            }
        elif item["kind"] == "Secret":
            blob = json.dumps(item.get("data", {}), sort_keys=True).encode()
            found[key] = hashlib.sha256(blob).hexdigest()
        elif item["kind"] == "Service":
            found[key] = {k: spec.get(k) for k in ("selector", "ports", "type")}
        else:
            found[key] = spec
    namespaces = json.loads(kubectl(root, "get", "namespaces", "-o", "json"))
    found["namespaces"] = sorted(n["metadata"]["name"] for n in namespaces["items"])
    return found


def _sessions(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        "SELECT application_name FROM pg_stat_activity "
        "WHERE application_name LIKE 'drills-%' AND pid <> pg_backend_pid()"
    ).fetchall()
    return sorted(str(r[0]) for r in rows)


def _rows(conn: psycopg.Connection[Any], up_to: int) -> str:
    row = conn.execute(
        "SELECT count(*), md5(coalesce(string_agg(order_key || ':' || payload_hash, ','"
        " ORDER BY id), '')) FROM orders WHERE id <= %s",
        (up_to,),
    ).fetchone()
    assert row is not None
    return f"{row[0]} rows, md5 {row[1]}"


def _cmdlines() -> list[list[bytes]]:
    """The argv of every process that still has one."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                found.append((proc / "cmdline").read_bytes().split(b"\0"))
            except OSError:
                continue
    return found


def _postmasters() -> list[str]:
    """The data directories of the running PostgreSQL servers (a restored one left behind)."""
    return sorted(
        argv[argv.index(b"-D") + 1].decode()
        for argv in _cmdlines()
        if argv[0].endswith(b"postgres") and b"-D" in argv
    )


def _processes(word: bytes) -> list[str]:
    return sorted(
        b" ".join(argv).decode(errors="replace") for argv in _cmdlines() if word in b"\0".join(argv)
    )


def _rds(root: Path) -> list[str]:
    client = boto3.client(
        "rds",
        endpoint_url=sandbox_endpoints(root)["aws_endpoint"],
        aws_access_key_id="crash-matrix",
        aws_secret_access_key="crash-matrix",
        region_name="us-east-1",
    )
    return sorted(i["DBInstanceIdentifier"] for i in client.describe_db_instances()["DBInstances"])


def _host(root: Path) -> Fingerprint:
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    mounts = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if str(root) in line.split()[4]
    ]
    shop_url = sandbox_endpoints(root)["service_url"].rstrip("/")
    # Pods get fresh namespaces and veths when they are replaced, so names change by design:
    # what must come back is how many there are (one per pod, the pods being in the fingerprint).
    return {
        "network interfaces": len(links.splitlines()),
        "network namespaces": len([line for line in netns.splitlines() if line.strip()]),
        "mounts": sorted(mounts),
        "postgres servers": _postmasters(),
        # the sandbox's broker (redis-server's title is its address): a broker-down drill must
        # leave it running on the same address
        "redis servers": _processes(b"redis-server"),
        # Locust driving this sandbox's shop (another project's load is none of our business)
        "locust processes": [p for p in _processes(b"locust") if shop_url in p],
    }


def max_order_id(root: Path) -> int:
    """The newest order's id before a drill: rows up to it must all be there after."""
    with psycopg.connect(sandbox_endpoints(root)["admin_dsn"], autocommit=True) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM orders").fetchone()
    assert row is not None
    return int(row[0])


def fingerprint(root: Path, up_to: int) -> Fingerprint:
    """Everything a kill must not change (module doc); `up_to` is the newest id before."""
    with psycopg.connect(sandbox_endpoints(root)["admin_dsn"], autocommit=True) as conn:
        database = {"rows before the drill": _rows(conn, up_to), "sessions": _sessions(conn)}
    return {**_kube(root), **database, "rds instances": _rds(root), **_host(root)}


def differences(before: Fingerprint, after: Fingerprint) -> list[str]:
    """What changed, one short line per key."""
    lines = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            was, now = json.dumps(before.get(key))[:200], json.dumps(after.get(key))[:200]
            lines.append(f"{key}: was {was}, now {now}")
    return lines


def lost_acknowledged(root: Path, since_s: float) -> list[str]:
    """Orders a run that started at wall time `since_s` acknowledged and the primary lacks.

    A key whose row is there with other content (an UPDATE without WHERE left behind) counts
    too, marked `(altered)`.
    """
    acked: dict[str, str] = {}
    for ledger in (root / "reports").glob("*/**/ledger.jsonl"):
        if ledger.stat().st_mtime >= since_s:
            for line in ledger.read_text().splitlines():
                if line.strip():
                    write = json.loads(line)
                    acked[write["key"]] = write["payload_hash"]
    if not acked:
        return []
    with psycopg.connect(sandbox_endpoints(root)["admin_dsn"], autocommit=True) as conn:
        rows = conn.execute(
            "SELECT order_key, item, quantity FROM orders WHERE order_key = ANY(%s)",
            (sorted(acked),),
        ).fetchall()
    present = {str(k): payload_hash(str(k), str(item), int(q)) for k, item, q in rows}
    missing = [key for key in sorted(acked) if key not in present]
    altered = [f"{key} (altered)" for key in sorted(present) if present[key] != acked[key]]
    return missing + altered


def pending_entries(root: Path) -> int:
    """Entries of the project's rollback ledger still pending."""
    return len(RollbackLedger(root / ".drills" / "rollbacks.jsonl").pending())


def wait_restored(root: Path, before: Fingerprint, up_to: int) -> list[str]:
    """Wait (up to SETTLE_S) for the fingerprint to come back; what still differs, else []."""
    last: list[str] = []

    def same() -> Observation:
        last[:] = differences(before, fingerprint(root, up_to))
        return Observation(not last, "; ".join(last))

    waited = wait_until(
        same,
        clock=CLOCK,
        timeout_s=SETTLE_S,
        poll_s=2.0,
        raise_on_timeout=False,
        description="the pre-drill fingerprint",
    )
    return [] if waited.met else last


# -- the matrix --------------------------------------------------------------------------------
def reference_run(root: Path, drill: str) -> tuple[dict[str, Any], list[str]]:
    """A clean run: its journal entry, and what it left behind (must be nothing)."""
    up_to = max_order_id(root)
    before = fingerprint(root, up_to)
    code, output = cli(root, "run", drill)
    scenario = latest_scenario(root)
    if code != 0:
        raise AssertionError(f"the clean run of {drill} did not pass (exit {code}):\n{output}")
    return scenario, wait_restored(root, before, up_to)


def kill_points(
    drill: str, scenario: Mapping[str, Any], *, signals: tuple[str, ...] = SIGNALS
) -> list[KillPoint]:
    """Every step start with each signal, and SIGKILL after each fault's record and apply."""
    points = [
        KillPoint(drill, f"step:{n}={sig}", f"start of step {step['name']!r}")
        for n, step in enumerate(scenario["steps"], start=1)
        for sig in signals
    ]
    for n, fault in enumerate(scenario["faults"], start=1):
        points.append(KillPoint(drill, f"recorded:{n}=SIGKILL", f"{fault['kind']} recorded"))
        points.append(KillPoint(drill, f"applied:{n}=SIGKILL", f"{fault['kind']} acted"))
    return points


def _verdict(root: Path, output: str) -> str:
    """Why the run ended: the journal's verdict and reason, else the output's last lines."""
    try:
        scenario = latest_scenario(root)
    except (OSError, ValueError, KeyError):
        return output[-600:]
    return f"{scenario['verdict']}: {scenario['reason']}"


def kill_once(root: Path, point: KillPoint, tmp: Path) -> KillResult:
    """Run the drill with the failpoint, restore as the signal requires, compare fingerprints."""
    result = KillResult(point)
    up_to = max_order_id(root)
    before = fingerprint(root, up_to)
    mark = tmp / f"reached-{point.drill}-{point.failpoint.replace(':', '-').replace('=', '-')}"
    started = CLOCK.wall().timestamp()
    extra = {"DRILLS_FAILPOINT": point.failpoint, "DRILLS_FAILPOINT_REACHED": str(mark)}
    result.exit_code, output = cli(root, "run", point.drill, extra=extra)
    result.reached = mark.read_text().strip() if mark.exists() else ""
    if not result.reached:
        result.left_behind.append(
            f"the failpoint was never reached (exit {result.exit_code}): {_verdict(root, output)}"
        )
        return result
    if point.signal == "SIGKILL" and result.exit_code != -signal.SIGKILL:
        result.left_behind.append(f"SIGKILL did not end the harness (exit {result.exit_code})")
    if point.signal != "SIGKILL" and result.exit_code == 0:  # the drill went on and passed
        result.left_behind.append(f"{point.signal} did not interrupt the harness (exit 0)")
    result.pending_after_exit = pending_entries(root)
    if point.signal != "SIGKILL" and result.pending_after_exit:
        result.left_behind.append(
            f"{result.pending_after_exit} rollback(s) pending after {point.signal}: "
            + output[-600:]
        )
    if result.pending_after_exit:
        result.rollback_code, said = cli(root, "rollback")
        if result.rollback_code != 0 or pending_entries(root):
            result.left_behind.append(f"drills rollback exit {result.rollback_code}: {said[-600:]}")
    result.left_behind.extend(wait_restored(root, before, up_to))
    lost = lost_acknowledged(root, started)
    if lost:
        result.left_behind.append(f"{len(lost)} acknowledged order(s) missing: {lost[:5]}")
    return result
