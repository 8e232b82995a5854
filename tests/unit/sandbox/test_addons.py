"""The manifests the sandbox adds to its cluster, checked field by field."""

from __future__ import annotations

import base64
from pathlib import Path

from drills.sandbox.addons import aggregated_api, database_secret, serving_dns_names

PEM = b"-----BEGIN CERTIFICATE-----\n"


def test_aggregated_api_objects_match_what_the_aggregator_resolves(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_bytes(PEM)
    service, endpoint_slice, api_service = aggregated_api(
        group="custom.metrics.k8s.io",
        version="v1beta2",
        service="custom-metrics-apiserver",
        address="10.244.7.1",
        port=42001,
        ca=ca,
    )
    assert api_service["metadata"]["name"] == "v1beta2.custom.metrics.k8s.io"
    spec = api_service["spec"]
    assert spec["service"] == {
        "namespace": "kube-system",
        "name": "custom-metrics-apiserver",
        "port": 443,
    }
    assert (spec["group"], spec["version"]) == ("custom.metrics.k8s.io", "v1beta2")
    assert base64.b64decode(spec["caBundle"]) == PEM
    assert "insecureSkipTLSVerify" not in spec
    assert "selector" not in service["spec"]
    assert service["spec"]["type"] == "ClusterIP"
    [port] = service["spec"]["ports"]
    assert (port["name"], port["port"], port["targetPort"]) == ("https", 443, 42001)
    labels = endpoint_slice["metadata"]["labels"]
    assert labels["kubernetes.io/service-name"] == "custom-metrics-apiserver"
    assert labels["endpointslice.kubernetes.io/managed-by"] == "drills-sandbox"
    assert endpoint_slice["ports"] == [{"name": "https", "port": 42001, "protocol": "TCP"}]
    assert endpoint_slice["endpoints"] == [
        {"addresses": ["10.244.7.1"], "conditions": {"ready": True}}
    ]


def test_serving_names_are_those_the_aggregator_dials() -> None:
    assert serving_dns_names("metrics-server") == (
        "metrics-server.kube-system.svc",
        "metrics-server.kube-system.svc.cluster.local",
        "metrics-server",
    )
    assert serving_dns_names("m", "monitoring")[0] == "m.monitoring.svc"


def test_database_secret_holds_the_dsn_under_url() -> None:
    secret = database_secret("postgresql://app@10.244.7.1/shop", namespace="default")
    assert (secret["kind"], secret["metadata"]["name"]) == ("Secret", "shop-database")
    assert secret["stringData"] == {"url": "postgresql://app@10.244.7.1/shop"}
