# The two commands of the README. Both bootstrap .venv on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench image clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/smsgw serve

test: $(STAMP)
	sh interop/kannel/install.sh
	sh interop/postgres/install.sh
	sh interop/docker/install.sh
	sh tests/console/install_chromium.sh
	$(BIN)/python -m pytest -q
	# The end-to-end suite again, every smsgw on a PostgreSQL database (skipped, saying why, without one).
	$(BIN)/python -m pytest -q tests/e2e --store postgres

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# smsgw's container image (docs/container.md); BASE=smsgw-base:bookworm where no registry is reachable.
BASE ?= python:3.11-slim
image: $(STAMP)
	sh interop/docker/build-image.sh smsgw $(BASE)

clean:
	rm -rf $(VENV) *.egg-info
