#!/bin/sh
# Builds smsgw's image from this checkout with no network: smsgw's wheel and every wheel it
# needs are built here into dist/wheels, and the Dockerfile installs from there alone.
#   Usage: build-image.sh [TAG] [BASE]   (defaults: smsgw, python:3.11-slim)
#   $PYTHON: the Python that builds the wheels (default .venv/bin/python, else python3)
set -eu
cd "$(dirname "$0")/../.."
tag=${1:-smsgw}
base=${2:-python:3.11-slim}
python=${PYTHON:-}
if [ -z "$python" ]; then
    if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi
rm -rf dist/wheels
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# pip and setuptools warn at length on a successful build: their words are shown on failure only.
"$python" -m pip wheel --quiet --disable-pip-version-check --wheel-dir dist/wheels '.[postgres]' >"$log" 2>&1 || {
    cat "$log" >&2
    exit 1
}
docker build --quiet --build-arg "BASE=$base" --build-arg OFFLINE=1 --tag "$tag" . >"$log" 2>&1 || {
    cat "$log" >&2
    exit 1
}
# The build stage's image stays behind, untagged, at every build: 290 MB each time.
docker image prune --force --filter label=smsgw.stage=build >/dev/null
echo "built $tag on $base" >&2
