"""End-to-end harness: a real ``smsgw serve`` process, smpplib ESMEs, raw sockets and the HTTP API.

Every server listens on port 0 (the ports file says where), keeps its store under the test's
tmp_path, and is stopped with SIGTERM at teardown. Every wait has a deadline; the only sleeps
are the short steps of :func:`wait_until`.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import smpplib.client
import smpplib.smpp

from smsgw.smpp import codec
from smsgw.smpp.pdu import BindReceiver, BindTransceiver, BindTransmitter, Pdu
from tests.e2e.framedsocket import FramedSocket
from tests.postgres import database_name

START_TIMEOUT = 15.0
READ_TIMEOUT = 5.0

SHORT_CODE = "12345"
#: The demo subscribers of the default configuration (all "on").
DEMO = ("8613800000001", "8613800000002", "8613800000003", "8613800000004", "8613800000005")

#: The built-in account, for configs that define [[accounts]] (they replace the default one).
DEFAULT_ACCOUNT_TOML = """
[[accounts]]
system_id = "smsgw"
password = "smsgw"
short_codes = ["12345"]
"""

#: The built-in account beside one whose message_ids are hex: where ids of two accounts meet.
HEX_ACCOUNT_TOML = (
    DEFAULT_ACCOUNT_TOML
    + """
[[accounts]]
system_id = "hexa"
password = "hexa"
short_codes = ["10020"]
message_id_format = "hex"
"""
)

RECEIPT_TEXT = re.compile(
    r"id:(?P<id>\S+) sub:(?P<sub>\d{3}) dlvrd:(?P<dlvrd>\d{3}) "
    r"submit date:(?P<submit>\d{10}) done date:(?P<done>\d{10}) "
    r"stat:(?P<stat>[A-Z]{7}) err:(?P<err>\d{3}) text:(?P<text>.*)\Z",
    re.S,
)


def wait_until(predicate: Callable[[], Any], timeout: float = READ_TIMEOUT, what: str = "a condition") -> Any:
    """Poll ``predicate`` every 20 ms until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def call_json(
    url: str, method: str, body: Any = None, *, raw: bytes | None = None, timeout: float = READ_TIMEOUT
) -> tuple[int, Any, Any]:
    """One JSON HTTP call: (status, headers, decoded body), for successes and errors alike.

    :param raw: octets to send as they are instead of ``body`` as JSON.
    """
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode("utf-8"))
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, json.loads(error.read())


# -- the server process ------------------------------------------------------------------


#: Gives each :class:`Smsgw` a fresh PostgreSQL database when the run says ``--store
#: postgres`` (set by :func:`_store_kind`); None: each keeps a SQLite file in its workdir.
new_database: Callable[[str], str] | None = None
_databases = itertools.count(1)


@pytest.fixture(scope="session", autouse=True)
def _store_kind(request: pytest.FixtureRequest) -> Iterator[None]:
    global new_database
    if request.config.getoption("--store") != "postgres":
        yield
        return
    server = request.getfixturevalue("postgres_server")  # skips, saying why, where there is none
    new_database = lambda hint: server.create_database(database_name(next(_databases), hint))  # noqa: E731
    yield
    new_database = None


needs_sqlite_file = pytest.mark.skipif(
    "config.getoption('--store') != 'sqlite'",
    reason="looks into the SQLite store file itself (this run keeps messages in PostgreSQL)",
)


