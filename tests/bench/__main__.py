"""Run every benchmark module, print the figures and write reports/bench.json.

A figure a module could not measure in this run (the cold Go build unless asked for, see
bench_k8s_build) is written as JSON null and printed as `unavailable`; the module's own lines
say why and how to measure it.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path

import tests.bench as bench_package
from tests.bench.figures import SPECS, figure_line

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    """Run each bench_<area>.run() in turn; a failing bench is reported, the rest still run."""
    figures: dict[str, float | None] = {}
    failed: list[str] = []
    for module_info in sorted(pkgutil.iter_modules(bench_package.__path__), key=lambda m: m.name):
        if not module_info.name.startswith("bench_"):
            continue
        module = importlib.import_module(f"tests.bench.{module_info.name}")
        print(f"== {module_info.name}", flush=True)  # noqa: T201
        try:
            figures.update(module.run())
        except Exception as exc:  # a broken bench must not hide the others' figures
            failed.append(f"{module_info.name}: {type(exc).__name__}: {exc}")
    out = ROOT / "reports" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    for name, value in sorted(figures.items()):
        if name in SPECS:
            print(figure_line(name, value))  # noqa: T201
        else:
            shown = "unavailable" if value is None else f"{value:.4f}"
            print(f"{name} = {shown}")  # noqa: T201
    for line in failed:
        print(f"FAILED {line}", file=sys.stderr)  # noqa: T201
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
