"""The custom.metrics.k8s.io server over HTTPS: front-proxy authentication, discovery, values.

The last test registers it with the upstream API server (APIService, selector-less Service,
EndpointSlice on the gateway address) and reads the values back with `kubectl get --raw`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from drills.core.clock import FakeClock, SystemClock
from drills.core.conditions import Observation
from drills.core.waiting import wait_until
from drills.sandbox import addons, build
from drills.sandbox.certs import CertPair, Pki
from drills.sandbox.node.custom_metrics import (
    CustomMetricsServer,
    SelectorError,
    ServingTls,
    kube_pod_lister,
)
from drills.sandbox.node.network import PodNetwork
from drills.sandbox.node.request_rates import PodKey
from tests.sandbox.aioloop import loop_thread
from tests.sandbox.cluster import Cluster, control_plane

pytestmark = pytest.mark.sandbox

BASE = "/apis/custom.metrics.k8s.io/v1beta2"
SERVICE = "custom-metrics-apiserver"
SHOP = {"shop-a": {"app": "shop"}, "shop-b": {"app": "shop"}, "shop-new": {"app": "shop"}}


@dataclass
class FixedRates:
    """A PodRateSource whose rates the test sets."""

    rates: dict[PodKey, float] = field(default_factory=dict)
    rate_window_s: float = 5.0

    def pod_rates(self) -> Mapping[PodKey, float]:
        return dict(self.rates)


def list_pods(namespace: str, selector: str) -> list[str]:
    """Pods of `default` by an equality selector, the way the API server filters them."""
    if selector == "app in (":
        raise SelectorError("label selector 'app in (': unable to parse requirement")
    wanted = dict(part.split("=", 1) for part in selector.split(",") if part)
    pods = SHOP if namespace == "default" else {}
    return [name for name, labels in pods.items() if wanted.items() <= labels.items()]


@dataclass(frozen=True)
class Identities:
    """A CA, the server's certificate and two client certificates it issued."""

    ca: Path
    serving: CertPair
    front_proxy: CertPair
    stranger: CertPair


@pytest.fixture(scope="module")
def identities(tmp_path_factory: pytest.TempPathFactory) -> Identities:
    pki = Pki.create(tmp_path_factory.mktemp("pki"))
    names = addons.serving_dns_names(SERVICE)
    serving = pki.serving("custom-metrics", ips=("127.0.0.1",), dns=names)
    return Identities(
        pki.ca,
        serving,
        pki.client("front-proxy-client", "front-proxy-client"),
        pki.client("node", "system:node:sandbox-node-1", ("system:nodes",)),
    )


def client_context(ids: Identities, cert: CertPair | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ids.ca))
    context.check_hostname = False  # the aggregator checks the .svc name; here we dial an IP
    if cert is not None:
        context.load_cert_chain(cert.cert, cert.key)
    return context


@pytest.fixture
def server(identities: Identities) -> Iterator[tuple[CustomMetricsServer, FixedRates]]:
    rates = FixedRates({("default", "shop-a"): 73.5, ("default", "shop-b"): 0.0})
    tls = ServingTls(identities.serving.cert, identities.serving.key, client_ca=identities.ca)
    metrics = CustomMetricsServer(rates, list_pods, tls, clock=FakeClock())
    with loop_thread() as loop:
        loop.run(metrics.start())
        try:
            yield metrics, rates
        finally:
            loop.run(metrics.stop())


def get(
    metrics: CustomMetricsServer, ids: Identities, path: str, cert: CertPair | None
) -> tuple[int, Any]:
    async def fetch() -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(metrics.url + path, ssl=client_context(ids, cert)) as answer,
        ):
            if answer.content_type == "application/json":
                return answer.status, await answer.json()
            return answer.status, await answer.text()

    return asyncio.run(fetch())


def test_values_for_all_pods_matching_the_selector(
    server: tuple[CustomMetricsServer, FixedRates], identities: Identities
) -> None:
    metrics, _ = server
    path = f"{BASE}/namespaces/default/pods/*/http_requests_per_second?labelSelector=app%3Dshop"
    status, body = get(metrics, identities, path, identities.front_proxy)
    assert status == 200
    assert body["kind"] == "MetricValueList"
    assert [(i["describedObject"]["name"], i["value"]) for i in body["items"]] == [
        ("shop-a", "73500m"),
        ("shop-b", "0"),
    ]
    assert body["items"][0]["windowSeconds"] == 5
    assert body["items"][0]["timestamp"] == "2026-01-01T00:00:00Z"


def test_one_pod_and_v1beta1(
    server: tuple[CustomMetricsServer, FixedRates], identities: Identities
) -> None:
    metrics, _ = server
    path = "/apis/custom.metrics.k8s.io/v1beta1/namespaces/default/pods/shop-a/"
    path += "http_requests_per_second"
    status, body = get(metrics, identities, path, identities.front_proxy)
    assert status == 200
    [item] = body["items"]
    assert (item["metricName"], item["value"], item["window"]) == (
        "http_requests_per_second",
        "73500m",
        5,
    )


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/namespaces/default/pods/shop-new/http_requests_per_second", 404),
        ("/namespaces/default/pods/*/cpu_usage", 404),
        ("/namespaces/default/pods/*/http_requests_per_second?labelSelector=app+in+(", 400),
        ("/namespaces/default/pods/*/http_requests_per_second?metricLabelSelector=a%3Db", 400),
    ],
)
def test_errors_are_kubernetes_statuses(
    server: tuple[CustomMetricsServer, FixedRates], identities: Identities, path: str, code: int
) -> None:
    metrics, _ = server
    status, body = get(metrics, identities, BASE + path, identities.front_proxy)
    assert status == code
    assert (body["kind"], body["code"]) == ("Status", code)


