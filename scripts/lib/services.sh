# Shell helpers for scripts/test.sh: start the real parts the suite uses.
#
# Everything started here listens on loopback only and keeps its state under
# $MR_STATE_DIR. Each function records what it started in $MR_STATE_DIR/pids
# and what it could not start in the MR_MISSING list, which test.sh prints.

MR_MISSING=()

note() {
    printf '[test] %s\n' "$*"
}

missing() {
    MR_MISSING+=("$1")
    note "cannot start $1: $2; tests that need it will skip (fail under CI)"
}

record_pid() {
    printf '%s %s\n' "$1" "$2" >>"$MR_STATE_DIR/pids"
}

tcp_open() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# Waits up to $2 tenths of a second for command $1 to succeed.
wait_for() {
    local check=$1 tries=$2
    while ((tries-- > 0)); do
        if eval "$check"; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

ensure_packages() {
    local wanted=(docker.io docker-registry busybox-static nginx-light)
    local absent=()
    local pkg
    for pkg in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' ||
            absent+=("$pkg")
    done
    ((${#absent[@]} == 0)) && return 0
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
        note "not root on Debian; not installing ${absent[*]}"
        return 0
    fi
    note "installing ${absent[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y "${absent[@]}" \
        >>"$MR_STATE_DIR/apt.log" 2>&1; then
        note "apt-get install failed; updating the package lists first"
        apt-get update >>"$MR_STATE_DIR/apt.log" 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y "${absent[@]}" \
                >>"$MR_STATE_DIR/apt.log" 2>&1 ||
            note "could not install ${absent[*]} (see $MR_STATE_DIR/apt.log)"
    fi
}

docker_answers() {
    DOCKER_HOST=$1 timeout 5 docker version --format '{{.Server.Version}}' \
        >/dev/null 2>&1
}

# Starts dockerd on its own socket unless one already answers there.
start_dockerd() {
    local root=$MR_DOCKER_DIR
    local host="unix://$root/docker.sock"
    export DOCKER_HOST=$host
    if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
        missing "Docker" "dockerd or the docker client is not installed"
        return 0
    fi
    if docker_answers "$host"; then
        note "Docker answers at $host; reusing it"
        return 0
    fi
    if [[ $(id -u) != 0 ]]; then
        missing "Docker" "dockerd needs root"
        return 0
    fi
    mkdir -p "$root/data" "$root/exec"
    note "starting dockerd at $host"
    setsid dockerd --bridge=none --iptables=false --ip6tables=false \
        --host="$host" --data-root="$root/data" --exec-root="$root/exec" \
        --pidfile="$root/docker.pid" >>"$root/dockerd.log" 2>&1 </dev/null &
    record_pid dockerd $!
    if ! wait_for "docker_answers $host" 300; then
        missing "Docker" "dockerd did not answer within 30s (see $root/dockerd.log)"
    fi
}

registry_answers() {
    curl --silent --fail --max-time 2 --noproxy '*' \
        "http://127.0.0.1:5000/v2/" >/dev/null 2>&1
}

# Starts Debian's docker-registry on 127.0.0.1:5000 with its own config.
start_registry() {
    local dir="$MR_STATE_DIR/registry"
    if registry_answers; then
        note "a registry answers on 127.0.0.1:5000; reusing it"
        return 0
    fi
    if tcp_open 127.0.0.1 5000; then
        missing "registry" "127.0.0.1:5000 is taken by something else"
        return 0
    fi
    if ! command -v docker-registry >/dev/null; then
        missing "registry" "docker-registry is not installed"
        return 0
    fi
    mkdir -p "$dir/storage"
    cat >"$dir/config.yml" <<CONFIG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
CONFIG
    note "starting docker-registry on 127.0.0.1:5000"
    setsid docker-registry serve "$dir/config.yml" >>"$dir/registry.log" 2>&1 \
        </dev/null &
    record_pid docker-registry $!
    if ! wait_for registry_answers 100; then
        missing "registry" "it did not answer within 10s (see $dir/registry.log)"
    fi
}

check_postgres() {
    tcp_open 127.0.0.1 5432 ||
        missing "PostgreSQL" "nothing listens on 127.0.0.1:5432"
}

check_redis() {
    tcp_open 127.0.0.1 6379 ||
        missing "Redis" "nothing listens on 127.0.0.1:6379"
}

# Creates the database DATABASE_URL names when PostgreSQL lacks it, so the
# migration checks can read its history; pytest makes its own test_ copy.
ensure_database() {
    "$VENV/bin/python" - <<'PYTHON' || note "could not create the database"
import os
from urllib.parse import urlparse

import psycopg

url = urlparse(os.environ["DATABASE_URL"])
name = url.path.lstrip("/")
if url.scheme.startswith("postgres") and name:
    with psycopg.connect(
        host=url.hostname, port=url.port or 5432, user=url.username,
        password=url.password, dbname="postgres", autocommit=True,
        connect_timeout=3,
    ) as connection:
        found = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not found:
            connection.execute(f'CREATE DATABASE "{name}"')
            print(f"[test] created the database {name}")
PYTHON
}
