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
def smsgw_image(request: pytest.FixtureRequest) -> str:
    """The image's tag, once it is built (the build's time is reported with the summary)."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    try:
        seconds = build_image()
    except DockerError as error:
        pytest.fail(f"smsgw's image did not build: {error}")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\nsmsgw's image {IMAGE} built in {seconds:.0f} s (wheels included)")
    return IMAGE
