# Two commands do everything: `make run` and `make test`. Both set themselves up first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)

.PHONY: run test chaos setup deps lint format bench lock clean
.DEFAULT_GOAL := run

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.lock $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.lock
	touch $@

node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund
	touch $@

.env:
	cp .env.example .env

deps: $(VENV)/.installed node_modules/.installed

setup: deps .env
	mkdir -p .run
	python manage.py migrate --noinput
	python manage.py demo_setup
	python manage.py collectstatic --noinput --verbosity 0

# The whole stack from the Procfile. With REDIS_URL set, that Redis is used instead of the
# embedded one; without it, the embedded Valkey listens on REDIS_PORT and every process is
# pointed at it.
REDIS_PORT ?= 6390
# honcho (and the settings) also read REDIS_URL from .env, so make must see it there too.
REDIS_URL_SET := $(strip $(or $(REDIS_URL),$(shell sed -n 's/^REDIS_URL=//p' .env 2>/dev/null | tail -n 1)))
run: setup
	d=$${PROMETHEUS_MULTIPROC_DIR:-.run/prometheus}; mkdir -p "$$d" && rm -f "$$d"/*.db
ifeq ($(REDIS_URL_SET),)
	REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/0 honcho start
else
	honcho start web worker beat
endif

test: deps
	python -m pytest $(PYTEST_ARGS)

# The fault-injection run (Redis, Celery and web processes killed under load; ~2 minutes) and
# the churn run (100 viewers coming and going; ~75 s). Their figures land in
# .run/reliability.json; see docs/reliability.md. The web server is daphne, or uvicorn with
# `WEBGAME_CHAOS_SERVER=uvicorn make chaos`.
# The balancer run: HAProxy (deploy/haproxy.cfg, installed if missing) in front of two uvicorn
# processes, one killed mid-stream (~30 s; test_lb.py).
# The Sentinel run: a Redis primary killed mid-stream and failed over (~40 s; test_sentinel.py).
# The freeze run: Redis hung (SIGSTOP) for 10 s under a stream, viewers on two web processes (~30 s;
# test_freeze.py).
chaos: deps
	WEBGAME_CHAOS=1 python -m pytest stats/tests/test_faults.py stats/tests/test_churn.py stats/tests/test_lb.py stats/tests/test_sentinel.py stats/tests/test_freeze.py -p no:cacheprovider -s $(PYTEST_ARGS)

lint: deps
	ruff check .
	ruff format --check .

format: deps
	ruff check --fix .
	ruff format .

bench: deps
	python -m bench $(BENCH_ARGS)

# Re-pin the full dependency tree after editing requirements*.txt.
lock: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip freeze --exclude-editable > requirements.lock
	grep '^-e ' requirements.txt >> requirements.lock  # this checkout's own packages (clients/python)

clean:
	rm -rf $(VENV) node_modules staticfiles .run db.sqlite3* .test-db.sqlite3*
