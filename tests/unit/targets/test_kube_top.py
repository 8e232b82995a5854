"""`kubectl top pods` quantities as the metrics API spells them."""

from __future__ import annotations

import pytest

from drills.targets.adapters.kube_top import parse_cpu_millicores, parse_memory_bytes
from drills.targets.ports.diagnostics import PodUsage


@pytest.mark.parametrize(
    ("quantity", "millicores"),
    [("250m", 250.0), ("1", 1000.0), ("12345678n", 12.345678), ("3500u", 3.5), ("0", 0.0)],
)
def test_cpu_quantities(quantity: str, millicores: float) -> None:
    assert parse_cpu_millicores(quantity) == pytest.approx(millicores)


@pytest.mark.parametrize(
    ("quantity", "size"),
    [("61Mi", 61 * 1024**2), ("64000Ki", 64000 * 1024), ("1G", 10**9), ("2048", 2048)],
)
def test_memory_quantities(quantity: str, size: int) -> None:
    assert parse_memory_bytes(quantity) == size


def test_a_line_reads_like_kubectl_top() -> None:
    assert PodUsage("shop-abc", 412.4, 61 * 1024**2).describe() == "shop-abc 412m 61Mi"
