#!/usr/bin/env bash
# Builds a Docker image of every example service in every version and pushes
# it to the local registry, so the docker backend can deploy the examples.
#
# Nothing is pulled: the base image is assembled here from Debian's
# statically linked busybox (package busybox-static) and loaded with
# `docker import`. Each example is served by busybox httpd on
# 127.0.0.1:$PORT, with its API endpoints as CGI shell scripts from the
# example's image/cgi-bin folder. /health exists only in healthy versions,
# so the broken version fails its health check with 404.
#
# Known limitation: busybox httpd runs CGI scripts only under /cgi-bin/, so
# in the images the endpoints answer at /cgi-bin/NAME (for example
# /cgi-bin/search) rather than at the paths the process versions serve.
#
# Needs DOCKER_HOST pointing at a Docker engine and a registry listening on
# 127.0.0.1:5000 (see "Backends" in README.md for starting both).
#
# Usage: scripts/build-example-images.sh [EXAMPLE...]   (default: all)
set -euo pipefail

cd "$(dirname "$0")/.."

REGISTRY=${MECH_EXAMPLE_REGISTRY:-127.0.0.1:5000/examples}
BUSYBOX=${BUSYBOX:-/usr/bin/busybox}
BASE_IMAGE=mech-examples/base:busybox
HEALTHY_VERSIONS=(1.0.0 1.1.0)
BROKEN_VERSIONS=(1.2.0)

die() {
    echo "build-example-images: $*" >&2
    exit 1
}

check_prerequisites() {
    [ -n "${DOCKER_HOST:-}" ] ||
        die "DOCKER_HOST is not set; point it at a Docker engine," \
            "e.g. DOCKER_HOST=unix:///tmp/mr-docker/docker.sock"
    command -v docker >/dev/null || die "the docker client is not installed"
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
        die "no Docker engine answers at DOCKER_HOST=$DOCKER_HOST"

    local host=${REGISTRY%%/*}
    case "$host" in
    127.*:* | localhost:*) ;;
    *) die "the registry must be on loopback (127.0.0.1:PORT), not $host" ;;
    esac
    curl -fsS --noproxy '*' -o /dev/null --max-time 5 "http://$host/v2/" ||
        die "no registry answers at http://$host/v2/; start one" \
            "(docker-registry serve CONFIG, listening on $host)"

    [ -x "$BUSYBOX" ] ||
        die "$BUSYBOX is missing; install Debian's busybox-static"
    if ! file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked'; then
        die "$BUSYBOX is not statically linked; install busybox-static"
    fi
}

# The base: busybox and a link per applet, nothing else.
build_base() {
    local root
    root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/tmp" "$root/www"
    cp "$BUSYBOX" "$root/bin/busybox"
    local applet
    for applet in $("$BUSYBOX" --list); do
        [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
    done
    tar -C "$root" -c . |
        docker import --change 'CMD ["/bin/sh"]' \
            --change 'ENV PATH=/bin' - "$BASE_IMAGE" >/dev/null
    rm -rf "$root"
    echo "base image $BASE_IMAGE imported from $BUSYBOX"
}

# Required variable names from the definition's flow list
# (`required: [A, B]`), as the examples write it.
required_variables() {
    sed -n 's/^ *required: *\[\(.*\)\].*/\1/p' "$1/service-config.yaml" |
        tr -d ' ' | tr ',' ' '
}

write_start_script() {
    cat >"$1" <<'SCRIPT'
#!/bin/sh
# Starts busybox httpd on 127.0.0.1:$PORT once the required variables are set.
: "${PORT:?PORT is not set}"
for name in $REQUIRED_VARIABLES; do
    eval "value=\${$name:-}"
    [ -n "$value" ] || { echo "$name is not set" >&2; exit 1; }
done
echo "$MECH_SERVICE $MECH_VERSION listening on 127.0.0.1:$PORT"
exec httpd -f -v -p "127.0.0.1:$PORT" -h /www
SCRIPT
}

build_version() {
    local example=$1 version=$2 healthy=$3
    local id tag context
    id=$(basename "$example")
    tag="$REGISTRY/$id:$version"
    context=$(mktemp -d)

    mkdir -p "$context/www"
    cp -R "$example/image/cgi-bin" "$context/www/cgi-bin"
    if [ "$healthy" = yes ]; then
        printf '{"status": "ok", "version": "%s"}\n' "$version" \
            >"$context/www/health"
    fi
    write_start_script "$context/start.sh"
    cat >"$context/Dockerfile" <<DOCKERFILE
FROM $BASE_IMAGE
COPY www /www
COPY start.sh /start.sh
ENV MECH_SERVICE=$id MECH_VERSION=$version \
    REQUIRED_VARIABLES="$(required_variables "$example")"
CMD ["/bin/sh", "/start.sh"]
DOCKERFILE

    local output
    if ! output=$(docker build --quiet --tag "$tag" "$context" 2>&1); then
        echo "$output" >&2
        die "building $tag failed"
    fi
    if ! output=$(docker push "$tag" 2>&1); then
        echo "$output" >&2
        die "pushing $tag failed"
    fi
    rm -rf "$context"
    echo "built and pushed $tag$([ "$healthy" = yes ] || echo ' (broken)')"
}

main() {
    check_prerequisites
    build_base

    local examples=("$@")
    if [ ${#examples[@]} -eq 0 ]; then
        examples=(examples/*/)
    fi
    local example version
    for example in "${examples[@]}"; do
        example=${example%/}
        [ -d "$example" ] || example=examples/$example
        [ -d "$example/image/cgi-bin" ] ||
            die "$example has no image/cgi-bin folder"
        for version in "${HEALTHY_VERSIONS[@]}"; do
            build_version "$example" "$version" yes
        done
        for version in "${BROKEN_VERSIONS[@]}"; do
            build_version "$example" "$version" no
        done
    done
}

main "$@"
