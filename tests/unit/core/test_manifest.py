"""The evidence manifest as data: canonical bytes, parsing errors, comparing with files on disk."""

from __future__ import annotations

import json

import pytest

from drills.core.manifest import MANIFEST_FORMAT, FileDigest, Manifest, compare

JOURNAL = FileDigest("journal.json", "a" * 64, 120)
REPORT = FileDigest("report.html", "b" * 64, 4096)
RESULT = FileDigest("allure-results/1-result.json", "c" * 64, 77)


def manifest(*files: FileDigest) -> Manifest:
    return Manifest("run-01", "ada@host", "2026-03-01T00:00:00+00:00", "f" * 64, files)


def test_bytes_are_canonical_whatever_the_order_of_the_files() -> None:
    one = manifest(JOURNAL, REPORT, RESULT).to_bytes()
    other = manifest(RESULT, REPORT, JOURNAL).to_bytes()
    assert one == other
    data = json.loads(one)
    assert data["format"] == MANIFEST_FORMAT
    assert [f["path"] for f in data["files"]] == [
        "allure-results/1-result.json",
        "journal.json",
        "report.html",
    ]
    assert list(data) == sorted(data)  # keys sorted, so any writer produces the same bytes
    assert one.endswith(b"\n")


def test_bytes_round_trip() -> None:
    sealed = manifest(RESULT, JOURNAL, REPORT)
    assert Manifest.from_bytes(sealed.to_bytes()) == sealed


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"\xff\xfe not utf-8", "not a drills manifest"),
        (b"{not json", "not a drills manifest"),
        (b"[1, 2]", "not a drills manifest"),
        (json.dumps({"format": "something/1"}).encode(), "'something/1' is not"),
        (json.dumps({"format": MANIFEST_FORMAT, "files": []}).encode(), "KeyError"),
        (
            manifest(JOURNAL).to_bytes().replace(b'"size": 120', b'"size": "big"'),
            "not a drills manifest",
        ),
        (manifest(JOURNAL).to_bytes().replace(b'"path": ', b'"name": '), "KeyError"),
    ],
    ids=["not-utf8", "not-json", "a-list", "other-format", "no-run-id", "bad-size", "no-path"],
)
def test_from_bytes_refuses_what_is_not_a_manifest(data: bytes, says: str) -> None:
    with pytest.raises(ValueError, match="not a drills manifest") as raised:
        Manifest.from_bytes(data)
    assert says in str(raised.value)


def test_compare_matches_when_every_file_is_as_sealed() -> None:
    diff = compare(manifest(JOURNAL, REPORT), {f.path: f for f in (JOURNAL, REPORT)})
    assert diff.matches
    assert diff.lines() == []


def test_compare_names_each_changed_missing_and_added_file() -> None:
    edited = FileDigest("journal.json", "d" * 64, 120)
    grown = FileDigest("report.html", "b" * 64, 4097)  # same digest, other size: still changed
    extra = FileDigest("notes.txt", "e" * 64, 3)
    found = {f.path: f for f in (edited, grown, extra)}
    diff = compare(manifest(JOURNAL, REPORT, RESULT), found)
    assert not diff.matches
    assert diff.changed == ("journal.json", "report.html")
    assert diff.missing == ("allure-results/1-result.json",)
    assert diff.added == ("notes.txt",)
    lines = diff.lines()
    assert lines[0].startswith("changed: journal.json (sha256 aaaaaaaaaaaa… → dddddddddddd…")
    assert lines[1].startswith("changed: report.html")
    assert lines[2:] == [
        "missing: allure-results/1-result.json",
        "added: notes.txt (not in the manifest)",
    ]