def test_discovery_and_openapi(
    server: tuple[CustomMetricsServer, FixedRates], identities: Identities
) -> None:
    metrics, _ = server
    answers = {
        path: get(metrics, identities, path, identities.front_proxy)
        for path in ("/apis", "/apis/custom.metrics.k8s.io", BASE, "/openapi/v2", "/openapi/v3")
    }
    assert {status for status, _ in answers.values()} == {200}
    assert answers[BASE][1]["resources"][0]["name"] == "pods/http_requests_per_second"
    assert answers["/openapi/v2"][1]["swagger"] == "2.0"
    assert (
        get(metrics, identities, "/apis/custom.metrics.k8s.io/v9", identities.front_proxy)[0] == 404
    )


def test_only_the_front_proxy_certificate_is_let_in_but_health_is_open(
    server: tuple[CustomMetricsServer, FixedRates], identities: Identities
) -> None:
    metrics, _ = server
    assert get(metrics, identities, BASE, None)[0] == 401
    assert get(metrics, identities, BASE, identities.stranger)[0] == 403
    assert get(metrics, identities, "/healthz", None) == (200, "ok")
    assert get(metrics, identities, "/readyz", None)[0] == 200


# ---------------------------------------------------------------- through the upstream API server


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with control_plane() as running:
        yield running


def _create_pod(core: Any, name: str, app: str) -> Observation:
    body = {
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"containers": [{"name": "app", "image": "drills/shop:1.0.0"}]},
    }
    try:
        core.create_namespaced_pod("default", body)
    except ApiException as exc:  # the default ServiceAccount may not exist yet
        return Observation(ok=exc.status == 409, detail=f"{exc.status} {exc.reason}")
    return Observation(ok=True, detail="created")


def _available(registration: Any, name: str) -> Observation:
    conditions = registration.read_api_service(name).status.conditions or []
    seen = {c.type: (c.status, c.message) for c in conditions}
    return Observation(ok=seen.get("Available", ("",))[0] == "True", detail=str(seen))


def _kubectl() -> Path:
    return build.binaries(progress=False).kubectl


def _kubectl_raw(kubeconfig: Path, path: str) -> Any:
    done = subprocess.run(
        [str(_kubectl()), f"--kubeconfig={kubeconfig}", "get", "--raw", path],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(done.stdout)


def test_the_api_server_serves_our_values_once_registered(cluster: Cluster) -> None:
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    core, registration = client.CoreV1Api(api), client.ApiregistrationV1Api(api)
    clock = SystemClock()
    for name, app in (("shop-a", "shop"), ("shop-b", "shop"), ("billing-a", "billing")):
        create = functools.partial(_create_pod, core, name, app)
        wait_until(create, clock=clock, timeout_s=30, poll_s=0.2)
    gateway = cast(PodNetwork, cluster.network).gateway
    names = addons.serving_dns_names(SERVICE)
    pair = cluster.plane.serving_cert("custom-metrics", ips=(gateway,), dns=names)
    ca = cluster.plane.pki_dir / "ca.crt"
    rates = FixedRates(
        {("default", "shop-a"): 73.5, ("default", "shop-b"): 0.0, ("default", "billing-a"): 9.0}
    )
    tls = ServingTls(pair.cert, pair.key, client_ca=ca)
    server = CustomMetricsServer(rates, kube_pod_lister(api), tls, host=gateway)
    with loop_thread() as loop:
        loop.run(server.start())
        try:
            objects = addons.aggregated_api(
                group="custom.metrics.k8s.io",
                version="v1beta2",
                service=SERVICE,
                address=gateway,
                port=server.port,
                ca=ca,
            )
            addons.apply(_kubectl(), cluster.kubeconfig, objects)
            addons.apply(_kubectl(), cluster.kubeconfig, objects)  # idempotent
            wait_until(
                lambda: _available(registration, "v1beta2.custom.metrics.k8s.io"),
                clock=clock,
                timeout_s=60,
                poll_s=0.2,
                description="APIService v1beta2.custom.metrics.k8s.io Available",
            )
            path = f"{BASE}/namespaces/default/pods/*/http_requests_per_second"
            body = _kubectl_raw(cluster.kubeconfig, path + "?labelSelector=app%3Dshop")
            every = _kubectl_raw(cluster.kubeconfig, path)
            resources = _kubectl_raw(cluster.kubeconfig, BASE)
        finally:
            registration.delete_api_service("v1beta2.custom.metrics.k8s.io")
            loop.run(server.stop())
    assert [(i["describedObject"]["name"], i["value"]) for i in body["items"]] == [
        ("shop-a", "73500m"),
        ("shop-b", "0"),
    ]
    assert [i["describedObject"]["name"] for i in every["items"]] == [
        "billing-a",
        "shop-a",
        "shop-b",
    ]
    assert resources["resources"][0]["name"] == "pods/http_requests_per_second"
