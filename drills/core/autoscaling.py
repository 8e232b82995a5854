"""The HorizontalPodAutoscaler's replica rule, by which the HPA drill judges the controller.

Kubernetes documents it as desiredReplicas = ceil(currentReplicas * currentMetric / target),
skipped when the ratio is within the tolerance (default 0.1) of 1.0.
"""

from __future__ import annotations

import math

__all__ = ["desired_replicas"]


def desired_replicas(
    current_replicas: int,
    current_metric: float,
    target_metric: float,
    *,
    ready_pods: int | None = None,
    tolerance: float = 0.1,
) -> int:
    """Return the replica count the HPA rule asks for.

    ratio = current_metric / target_metric; within `tolerance` of 1.0 the count stays at
    `current_replicas`, otherwise it is ceil(ratio * ready_pods), with `ready_pods` defaulting to
    `current_replicas`. Min/max clamping and stabilisation are the caller's business.
    """
    if target_metric <= 0:
        raise ValueError("target_metric must be positive")
    if current_replicas < 0 or current_metric < 0:
        raise ValueError("replicas and metric cannot be negative")
    ratio = current_metric / target_metric
    if abs(ratio - 1.0) <= tolerance:
        return current_replicas
    pods = current_replicas if ready_pods is None else ready_pods
    # Round away float noise first: 3 * (1.2/0.4) must be 9, not 10.
    return math.ceil(round(ratio * pods, 9))
