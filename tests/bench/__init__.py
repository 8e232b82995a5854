"""Benchmarks for `make bench`: each bench_<area>.py exposes run() -> dict[str, float]."""
