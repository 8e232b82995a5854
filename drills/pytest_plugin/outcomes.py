"""Turn a finished drill into a pytest outcome and JUnit properties (only PASS passes).

The dry-run outcome is a skip: the plan and its rollbacks were printed and nothing acted, so the
journal says COULD_NOT_VERIFY and the test is reported as skipped with the plan as the reason.
"""

from __future__ import annotations

import pytest

from drills.core.drill import DryRunHalt
from drills.core.journal import DrillRecord
from drills.core.objectives import ObjectiveKind, Verdict

__all__ = ["junit_properties", "settle"]


def junit_properties(
    record: DrillRecord, targets: dict[ObjectiveKind, float]
) -> list[tuple[str, str]]:
    """Per-test JUnit properties: verdict and measured/target RTO and RPO in seconds."""
    props = [("drill_id", record.id), ("runbook", record.runbook), ("verdict", str(record.verdict))]
    for kind in (ObjectiveKind.RTO, ObjectiveKind.RPO):
        result = next(
            (o for o in record.objectives if o.name is kind and o.service == record.service),
            next((o for o in record.objectives if o.name is kind), None),
        )
        target = result.target_s if result is not None else targets.get(kind)
        measured = result.measured_s if result is not None else None
        prefix = kind.lower()
        props.append((f"{prefix}_measured_s", "" if measured is None else f"{measured:.3f}"))
        props.append((f"{prefix}_target_s", "" if target is None else f"{target:g}"))
    return props


def verdict_message(record: DrillRecord) -> str:
    """`drill pod-kill: FAIL` followed by each objective's target vs measured line."""
    lines = [f"drill {record.id} ({record.runbook}): {record.verdict}"]
    lines.extend(f"  {o.summary()}" for o in record.objectives)
    if record.reason and not record.objectives:
        lines.append(f"  {record.reason}")
    return "\n".join(lines)


def settle(record: DrillRecord, error: BaseException | None, plan: list[str]) -> None:
    """Raise the outcome pytest should report for this drill (return means it passed)."""
    if isinstance(error, DryRunHalt) or (error is None and _is_dry_run(record)):
        shown = "; ".join(plan) or "no fault was injected"
        pytest.skip(f"dry run of {record.id}: {shown}")
    if error is not None:
        if isinstance(error, Exception):
            error.add_note(_note(record, str(error)))
        raise error
    if record.verdict is not Verdict.PASS:
        pytest.fail(f"{verdict_message(record)}\n  why: {record.reason}", pytrace=False)


def _note(record: DrillRecord, shown: str) -> str:
    missing = [o.summary() for o in record.objectives if o.summary() not in shown]
    return "\n".join([f"drill {record.id} ({record.runbook}): {record.verdict}", *missing])


def _is_dry_run(record: DrillRecord) -> bool:
    return record.verdict is Verdict.COULD_NOT_VERIFY and record.reason.startswith("dry run")
