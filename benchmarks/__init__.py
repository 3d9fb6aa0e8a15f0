"""Benchmark scripts: run with `python -m benchmarks.NAME`; each prints what it measured."""
