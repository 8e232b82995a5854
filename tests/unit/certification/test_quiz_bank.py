"""The quiz bank: every fact has a source, and a broken bank says which fact and how to fix it."""

from __future__ import annotations

import re

import pytest

from drills.certification.bank import Variant, load_bank
from drills.certification.errors import QuizBankError

SEEDS = {
    "000_f95d4a4e94796166.txt",
    "001_dba783835563cb30.txt",
    "002_32e8cf954c1de182.txt",
    "003_b2566a3c478b7342.txt",
    "004_adcb18f331fabb83.txt",
}

GOOD_GROUP = """
[[group]]
id = "objectives"
runbooks = "§2.1"
choice = "What is {subject}?"
number = "What is {subject}, in {unit}?"

[[group.fact]]
id = "backend-rto"
subject = "the backend's RTO"
answer = "15 min"
value = 15
unit = "minutes"
source = "002_32e8cf954c1de182.txt § Disaster Recovery > RTO & RPO Targets"

[[group.fact]]
id = "database-rto"
subject = "the database's RTO"
answer = "1 h"
source = "002_32e8cf954c1de182.txt § Disaster Recovery > RTO & RPO Targets"
"""


def test_the_packaged_bank_loads_and_every_fact_cites_a_seed_and_a_section() -> None:
    bank = load_bank()
    facts = bank.facts()
    assert len(facts) >= 50
    for fact in facts:
        seed, _, section = fact.source.seed.partition(" § ")
        assert seed in SEEDS, fact.id
        assert section.strip(), fact.id
        assert re.fullmatch(r"§\d+(\.\d+)*", fact.source.runbooks), fact.id
        assert str(fact.source).endswith(f"(RUNBOOKS.md {fact.source.runbooks})")


def test_every_variant_of_every_fact_can_be_asked() -> None:
    bank = load_bank()
    for fact in bank.facts():
        assert fact.variants, fact.id
        for variant in fact.variants:
            assert fact.prompt(variant, step="x").strip(), (fact.id, variant)
        if Variant.CHOICE in fact.variants:
            assert bank.group_of(fact).wrong_answers(fact), fact.id
        if Variant.NUMBER in fact.variants:
            assert fact.value is not None, fact.id
            assert fact.unit, fact.id


def test_the_bank_covers_the_topics_of_runbooks_4_3() -> None:
    facts = {f.id: f for f in load_bank().facts()}
    # PodCrashLooping: more than 5 restarts in 10 min [002]
    assert facts["podcrashlooping-restarts"].value == 5
    assert facts["podcrashlooping-window"].value == 10
    assert facts["backend-rto"].answer == "15 min"  # RTO/RPO of a named component (§2.1)
    assert facts["database-rpo"].answer == "15 min"
    assert facts["idle-column-indostar"].answer == "`state_change`"  # [003]
    assert facts["idle-column-architect"].answer == "`query_start`"  # [004]
    assert facts["idle-age-indostar"].value == 10
    assert facts["data-loss-order"].steps[0].startswith("stop writes")  # §3.6 order
    assert facts["data-loss-order"].steps[-1].startswith("restart")
    assert "pod template" in facts["undo-restores"].answer
    assert facts["dhakacart-level-2"].value == 15  # when to escalate (§2.4)
    assert "team lead" in facts["dhakacart-level-2-who"].answer  # and to whom
    hazards = [f for f in facts.values() if f.group == "unsafe-commands"]
    assert len(hazards) >= 6
    assert all(f.note for f in hazards)


def test_a_distractor_never_equals_the_right_answer() -> None:
    bank = load_bank()
    for fact in bank.facts():
        wrong = bank.group_of(fact).wrong_answers(fact)
        assert fact.answer.casefold() not in {w.casefold() for w in wrong}
        assert len(wrong) == len({w.casefold() for w in wrong})


def test_a_small_bank_gets_its_variants_from_what_each_fact_has() -> None:
    bank = load_bank(GOOD_GROUP)
    backend, database = bank.facts()
    assert backend.variants == (Variant.CHOICE, Variant.NUMBER)
    assert database.variants == (Variant.CHOICE,)
    assert backend.prompt(Variant.NUMBER) == "What is the backend's RTO, in minutes?"
    assert bank.group_of(backend).wrong_answers(backend) == ("1 h",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('source = "002_32e8cf954c1de182.txt § Disaster', 'source = "somewhere § Disaster'),
            "does not name a seed file and section",
        ),
        (('runbooks = "§2.1"', 'runbooks = "2.1"'), "is not a RUNBOOKS.md section"),
        (('id = "database-rto"', 'id = "backend-rto"'), "appear twice"),
        (('unit = "minutes"', 'unit = "minutes"\ncolour = "red"'), "unknown key(s) ['colour']"),
        (("{unit}?", "{units}?"), "prompt does not fill in"),
        (('answer = "15 min"\n', ""), "has neither answer nor steps"),
        (("value = 15", 'value = "15"'), "is not a number"),
        (('unit = "minutes"\n', ""), "a number question needs value and unit"),
    ],
)
def test_a_broken_bank_names_the_fact_and_the_fix(change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in GOOD_GROUP
    with pytest.raises(QuizBankError) as raised:
        load_bank(GOOD_GROUP.replace(old, new, 1))
    assert message in str(raised.value)
    assert "Fix:" in str(raised.value)


def test_a_choice_without_distractors_is_refused() -> None:
    single = GOOD_GROUP[: GOOD_GROUP.index('[[group.fact]]\nid = "database-rto"')]
    with pytest.raises(QuizBankError, match=r"has no distractors.*add `distractors"):
        load_bank(single)


def test_steps_must_be_three_or_more_and_distinct() -> None:
    text = """
[[group]]
id = "procedures"
runbooks = "§3.6"
[[group.fact]]
id = "data-loss"
subject = "the data-loss procedure"
steps = ["stop writes", "restore"]
source = "004_adcb18f331fabb83.txt § Data Loss Scenario"
"""
    with pytest.raises(QuizBankError, match="needs 3 or more distinct steps"):
        load_bank(text)
    bank = load_bank(text.replace('"restore"]', '"save evidence", "restore"]'))
    assert bank.facts()[0].variants == (Variant.ORDER, Variant.NEXT)


def test_invalid_toml_is_reported_as_such() -> None:
    with pytest.raises(QuizBankError, match="not valid TOML"):
        load_bank("[[group]\n")
