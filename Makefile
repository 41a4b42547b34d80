# TaskForge: `make run` serves the site; `make test` runs the whole suite.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
MANAGE := $(PY) manage.py
PYTHON ?= python3.11

.PHONY: run test setup venv services docserver db seed lint bench verify-replication clean

run: setup seed
	$(MANAGE) collectstatic --noinput -v 0
	scripts/run.sh

test: setup
	scripts/ensure_services.sh chromium axe
	$(PY) -m pytest

setup: venv services docserver db

venv: .venv/.installed

.venv/.installed: requirements.txt requirements-dev.txt requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required (Debian: apt-get install python3.11)"; exit 1; }
	PYTHON=$(PYTHON) scripts/ensure_services.sh venv
	test -x $(PY) || $(PYTHON) -m venv .venv
	$(PIP) install -q --disable-pip-version-check -r requirements-dev.txt -c requirements.lock
	touch $@

services:
	scripts/ensure_services.sh postgres redis rabbitmq

docserver: venv
	scripts/docserver.sh start

db: venv services docserver
	$(MANAGE) bootstrap_db
	DJANGO_DB_ROLE=owner $(MANAGE) migrate_stores -v 0

seed: db docserver
	$(MANAGE) seed_demo

lint: venv
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

bench: setup
	$(PY) -m bench

verify-replication: venv
	$(PY) deploy/replication/verify.py

clean:
	scripts/docserver.sh stop || true
	rm -rf var/docserver var/media var/staticfiles
