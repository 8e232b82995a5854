"""HorizontalPodAutoscaler (autoscaling/v2) controller over the `PodMetrics` registry.

Metrics served: ``Resource`` cpu with ``Utilization`` (average usage over pod requests; as in
Kubernetes, pods not Ready yet are set aside, and count as idle when scaling up, so start-up CPU
does not feed back into scaling) and
``Pods`` ``http_requests_per_second`` with ``AverageValue``. The proposal per metric is
`drills.core.autoscaling.desired_replicas` (tolerance 0.1); the largest proposal wins, then
min/max clamp, the scale-up policies (default: +4 pods or +100% per 15 s, whichever is more)
and the scale-down stabilisation window (default `default_scale_down_window_s`, 300 s on a real
cluster, shortened by the sandbox configuration) apply, as the Kubernetes docs describe.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from drills.core.autoscaling import desired_replicas
from drills.core.clock import DrillClock
from drills.sandbox.apiserver.store import ObjectStore
from drills.sandbox.controllers.common import (
    Obj,
    is_active,
    is_ready,
    parse_cpu_millicores,
    parse_quantity,
    record_event,
    selected_pods,
)
from drills.sandbox.metrics import PodMetrics

__all__ = ["HpaController", "HpaSettings"]

_COMPONENT = "horizontal-pod-autoscaler"
RPS_METRIC = "http_requests_per_second"


@dataclass(frozen=True)
class HpaSettings:
    """Sandbox defaults where the HPA spec says nothing (real cluster defaults in comments)."""

    tolerance: float = 0.1
    default_scale_down_window_s: float = 300.0  # real: 300 s
    default_scale_up_window_s: float = 0.0  # real: 0 s


@dataclass
class _History:
    recommendations: deque[tuple[float, int]] = field(default_factory=deque)
    scale_ups: deque[tuple[float, int]] = field(default_factory=deque)


@dataclass(frozen=True)
class _Reading:
    proposal: int
    current: Obj
    reason: str


class HpaController:
    """Scales Deployments named by HPAs; `sync()` evaluates every HPA once."""

    def __init__(
        self,
        store: ObjectStore,
        metrics: PodMetrics,
        clock: DrillClock,
        settings: HpaSettings | None = None,
    ) -> None:
        """Read figures from `metrics`, time from `clock`."""
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._settings = settings or HpaSettings()
        self._history: dict[str, _History] = {}

    def sync(self) -> None:
        """Evaluate every HPA once."""
        hpas, _ = self._store.list("horizontalpodautoscalers")
        for hpa in hpas:
            self._sync_one(hpa)

    def _sync_one(self, hpa: Obj) -> None:
        spec, meta = hpa.get("spec", {}), hpa["metadata"]
        ref = spec.get("scaleTargetRef", {})
        target = self._store.try_get("deployments", meta["namespace"], ref.get("name", ""))
        if target is None or ref.get("kind") != "Deployment":
            self._write_status(
                hpa,
                0,
                0,
                [],
                [
                    _cond(
                        "AbleToScale",
                        "False",
                        "FailedGetScale",
                        f"the target {ref.get('kind')}/{ref.get('name')} is not found",
                        self._store.timestamp(),
                    )
                ],
            )
            return
        current = int(target.get("spec", {}).get("replicas", 1))
        pods = [
            p
            for p in selected_pods(
                self._store, meta["namespace"], target.get("spec", {}).get("selector")
            )
            if is_active(p)
        ]
        readings = [
            r
            for r in (self._read(m, pods, current) for m in spec.get("metrics") or [])
            if r is not None
        ]
        now_s = self._clock.now()
        key = f"{meta['namespace']}/{meta['name']}"
        history = self._history.setdefault(key, _History())
        stamp = self._store.timestamp()
        if not readings:
            conds = [
                _cond(
                    "AbleToScale",
                    "True",
                    "SucceededGetScale",
                    "the HPA controller was able to get the target's current scale",
                    stamp,
                ),
                _cond(
                    "ScalingActive",
                    "False",
                    "FailedGetResourceMetric",
                    "the HPA was unable to compute the replica count: no metrics returned",
                    stamp,
                ),
            ]
            self._write_status(hpa, current, current, [], conds)
            return
        best = max(readings, key=lambda r: r.proposal)
        low, high = int(spec.get("minReplicas", 1)), int(spec["maxReplicas"])
        clamped = min(max(best.proposal, low), high)
        desired = self._behave(spec.get("behavior") or {}, history, now_s, current, clamped)
        conds = _scaling_conditions(best, clamped, desired, current, (low, high), stamp)
        scaled = desired != current
        if scaled:
            self._store.patch(
                "deployments",
                meta["namespace"],
                target["metadata"]["name"],
                {"spec": {"replicas": desired}},
            )
            if desired > current:
                history.scale_ups.append((now_s, desired - current))
            record_event(
                self._store,
                hpa,
                "SuccessfulRescale",
                f"New size: {desired}; reason: {best.reason} above target"
                if desired > current
                else f"New size: {desired}; reason: All metrics below target",
                component=_COMPONENT,
            )
        self._write_status(
            hpa, current, desired, [r.current for r in readings], conds, scaled=scaled
        )

    def _read(self, metric: Obj, pods: list[Obj], current: int) -> _Reading | None:
        if metric.get("type") == "Resource" and metric.get("resource", {}).get("name") == "cpu":
            return self._read_cpu(metric, pods, current)
        if (
            metric.get("type") == "Pods"
            and metric.get("pods", {}).get("metric", {}).get("name") == RPS_METRIC
        ):
            return self._read_rps(metric, pods, current)
        return None

    def _samples(self, pods: list[Obj]) -> list[tuple[Obj, float, float]]:
        result = []
        for pod in pods:
            sample = self._metrics.get(pod["metadata"]["namespace"], pod["metadata"]["name"])
            if sample is not None:
                result.append((pod, sample.cpu_millicores, sample.requests_per_second))
        return result

    def _read_cpu(self, metric: Obj, pods: list[Obj], current: int) -> _Reading | None:
        target = metric["resource"].get("target", {})
        samples = self._samples(pods)
        requests = [
            sum(
                parse_cpu_millicores(c.get("resources", {}).get("requests", {}).get("cpu"))
                for c in p.get("spec", {}).get("containers") or []
            )
            for p, _, _ in samples
        ]
        if not samples or not all(requests) or "averageUtilization" not in target:
            return None
        wanted = float(target["averageUtilization"])
        counted = _cpu_utilization(samples, requests, wanted)
        if counted is None:
            return None  # only starting pods: their start-up burst is no usable CPU sample
        utilization, usage, pods_counted = counted
        proposal = desired_replicas(
            current,
            utilization,
            wanted,
            ready_pods=pods_counted,
            tolerance=self._settings.tolerance,
        )
        if pods_counted > sum(1 for pod, _, _ in samples if is_ready(pod)):
            proposal = max(proposal, current)  # idle starting pods must not turn it into a cut
        average_m = usage / pods_counted
        current_metric = {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "current": {
                    "averageUtilization": int(utilization),
                    "averageValue": f"{int(average_m)}m",
                },
            },
        }
        return _Reading(
            proposal, current_metric, "cpu resource utilization (percentage of request)"
        )

    def _read_rps(self, metric: Obj, pods: list[Obj], current: int) -> _Reading | None:
        target = metric["pods"].get("target", {})
        samples = self._samples(pods)
        if not samples or "averageValue" not in target:
            return None
        average = sum(rps for _, _, rps in samples) / len(samples)
        wanted = parse_quantity(target["averageValue"])
        proposal = desired_replicas(
            current, average, wanted, ready_pods=len(samples), tolerance=self._settings.tolerance
        )
        current_metric = {
            "type": "Pods",
            "pods": {
                "metric": {"name": RPS_METRIC},
                "current": {"averageValue": f"{round(average * 1000)}m"},
            },
        }
        return _Reading(proposal, current_metric, f"pods metric {RPS_METRIC}")

    def _behave(
        self, behavior: Obj, history: _History, now_s: float, current: int, wanted: int
    ) -> int:
        up, down = behavior.get("scaleUp") or {}, behavior.get("scaleDown") or {}
        down_window = float(
            down.get("stabilizationWindowSeconds", self._settings.default_scale_down_window_s)
        )
        up_window = float(
            up.get("stabilizationWindowSeconds", self._settings.default_scale_up_window_s)
        )
        history.recommendations.append((now_s, wanted))
        longest = max(down_window, up_window)
        while history.recommendations and history.recommendations[0][0] < now_s - longest:
            history.recommendations.popleft()
        if wanted < current:
            recent = [r for t, r in history.recommendations if t >= now_s - down_window]
            return min(current, max(recent, default=wanted))
        if wanted > current:
            recent = [r for t, r in history.recommendations if t >= now_s - up_window]
            stabilized = max(current, min(recent, default=wanted))
            return min(stabilized, self._up_limit(up, history, now_s, current))
        return current

    def _up_limit(self, up: Obj, history: _History, now_s: float, current: int) -> int:
        policies = up.get("policies") or [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ]
        limits = []
        for policy in policies:
            period = float(policy.get("periodSeconds", 15))
            added = sum(n for t, n in history.scale_ups if t > now_s - period)
            start = current - added
            value = int(policy.get("value", 0))
            limits.append(
                start + value
                if policy.get("type") == "Pods"
                else math.ceil(start * (1 + value / 100))
            )
        pick = min if up.get("selectPolicy") == "Min" else max
        return max(current, pick(limits))

    def _write_status(  # noqa: PLR0913 - the status fields
        self,
        hpa: Obj,
        current: int,
        desired: int,
        metrics: list[Obj],
        conditions: list[Obj],
        *,
        scaled: bool = False,
    ) -> None:
        old = hpa.get("status", {})
        old_conds = {c["type"]: c for c in old.get("conditions") or []}
        for cond in conditions:
            prior = old_conds.get(cond["type"])
            if prior and prior.get("status") == cond["status"]:
                cond["lastTransitionTime"] = prior.get(
                    "lastTransitionTime", cond["lastTransitionTime"]
                )
        status: Obj = {
            "currentReplicas": current,
            "desiredReplicas": desired,
            "currentMetrics": metrics,
            "conditions": conditions,
        }
        last = self._store.timestamp() if scaled else old.get("lastScaleTime")
        if last:
            status["lastScaleTime"] = last
        status["observedGeneration"] = hpa["metadata"].get("generation", 1)
        if status != old:
            self._store.update_status(
                "horizontalpodautoscalers",
                hpa["metadata"]["namespace"],
                hpa["metadata"]["name"],
                status,
            )


def _cpu_utilization(
    samples: list[tuple[Obj, float, float]], requests: list[float], wanted: float
) -> tuple[float, float, int] | None:
    """(utilization %, usage m, pods counted) as the Kubernetes HPA counts CPU; None: no Ready pod.

    Pods not Ready yet are set aside; when the Ready pods ask for more, the starting ones are
    counted back in as idle (their start-up CPU is not load), so they dampen the scale-up.
    """
    ready = [is_ready(pod) for pod, _, _ in samples]
    if not any(ready):
        return None
    usage = sum(cpu for (_, cpu, _), ok in zip(samples, ready, strict=True) if ok)
    requested = sum(r for r, ok in zip(requests, ready, strict=True) if ok)
    utilization = 100.0 * usage / requested
    if utilization > wanted and not all(ready):
        return 100.0 * usage / sum(requests), usage, len(samples)
    return utilization, usage, sum(ready)


def _scaling_conditions(  # noqa: PLR0913 - the figures one decision is made of
    best: _Reading, clamped: int, desired: int, current: int, bounds: tuple[int, int], now: str
) -> list[Obj]:
    """AbleToScale, ScalingActive and ScalingLimited as a real HPA reports them.

    A decision held above the rule is ScaleDownStabilized; one held below it by the scale-up
    policies is ScalingLimited with reason ScaleUpLimit (checked first, as Kubernetes does); a
    proposal outside min..max is TooManyReplicas or TooFewReplicas.
    """
    low, high = bounds
    able = "ScaleDownStabilized" if desired > clamped else "ReadyForNewScale"
    if desired < clamped:
        limit = ("True", "ScaleUpLimit")
        limit_message = "the desired replica count is increasing faster than the maximum scale rate"
    elif best.proposal > high or best.proposal < low:
        limit = ("True", "TooManyReplicas" if best.proposal > high else "TooFewReplicas")
        limit_message = "the desired replica count is out of range"
    else:
        limit = ("False", "DesiredWithinRange")
        limit_message = "the desired count is within the acceptable range"
    return [
        _cond(
            "AbleToScale",
            "True",
            able,
            "recommended size matches current size"
            if desired == current
            else f"the HPA controller will scale to {desired}",
            now,
        ),
        _cond(
            "ScalingActive",
            "True",
            "ValidMetricFound",
            f"the HPA was able to successfully calculate a replica count from {best.reason}",
            now,
        ),
        _cond("ScalingLimited", limit[0], limit[1], limit_message, now),
    ]


def _cond(kind: str, state: str, reason: str, message: str, now: str) -> Obj:
    return {
        "type": kind,
        "status": state,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }
