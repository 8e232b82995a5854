"""Go build of the sandbox's upstream binaries: cold build time and peak memory.

- `k8s_build_cold_s`: wall time of a cold build of both binaries (`kube`, the multi-call etcd,
  kube-apiserver, kube-controller-manager, kube-scheduler and kubectl, and `metrics-server`):
  `go list` and `go build` with an empty Go build cache. The Go module cache is kept, so module
  downloads are not in the figure.
- `k8s_build_peak_rss_mb`: the largest RSS of the build's whole process tree (go and the
  compilers and linker it runs), sampled every 0.5 s.

A cold build takes about ten minutes on 2 cores and needs several GB of scratch cache, too much
for every bench run. So by default the figures are the ones `drills.sandbox.build` recorded in
build.json for the build that made the cached binaries, provided that build was cold; the
printed line says so, with the date, cores and Go of that build. `make bench BENCH_K8S_COLD=1`
(or the variable in the environment) measures afresh with `build.build(cold=True)`, which also
replaces the cached binaries and their record. When the record is of a warm build and no cold
build was asked for, both keys are written as null (JSON null: not measured, no number made up)
and the line says how to measure them. There is no target: the figures are reported as found.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from drills.core.clock import SystemClock
from drills.sandbox import build
from tests.bench.figures import figure_line

COLD_ENV = "BENCH_K8S_COLD"
KEYS = ("k8s_build_cold_s", "k8s_build_peak_rss_mb")
HOW_TO_MEASURE = (
    f"measure it with `make bench {COLD_ENV}=1` or `python -m drills.sandbox.build --cold` "
    "(about 10 min on 2 cores)"
)


def cold_requested(env: dict[str, str] | None = None) -> bool:
    """True when the environment asks for a fresh cold build."""
    value = (os.environ if env is None else env).get(COLD_ENV, "")
    return value.strip().lower() in {"1", "true", "yes", "on"}


def describe_record(record: dict[str, Any]) -> str:
    """When, where and with what the recorded build ran."""
    return (
        f"built {record.get('built_at', '?')} on {record.get('cores', '?')} cores with "
        f"{record.get('go_version', '?')}, Kubernetes {record.get('k8s_version', '?')}"
    )


def figures_from(
    record: dict[str, Any], *, measured_now: bool
) -> tuple[dict[str, float | None], str]:
    """The two figures from a build record, and a line saying where they come from."""
    if not record.get("cold"):
        where = (
            f"the cached binaries came from a warm build ({describe_record(record)}), "
            f"so there is no cold figure: {HOW_TO_MEASURE}"
        )
        return dict.fromkeys(KEYS, None), where
    figures: dict[str, float | None] = {
        "k8s_build_cold_s": float(record["seconds"]),
        "k8s_build_peak_rss_mb": float(record["peak_rss_mb"]),
    }
    if measured_now:
        where = f"measured in this run: cold build, {describe_record(record)}"
    else:
        where = (
            "recorded by the cold build that made the cached binaries "
            f"({describe_record(record)}), not rebuilt by this run; {HOW_TO_MEASURE}"
        )
    return figures, where


def _built_since(record: dict[str, Any], since: datetime) -> bool:
    try:
        return datetime.fromisoformat(str(record.get("built_at"))) >= since
    except ValueError:
        return False


def _per_binary(record: dict[str, Any]) -> str:
    built = record.get("built") or {}
    return ", ".join(
        f"{name} {step.get('seconds')} s / {step.get('peak_rss_mb')} MB ({step.get('packages')} "
        "packages)"
        for name, step in built.items()
    )


def run() -> dict[str, float | None]:
    """The cold-build figures: measured when asked, else the cached build's record if cold."""
    started = SystemClock().wall().replace(microsecond=0)
    if cold_requested():
        bins = build.build(progress=True, cold=True)
        measured_now = True
    else:
        bins = build.binaries(progress=True)  # builds here only when nothing is cached
        measured_now = _built_since(bins.build_record, started)
    record = bins.build_record
    figures, where = figures_from(record, measured_now=measured_now)
    print(f"k8s build: {where}")  # noqa: T201
    if record.get("cold") and record.get("built"):
        print(f"  per binary: {_per_binary(record)}")  # noqa: T201
    for name in KEYS:
        print(figure_line(name, figures[name]))  # noqa: T201
    return figures


if __name__ == "__main__":
    run()
