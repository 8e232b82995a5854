"""Kubernetes adapter for the Autoscaler port: one autoscaling/v2 HPA through the official client.

Works the same on the sandbox and on a real cluster (connect with `kube.connect`). Each metric
of the spec is paired with the status's current value of the same source and name, so a
reading carries both figures `kubectl describe hpa` prints side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from drills.core.autoscaling import (
    HpaBehavior,
    PolicyKind,
    ScalingPolicy,
    ScalingRules,
    SelectPolicy,
)
from drills.targets.adapters.kube import KubeApi, _call
from drills.targets.ports.autoscaling import HpaCondition, HpaStatus, MetricReading

try:
    from kubernetes.client.rest import ApiException
    from kubernetes.utils import parse_quantity
except ImportError as exc:  # pragma: no cover - depends on the installed extra
    raise ImportError("the HPA adapter needs the k8s extra: pip install 'drills[k8s]'") from exc

__all__ = ["KubeAutoscaler", "hpa_status_from"]

_NOT_FOUND = 404
_KEPT_METADATA = ("name", "namespace", "labels", "annotations")


class KubeAutoscaler:
    """The Autoscaler port for HPA `name` in `namespace`."""

    def __init__(self, api: KubeApi, namespace: str, name: str) -> None:
        self.api, self.namespace, self.name = api, namespace, name

    def status(self) -> HpaStatus | None:
        """Spec range and status now; None when the HPA does not exist (HTTP 404)."""
        found = self._read()
        return None if found is None else hpa_status_from(found)

    def _read(self) -> Any:
        """The HPA model, or None when it does not exist (HTTP 404)."""

        def read() -> Any:
            try:
                return self.api.autoscaling.read_namespaced_horizontal_pod_autoscaler(
                    self.name, self.namespace
                )
            except ApiException as exc:
                if exc.status == _NOT_FOUND:
                    return None
                raise

        return _call(f"read hpa/{self.name}", read)

    def manifest(self) -> dict[str, Any] | None:
        """The HPA as `kubectl apply` would take it (no status, no server fields); None: absent."""
        found = self._read()
        if found is None:
            return None
        body: dict[str, Any] = self.api.autoscaling.api_client.sanitize_for_serialization(found)
        metadata = body.get("metadata") or {}
        return {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {k: metadata[k] for k in _KEPT_METADATA if metadata.get(k) is not None},
            "spec": body.get("spec") or {},
        }

    def delete(self) -> None:
        """Delete the HPA."""
        _call(
            f"delete hpa/{self.name}",
            lambda: self.api.autoscaling.delete_namespaced_horizontal_pod_autoscaler(
                self.name, self.namespace
            ),
        )

    def restore(self, manifest: Mapping[str, Any]) -> None:
        """Create the HPA from `manifest`, or replace its spec with the manifest's if it exists."""
        api = self.api.autoscaling
        found = self._read()
        if found is None:
            body = {**manifest, "metadata": {**manifest["metadata"], "namespace": self.namespace}}
            _call(
                f"create hpa/{self.name}",
                lambda: api.create_namespaced_horizontal_pod_autoscaler(self.namespace, body),
            )
            return
        current: dict[str, Any] = api.api_client.sanitize_for_serialization(found)
        current.pop("status", None)
        current["spec"] = dict(manifest["spec"])
        _call(
            f"replace hpa/{self.name}",
            lambda: api.replace_namespaced_horizontal_pod_autoscaler(
                self.name, self.namespace, current
            ),
        )


def hpa_status_from(hpa: Any) -> HpaStatus:
    """Build an `HpaStatus` from a `V2HorizontalPodAutoscaler` model."""
    spec, status = hpa.spec, hpa.status
    ref = spec.scale_target_ref
    listed = getattr(status, "current_metrics", None) or []
    current = {_key(m): m for m in listed}
    return HpaStatus(
        name=str(hpa.metadata.name),
        target_kind=str(ref.kind),
        target_name=str(ref.name),
        min_replicas=int(spec.min_replicas if spec.min_replicas is not None else 1),
        max_replicas=int(spec.max_replicas),
        current_replicas=int(getattr(status, "current_replicas", 0) or 0),
        desired_replicas=int(getattr(status, "desired_replicas", 0) or 0),
        metrics=tuple(_reading(m, current.get(_key(m))) for m in spec.metrics or []),
        conditions=tuple(
            HpaCondition(str(c.type), str(c.status), str(c.reason or ""), str(c.message or ""))
            for c in (getattr(status, "conditions", None) or [])
        ),
        last_scale_time=_iso(getattr(status, "last_scale_time", None)),
        behavior=_behavior(getattr(spec, "behavior", None)),
    )


def _behavior(behavior: Any) -> HpaBehavior | None:
    """`spec.behavior` (the API server fills in both directions when either is set)."""
    if behavior is None:
        return None
    return HpaBehavior(_rules(behavior.scale_up), _rules(behavior.scale_down))


def _rules(rules: Any) -> ScalingRules:
    if rules is None:
        return ScalingRules()
    window = rules.stabilization_window_seconds
    return ScalingRules(
        window_s=None if window is None else float(window),
        select=SelectPolicy(str(rules.select_policy or SelectPolicy.MAX.value)),
        policies=tuple(
            ScalingPolicy(PolicyKind(str(p.type)), int(p.value), int(p.period_seconds))
            for p in rules.policies or []
        ),
    )


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _source(metric: Any) -> Any:
    """The per-type part of a MetricSpec or MetricStatus (resource, pods, object, ...)."""
    attribute = {
        "Resource": "resource",
        "Pods": "pods",
        "Object": "object",
        "External": "external",
        "ContainerResource": "container_resource",
    }.get(str(metric.type), "")
    return getattr(metric, attribute, None) if attribute else None


def _name(metric: Any) -> str:
    part = _source(metric)
    if part is None:
        return ""
    if hasattr(part, "metric") and part.metric is not None:
        return str(part.metric.name)
    return str(getattr(part, "name", ""))


def _key(metric: Any) -> tuple[str, str]:
    return (str(metric.type), _name(metric))


def _reading(spec_metric: Any, status_metric: Any) -> MetricReading:
    target = _source(spec_metric).target
    kind = str(target.type)
    wanted = _figure(target, kind)
    seen: tuple[float, float] | None = None
    if status_metric is not None:
        seen = _observed(_source(status_metric).current, kind)
    return MetricReading(
        name=_name(spec_metric),
        source=str(spec_metric.type),
        target_type=kind,
        target=0.0 if wanted is None else wanted[0],
        current=None if seen is None else seen[0],
        resolution=1.0 if seen is None else seen[1],
    )


def _figure(values: Any, kind: str) -> tuple[float, float] | None:
    """(value, resolution) of a MetricTarget or MetricValueStatus for the target's type."""
    if kind == "Utilization":
        raw = getattr(values, "average_utilization", None)
        return None if raw is None else (float(raw), 1.0)
    attribute = "average_value" if kind == "AverageValue" else "value"
    text = getattr(values, attribute, None)
    if text is None:
        return None
    quantity = Decimal(parse_quantity(text))
    exponent = quantity.as_tuple().exponent
    step = 10.0 ** min(0, exponent) if isinstance(exponent, int) else 1.0
    return float(quantity), step


def _observed(current: Any, kind: str) -> tuple[float, float] | None:
    return None if current is None else _figure(current, kind)
