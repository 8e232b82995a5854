"""Journeys: what the profile may say, what each mistake tells the team, and how they travel."""

from __future__ import annotations

import json
from typing import Any

import pytest

from drills.core.journeys import (
    AcknowledgedKeys,
    Journey,
    JourneyProblem,
    journeys_from_json,
    journeys_json,
    parse_journeys,
    render,
)

WRITE: dict[str, Any] = {
    "name": "write a note",
    "method": "put",
    "path": "/notes/{key}",
    "body": '{"text": "drill {n}"}',
    "weight": 2,
    "expect": [201, 200],
    "ack": True,
}
READ: dict[str, Any] = {"name": "read it back", "path": "/notes/{key}", "read_of": "write a note"}
PREFIX = "services.notes.journeys"


def _problem(*items: dict[str, Any]) -> JourneyProblem:
    with pytest.raises(JourneyProblem) as caught:
        parse_journeys(list(items), PREFIX)
    return caught.value


def test_the_issue_example_reads_as_written() -> None:
    write, read = parse_journeys([WRITE, READ], PREFIX)
    assert write == Journey(
        "write a note", "PUT", "/notes/{key}", '{"text": "drill {n}"}', 2, (200, 201), ack=True
    )
    assert read == Journey("read it back", path="/notes/{key}", read_of="write a note")
    assert write.request("abc", 7) == ("/notes/abc", '{"text": "drill 7"}')
    assert read.request("abc", 7) == ("/notes/abc", None)


def test_success_is_the_expected_statuses_or_any_2xx() -> None:
    write, read = parse_journeys([WRITE, READ], PREFIX)
    assert [write.succeeded(s) for s in (200, 201, 204, 503)] == [True, True, False, False]
    assert [read.succeeded(s) for s in (200, 204, 299, 300, 404)] == [True] * 3 + [False] * 2


def test_only_key_and_n_are_replaced_so_json_keeps_its_braces() -> None:
    assert (
        render('{"id": "{key}", "n": {n}, "x": "{y}"}', "k", 3) == '{"id": "k", "n": 3, "x": "{y}"}'
    )


@pytest.mark.parametrize(
    ("change", "key", "says"),
    [
        ({"name": None}, "[0].name", "is missing"),
        ({"method": "FETCH"}, "[0].method", "use one of GET, HEAD, POST, PUT, PATCH, DELETE"),
        ({"path": "notes/{key}"}, "[0].path", "from the service root"),
        ({"path": "/notes/{id}"}, "[0].path", "placeholder {id}"),
        ({"body": '{"text": drill}'}, "[0].body", "is not JSON"),
        ({"weight": 0}, "[0].weight", "whole number >= 1"),
        ({"weight": True}, "[0].weight", "whole number >= 1"),
        ({"expect": []}, "[0].expect", "success statuses"),
        ({"expect": [200, 700]}, "[0].expect", "100 to 599"),
        ({"expect": [200, 409]}, "[0].expect", "only a 2xx answer acknowledges"),
        ({"ack": "yes"}, "[0].ack", "ack = true or false"),
        ({"path": "/notes", "body": '{"text": "x"}'}, "[0].ack", "neither path nor body"),
        ({"read_of": "write a note"}, "[0].read_of", "keep ack or read_of"),
        ({"retries": 3}, "[0].retries", "is not a journey key"),
    ],
)
def test_each_mistake_names_its_key_and_the_fix(
    change: dict[str, Any], key: str, says: str
) -> None:
    journey = {k: v for k, v in {**WRITE, **change}.items() if v is not None}
    problem = _problem(journey, READ)
    assert problem.key == f"{PREFIX}{key}"
    assert says in str(problem)


@pytest.mark.parametrize(
    ("change", "key", "says"),
    [
        ({"read_of": "nothing"}, "[1].read_of", "name one of: write a note"),
        ({"path": "/notes/latest"}, "[1].path", "without {key}"),
        ({"expect": [200, 404]}, "[1].expect", "404 on a read-back"),
        ({"name": "write a note"}, "[1].name", "repeats"),
    ],
)
def test_a_read_back_must_read_an_acknowledged_key(
    change: dict[str, Any], key: str, says: str
) -> None:
    problem = _problem(WRITE, {**READ, **change})
    assert problem.key == f"{PREFIX}{key}"
    assert says in str(problem)


@pytest.mark.parametrize("items", [[], {}, "PUT /notes", [["name"]]])
def test_journeys_are_a_non_empty_array_of_tables(items: object) -> None:
    with pytest.raises(JourneyProblem, match=r"one \[\[services\.notes\.journeys\]\] table"):
        parse_journeys(items, PREFIX)


def test_journeys_travel_as_json_and_are_checked_again() -> None:
    journeys = parse_journeys([WRITE, READ, {"name": "health", "path": "/healthz"}], PREFIX)
    text = journeys_json(journeys)
    assert journeys_from_json(text) == journeys
    assert json.loads(text)[2] == {
        "name": "health",
        "method": "GET",
        "path": "/healthz",
        "weight": 1,
        "ack": False,
    }
    with pytest.raises(JourneyProblem, match="DRILLS_JOURNEYS"):
        journeys_from_json("not json")
    with pytest.raises(JourneyProblem, match=r"DRILLS_JOURNEYS\[0\]\.weight"):
        journeys_from_json('[{"name": "x", "path": "/", "weight": -1}]')


def test_a_user_remembers_its_newest_acknowledged_keys_and_forgets_a_lost_one() -> None:
    keys = AcknowledgedKeys(kept=3)
    assert keys.pick("write", 0) is None
    for key in "abcd":
        keys.add("write", key)
    assert [keys.pick("write", i) for i in range(4)] == ["b", "c", "d", "b"]
    keys.forget("write", "c")
    keys.forget("write", "zz")  # never kept: nothing to forget
    assert [keys.pick("write", i) for i in range(2)] == ["b", "d"]
    assert keys.pick("other", 0) is None
