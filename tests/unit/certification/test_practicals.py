"""The catalogue: every drill has a practical, and every practical can be graded."""

from __future__ import annotations

import pytest

from drills.certification.practicals import NO_PRACTICAL_YET, PRACTICALS, practical_for
from drills.core.errors import ConfigError
from drills.core.grade import DEFAULT_NAMES
from drills.core.practical import Practical
from tests.scenario_ids import drill_ids


def test_every_drill_in_the_scenarios_has_a_practical_or_says_why_not() -> None:
    drills = set(drill_ids())
    assert len(drills) >= 6  # the scan found the scenarios
    practicals = {p.drill_id for p in PRACTICALS}
    assert drills <= practicals | set(NO_PRACTICAL_YET)
    assert not practicals & set(NO_PRACTICAL_YET)  # a practical written: drop it from the list
    assert set(NO_PRACTICAL_YET) <= drills  # only drills that exist


def test_a_drill_without_a_practical_yet_is_refused_saying_so() -> None:
    with pytest.raises(ConfigError, match="no certification practical yet"):
        practical_for("oom-memory-leak")


@pytest.mark.parametrize("practical", PRACTICALS, ids=lambda p: p.drill_id)
def test_each_practical_is_complete(practical: Practical) -> None:
    assert practical_for(practical.drill_id) is practical
    assert len(practical.variants) >= 2
    assert practical.alert.severity in {"P0", "P1", "P2", "P3"}
    assert practical.hazards
    for variant in practical.variants:
        alert = practical.alert_for(variant.id)
        assert all((alert.name, alert.text, alert.service))
        steps = practical.checkpoints_for(variant.id)
        assert any(c.required and c.phase.value == "mitigate" for c in steps) or (
            practical.drill_id == "pod-kill-under-load" or variant.id == "spike"
        )  # the ReplicaSet / the HPA heals those by itself: the trainee verifies
        assert any(c.required for c in steps)
        for checkpoint in steps:
            assert all(m.describe(DEFAULT_NAMES) for m in checkpoint.matchers)


def test_an_unknown_drill_lists_the_practicals() -> None:
    with pytest.raises(ConfigError, match="practicals exist for"):
        practical_for("no-such-drill")


def test_crashloop_variants_are_the_issues() -> None:
    variants = [v.id for v in practical_for("crashloop-rollback").variants]
    assert variants == ["bad-image", "bad-setting", "missing-secret-key"]
    pool = [v.id for v in practical_for("db-pool-exhaustion").variants]
    assert pool == ["idle-leak", "idle-in-transaction-leak"]
