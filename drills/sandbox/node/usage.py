"""CPU and memory of pods and of the machine from /proc, and the kubelet's resource metrics.

A pod's container is a process group (the runner starts it with ``setsid``), so its usage is
the sum over the group's live processes: cumulative CPU seconds (``utime + stime``, plus
``cutime + cstime`` of the leader for children it already reaped) and working set bytes,
approximated by RSS (a cgroup's working set is its usage minus inactive file pages; without a
cgroup per pod, RSS is the closest figure).

Every sandbox node is this one machine, so each node reports the machine's figures: busy CPU
seconds from ``/proc/stat`` and ``MemTotal - MemAvailable``.

`resource_metrics_text` writes the Prometheus text format exactly as the kubelet does and as
metrics-server v0.8.0 decodes it (``pkg/scraper/client/resource/decode.go``): series names
``node_cpu_usage_seconds_total``, ``node_memory_working_set_bytes``,
``container_cpu_usage_seconds_total``, ``container_memory_working_set_bytes`` and
``container_start_time_seconds`` with labels ``container``, ``namespace``, ``pod``, the pod
totals ``pod_cpu_usage_seconds_total`` and ``pod_memory_working_set_bytes``, and
``scrape_error``; every sample carries a millisecond timestamp. metrics-server drops a
container whose CPU or memory figure is 0, and a node whose figures are 0.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ContainerUsage",
    "Usage",
    "group_usage",
    "machine_usage",
    "resource_metrics_text",
]

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Usage:
    """Cumulative CPU seconds and working set bytes."""

    cpu_s: float
    memory_bytes: int


@dataclass(frozen=True)
class ContainerUsage:
    """One running container's usage, with where it runs and when it started."""

    namespace: str
    pod: str
    container: str
    usage: Usage
    start_time_s: float


def _stat_fields(stat: str) -> list[str]:
    return stat.rsplit(")", 1)[1].split()  # after "pid (comm)", comm may hold spaces


def group_usage(groups: Iterable[int], proc: Path = Path("/proc")) -> dict[int, Usage]:
    """Usage of each process group in `groups` (by leader pid), in one pass over `proc`."""
    wanted = set(groups)
    ticks = dict.fromkeys(wanted, 0)
    pages = dict.fromkeys(wanted, 0)
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields((entry / "stat").read_text())
        except (OSError, IndexError):
            continue  # the process ended while we looked
        group = int(fields[2])
        if group not in wanted:
            continue
        ticks[group] += int(fields[11]) + int(fields[12])
        if int(entry.name) == group:
            ticks[group] += int(fields[13]) + int(fields[14])
        pages[group] += int(fields[21])
    return {
        group: Usage(ticks[group] / _TICKS_PER_S, pages[group] * _PAGE_BYTES) for group in wanted
    }


def machine_usage(proc: Path = Path("/proc")) -> Usage:
    """The whole machine: busy CPU seconds since boot and memory in use."""
    first = (proc / "stat").read_text().splitlines()[0].split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in first[1:9])
    busy = user + nice + system + irq + softirq + steal
    meminfo = {}
    for line in (proc / "meminfo").read_text().splitlines():
        name, _, rest = line.partition(":")
        meminfo[name] = int(rest.split()[0]) * 1024
    return Usage(busy / _TICKS_PER_S, meminfo["MemTotal"] - meminfo["MemAvailable"])


_CONTAINER = "container"
_POD = "pod"
_NODE = "node"
_FAMILIES: tuple[tuple[str, str, str, str], ...] = (
    # name, metric kind, scope, help text (the kubelet's own)
    ("container_cpu_usage_seconds_total", "counter", _CONTAINER,
     "Cumulative cpu time consumed by the container in core-seconds"),
    ("container_memory_working_set_bytes", "gauge", _CONTAINER,
     "Current working set of the container in bytes"),
    ("container_start_time_seconds", "gauge", _CONTAINER,
     "Start time of the container since unix epoch in seconds"),
    ("node_cpu_usage_seconds_total", "counter", _NODE,
     "Cumulative cpu time consumed by the node in core-seconds"),
    ("node_memory_working_set_bytes", "gauge", _NODE, "Current working set of the node in bytes"),
    ("pod_cpu_usage_seconds_total", "counter", _POD,
     "Cumulative cpu time consumed by the pod in core-seconds"),
    ("pod_memory_working_set_bytes", "gauge", _POD, "Current working set of the pod in bytes"),
)  # fmt: skip


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _value(name: str, usage: Usage, start_time_s: float) -> float:
    if name.endswith("_cpu_usage_seconds_total"):
        return usage.cpu_s
    if name.endswith("_memory_working_set_bytes"):
        return float(usage.memory_bytes)
    return start_time_s


def _pods(containers: list[ContainerUsage]) -> dict[tuple[str, str], Usage]:
    totals: dict[tuple[str, str], Usage] = {}
    for item in containers:
        key = (item.namespace, item.pod)
        before = totals.get(key, Usage(0.0, 0))
        totals[key] = Usage(
            before.cpu_s + item.usage.cpu_s, before.memory_bytes + item.usage.memory_bytes
        )
    return totals


def _samples(name: str, scope: str, node: Usage, containers: list[ContainerUsage]) -> list[str]:
    """`name{labels} value` lines (without timestamps) of one family."""
    if scope == _NODE:
        return [f"{name} {_number(_value(name, node, 0.0))}"]
    if scope == _POD:
        return [
            f'{name}{{namespace="{_label(ns)}",pod="{_label(pod)}"}} '
            f"{_number(_value(name, usage, 0.0))}"
            for (ns, pod), usage in _pods(containers).items()
        ]
    return [
        f'{name}{{container="{_label(c.container)}",namespace="{_label(c.namespace)}",'
        f'pod="{_label(c.pod)}"}} {_number(_value(name, c.usage, c.start_time_s))}'
        for c in containers
    ]


def resource_metrics_text(node: Usage, containers: list[ContainerUsage], now_ms: int) -> str:
    """The body of ``GET /metrics/resource`` for one node and its running containers."""
    lines: list[str] = []
    for name, kind, scope, text in _FAMILIES:
        lines += [f"# HELP {name} [STABLE] {text}", f"# TYPE {name} {kind}"]
        lines += [f"{sample} {now_ms}" for sample in _samples(name, scope, node, containers)]
    lines += [
        "# HELP scrape_error [ALPHA] 1 if there was an error while getting container metrics, "
        "0 otherwise",
        "# TYPE scrape_error gauge",
        "scrape_error 0",
    ]
    return "\n".join(lines) + "\n"
