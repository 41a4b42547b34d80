"""Load, soak and fault figures for the whole site (issue 10): `.venv/bin/python -m bench.load`
(also `python -m bench` and `make bench`). See bench/README.md."""
