"""Run Kannel 1.4.5 (bearerbox + smsbox) bound to smsgw as an ESME, all in a temp dir.

Used two ways:

* from the command line, to try Kannel against smsgw by hand::

      .venv/bin/python interop/kannel/run.py --start-smsgw          # smsgw too, in the temp dir
      .venv/bin/python interop/kannel/run.py --ports-file /tmp/kx/ports.json   # a running smsgw

  It prints the sendsms URL, the catcher URL and the log files, then runs until Ctrl-C and
  stops everything cleanly (Kannel unbinds from smsgw first).

* imported by ``tests/interop/test_kannel.py`` (``KannelRig``, ``Catcher``, ``SmsgwProcess``).

Everything listens on 127.0.0.1, on ports the kernel reports free (bind to port 0), and
everything written (kannel.conf, logs, smsgw's store) stays in one temp dir.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulators.carrier_process import stop_process

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "kannel.conf.template"
REPO = HERE.parent.parent


SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def find_program(name: str) -> str | None:
    """A Kannel program's path: on PATH, or in an sbin directory (Debian installs there, and a
    non-root user's PATH often lacks /usr/sbin)."""
    path = os.pathsep.join([os.environ.get("PATH", os.defpath), *SBIN_DIRS])
    return shutil.which(name, path=path)


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that the kernel says are free right now.

    All are held open until all are chosen, so the kernel cannot hand out one twice.
    """
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Call ``check`` until it returns something truthy; raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET a URL; return (status, body) for any HTTP status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


# -- the catcher: Kannel's sms-service get-url and dlr-url point here ------------------


class Hit:
    """One request Kannel made to the catcher."""

    def __init__(self, path: str, raw_query: str) -> None:
        self.at = time.time()
        self.path = path
        self.raw_query = raw_query
        # latin-1 keeps every %XX as one code point, so binary text (UTF-16BE MO) survives.
        self._params = urllib.parse.parse_qs(raw_query, keep_blank_values=True, encoding="latin-1")

    def raw(self, name: str) -> bytes:
        """A parameter's bytes, exactly as Kannel URL-encoded them."""
        values = self._params.get(name)
        return values[0].encode("latin-1") if values else b""

    def get(self, name: str) -> str:
        """A parameter as text (UTF-8, as Kannel sends ordinary values)."""
        return self.raw(name).decode("utf-8", "replace")

    def text(self) -> str:
        """An MO's text, decoded with the charset Kannel passed in %C (UTF-16BE for UCS-2 MO)."""
        charset = self.get("charset") or ("UTF-16BE" if self.get("coding") == "2" else "UTF-8")
        return self.raw("text").decode(charset, "replace")

    def __repr__(self) -> str:
        return f"Hit({self.path}?{self.raw_query})"


class Catcher:
    """A tiny HTTP server that records every request (MO get-url calls and DLR callbacks)."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self._cond = threading.Condition()
        catcher = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path, _, query = self.path.partition("?")
                with catcher._cond:
                    catcher.hits.append(Hit(path, query))
                    catcher._cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="kannel-catcher", daemon=True)

    def start(self) -> None:
        """Start serving in a daemon thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving (and close the socket, started or not)."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def wait_for(self, predicate: Callable[[Hit], bool], timeout: float, what: str) -> Hit:
        """The first recorded hit matching ``predicate``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for hit in self.hits:
                    if predicate(hit):
                        return hit
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = "\n  ".join(repr(h) for h in self.hits) or "(none)"
                    raise TimeoutError(
                        f"timed out after {timeout:g} s waiting for {what}; hits so far:\n  {seen}"
                    )
                self._cond.wait(left)

    def matching(self, predicate: Callable[[Hit], bool]) -> list[Hit]:
        """Every hit so far that matches ``predicate``."""
        with self._cond:
            return [h for h in self.hits if predicate(h)]


# -- smsgw as a child process ---------------------------------------------------------


class SmsgwProcess:
    """``python -m smsgw serve`` on free ports, with its store and ports file in ``workdir``."""

    def __init__(self, workdir: Path, python: str = sys.executable, log_level: str = "info") -> None:
        self.workdir = workdir
        self.python = python
        self.log_level = log_level
        self.ports_file = workdir / "ports.json"
        self.log_path = workdir / "smsgw.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoints: dict[str, Any] = {}

    def start(self, timeout: float = 15.0) -> dict[str, Any]:
        """Start smsgw and return its ports file contents."""
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [
                self.python, "-m", "smsgw", "serve", "--smpp-port", "0", "--http-port", "0",
                "--db", str(self.workdir / "smsgw.db"), "--ports-file", str(self.ports_file),
                "--log-level", self.log_level, "--no-merchant",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )  # fmt: skip

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"smsgw exited with {self.process.returncode}; see {self.log_path}")
            return self.ports_file.exists()

        wait_until(ready, timeout, "smsgw's ports file")
        self.endpoints = json.loads(self.ports_file.read_text())
        return self.endpoints

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call smsgw's JSON API."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.endpoints["http_url"] + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM smsgw and wait for it; return its exit status."""
        if self.process is None:
            return None
        stop_process(self.process, timeout)
        self._log.close()
        return self.process.returncode


