"""Benchmarks for `make bench`: each `bench_*.py` module has `run()` that prints its table of ratios."""