class Smsgw:
    """One ``smsgw serve`` process on free ports, restartable on the same store (a SQLite
    file in ``workdir``, or with ``--store postgres`` a database of its own).

    :param workdir: where the store, ports file, config and logs go.
    :param config: TOML text for ``--config``, or None for the defaults.
    """

    def __init__(self, workdir: Path, config: str | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.db = workdir / "smsgw.db"
        #: The PostgreSQL database's URL, or None: the SQLite file :attr:`db`.
        self.store_url = new_database(f"e2e_{workdir.name}") if new_database is not None else None
        self.ports_file = workdir / "ports.json"
        self.config_path: Path | None = None
        if config is not None:
            self.config_path = workdir / "smsgw.toml"
            self.config_path.write_text(config, encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None
        self.ports: dict[str, Any] = {}
        self.runs = 0
        self._logs: list[Any] = []

    def command(self) -> list[str]:
        """The command line that starts this server."""
        args = [
            sys.executable, "-m", "smsgw", "serve",
            "--smpp-port", "0", "--http-port", "0",
            *self.store_arguments, "--ports-file", str(self.ports_file),
            "--no-merchant",  # the tests bind as the application themselves
        ]  # fmt: skip
        if self.config_path is not None:
            args += ["--config", str(self.config_path)]
        return args

    @property
    def store_arguments(self) -> list[str]:
        """The command-line option naming this server's store."""
        return ["--store", self.store_url] if self.store_url is not None else ["--db", str(self.db)]

    @property
    def store_name(self) -> str:
        """How the server names its store in messages (a URL has no password here)."""
        return self.store_url if self.store_url is not None else str(self.db)

    def start(self) -> Smsgw:
        """Start the process and wait until its ports file names the listening ports."""
        assert self.process is None, "already running"
        self.ports_file.unlink(missing_ok=True)
        self.runs += 1
        stdout = open(self.workdir / f"stdout-{self.runs}.txt", "wb")
        stderr = open(self.workdir / f"stderr-{self.runs}.txt", "wb")
        self._logs = [stdout, stderr]
        self.process = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.ports_file.exists():
            if self.process.poll() is not None:
                code = self.stop()
                raise RuntimeError(f"smsgw exited with {code} before listening:\n{self.stderr()}")
            if time.monotonic() >= deadline:
                self.stop(signal.SIGKILL)
                raise RuntimeError(f"smsgw did not write {self.ports_file} within {START_TIMEOUT:g} s")
            time.sleep(0.02)
        self.ports = json.loads(self.ports_file.read_text(encoding="utf-8"))
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send ``sig`` and wait for the exit; return the exit status."""
        process = self.process
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(sig)
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"smsgw did not exit within {timeout:g} s of signal {sig}") from None
        finally:
            self.process = None
            for log in self._logs:
                log.close()
            self._logs = []
        return code

    def restart(self, sig: int = signal.SIGTERM) -> int:
        """Stop with ``sig`` and start again on the same store; return the first run's exit status."""
        code = self.stop(sig)
        self.start()
        return code

    def stderr(self) -> str:
        """What the current (or last) run logged."""
        return (self.workdir / f"stderr-{self.runs}.txt").read_text(encoding="utf-8", errors="replace")

    def stdout(self) -> str:
        """What the current (or last) run printed on stdout (its banner)."""
        for log in self._logs:
            log.flush()
        return (self.workdir / f"stdout-{self.runs}.txt").read_text(encoding="utf-8", errors="replace")

    @property
    def smpp_address(self) -> tuple[str, int]:
        """(host, port) of the SMPP listener."""
        return self.ports["smpp_host"], self.ports["smpp"]

    # -- HTTP API ------------------------------------------------------------------------

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Call the JSON API; return (HTTP status, decoded body) for successes and errors alike."""
        status, _, payload = call_json(self.ports["http_url"] + path, method, body)
        return status, payload

    def get(self, path: str) -> Any:
        """GET a path that must answer 200; return its JSON."""
        status, payload = self.api("GET", path)
        assert status == 200, (path, status, payload)
        return payload

    def set_phone(self, msisdn: str, state: str) -> None:
        """Switch a subscriber's phone on or off through the API."""
        status, payload = self.api("PATCH", f"/api/handsets/{msisdn}", {"state": state})
        assert status == 200 and payload["state"] == state, (status, payload)

    def message(self, message_id: str) -> dict[str, Any]:
        """One message as GET /api/messages/{id} shows it."""
        return self.get(f"/api/messages/{message_id}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smsgw]:
    """A default-configured smsgw shared by the tests of one module."""
    smsgw = Smsgw(tmp_path_factory.mktemp("smsgw")).start()
    yield smsgw
    smsgw.stop()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Smsgw]]:
    """Start a server of this test alone, optionally with a TOML config; stopped at teardown."""
    started: list[Smsgw] = []

    def start(config: str | None = None) -> Smsgw:
        smsgw = Smsgw(tmp_path / f"smsgw{len(started)}", config)
        started.append(smsgw)
        return smsgw.start()

    yield start
    for smsgw in started:
        smsgw.stop()


# -- smpplib ESMEs -----------------------------------------------------------------------


def receipt_of(pdu: Any) -> dict[str, Any]:
    """The parts of a receipt deliver_sm (smpplib PDU) a user checks: TLVs and the text's fields."""
    text = bytes(pdu.short_message or b"").decode("latin-1")
    match = RECEIPT_TEXT.match(text)
    assert match is not None, f"receipt text does not have the Appendix B layout: {text!r}"
    fields = match.groupdict()
    fields["esm_class"] = pdu.esm_class
    fields["receipted_message_id"] = bytes(pdu.receipted_message_id or b"").rstrip(b"\0").decode("latin-1")
    fields["message_state"] = pdu.message_state
    fields["source_addr"] = bytes(pdu.source_addr).decode("latin-1")
    fields["destination_addr"] = bytes(pdu.destination_addr).decode("latin-1")
    return fields


class Esme:
    """An ESME on smpplib 2.2.4: binds, submits, and collects what the SMSC sends, with deadlines.

    Every PDU read goes to :attr:`log` in arrival order; deliver_sm are answered at once with
    :attr:`deliver_status` and kept in :attr:`deliveries`.
    """

    def __init__(self, address: tuple[str, int], *, deliver_status: int = 0) -> None:
        self.client = smpplib.client.Client(
            address[0], address[1], timeout=READ_TIMEOUT, allow_unknown_opt_params=True
        )
        self.client.connect()
        self.deliver_status = deliver_status
        self.log: list[Any] = []
        self.deliveries: list[Any] = []
        self._responses: dict[int, Any] = {}

    def bind(self, kind: str = "transceiver", system_id: str = "smsgw", password: str = "smsgw") -> Any:
        """Bind (transmitter, receiver or transceiver); smpplib raises PDUError on a refusal."""
        return getattr(self.client, f"bind_{kind}")(system_id=system_id, password=password)

    def read(self, timeout: float = READ_TIMEOUT) -> Any | None:
        """Read one PDU and act on it; None if nothing came within ``timeout``."""
        self.client._socket.settimeout(max(timeout, 0.001))
        try:
            pdu = self.client.read_pdu()
        except TimeoutError:
            return None
        self.log.append(pdu)
        if pdu.command == "deliver_sm":
            self.deliveries.append(pdu)
            answer = smpplib.smpp.make_pdu("deliver_sm_resp", client=self.client, status=self.deliver_status)
            answer.sequence = pdu.sequence
            self.client.send_pdu(answer)
        elif pdu.command == "enquire_link":
            answer = smpplib.smpp.make_pdu("enquire_link_resp", client=self.client)
            answer.sequence = pdu.sequence
            self.client.send_pdu(answer)
        elif pdu.is_response() or pdu.command == "generic_nack":
            self._responses[pdu.sequence] = pdu
        return pdu

    def response(self, sequence: int, timeout: float = READ_TIMEOUT) -> Any:
        """Read until the response with ``sequence`` arrives (deliveries on the way are kept)."""
        deadline = time.monotonic() + timeout
        while sequence not in self._responses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no response to sequence {sequence} within {timeout:g} s")
            self.read(remaining)
        return self._responses.pop(sequence)

    def submit(self, destination: str = DEMO[0], text: str | bytes = "hello", **fields: Any) -> Any:
        """submit_sm and wait for its submit_sm_resp (whatever its status); return the response."""
        message = dict(
            source_addr_ton=0,
            source_addr_npi=0,
            source_addr=SHORT_CODE,
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr=destination,
            short_message=text.encode("ascii") if isinstance(text, str) else text,
            data_coding=0,
            esm_class=0,
            registered_delivery=1,
        )
        message.update(fields)
        request = self.client.send_message(**message)
        return self.response(request.sequence)

    def submit_ok(self, destination: str = DEMO[0], text: str | bytes = "hello", **fields: Any) -> str:
        """submit_sm that must be accepted; return its message_id."""
        response = self.submit(destination, text, **fields)
        assert response.command == "submit_sm_resp" and response.status == 0, (
            response.command,
            response.status,
        )
        message_id = bytes(response.message_id).decode("ascii")
        assert message_id
        return message_id

    def wait_deliveries(self, count: int, timeout: float = READ_TIMEOUT) -> list[Any]:
        """Read until at least ``count`` deliver_sm have arrived in all; return them all."""
        deadline = time.monotonic() + timeout
        while len(self.deliveries) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"{len(self.deliveries)} deliver_sm of {count} arrived within {timeout:g} s"
                )
            self.read(remaining)
        return self.deliveries

    def close(self) -> None:
        """Drop the connection (smpplib's unbind would wait for an unbind_resp among deliveries)."""
        self.client.disconnect()


