"""Pod and machine usage from a /proc tree, and the /metrics/resource text metrics-server reads."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from drills.sandbox.node.usage import (
    ContainerUsage,
    Usage,
    group_usage,
    machine_usage,
    resource_metrics_text,
)

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def write_stat(
    proc: Path, pid: int, *, pgrp: int, ticks: tuple[int, int, int, int], rss: int
) -> None:
    utime, stime, cutime, cstime = ticks
    fields = ["S", "1", str(pgrp), str(pgrp), "0", "-1", "0", "0", "0", "0", "0"]
    fields += [str(utime), str(stime), str(cutime), str(cstime), "20", "0", "1", "0", "100"]
    fields += ["1000000", str(rss)]
    (proc / str(pid)).mkdir(parents=True)
    (proc / str(pid) / "stat").write_text(f"{pid} (python app) {' '.join(fields)} 0 0\n")


def test_a_process_group_sums_its_members_and_reaped_children(tmp_path: Path) -> None:
    write_stat(tmp_path, 100, pgrp=100, ticks=(50, 20, 10, 5), rss=1000)
    write_stat(tmp_path, 101, pgrp=100, ticks=(30, 0, 99, 99), rss=500)  # cutime of a member: no
    write_stat(tmp_path, 200, pgrp=200, ticks=(1, 1, 0, 0), rss=10)
    (tmp_path / "self").mkdir()
    found = group_usage([100, 300], tmp_path)
    assert found[100] == Usage((50 + 20 + 10 + 5 + 30) / TICKS, 1500 * PAGE)
    assert found[300] == Usage(0.0, 0)


def test_machine_usage_counts_busy_time_and_memory_in_use(tmp_path: Path) -> None:
    (tmp_path / "stat").write_text("cpu  100 10 50 9000 40 5 5 2 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n")
    (tmp_path / "meminfo").write_text("MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 400 kB\n")
    assert machine_usage(tmp_path) == Usage((100 + 10 + 50 + 5 + 5 + 2) / TICKS, 600 * 1024)


def test_the_real_proc_has_this_machine() -> None:
    usage = machine_usage()
    assert usage.cpu_s > 0
    assert usage.memory_bytes > 0


SERIES = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)(?: (\d+))?$")


def test_metrics_text_matches_what_metrics_server_decodes() -> None:
    containers = [
        ContainerUsage("default", "shop-a", "shop", Usage(4.71, 12_533_760), 1_767_268_800.5),
        ContainerUsage("default", "shop-b", "shop", Usage(0.25, 1024), 1_767_268_900.0),
    ]
    text = resource_metrics_text(Usage(357.35, 1_616_273_408), containers, 1_767_269_000_123)
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ ", line)
            continue
        match = SERIES.match(line)
        assert match is not None, line
        samples[(match.group(1), match.group(2) or "")] = (float(match.group(3)), match.group(4))
    labels = '{container="shop",namespace="default",pod="shop-a"}'
    assert samples[("container_cpu_usage_seconds_total", labels)] == (4.71, "1767269000123")
    assert samples[("container_memory_working_set_bytes", labels)][0] == 12_533_760
    assert samples[("container_start_time_seconds", labels)][0] == 1_767_268_800.5
    assert samples[("node_cpu_usage_seconds_total", "")] == (357.35, "1767269000123")
    assert samples[("node_memory_working_set_bytes", "")][0] == 1_616_273_408
    pod = '{namespace="default",pod="shop-b"}'
    assert samples[("pod_cpu_usage_seconds_total", pod)][0] == 0.25
    assert samples[("pod_memory_working_set_bytes", pod)][0] == 1024
    assert samples[("scrape_error", "")] == (0.0, None)
    assert "# TYPE container_cpu_usage_seconds_total counter" in text
    assert "# TYPE node_memory_working_set_bytes gauge" in text
    assert text.endswith("\n")


@pytest.mark.parametrize("name", ['we"ird', "back\\slash"])
def test_label_values_are_escaped(name: str) -> None:
    text = resource_metrics_text(Usage(1, 1), [ContainerUsage("ns", name, "c", Usage(1, 1), 1)], 5)
    assert name.replace("\\", "\\\\").replace('"', '\\"') in text
