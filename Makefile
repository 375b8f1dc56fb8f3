# The two commands a newcomer needs: `make run` and `make test`. Each does its own set-up.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup run test lint format worker bench load clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

# Embedded defaults (SQLite, in-process cache, eager tasks), demo data, development server.
run: setup
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py seed_demo
	@echo "Simulating scrapers so the admin review has flags to show (see docs/audit.md)…"
	DEBUG=1 $(PY) manage.py simulate_scrapers
	@DEBUG=1 DEMO_HOST=$(HOST):$(PORT) $(PY) manage.py seed_demo | tail -n +2
	@echo "Serving on http://$(HOST):$(PORT)/  (Ctrl-C to stop)"
	DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

# The whole suite. Set DATABASE_URL / REDIS_URL to run it on PostgreSQL + Redis, and
# REQUIRE_SERVICES=1 to turn every "service missing" skip into a failure.
test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports  # the app layers: contracts in pyproject.toml

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# A Celery worker with beat (needs CELERY_BROKER_URL or REDIS_URL).
worker: setup
	$(VENV)/bin/celery -A microblog worker --beat --loglevel INFO

bench: setup
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) -m bench

# Not a CI test: 50 simulated people for 3 minutes (locust, headless) against gunicorn +
# PostgreSQL + Redis + Celery; see docs/performance.md. LOAD_USERS / LOAD_SECONDS resize it.
load: setup
	LOAD_USERS=$(or $(LOAD_USERS),50) LOAD_SECONDS=$(or $(LOAD_SECONDS),180) $(PY) -m bench.loadtest

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* test-artifacts .pytest_cache .ruff_cache