# -- Kannel ---------------------------------------------------------------------------


class KannelRig:
    """bearerbox + smsbox with a config filled from the template, plus the catcher.

    :param workdir: where kannel.conf and the logs go (a new temp dir when ``None``).
    :param log_level: Kannel's log level; 0 (debug) dumps every SMPP PDU in bearerbox.log.
    """

    def __init__(
        self,
        smpp_host: str,
        smpp_port: int,
        system_id: str = "smsgw",
        password: str = "smsgw",
        *,
        workdir: Path | None = None,
        log_level: int = 0,
        enquire_link_interval: int = 30,
        mo_recode: bool = False,
        default_sender: str = "12345",
    ) -> None:
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="kannel-smsgw-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.catcher = Catcher()
        self.admin_password = "adminpw"
        self.sendsms_user = "tester"
        self.sendsms_password = "foobar"
        admin_port, smsbox_port, sendsms_port = free_ports(3)
        self.values = {
            "ADMIN_PORT": str(admin_port),
            "ADMIN_PASSWORD": self.admin_password,
            "SMSBOX_PORT": str(smsbox_port),
            "SENDSMS_PORT": str(sendsms_port),
            "WORKDIR": str(self.workdir),
            "LOG_LEVEL": str(log_level),
            "SMPP_HOST": smpp_host,
            "SMPP_PORT": str(smpp_port),
            "SYSTEM_ID": system_id,
            "PASSWORD": password,
            "ENQUIRE_LINK_INTERVAL": str(enquire_link_interval),
            "MO_RECODE": "true" if mo_recode else "false",
            "SENDSMS_USER": self.sendsms_user,
            "SENDSMS_PASSWORD": self.sendsms_password,
            "CATCHER_URL": self.catcher.url,
            "DEFAULT_SENDER": default_sender,
        }
        self.conf_path = self.workdir / "kannel.conf"
        self.bearerbox: subprocess.Popen[bytes] | None = None
        self.smsbox: subprocess.Popen[bytes] | None = None
        self._files: list[Any] = []

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.values['ADMIN_PORT']}"

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.values['SENDSMS_PORT']}/cgi-bin/sendsms"

    def log(self, name: str = "bearerbox") -> str:
        """A log file of the run (bearerbox, smsbox, bearerbox-access, smsbox-access)."""
        path = self.workdir / f"{name}.log"
        return path.read_text("utf-8", "replace") if path.exists() else ""

    def write_config(self) -> Path:
        """Fill the template; refuse to leave any @NAME@ unfilled."""
        text = TEMPLATE.read_text()
        for name, value in self.values.items():
            text = text.replace(f"@{name}@", value)
        if "@" in "".join(line.split("#", 1)[0] for line in text.splitlines()):
            raise ValueError(f"unfilled placeholder in {TEMPLATE}")
        self.conf_path.write_text(text)
        return self.conf_path

    def _spawn(self, program: str) -> subprocess.Popen[bytes]:
        executable = find_program(program)
        if executable is None:
            raise RuntimeError(
                f"{program} not found on PATH or in {', '.join(SBIN_DIRS)}: apt-get install kannel"
            )
        out = open(self.workdir / f"{program}.stdout", "wb")
        self._files.append(out)
        # Foreground (no -d), a child of ours; stdout/stderr next to the logs.
        return subprocess.Popen(
            [executable, str(self.conf_path)], stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir
        )

    def status(self) -> str:
        """bearerbox's /status.txt (empty if it does not answer)."""
        try:
            return http_get(f"{self.admin_url}/status.txt?password={self.admin_password}", timeout=2)[
                1
            ].decode()
        except OSError:
            return ""

    def smsc_online(self) -> bool:
        """Whether the smsgw link is bound (status says 'online')."""
        return any("smsgw" in line and "online" in line for line in self.status().splitlines())

    def start(self, timeout: float = 20.0) -> None:
        """Start the catcher, bearerbox (wait for the bind) and smsbox (wait for sendsms)."""
        for program in ("bearerbox", "smsbox"):
            if find_program(program) is None:
                raise RuntimeError(
                    f"{program} not found on PATH or in {', '.join(SBIN_DIRS)}: apt-get install kannel"
                )
        self.write_config()
        self.catcher.start()
        self.bearerbox = self._spawn("bearerbox")

        def bound() -> bool:
            self._check_alive()
            return self.smsc_online()

        wait_until(bound, timeout, "bearerbox to bind to smsgw (status.txt 'online')", interval=0.1)
        self.smsbox = self._spawn("smsbox")

        def sendsms_ready() -> bool:
            self._check_alive()
            try:
                with socket.create_connection(("127.0.0.1", int(self.values["SENDSMS_PORT"])), timeout=0.5):
                    pass
            except OSError:
                return False
            # smsbox opens its HTTP port before it has connected to bearerbox; wait for that too.
            return "smsbox:" in self.status() and "(on-line" in self.status().split("Box connections:")[-1]

        wait_until(sendsms_ready, timeout, "smsbox's sendsms port and its bearerbox connection", interval=0.1)

    def _check_alive(self) -> None:
        for name, process in (("bearerbox", self.bearerbox), ("smsbox", self.smsbox)):
            if process is not None and process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}; see {self.workdir}/{name}.log and {name}.stdout"
                )

    def sendsms(self, to: str, text: str, **params: Any) -> tuple[int, str]:
        """GET /cgi-bin/sendsms; ``text`` is sent as UTF-8 (use charset=utf-8 with coding=2)."""
        query = {"username": self.sendsms_user, "password": self.sendsms_password, "to": to, "text": text}
        query.update({k.replace("_", "-"): str(v) for k, v in params.items()})
        status, body = http_get(f"{self.sendsms_url}?{urllib.parse.urlencode(query)}", timeout=10)
        return status, body.decode("utf-8", "replace")

    def dlr_url(self, tag: str) -> str:
        """A dlr-url for the catcher (pass it as the sendsms dlr-url; Kannel fills the escapes).

        %d the report type (1 delivered, 2 failed, 4 buffered, 8 SMSC ack, 16 SMSC reject),
        %A the receipt text, %F the SMSC's message_id (smsgw's), %i smsc-id, %p recipient,
        %P sender, %T time.
        """
        return f"{self.catcher.url}/dlr?tag={tag}&type=%d&answer=%A&fid=%F&smsc=%i&to=%p&from=%P&ts=%T"

    def stop(self, timeout: float = 35.0) -> dict[str, int | None]:
        """SIGTERM smsbox, then bearerbox (which unbinds from smsgw); kill whatever hangs."""
        codes: dict[str, int | None] = {}
        for name, process in (("smsbox", self.smsbox), ("bearerbox", self.bearerbox)):
            if process is None:
                continue
            stop_process(process, timeout)
            codes[name] = process.returncode
        self.catcher.stop()
        for file in self._files:
            file.close()
        self._files.clear()
        return codes


