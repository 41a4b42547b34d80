"""Outbox relay benchmark: `.venv/bin/python -m bench.sync` (see __main__.py)."""
