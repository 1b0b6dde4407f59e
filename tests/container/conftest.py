"""The image, built once for the container tests from this checkout (tests/docker.py); the
tests are skipped, saying why, where Docker or the base image cannot be had."""

from __future__ import annotations

import os

import pytest

from tests.docker import IMAGE, DockerError, build_image, unavailable_reason

# testcontainers starts its reaper (Ryuk) from an image on Docker Hub, which these machines
# cannot reach; the tests remove their containers themselves.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


@pytest.fixture(scope="session")
def smsgw_image() -> str:
    """The image's tag, once it is built (the build's time is reported with the summary)."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    try:
        seconds = build_image()
    except DockerError as error:
        pytest.fail(f"smsgw's image did not build: {error}")
    _built.append(seconds)
    return IMAGE


_built: list[float] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The image's build time, under the summary (a fixture's own output is captured)."""
    for seconds in _built:
        terminalreporter.write_line(f"smsgw's image {IMAGE} built in {seconds:.0f} s (wheels included)")
