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
"$python" -m pip wheel --quiet --disable-pip-version-check --wheel-dir dist/wheels '.[postgres]'
docker build --quiet --build-arg "BASE=$base" --tag "$tag" . >/dev/null
echo "built $tag on $base" >&2
