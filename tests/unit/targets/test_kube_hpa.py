"""The HPA adapter turns autoscaling/v2 models into the port's HpaStatus."""

from __future__ import annotations

import datetime as dt

from kubernetes import client

from drills.core.autoscaling import PolicyKind, ScalingPolicy, ScalingRules, SelectPolicy
from drills.targets.adapters.kube_hpa import hpa_status_from


def _hpa(*, with_status: bool = True) -> client.V2HorizontalPodAutoscaler:
    cpu_spec = client.V2MetricSpec(
        type="Resource",
        resource=client.V2ResourceMetricSource(
            name="cpu", target=client.V2MetricTarget(type="Utilization", average_utilization=70)
        ),
    )
    rps_spec = client.V2MetricSpec(
        type="Pods",
        pods=client.V2PodsMetricSource(
            metric=client.V2MetricIdentifier(name="http_requests_per_second"),
            target=client.V2MetricTarget(type="AverageValue", average_value="80"),
        ),
    )
    status = client.V2HorizontalPodAutoscalerStatus(
        current_replicas=3,
        desired_replicas=5,
        last_scale_time=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        current_metrics=[
            client.V2MetricStatus(
                type="Pods",
                pods=client.V2PodsMetricStatus(
                    metric=client.V2MetricIdentifier(name="http_requests_per_second"),
                    current=client.V2MetricValueStatus(average_value="123456m"),
                ),
            ),
            client.V2MetricStatus(
                type="Resource",
                resource=client.V2ResourceMetricStatus(
                    name="cpu",
                    current=client.V2MetricValueStatus(
                        average_utilization=41, average_value="205m"
                    ),
                ),
            ),
        ],
        conditions=[
            client.V2HorizontalPodAutoscalerCondition(
                type="ScalingLimited", status="False", reason="DesiredWithinRange", message="ok"
            )
        ],
    )
    return client.V2HorizontalPodAutoscaler(
        metadata=client.V1ObjectMeta(name="shop", namespace="default"),
        spec=client.V2HorizontalPodAutoscalerSpec(
            scale_target_ref=client.V2CrossVersionObjectReference(kind="Deployment", name="shop"),
            min_replicas=3,
            max_replicas=10,
            metrics=[cpu_spec, rps_spec],
        ),
        status=status if with_status else None,
    )


def test_spec_and_status_are_paired_per_metric() -> None:
    status = hpa_status_from(_hpa())
    assert (status.min_replicas, status.max_replicas) == (3, 10)
    assert (status.current_replicas, status.desired_replicas) == (3, 5)
    cpu, rps = status.metrics
    assert (cpu.name, cpu.target_type, cpu.target, cpu.current, cpu.resolution) == (
        "cpu",
        "Utilization",
        70.0,
        41.0,
        1.0,
    )
    assert (rps.name, rps.source, rps.target, rps.current) == (
        "http_requests_per_second",
        "Pods",
        80.0,
        123.456,
    )
    assert rps.resolution == 0.001
    assert status.last_scale_time == "2026-01-02T03:04:05+00:00"
    limited = status.condition("ScalingLimited")
    assert limited is not None
    assert limited.reason == "DesiredWithinRange"
    assert "cpu 41/70 (Utilization)" in status.describe()


def test_a_new_hpa_without_status_reads_as_unknown() -> None:
    status = hpa_status_from(_hpa(with_status=False))
    assert (status.current_replicas, status.desired_replicas) == (0, 0)
    assert [m.current for m in status.metrics] == [None, None]
    assert "cpu <unknown>/70" in status.describe()


def test_spec_behavior_is_read_as_the_api_server_defaulted_it() -> None:
    model = _hpa()
    model.spec.behavior = client.V2HorizontalPodAutoscalerBehavior(
        scale_up=client.V2HPAScalingRules(
            stabilization_window_seconds=0,
            select_policy="Max",
            policies=[
                client.V2HPAScalingPolicy(type="Pods", value=4, period_seconds=15),
                client.V2HPAScalingPolicy(type="Percent", value=100, period_seconds=15),
            ],
        ),
        scale_down=client.V2HPAScalingRules(select_policy="Disabled", policies=[]),
    )
    behavior = hpa_status_from(model).behavior
    assert behavior is not None
    assert behavior.scale_up == ScalingRules(
        0.0,
        SelectPolicy.MAX,
        (ScalingPolicy(PolicyKind.PODS, 4, 15), ScalingPolicy(PolicyKind.PERCENT, 100, 15)),
    )
    assert behavior.scale_down == ScalingRules(None, SelectPolicy.DISABLED, ())
    assert hpa_status_from(_hpa()).behavior is None  # no spec.behavior: controller defaults
