"""A real, throwaway PostgreSQL server for the tests of the PostgreSQL store.

:class:`PostgresServer` runs ``initdb`` in a temporary directory, starts the server with
``pg_ctl`` on a free TCP port of 127.0.0.1 (its unix socket in that directory, so it meets no
other server), hands out a fresh database per test, and at the end stops it and deletes the
directory. Nothing of the machine's own PostgreSQL clusters is read or touched.

PostgreSQL refuses to run as root. Under root (as on CI) the server runs as the ``postgres``
system user that Debian's ``postgresql`` package creates, and the temporary directory is
given to that user; otherwise it runs as whoever runs the tests.

:func:`unavailable_reason` says why no server can be had here (the tests skip with it).

Environment:

``SMSGW_PG_BIN``
    The directory holding ``initdb`` and ``pg_ctl``; when set, it is the only place looked in.
    Without it, PATH is searched, then Debian's ``/usr/lib/postgresql/<version>/bin``, newest
    version first. Point it at a directory that does not exist
    (``SMSGW_PG_BIN=/nonexistent``) to see the tests skip as on a machine without PostgreSQL.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

BIN_ENV = "SMSGW_PG_BIN"
DEBIAN_BIN_DIRS = "/usr/lib/postgresql/*/bin"
PROGRAMS = ("initdb", "pg_ctl")
#: The superuser initdb creates; trust authentication lets it in without a password.
SUPERUSER = "smsgw"
#: Whom the server runs as when the tests run as root (Debian's package creates this user).
SYSTEM_USER = "postgres"
START_TIMEOUT = 60  # seconds; a start takes about one, but a loaded CI machine is slow
#: PostgreSQL cuts identifiers longer than this many bytes.
MAX_IDENTIFIER = 63
#: How many free ports to try: another process may take the one chosen before the server binds it.
PORT_ATTEMPTS = 3

# Settings for a server that lives as long as a test session, given on its command line (pg_ctl
# -o), so that nothing in its directory is edited. fsync and full_page_writes guard against the
# machine crashing or losing power mid-write; the tests kill smsgw nodes, never the database (nor
# the machine), so what a node committed is still there for the next node to read, and a cluster
# deleted at the end has nothing to recover. synchronous_commit stays on (the default): a commit
# waits for its WAL write as in production, and with fsync off that write only reaches the page
# cache, so turning it off would save next to nothing.
SETTINGS = {
    "fsync": "off",
    "full_page_writes": "off",
    # Several smsgw nodes, each with a pool, plus the tests' own connections.
    "max_connections": "200",
    "listen_addresses": "127.0.0.1",
}


class PostgresError(RuntimeError):
    """A PostgreSQL program failed; the message holds what it wrote."""


def _version_key(bin_dir: str) -> tuple[int, ...]:
    """``/usr/lib/postgresql/15/bin`` -> (15,); a directory not named by a version sorts first."""
    name = Path(bin_dir).parent.name
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        return ()


def _candidate_dirs() -> list[str]:
    override = os.environ.get(BIN_ENV)
    if override is not None:
        return [override]
    on_path = os.environ.get("PATH", os.defpath).split(os.pathsep)
    # Debian keeps the server's programs off PATH, one directory per major version.
    debian = sorted(glob.glob(DEBIAN_BIN_DIRS), key=_version_key, reverse=True)
    return [*on_path, *debian]


def find_bin_dir() -> Path | None:
    """The first directory that holds both ``initdb`` and ``pg_ctl`` (they must be of one
    version: pg_ctl starts the ``postgres`` beside it), or None."""
    for directory in _candidate_dirs():
        if directory and all(shutil.which(name, path=directory) for name in PROGRAMS):
            return Path(directory)
    return None


def _system_user() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        return None


def unavailable_reason() -> str | None:
    """Why a :class:`PostgresServer` cannot run here, or None when it can."""
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed: pip install -e '.[postgres]' (the test extra includes it)"
    if find_bin_dir() is None:
        if BIN_ENV in os.environ:
            return f"{BIN_ENV}={os.environ[BIN_ENV]} holds no initdb and pg_ctl; unset it to search PATH and {DEBIAN_BIN_DIRS}"
        return (
            f"no PostgreSQL server is installed (no initdb and pg_ctl on PATH or in {DEBIAN_BIN_DIRS}): "
            "apt-get install postgresql, or run `sh interop/postgres/install.sh` as root (make test does)"
        )
    if os.geteuid() == 0 and _system_user() is None:
        return (
            f"the tests run as root, which PostgreSQL refuses to run as, and there is no {SYSTEM_USER!r} "
            "user to run it as instead (Debian's postgresql package creates one): apt-get install postgresql"
        )
    return None


def database_name(number: int, test_name: str) -> str:
    """A unique database name that still says which test made it: ``t12_test_writes_survive``."""
    readable = re.sub(r"[^a-z0-9]+", "_", test_name.lower()).strip("_")
    return f"t{number}_{readable}"[:MAX_IDENTIFIER]


def free_port() -> int:
    """A TCP port of 127.0.0.1 that the kernel says is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """One PostgreSQL server in a temporary directory, for as long as it is wanted.

    ``start()`` it (or use it as a context manager), read :attr:`url`, make a database per
    test with :meth:`create_database`, and ``stop()`` it, which also deletes the directory.
    """

    def __init__(self) -> None:
        reason = unavailable_reason()
        bin_dir = find_bin_dir()
        if reason is not None or bin_dir is None:
            raise PostgresError(reason or "no PostgreSQL server binaries found")
        self.bin_dir = bin_dir
        #: Whom the programs run as: the system user under root, else None (the current user).
        self.run_as = _system_user() if os.geteuid() == 0 else None
        self.directory: Path | None = None
        self.port = 0
        #: Seconds the last ``initdb`` and ``pg_ctl start`` took, together.
        self.start_seconds = 0.0

    @property
    def data_dir(self) -> Path:
        assert self.directory is not None, "the server is not started"
        return self.directory / "data"

    @property
    def log_file(self) -> Path:
        assert self.directory is not None, "the server is not started"
        return self.directory / "server.log"

    @property
    def url(self) -> str:
        """The URL of the server's ``postgres`` database, as its superuser."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        """The URL of database ``name`` on this server, as its superuser."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{quote(name, safe='')}"

    def start(self) -> PostgresServer:
        began = time.perf_counter()
        self.directory = self._make_directory()
        try:
            self._run("initdb", *self._initdb_arguments())
            self._start_on_a_free_port()
        except BaseException:
            # A start that timed out may still leave a server running; stop that one too.
            with contextlib.suppress(PostgresError):
                self.stop()
            raise
        self.start_seconds = time.perf_counter() - began
        return self

    def stop(self) -> None:
        """Stop the server at once (no checkpoint: its data is about to be deleted) and delete
        its directory. Safe to call twice, or after a failed start."""
        if self.directory is None:
            return
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        finally:
            self._remove_directory()

    def create_database(self, name: str) -> str:
        """Create an empty database ``name`` and return its URL."""
        self._execute("CREATE DATABASE {}", name)
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, closing whatever connections a test left to it."""
        self._execute("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def _execute(self, statement: str, name: str) -> None:
        import psycopg
        from psycopg import sql

        # CREATE and DROP DATABASE cannot run inside a transaction.
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(sql.SQL(statement).format(sql.Identifier(name)))

    def _make_directory(self) -> Path:
        directory = Path(tempfile.mkdtemp(prefix="smsgw-pg-"))
        if self.run_as is not None:
            os.chown(directory, self.run_as.pw_uid, self.run_as.pw_gid)
            # Readable by the tests' user too, so that a failed start's log can be read.
            directory.chmod(0o755)
        return directory

    def _remove_directory(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def _initdb_arguments(self) -> list[str]:
        return [
            "-D",
            str(self.data_dir),
            "--auth=trust",
            f"--username={SUPERUSER}",
            "--encoding=UTF8",
            # The C locale exists everywhere (the environment's may not be installed) and sorts
            # text by bytes, the same on every machine.
            "--locale=C",
            # The cluster is thrown away at the end; nothing needs to reach the disk.
            "--no-sync",
        ]

    def _start_on_a_free_port(self) -> None:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.port = free_port()
            # pg_ctl appends to the log: a fresh one says why this attempt failed, not the last.
            self.log_file.unlink(missing_ok=True)
            try:
                self._run(
                    "pg_ctl",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    str(START_TIMEOUT),
                    "-o",
                    self._server_options(),
                    "start",
                )
                return
            except PostgresError:
                if attempt == PORT_ATTEMPTS or "already in use" not in self._log():
                    raise

    def _server_options(self) -> str:
        """The server's settings as ``-c name=value`` options, quoted for the shell pg_ctl
        starts it with."""
        assert self.directory is not None
        settings = {
            **SETTINGS,
            "port": str(self.port),
            # Its socket in its own directory: the default one belongs to the machine's clusters.
            "unix_socket_directories": str(self.directory),
        }
        return " ".join(f"-c {shlex.quote(f'{name}={value}')}" for name, value in settings.items())

    def _log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def _run(self, program: str, *arguments: str) -> None:
        command = [str(self.bin_dir / program), *arguments]
        result = subprocess.run(
            command,
            # The tests' working directory may be one the system user cannot enter.
            cwd=self.directory,
            capture_output=True,
            text=True,
            check=False,
            user=self.run_as.pw_uid if self.run_as else None,
            group=self.run_as.pw_gid if self.run_as else None,
            # Root's supplementary groups are not the system user's to keep.
            extra_groups=[] if self.run_as else None,
        )
        if result.returncode != 0:
            log = self._log()
            raise PostgresError(
                f"{' '.join(command)} exited with {result.returncode}:\n{result.stderr.strip()}"
                + (f"\nserver log ({self.log_file}):\n{log[-4000:]}" if log else "")
            )
