"""The demo shop service as a real process on a real local PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import yaml

from drills.core.clock import SystemClock
from drills.core.dataloss import ORDERS_TABLE_DDL, payload_hash
from drills.core.waiting import wait_until
from drills.sandbox.postgres import free_port
from fixtures.shop import app as shop_app
from tests.sandbox.pgkit import PgKit, local_postgres

pytestmark = pytest.mark.sandbox

APP = Path(__file__).resolve().parents[2] / "fixtures" / "shop" / "app.py"
K8S = APP.parent / "k8s"


@pytest.fixture(scope="module")
def kit() -> Iterator[PgKit]:
    with local_postgres(max_connections=30) as started:
        yield started


@dataclass
class Shop:
    """One running shop process and where it listens."""

    process: subprocess.Popen[bytes]
    url: str

    def call(self, method: str, path: str, body: object = None) -> tuple[int, dict[str, object]]:
        """One HTTP request; returns the status and the JSON body."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status), json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            text = exc.read()
            try:
                return exc.code, json.loads(text)
            except json.JSONDecodeError:
                return exc.code, {"text": text.decode()}

    def answers(self, path: str = "/healthz") -> bool:
        """True when `path` answers 200."""
        try:
            return self.call("GET", path)[0] == 200
        except OSError:
            return False

    def rss_kb(self) -> int:
        """Resident memory of the process, from /proc."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS line")


def start_shop(dsn: str, tmp_path: Path, **env: str) -> Shop:
    """Start the app with these settings and wait until it is ready."""
    port = free_port()
    log = (tmp_path / f"shop-{port}.log").open("wb")
    settings = {"PORT": str(port), "DATABASE_URL": dsn, "PATH": "/usr/bin:/bin", **env}
    process = subprocess.Popen(
        [sys.executable, str(APP)], env=settings, stdout=log, stderr=subprocess.STDOUT
    )
    return Shop(process, f"http://127.0.0.1:{port}")


@pytest.fixture
def running(kit: PgKit, tmp_path: Path) -> Iterator[list[Shop]]:
    shops: list[Shop] = []
    yield shops
    for shop in shops:
        shop.process.terminate()
        try:
            shop.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            shop.process.kill()
            shop.process.wait()


def ready_shop(kit: PgKit, tmp_path: Path, running: list[Shop], **env: str) -> Shop:
    shop = start_shop(kit.primary.dsn(), tmp_path, **env)
    running.append(shop)
    wait_until(
        lambda: shop.answers("/readyz"),
        clock=SystemClock(),
        timeout_s=20,
        poll_s=0.1,
        description="shop ready",
    )
    return shop


def test_app_ddl_matches_the_shared_contract() -> None:
    assert shop_app.ORDERS_TABLE_DDL == ORDERS_TABLE_DDL
    assert shop_app.payload_hash("k", "tea", 2) == payload_hash("k", "tea", 2)


def test_orders_are_acknowledged_after_commit_and_read_back(
    kit: PgKit, tmp_path: Path, running: list[Shop]
) -> None:
    shop = ready_shop(kit, tmp_path, running, APP_VERSION="2.1.0")
    assert shop.call("GET", "/healthz") == (200, {"status": "ok"})
    status, created = shop.call(
        "POST", "/orders", {"order_key": "ord-1", "item": "tea", "quantity": 2}
    )
    assert status == 201
    assert created["order_key"] == "ord-1"
    assert created["payload_hash"] == payload_hash("ord-1", "tea", 2)
    with psycopg.connect(kit.primary.admin_dsn()) as conn:
        row = conn.execute(
            "SELECT item, quantity, payload_hash FROM orders WHERE id = %s", (created["id"],)
        ).fetchone()
    assert row == ("tea", 2, created["payload_hash"])
    status, found = shop.call("GET", "/orders/ord-1")
    assert status == 200
    assert (found["item"], found["quantity"], found["id"]) == ("tea", 2, created["id"])
    assert shop.call("GET", "/orders/never-written")[0] == 404
    assert shop.call("POST", "/orders", {"order_key": "x", "item": "tea"})[0] == 422
    status, release = shop.call("GET", "/version")
    assert (status, release["version"]) == (200, "2.1.0")


@pytest.mark.parametrize(
    "env", [{"APP_VERSION": "bad"}, {"IMAGE": "shop:bad"}, {"BROKEN_BUILD": "1"}]
)
def test_bad_release_exits_non_zero_at_start(
    kit: PgKit, tmp_path: Path, env: dict[str, str]
) -> None:
    shop = start_shop(kit.primary.dsn(), tmp_path, **env)
    assert shop.process.wait(timeout=20) == shop_app.BAD_RELEASE_EXIT


def test_held_connections_exhaust_the_pool(kit: PgKit, tmp_path: Path, running: list[Shop]) -> None:
    shop = start_shop(
        kit.primary.dsn(),
        tmp_path,
        POOL_SIZE="2",
        HOLD_CONNECTIONS="2",
        POOL_TIMEOUT_S="0.5",
        READY_TIMEOUT_S="0.3",
    )
    running.append(shop)
    wait_until(shop.answers, clock=SystemClock(), timeout_s=20, poll_s=0.1, description="up")
    assert not shop.answers("/readyz")
    status, body = shop.call("POST", "/orders", {"order_key": "held", "item": "tea", "quantity": 1})
    assert (status, body["error"]) == (503, "PoolTimeout")


def test_connections_held_later_leave_the_shop_ready_first(
    kit: PgKit, tmp_path: Path, running: list[Shop]
) -> None:
    """HOLD_AFTER_S: the release serves (and would pass a rollout) before its leak bites."""
    shop = ready_shop(
        kit,
        tmp_path,
        running,
        POOL_SIZE="2",
        HOLD_CONNECTIONS="2",
        HOLD_AFTER_S="3",
        POOL_TIMEOUT_S="0.5",
        READY_TIMEOUT_S="0.3",
    )
    status, _ = shop.call("POST", "/orders", {"order_key": "early", "item": "tea", "quantity": 1})
    assert status == 201  # ready and serving before the hold
    wait_until(
        lambda: not shop.answers("/readyz"),
        clock=SystemClock(),
        timeout_s=20,
        poll_s=0.1,
        description="the held pool fails readiness",
    )
    status, body = shop.call("POST", "/orders", {"order_key": "late", "item": "tea", "quantity": 1})
    assert (status, body["error"]) == (503, "PoolTimeout")
    assert shop.answers("/healthz")  # liveness stays green: nothing restarts the pod


def test_leak_keeps_memory_per_request(kit: PgKit, tmp_path: Path, running: list[Shop]) -> None:
    shop = ready_shop(kit, tmp_path, running, LEAK_KB_PER_REQUEST="1024")
    before_kb = shop.rss_kb()
    for _ in range(40):
        assert shop.answers()
    grown_kb = shop.rss_kb() - before_kb
    assert grown_kb >= 30 * 1024, f"RSS grew by only {grown_kb} kB after 40 MiB of leaks"


def test_manifests_describe_the_shop() -> None:
    deployment = yaml.safe_load((K8S / "deployment.yaml").read_text())
    service = yaml.safe_load((K8S / "service.yaml").read_text())
    hpa = yaml.safe_load((K8S / "hpa.yaml").read_text())
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["selector"]["matchLabels"] == {"app": "shop"}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["memory"] == "512Mi"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert service["spec"]["selector"] == {"app": "shop"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70


def test_the_default_hpa_needs_no_custom_metrics_adapter() -> None:
    """An HPA with a metric nobody serves never scales in: the default one scales on CPU only.

    The request-rate HPA (custom-metrics/, applied where custom.metrics.k8s.io is served) is
    the same object with the Pods metric added.
    """
    base = yaml.safe_load((K8S / "hpa.yaml").read_text())
    rate = yaml.safe_load((K8S / "custom-metrics" / "hpa.yaml").read_text())
    assert [m["type"] for m in base["spec"]["metrics"]] == ["Resource"]
    assert [m["type"] for m in rate["spec"]["metrics"]] == ["Resource", "Pods"]
    assert rate["spec"]["metrics"][1]["pods"]["metric"]["name"] == "http_requests_per_second"
    assert rate["metadata"] == base["metadata"]
    assert {**rate["spec"], "metrics": rate["spec"]["metrics"][:1]} == base["spec"]
