"""Canonical resource quantities, as the Kubernetes API server stores them.

A real API server rewrites `cpu: 1000m` as `"1"` and `memory: 1024Mi` as `"1Gi"` when it saves an
object. Clients depend on that: `kubectl rollout undo` copies a ReplicaSet's template back, and
only an identical template hashes to the ReplicaSet it came from.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal

__all__ = ["canonical_quantity"]

_PATTERN = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_BINARY = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_DECIMAL = {-3: "n", -2: "u", -1: "m", 0: "", 1: "k", 2: "M", 3: "G", 4: "T", 5: "P", 6: "E"}
_DECIMAL_EXPONENT = {suffix: exponent for exponent, suffix in _DECIMAL.items()}


def canonical_quantity(text: str) -> str:
    """Return the API server's canonical form of a quantity; unknown syntax comes back as is."""
    match = _PATTERN.match(text.strip())
    if match is None:
        return text
    number, suffix = Decimal(match[1]), match[2] or ""
    if suffix in _BINARY[1:]:
        return _binary(number * 1024 ** _BINARY.index(suffix))
    return _decimal(number * Decimal(1000) ** _DECIMAL_EXPONENT[suffix])


def _binary(value: Decimal) -> str:
    if value != value.to_integral_value() or value == 0:
        return _decimal(value)
    whole, step = int(value), 0
    while step < len(_BINARY) - 1 and whole % 1024 == 0:
        whole, step = whole // 1024, step + 1
    return f"{whole}{_BINARY[step]}" if step else _decimal(value)


def _decimal(value: Decimal) -> str:
    if value == 0:
        return "0"
    for exponent in range(6, -4, -1):
        scaled = value / Decimal(1000) ** exponent
        if scaled == scaled.to_integral_value():
            return f"{int(scaled)}{_DECIMAL[exponent]}"
    nanos = (value * Decimal(10) ** 9).to_integral_value(rounding=ROUND_CEILING)
    return f"{int(nanos)}n"  # finer than a nano unit rounds up, as Kubernetes does
