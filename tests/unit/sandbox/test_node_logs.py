"""Container log files in the CRI format: writing, rotation per run, and what kubectl logs gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from drills.core.clock import FakeClock
from drills.sandbox.node.logs import (
    MAX_LINE_BYTES,
    ContainerLog,
    LogOptions,
    format_timestamp,
    parse_line,
    render,
)

START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def make_log(tmp_path: Path) -> tuple[ContainerLog, FakeClock]:
    clock = FakeClock(wall_start=START)
    return ContainerLog(tmp_path / "default_shop_shop.log", wall=clock.wall), clock


def test_timestamps_have_the_kubelets_fixed_width() -> None:
    stamp = format_timestamp(START + timedelta(microseconds=1500))
    assert stamp == "2026-01-01T12:00:00.001500000Z"


def test_lines_are_written_whole_with_stream_and_time(tmp_path: Path) -> None:
    log, clock = make_log(tmp_path)
    log.begin_run()
    log.write("stdout", b"hello\nwor")
    clock.advance(1.5)
    log.write("stdout", b"ld\n")
    log.write("stderr", b"oops\n")
    log.end_run()
    assert log.path.read_bytes().splitlines() == [
        b"2026-01-01T12:00:00.000000000Z stdout F hello",
        b"2026-01-01T12:00:01.500000000Z stdout F world",
        b"2026-01-01T12:00:01.500000000Z stderr F oops",
    ]


def test_an_unfinished_line_is_written_when_the_run_ends(tmp_path: Path) -> None:
    log, _ = make_log(tmp_path)
    log.begin_run()
    log.write("stdout", b"no newline")
    assert log.path.read_bytes() == b""
    log.end_run()
    assert log.path.read_bytes().endswith(b" stdout F no newline\n")
    assert not log.active


def test_long_lines_are_split_into_partial_pieces(tmp_path: Path) -> None:
    log, _ = make_log(tmp_path)
    log.begin_run()
    log.write("stdout", b"x" * (MAX_LINE_BYTES + 10) + b"\n")
    log.end_run()
    lines = [parse_line(raw) for raw in log.path.read_bytes().splitlines()]
    assert [(line.partial, len(line.content)) for line in lines if line] == [
        (False, MAX_LINE_BYTES + 10)
    ]
    log.begin_run()
    log.write("stdout", b"y" * (MAX_LINE_BYTES + 10))
    log.end_run()
    lines = [parse_line(raw) for raw in log.path.read_bytes().splitlines()]
    assert [(line.partial, len(line.content)) for line in lines if line] == [
        (True, MAX_LINE_BYTES),
        (False, 10),
    ]
    assert render(log.path.read_bytes(), LogOptions()) == b"y" * (MAX_LINE_BYTES + 10) + b"\n"


def test_each_restart_keeps_the_run_before_as_the_previous_log(tmp_path: Path) -> None:
    log, _ = make_log(tmp_path)
    for run in range(3):
        log.begin_run()
        log.write("stdout", f"run {run}\n".encode())
    log.end_run()
    assert render(log.path.read_bytes(), LogOptions()) == b"run 2\n"
    assert render(log.previous_path.read_bytes(), LogOptions()) == b"run 1\n"
    assert log.previous_path.name == "default_shop_shop.previous.log"


def test_a_new_pod_of_the_same_name_starts_without_a_previous_log(tmp_path: Path) -> None:
    old, _ = make_log(tmp_path)
    old.begin_run()
    old.begin_run()
    assert old.previous_path.exists()
    new, _ = make_log(tmp_path)
    new.begin_run()
    assert not new.previous_path.exists()


def test_every_write_and_run_end_sets_the_changed_event(tmp_path: Path) -> None:
    log, _ = make_log(tmp_path)
    log.begin_run()
    before = log.changed
    log.write("stdout", b"partial")
    assert not before.is_set()  # nothing readable yet
    log.write("stdout", b"\n")
    assert before.is_set()
    after = log.changed
    log.end_run()
    assert after.is_set()


def sample(tmp_path: Path) -> bytes:
    log, clock = make_log(tmp_path)
    log.begin_run()
    for index in range(5):
        log.write("stdout", f"line {index}\n".encode())
        clock.advance(10)
    log.end_run()
    return log.path.read_bytes()


def test_tail_since_timestamps_and_limit(tmp_path: Path) -> None:
    data = sample(tmp_path)
    assert render(data, LogOptions(tail_lines=2)) == b"line 3\nline 4\n"
    assert render(data, LogOptions(tail_lines=0)) == b""
    since = START + timedelta(seconds=25)
    assert render(data, LogOptions(since=since)) == b"line 3\nline 4\n"
    assert render(data, LogOptions(tail_lines=1, timestamps=True)) == (
        b"2026-01-01T12:00:40.000000000Z line 4\n"
    )
    assert render(data, LogOptions(limit_bytes=9)) == b"line 0\nli"


def test_malformed_lines_are_skipped() -> None:
    assert parse_line(b"not a cri line") is None
    assert parse_line(b"2026-01-01T12:00:00.000000000Z stdout X text") is None
    line = parse_line(b"2026-01-01T12:00:00.000000000Z stdout F")
    assert line is not None
    assert line.content == b""
