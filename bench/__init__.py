"""Benchmarks: one package per area (bench/<name>/__main__.py), each runnable on its own
with `.venv/bin/python -m bench.<name>`. `.venv/bin/python -m bench` (make bench) runs the
whole-site load, soak and fault figures (bench.load); `python -m bench all` runs every one.
See bench/README.md."""
