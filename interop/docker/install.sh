#!/bin/sh
# Makes Docker ready for the container tests (tests/container), when this machine can (root
# with apt-get, as on CI): installs docker.io, debootstrap and docker-compose, starts dockerd if none answers,
# and makes the base image smsgw's image builds on (base-image.sh; no image registry needed).
# Elsewhere those tests say why they are skipped.
set -u
here=$(dirname "$0")
# Only what is missing: a host with Docker's own packages (docker-ce, Compose v2) keeps them.
missing=""
command -v docker >/dev/null 2>&1 && command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || missing="$missing docker-compose"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing$missing for the container tests (apt-get)..." >&2
        export DEBIAN_FRONTEND=noninteractive
        # shellcheck disable=SC2086  # one word a package
        if ! { apt-get update -qq >/dev/null &&
            apt-get install -y -qq --no-install-recommends $missing >/dev/null; }; then
            echo "smsgw: could not install$missing; the container tests will be skipped" >&2
            exit 0
        fi
    else
        echo "smsgw: missing$missing (apt-get install$missing); the container tests will be skipped" >&2
        exit 0
    fi
fi
if ! docker info >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "smsgw: no Docker engine answers and only root may start one; the container tests will be skipped" >&2
        exit 0
    fi
    log=${TMPDIR:-/tmp}/smsgw-dockerd.log
    echo "starting dockerd (log: $log)..." >&2
    nohup dockerd >"$log" 2>&1 &
    tries=0
    until docker info >/dev/null 2>&1; do
        tries=$((tries + 1))
        if [ "$tries" -gt 60 ]; then
            echo "smsgw: dockerd did not answer within 30 s (see $log); the container tests will be skipped" >&2
            exit 0
        fi
        sleep 0.5
    done
fi
sh "$here/base-image.sh" || echo "smsgw: no base image; the container tests will be skipped" >&2
exit 0
