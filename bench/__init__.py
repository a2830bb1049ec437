"""Benchmarks: `make bench` runs every `bench_<area>.py`; each writes bench/results/<area>.json (shared/BENCH.md)."""
