"""Public home of the HPA replica rule (DESIGN.md contract)."""

from drills.core.autoscaling import desired_replicas

__all__ = ["desired_replicas"]
