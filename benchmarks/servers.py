"""Start, measure and stop the servers under test, each in its own process.

Three targets: the null SMSC (:mod:`benchmarks.nullsmsc`), the node-smpp reference
(``benchmarks/reference/smsc.js``, installed with npm into the git-ignored
``benchmarks/.cache/reference``) and smsgw itself (``python -m smsgw serve``). A target that
cannot run raises :class:`Unavailable` with a message for the user; the benchmark then skips
it rather than failing.

Server CPU time and peak RSS are read from ``/proc/<pid>/`` (Linux only), which counts every
thread of the process (node's included) and nothing of the load generator.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
REFERENCE_SRC = BENCH_DIR / "reference"
REFERENCE_CACHE = BENCH_DIR / ".cache" / "reference"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Unavailable(Exception):
    """A target cannot be run here; the message says why and what to do."""


@dataclass
class Server:
    """A running server process and how to bind to it."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    system_id: str = "bench"
    password: str = "bench"
    host: str = "127.0.0.1"
    log: Path | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by the server process, summed over its live threads.

        Reads each thread's ``schedstat`` (nanoseconds) because ``stat`` counts in clock
        ticks of 10 ms, too coarse for a 60 ms run at 300k messages/s. The value is exact
        for a process that is idle when read, as the servers are before and after a run.
        Falls back to ``stat`` (utime + stime) where schedstat is absent.
        """
        total, counted = 0, 0
        for task in list(Path(f"/proc/{self.process.pid}/task").iterdir()):
            try:
                total += int((task / "schedstat").read_text().split()[0])
                counted += 1
            except FileNotFoundError:
                continue  # the thread ended between the listing and the read
            except (OSError, ValueError, IndexError):
                counted = 0
                break
        if counted:
            return total / 1e9
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def peak_rss_mib(self) -> float:
        """VmHWM, the process's peak resident set size so far, in MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def log_tail(self) -> str:
        """The last lines the server wrote to its log, for error messages."""
        return _tail(self.log) if self.log is not None else ""

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after 5 s) and reap it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _tail(path: Path, lines: int = 5) -> str:
    """The last lines of a log file, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def _spawn(cmd: list[str], log: Path, cwd: Path, pipe_stdout: bool = True) -> subprocess.Popen[bytes]:
    """Start ``cmd`` with stderr (and stdout unless ``pipe_stdout``) sent to ``log``.

    A piped stdout is read once, for the port line; only servers that print nothing more
    may have one, or a full pipe would block them mid-run.
    """
    with open(log, "wb") as err:
        stdout = subprocess.PIPE if pipe_stdout else err
        return subprocess.Popen(cmd, cwd=cwd, stdout=stdout, stderr=err, stdin=subprocess.DEVNULL)


def _read_port_line(process: subprocess.Popen[bytes], log: Path, timeout: float = 10.0) -> int:
    """Wait for the ``{"port": N}`` line a server prints once it listens."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if selector.select(timeout):
            line = process.stdout.readline()
            try:
                return int(json.loads(line)["port"])
            except (ValueError, KeyError, TypeError):
                pass
    process.kill()
    process.wait()
    raise Unavailable(f'server printed no {{"port": N}} line within {timeout:.0f} s: {_tail(log)}')


def start_null(workdir: Path, quickack: bool = True) -> Server:
    """Start the null SMSC of :mod:`benchmarks.nullsmsc` on a free port."""
    log = workdir / "null.log"
    cmd = [sys.executable, "-m", "benchmarks.nullsmsc", "--port", "0"]
    if not quickack:
        cmd.append("--no-quickack")
    process = _spawn(cmd, log, REPO_DIR)
    return Server("null", process, _read_port_line(process, log), log=log)


@dataclass(frozen=True)
class Reference:
    """An installed node-smpp reference: where it is and exactly which versions ran."""

    script: Path
    smpp_version: str
    node_version: str
    npm_version: str
    #: Every package in the cached node_modules (smpp and its dependencies) and its version.
    packages: dict[str, str]


