#!/usr/bin/env bash
# Runs Mech Registry locally: migrate, import the examples, give them demo
# configuration, make sure the admin exists, then start web, worker and beat.
#
# Everything lives under var/ (SQLite database, filesystem broker, process
# logs); no server has to be running. Values in .env, if present, are used.
set -euo pipefail

cd "$(dirname "$0")/.."
# Physical paths: settings resolve the state directory, and the supervisors'
# pidfile arguments are compared with it below.
ROOT=$(pwd -P)
PY="$ROOT/.venv/bin/python"
export PATH="$ROOT/.venv/bin:$PATH"

if [ ! -x "$PY" ]; then
    echo "run.sh: $PY is missing; run 'make run' (or 'make install') first" >&2
    exit 1
fi
if [ -f .env ]; then
    set -a
    # shellcheck disable=SC1091
    . ./.env
    set +a
fi

export DEBUG="${DEBUG:-true}"
export PORT="${PORT:-3020}"
export MECH_HEALTH_CHECK_INTERVAL="${MECH_HEALTH_CHECK_INTERVAL:-10}"
STATE_DIR=$(realpath -m -- "${MECH_STATE_DIR:-$ROOT/var}")
BASE_URL="http://127.0.0.1:$PORT"

manage() { "$PY" manage.py "$@"; }

port_is_busy() {
    "$PY" -c 'import socket, sys
s = socket.socket()
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"
}

# Demo values for the examples' required variables, per environment. Only
# keys without a value are set, so a restart keeps what a user has set.
set_example_config() {
    local env=$1
    manage set_config --keep-existing --public \
        mech-search "$env" "SEARCH_INDEX=demo-$env"
    manage set_config --keep-existing \
        mech-llm-gateway "$env" "UPSTREAM_API_KEY=demo-key-$env"
    manage set_config --keep-existing --public \
        mech-llm-gateway "$env" DEFAULT_MODEL=echo-small
    manage set_config --keep-existing --public \
        mech-reader "$env" "READER_LIBRARY=demo-library-$env"
}

# True when process $1 is alive and one of its arguments is exactly $2: a
# supervisor started from this checkout names its own pidfile, so a pid the
# system has since given to another process does not match.
process_names_file() {
    local pid=$1 file=$2
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    # 2>/dev/null comes first: redirections apply left to right, and a pid
    # that has exited makes the input redirection itself fail.
    tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | grep -qxF -- "$file"
}

# Deployed examples run as detached supervisors; stop the ones started from
# this checkout when make run ends. Pidfiles of supervisors that already
# exited are skipped without a word.
stop_example_processes() {
    local pidfile pid
    for pidfile in "$STATE_DIR"/processes/*.pid; do
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile" 2>/dev/null) || continue
        if process_names_file "$pid" "$pidfile" && kill -TERM "$pid" 2>/dev/null; then
            echo "stopped deployed process $pid ($(basename "$pidfile" .pid))"
        fi
    done
}

if port_is_busy "$PORT"; then
    echo "run.sh: 127.0.0.1:$PORT is already in use; stop what runs there" \
        "or pick another port, e.g. PORT=3021 make run" >&2
    exit 1
fi

# The filesystem broker expects its folders to exist.
mkdir -p "$STATE_DIR/broker" "$STATE_DIR/broker-control" "$STATE_DIR/processes"

echo "== migrating the database"
manage migrate --noinput -v0
manage collectstatic --noinput -v0

echo "== importing the example services"
manage import_services examples/
set_example_config staging >/dev/null
set_example_config production >/dev/null
echo "gave the examples' unset required variables demo values in staging and production"

echo "== the admin user"
manage ensure_admin

cat <<INFO

== Mech Registry is starting on $BASE_URL
  Admin:     $BASE_URL/admin/
  API docs:  $BASE_URL/api/docs/

Next, in another terminal in this folder (README.md has more):
  export DEBUG=true
  KEY=\$(.venv/bin/python manage.py create_api_key admin --scope read --scope deploy | tail -n 1)
  curl -s -H "Authorization: Bearer \$KEY" $BASE_URL/api/services
  curl -s -H "Authorization: Bearer \$KEY" -H 'Content-Type: application/json' \\
    -d '{"serviceId": "mech-search", "environment": "staging", "version": "1.0.0"}' \\
    $BASE_URL/api/deployments
  curl -s -H "Authorization: Bearer \$KEY" $BASE_URL/api/deployments/1
  curl -s -H "Authorization: Bearer \$KEY" $BASE_URL/api/health/mech-search

Press Ctrl-C to stop; deployed example processes are stopped too.

INFO

if [ "${MECH_KEEP_PROCESSES:-false}" != "true" ]; then
    trap stop_example_processes EXIT
fi
# honcho runs in its own session: a terminal's Ctrl-C reaches only this script,
# which passes one SIGTERM on. Delivered to honcho's whole process group at
# once, SIGINT can leave honcho waiting forever on a child it never reaps.
start_processes() {
    if command -v setsid >/dev/null; then
        setsid honcho start -f Procfile -p "$PORT" &
    else
        honcho start -f Procfile -p "$PORT" &
    fi
    local pid=$!
    trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM HUP
    while kill -0 "$pid" 2>/dev/null; do
        wait "$pid" || true
    done
}

start_processes
