#!/usr/bin/env bash
# Runs the whole suite: ruff, Django checks, migrations, the OpenAPI schema and
# pytest, against the machine's PostgreSQL and Redis and a Docker engine and
# registry it starts on loopback when it can. `make test` calls it.
#
# Under CI (the CI variable set) a test whose real part is missing fails;
# elsewhere it skips, and this script says up front what it could not start.
# dockerd and the registry are left running for the next run to reuse; their
# pids are in $MR_STATE_DIR/pids.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
export MR_STATE_DIR=${MR_STATE_DIR:-/tmp/mr-test}
export MR_DOCKER_DIR=${MR_DOCKER_DIR:-/tmp/mr-docker}
mkdir -p "$MR_STATE_DIR"

# shellcheck source=scripts/lib/services.sh
source scripts/lib/services.sh

ensure_packages
start_dockerd
start_registry
check_postgres
check_redis
if [[ " ${MR_MISSING[*]} " == *" Docker "* ]]; then
    unset DOCKER_HOST
fi

export DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/mech}
export CELERY_BROKER_URL=${TEST_BROKER_URL:-redis://127.0.0.1:6379/13}
export CELERY_QUEUE="mech-test-$(hostname)-$$-$(date +%s)"
export SECRET_KEY=${SECRET_KEY:-test-suite-only-secret-key-not-for-any-deployment}
export DEBUG=${DEBUG:-false}
export LOG_JSON=false
if [[ " ${MR_MISSING[*]} " != *" PostgreSQL "* ]]; then
    ensure_database
fi

if ((${#MR_MISSING[@]})); then
    note "not available: ${MR_MISSING[*]}"
fi

note "ruff"
"$VENV/bin/ruff" format --check .
"$VENV/bin/ruff" check .

note "Django checks, migrations and the OpenAPI schema"
"$VENV/bin/python" manage.py check
"$VENV/bin/python" manage.py makemigrations --check --dry-run
"$VENV/bin/python" manage.py spectacular --validate --fail-on-warn --file /dev/null

note "pytest"
status=0
"$VENV/bin/python" -m pytest "$@" || status=$?
if ((status == 5)); then
    note "pytest collected no tests; that is a failure"
    exit 1
fi
if ((${#MR_MISSING[@]})); then
    note "ran without: ${MR_MISSING[*]}"
fi
exit "$status"
