"""Conditions compose; a negation is what an alert on a broken steady state fires on."""

from __future__ import annotations

from drills.core.conditions import Condition, Observation


def test_a_negation_holds_exactly_when_its_condition_does_not_and_keeps_the_detail() -> None:
    state = {"ready": 2}

    def serving() -> Observation:
        return Observation(state["ready"] == 3, f"{state['ready']} of 3 Ready")

    alert = Condition("serving", serving).negated("shop replicas below desired")
    assert alert.name == "shop replicas below desired"
    assert alert() == Observation(True, "2 of 3 Ready")
    state["ready"] = 3
    assert alert() == Observation(False, "3 of 3 Ready")


def test_a_negation_composes_like_any_condition() -> None:
    up = Condition("up", lambda: True)
    down = up.negated("down")
    assert not (down & up)().ok
    assert (down | up)().ok