# -- raw sockets -------------------------------------------------------------------------

_HEADER = struct.Struct(">IIII")


def header(length: int, command_id: int, sequence: int, status: int = 0) -> bytes:
    """A 16-octet SMPP header, any values allowed."""
    return _HEADER.pack(length, command_id, status, sequence)


def raw_pdu(command_id: int, body: bytes, sequence: int) -> bytes:
    """A PDU with a correct command_length around ``body`` (which may be anything)."""
    return header(16 + len(body), command_id, sequence) + body


def tlv(tag: int, value: bytes) -> bytes:
    """One TLV whose length says exactly ``len(value)``."""
    return struct.pack(">HH", tag, len(value)) + value


def submit_sm_body(
    *,
    service_type: bytes = b"",
    source_addr: bytes = SHORT_CODE.encode(),
    destination_addr: bytes = DEMO[0].encode(),
    esm_class: int = 0,
    priority_flag: int = 0,
    schedule_delivery_time: bytes = b"",
    validity_period: bytes = b"",
    registered_delivery: int = 0,
    data_coding: int = 0,
    short_message: bytes = b"hello",
    tlvs: bytes = b"",
) -> bytes:
    """A submit_sm body laid out by hand, without any length check, so it can break every rule."""
    return b"".join(
        (
            service_type + b"\0",
            bytes((0, 0)), source_addr + b"\0",
            bytes((1, 1)), destination_addr + b"\0",
            bytes((esm_class, 0, priority_flag)),
            schedule_delivery_time + b"\0",
            validity_period + b"\0",
            bytes((registered_delivery, 0, data_coding, 0, len(short_message))),
            short_message,
            tlvs,
        )
    )  # fmt: skip