def _run(cmd: list[str], cwd: Path | None = None, timeout: float = 30.0) -> str:
    """Run a short command and return its stripped stdout (raises on failure)."""
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=True)
    return done.stdout.strip()


def prepare_reference() -> Reference:
    """Install the reference's npm dependencies into the cache, if not already there.

    The source tree keeps only ``package.json`` and ``smsc.js``; ``node_modules`` lives in
    ``benchmarks/.cache/reference`` (git-ignored). The install is skipped when the cached
    ``package.json`` is identical and the pinned ``smpp`` version is installed.

    :raises Unavailable: when node or npm is missing or ``npm install`` fails.
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise Unavailable("node and npm are needed for the node-smpp reference; install Node.js 18+")
    manifest = (REFERENCE_SRC / "package.json").read_text()
    pinned = json.loads(manifest)["dependencies"]["smpp"]
    REFERENCE_CACHE.mkdir(parents=True, exist_ok=True)
    cached_manifest = REFERENCE_CACHE / "package.json"
    installed_json = REFERENCE_CACHE / "node_modules" / "smpp" / "package.json"

    def installed() -> str | None:
        try:
            return str(json.loads(installed_json.read_text())["version"])
        except (OSError, ValueError, KeyError):
            return None

    up_to_date = cached_manifest.exists() and cached_manifest.read_text() == manifest
    if not (up_to_date and installed() == pinned):
        cached_manifest.write_text(manifest)
        cmd = [npm, "install", "--no-audit", "--no-fund", "--prefix", str(REFERENCE_CACHE)]
        try:
            subprocess.run(cmd, cwd=REFERENCE_CACHE, capture_output=True, text=True, timeout=300, check=True)
        except subprocess.CalledProcessError as exc:
            lines = (exc.stderr or exc.stdout or "").strip().splitlines()
            # npm's first "error code" line names the cause (ECONNREFUSED, ETARGET, ...).
            cause = next((ln for ln in lines if " code " in ln), lines[-1] if lines else "")
            raise Unavailable(f"`npm install` of smpp@{pinned} failed ({cause.strip()})") from exc
        except subprocess.TimeoutExpired as exc:
            raise Unavailable(f"`npm install` of smpp@{pinned} took over 300 s") from exc
    version = installed()
    if version is None:
        raise Unavailable(f"npm install finished but {installed_json} is missing")
    # Run the script from the cache so that require('smpp') finds the cached node_modules.
    script = REFERENCE_CACHE / "smsc.js"
    shutil.copyfile(REFERENCE_SRC / "smsc.js", script)
    packages = {}
    for manifest_path in sorted((REFERENCE_CACHE / "node_modules").glob("*/package.json")):
        try:
            packages[manifest_path.parent.name] = str(json.loads(manifest_path.read_text())["version"])
        except (OSError, ValueError, KeyError):
            continue
    return Reference(script, version, _run([node, "--version"]), _run([npm, "--version"]), packages)


def start_reference(workdir: Path, reference: Reference) -> Server:
    """Start the node-smpp reference SMSC on a free port."""
    log = workdir / "reference.log"
    node = shutil.which("node") or "node"
    process = _spawn([node, str(reference.script), "--port", "0"], log, reference.script.parent)
    return Server("reference", process, _read_port_line(process, log), log=log)


def start_smsgw(
    workdir: Path,
    timeout: float = 10.0,
    store_url: str | None = None,
    extra: tuple[str, ...] = (),
    *,
    cmpp: bool = False,
) -> Server:
    """Start ``python -m smsgw serve`` on free ports and read its ports file: with its file
    store in ``workdir``, or on the PostgreSQL database ``store_url``. With ``cmpp`` the
    server is reached on its CMPP port, as its built-in SP (901234/smsgw).

    The assumed interface: ``serve --smpp-port 0 --http-port 0 --db PATH --ports-file FILE``,
    and once listening smsgw writes FILE as JSON with at least ``smpp`` (the port) and
    optionally ``smpp_host`` (default 127.0.0.1), ``http``, ``system_id`` and ``password``
    (both default to ``smsgw``).

    :raises Unavailable: when smsgw exits, or writes no usable ports file within ``timeout``.
    """
    log = workdir / "smsgw.log"
    ports_file = workdir / "ports.json"
    cmd = [
        sys.executable,
        "-m",
        "smsgw",
        "serve",
        "--smpp-port",
        "0",
        "--http-port",
        "0",
        *(["--store", store_url] if store_url is not None else ["--db", str(workdir / "bench.db")]),
        "--ports-file",
        str(ports_file),
        "--no-merchant",  # measure the carrier alone
        *extra,
    ]
    process = _spawn(cmd, log, REPO_DIR, pipe_stdout=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Unavailable(
                f"`python -m smsgw serve` exited with status {process.returncode}: {_tail(log)}"
            )
        try:
            ports = json.loads(ports_file.read_text())
            port = int(ports["cmpp" if cmpp else "smpp"])
        except (OSError, ValueError, KeyError, TypeError):
            time.sleep(0.02)  # not written yet, or written halfway
            continue
        if cmpp:
            return Server(
                "smsgw-cmpp", process, port, "901234", "smsgw", str(ports.get("cmpp_host", "127.0.0.1")), log
            )
        return Server(
            "smsgw" if store_url is None else "smsgw-pg",
            process,
            port,
            host=str(ports.get("smpp_host", "127.0.0.1")),
            system_id=str(ports.get("system_id", "smsgw")),
            password=str(ports.get("password", "smsgw")),
            log=log,
            extra={"http_port": ports.get("http")},
        )
    process.kill()
    process.wait()
    raise Unavailable(f"smsgw wrote no usable {ports_file.name} within {timeout:.0f} s: {_tail(log)}")


def start_nodes(workdir: Path, store_url: str, names: list[str], lease: float = 10.0) -> list[Server]:
    """Start ``smsgw serve --node NAME`` for each name, all on the database ``store_url``,
    each with its own directory under ``workdir`` and the given lease (seconds)."""
    started: list[Server] = []
    try:
        for name in names:
            directory = workdir / f"node-{name}"
            directory.mkdir()
            config = directory / "smsgw.toml"
            config.write_text(f"[store]\nlease = {lease:g}\n", encoding="utf-8")
            started.append(
                start_smsgw(directory, store_url=store_url, extra=("--node", name, "--config", str(config)))
            )
    except Unavailable:
        for server in started:
            server.stop()
        raise
    return started


def run_client(module: str, server: Server, extra: list[str], timeout: float) -> dict[str, Any]:
    """Run a client module in its own process against ``server``; return its JSON line."""
    cmd = [
        sys.executable,
        "-m",
        module,
        "--host",
        server.host,
        "--port",
        str(server.port),
        "--system-id",
        server.system_id,
        "--password",
        server.password,
        *extra,
    ]
    try:
        done = subprocess.run(cmd, cwd=REPO_DIR, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"{module} did not finish within {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return {"error": f"{module} exited with {done.returncode} and no JSON: {tail}"}
    return result


def load_split(
    started: list[Server], n: int, extra: list[str], timeout: float, module: str = "benchmarks.loadgen"
) -> tuple[list[dict[str, Any]], float]:
    """One load generator (``module``) per server, all at once, ``n`` messages split evenly
    among them; their results, and the CPU seconds the servers spent meanwhile (summed)."""
    cpu_before = [server.cpu_seconds() for server in started]
    with ThreadPoolExecutor(len(started)) as pool:
        results = list(
            pool.map(
                lambda server: run_client(module, server, ["-n", str(n // len(started)), *extra], timeout),
                started,
            )
        )
    cpu = sum(server.cpu_seconds() - before for server, before in zip(started, cpu_before, strict=True))
    return results, cpu
