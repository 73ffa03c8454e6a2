# Mech Registry: `make run` starts it locally, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: help install run test lint check images bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed  ## create .venv and install dependencies

run: install  ## migrate, import the examples, start web, worker and beat on :3020
	scripts/run.sh

test: install  ## run the whole suite; starts Docker and the registry, PostgreSQL and Redis must be running
	scripts/test.sh

lint: install  ## ruff format check and lint
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

check: install  ## Django checks, migrations and OpenAPI schema
	DEBUG=true $(PY) manage.py check
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run
	DEBUG=true $(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

images:  ## build the example services' images and push them to 127.0.0.1:5000
	scripts/build-example-images.sh

bench: install  ## time deployments against docker run (see docs/benchmarks.md)
	$(PY) bench/deploy_speed.py $(BENCH_ARGS)

clean:  ## remove the local state (database, broker, process logs)
	rm -rf var