_BIND_CLASSES = {"transmitter": BindTransmitter, "receiver": BindReceiver, "transceiver": BindTransceiver}


class RawSession(FramedSocket):
    """A TCP connection to the SMPP port driven byte by byte, reading PDUs with deadlines."""

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, header_size=16, timeout=READ_TIMEOUT)
        self._sequence = 0

    def next_sequence(self) -> int:
        """A fresh sequence_number for a request."""
        self._sequence += 1
        return self._sequence

    def send(self, data: bytes) -> None:
        """Write raw octets."""
        self.sock.sendall(data)

    def request(self, pdu_class: type[Pdu], **fields: Any) -> int:
        """Encode and send a request with the next sequence_number; return that number."""
        sequence = self.next_sequence()
        self.send(codec.encode(pdu_class(sequence_number=sequence, **fields)))
        return sequence

    def read_pdu(self, timeout: float = READ_TIMEOUT) -> Any:
        """The next PDU the server sends, decoded; fails on a deadline or a closed connection."""
        raw = self.read_raw(timeout)
        assert raw is not None, "the server closed the connection instead of answering"
        return codec.decode(raw)

    def stays_silent(self, seconds: float) -> bool:
        """Whether nothing arrives, and the connection stays open, for ``seconds``."""
        if self._buffer:
            return False
        try:
            self._fill(1, time.monotonic() + seconds)
        except AssertionError:
            return True
        return False

    def bind(self, kind: str = "transceiver", system_id: str = "smsgw", password: str = "smsgw") -> Any:
        """Bind and return the bind response (accepted or not)."""
        sequence = self.request(_BIND_CLASSES[kind], system_id=system_id, password=password)
        response = self.read_pdu()
        assert response.sequence_number == sequence
        return response


@pytest.fixture
def connect() -> Iterator[Callable[..., Any]]:
    """``connect(server)`` opens an smpplib :class:`Esme`, ``connect(server, raw=True)`` a :class:`RawSession`."""
    opened: list[Any] = []

    def open_session(smsgw: Smsgw, *, raw: bool = False, **options: Any) -> Any:
        session = RawSession(smsgw.smpp_address) if raw else Esme(smsgw.smpp_address, **options)
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        session.close()
