"""Benchmarks for `make bench`: each bench_<area>.py exposes run() -> dict[str, float | None].

A None figure (JSON null in reports/bench.json) was not measured in this run; see the module.
"""