def main(argv: list[str] | None = None) -> int:
    """Command line: start Kannel (and optionally smsgw), print where things are, run until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--ports-file", help="smsgw's --ports-file JSON (smpp, smpp_host, system_id, password)"
    )
    where.add_argument(
        "--start-smsgw", action="store_true", help="also start smsgw (free ports, store in the temp dir)"
    )
    parser.add_argument("--workdir", help="where kannel.conf and logs go (default: a new temp dir, kept)")
    parser.add_argument("--log-level", type=int, default=0, help="Kannel log level (0 dumps PDUs; default 0)")
    parser.add_argument(
        "--mo-recode", action="store_true", help="set mo-recode (UCS-2 MO reach the get-url as UTF-8)"
    )
    args = parser.parse_args(argv)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="kannel-smsgw-"))
    workdir.mkdir(parents=True, exist_ok=True)
    smsgw = None
    if args.start_smsgw:
        smsgw = SmsgwProcess(workdir)
        endpoints = smsgw.start()
    else:
        endpoints = json.loads(Path(args.ports_file).read_text())
    rig = KannelRig(
        endpoints.get("smpp_host", "127.0.0.1"),
        int(endpoints["smpp"]),
        endpoints.get("system_id", "smsgw"),
        endpoints.get("password", "smsgw"),
        workdir=workdir,
        log_level=args.log_level,
        mo_recode=args.mo_recode,
    )
    stopping = threading.Event()
    # SIGINT too: a runner started in the background of a script inherits SIGINT ignored.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        rig.start()
        sample = urllib.parse.urlencode(
            {
                "username": rig.sendsms_user,
                "password": rig.sendsms_password,
                "to": "8613800000001",
                "text": "hello from Kannel",
                "dlr-mask": "31",
            }
        )
        print(f"Kannel is bound to smsgw at {endpoints.get('smpp_host', '127.0.0.1')}:{endpoints['smpp']}")
        print(f"  temp dir    {workdir}  (kannel.conf, bearerbox.log, smsbox.log, *.stdout)")
        print(
            f"  sendsms     {rig.sendsms_url}?{sample}&dlr-url="
            + urllib.parse.quote(rig.dlr_url("demo"), safe="")
        )
        print(f"  admin       {rig.admin_url}/status.txt?password={rig.admin_password}")
        print(f"  catcher     {rig.catcher.url}  (MO get-url and dlr-url hits are printed below)")
        if smsgw is not None:
            print(f"  smsgw API   {endpoints['http_url']}/api/messages   (log {smsgw.log_path})")
        print("Ctrl-C stops everything.", flush=True)
        seen = 0
        while not stopping.is_set():
            hits = rig.catcher.hits
            for hit in hits[seen:]:
                shown = hit.text() if hit.path == "/mo" else hit.get("answer")
                print(f"  {hit.path}  {hit.raw_query}\n      -> {shown!r}", flush=True)
            seen = len(hits)
            stopping.wait(0.2)
    finally:
        codes = rig.stop()
        print(f"stopped Kannel {codes}; logs kept in {workdir}")
        if smsgw is not None:
            print(f"stopped smsgw (exit {smsgw.stop()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
