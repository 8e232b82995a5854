"""The crash matrix's pure parts: which kill points a drill has, and how a difference reads."""

from __future__ import annotations

from tests.e2e.crash_matrix import KillPoint, KillResult, differences, kill_points


def test_every_step_with_each_signal_and_two_sigkills_per_fault() -> None:
    scenario = {
        "steps": [{"name": "Detect"}, {"name": "Roll back"}],
        "faults": [{"kind": "bad-release"}],
    }
    points = [p.failpoint for p in kill_points("crashloop-rollback", scenario)]
    assert points == [
        "step:1=SIGINT",
        "step:1=SIGTERM",
        "step:1=SIGKILL",
        "step:2=SIGINT",
        "step:2=SIGTERM",
        "step:2=SIGKILL",
        "recorded:1=SIGKILL",
        "applied:1=SIGKILL",
    ]


def test_differences_name_the_key_and_both_values() -> None:
    before = {"Deployment/default/shop": {"replicas": 3}, "sessions": []}
    after = {"Deployment/default/shop": {"replicas": 2}, "sessions": []}
    assert differences(before, after) == [
        'Deployment/default/shop: was {"replicas": 3}, now {"replicas": 2}'
    ]
    assert differences(before, before) == []


def test_a_point_never_reached_is_not_restored() -> None:
    point = KillPoint("pitr", "step:9=SIGINT", "start of step 'x'")
    assert not KillResult(point).restored
    assert KillResult(point, reached="step:9=SIGINT\tstep 'x'").restored
    assert point.signal == "SIGINT"
