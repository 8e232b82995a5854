import pytest

from drills.core.objectives import Objective, ObjectiveKind, Verdict, combine, evaluate

RTO = Objective(ObjectiveKind.RTO, "shop", 900.0)


def test_within_target_passes_and_reports_both_figures() -> None:
    result = evaluate(RTO, 12.5)
    assert result.verdict is Verdict.PASS
    assert (result.target_s, result.measured_s) == (900.0, 12.5)
    assert result.summary() == "shop RTO: measured 12.5s vs target 15m -> PASS"


def test_exactly_on_target_passes() -> None:
    assert evaluate(RTO, 900.0).verdict is Verdict.PASS


def test_over_target_fails() -> None:
    assert evaluate(RTO, 900.001).verdict is Verdict.FAIL


def test_unmeasured_is_could_not_verify_never_pass() -> None:
    result = evaluate(RTO, None)
    assert result.verdict is Verdict.COULD_NOT_VERIFY
    assert result.detail == "not measured"


def test_negative_target_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        Objective(ObjectiveKind.RPO, "database", -1.0)


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([], Verdict.COULD_NOT_VERIFY),
        ([Verdict.PASS], Verdict.PASS),
        ([Verdict.PASS, Verdict.COULD_NOT_VERIFY], Verdict.COULD_NOT_VERIFY),
        ([Verdict.COULD_NOT_VERIFY, Verdict.FAIL], Verdict.FAIL),
        ([Verdict.FAIL, Verdict.ERROR, Verdict.PASS], Verdict.ERROR),
    ],
)
def test_combine_takes_the_worst(verdicts: list[Verdict], expected: Verdict) -> None:
    assert combine(verdicts) is expected
