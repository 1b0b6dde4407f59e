"""Fixtures every test directory may use: a throwaway PostgreSQL server (tests/postgres.py).

The server starts once per session, the first time a test asks for it, and each test gets a
database of its own, dropped when it ends. Where no server can be had the tests that ask are
skipped, and say why.
"""

from __future__ import annotations

import itertools
import signal
from collections.abc import Iterator

import pytest

from tests.postgres import PostgresServer, database_name, unavailable_reason

_databases = itertools.count(1)

# A suite started in the background (`make test &`) inherits SIGINT ignored, and so would every
# smsgw and phone it starts (Twisted leaves an ignored SIGINT alone): the tests that stop them
# with Ctrl-C need it back. A handler is reset to the default in a child; an ignore is not.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="the store every smsgw process of the end-to-end tests keeps its messages in: a SQLite "
        "file (default) or a database of a throwaway PostgreSQL server",
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session; skips the test with the reason when there is none."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a new, empty database for this test alone."""
    name = database_name(next(_databases), request.node.name)
    yield postgres_server.create_database(name)
    # Dropped rather than left for the server's end, so a long session keeps little on disk.
    postgres_server.drop_database(name)
