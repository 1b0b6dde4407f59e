"""``python -m benchmarks.work``: the work smsgw does per message, counted, not timed.

One ESME binds as a transceiver to smsgw as ``smsgw serve`` builds it (its default config,
merchant off, magic numbers and events on, the durable file store) and submits messages with
a receipt asked for, ``window`` at a time, acknowledging every receipt, as the load generator
does. The bytes go through the real :class:`~smsgw.server.smpp.SmppServerProtocol` on an
in-memory transport and a fake reactor: everything smsgw runs per message but the kernel's
socket calls. Each turn is one read of ``window`` PDUs, then the end-of-turn flush (group
commit, receipts dispatched, output written), as on the real reactor.

What is counted is the number of function calls (Python functions, and C functions such as
``sqlite3``'s, by the layer of their caller), through ``sys.setprofile``. Unlike time, the count
is the same on any machine and however busy it is, so CI can hold it to a budget
(``tests/test_work_budget.py``) and a change shows its cost exactly: the per-layer table says
where the calls go.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import attrs
from twisted.internet import address, task
from twisted.internet.testing import StringTransport

from smsgw.app import build_carrier
from smsgw.carrier.clock import FakeClock
from smsgw.config import DEFAULT_PASSWORD, DEFAULT_SYSTEM_ID, config_from_dict
from smsgw.server.smpp import SmppServerFactory, SmppServerProtocol
from smsgw.smpp import codec
from smsgw.smpp.constants import CommandId
from smsgw.smpp.pdu import BindTransceiver
from smsgw.smpp.sm import DeliverSmResp, SubmitSm
from smsgw.store.sqlite import SqliteStore

#: Layers by where their code lives, most specific first; the rest is "other" (stdlib, attrs).
LAYERS = (
    ("/smsgw/server/", "server (Twisted adapter)"),
    ("/smsgw/frontend/", "frontend (SMPP)"),
    ("/smsgw/smpp/", "smpp (session, codec)"),
    ("/smsgw/carrier/", "carrier"),
    ("/smsgw/store/", "store"),
    ("/smsgw/text/", "text"),
    ("/twisted/", "twisted"),
)
OTHER = "other (stdlib, attrs)"
PHONE = "8613800000001"
#: With more than one phone, destinations are this prefix and five digits, as the load
#: generator's (benchmarks/wire.py): numbers nobody provisioned, each a subscriber at once.
PHONES_PREFIX = "86138000"


#: Code generated at import has a name, not a file: ``<attrs generated methods smsgw.smpp.sm.SubmitSm>``
#: (attrs), ``<smpp codec SubmitSm>`` (smsgw.smpp.codec's compiled encoders and decoders).
_GENERATED = re.compile(
    r"<(?:attrs generated \w+ (?P<module>[\w.]+)\.\w+|(?P<codec>smpp codec) \w+(?: fields)?)>"
)


def layer_of(filename: str) -> str:
    """The layer of the code in ``filename`` (a path, or the name of generated code)."""
    generated = _GENERATED.fullmatch(filename)
    if generated is not None:
        module = generated["module"] or "smsgw.smpp.codec"
        filename = "/" + module.replace(".", "/") + "/"
    for part, name in LAYERS:
        if part in filename:
            return name
    return OTHER


@attrs.frozen
class Work:
    """Calls per message, by layer: Python functions, and C functions called from the layer."""

    messages: int
    python: dict[str, float]
    c: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.python.values()) + sum(self.c.values())

    def table(self) -> str:
        layers = sorted(
            set(self.python) | set(self.c), key=lambda n: -(self.python.get(n, 0) + self.c.get(n, 0))
        )
        lines = [
            f"{'layer':28} {'Python calls':>13} {'C calls':>8} {'total':>8}   per message, {self.messages} messages"
        ]
        for name in layers:
            py, c = self.python.get(name, 0.0), self.c.get(name, 0.0)
            lines.append(f"{name:28} {py:13.1f} {c:8.1f} {py + c:8.1f}")
        lines.append(
            f"{'all':28} {sum(self.python.values()):13.1f} {sum(self.c.values()):8.1f} {self.total:8.1f}"
        )
        return "\n".join(lines)


_HEADER = struct.Struct(">IIII")
_SUBMIT_SM_RESP, _DELIVER_SM = int(CommandId.SUBMIT_SM_RESP), int(CommandId.DELIVER_SM)


class _Esme:
    """The ESME's side of the in-memory connection: what the load generator does, as little
    as it can (submits patched from one encoded PDU, what comes back read as far as its
    header), as it is counted with the server's work when instructions are counted."""

    def __init__(
        self, protocol: SmppServerProtocol, transport: StringTransport, reactor: task.Clock, phones: int = 1
    ) -> None:
        #: Set while measuring: sees the server's turns only, not this ESME's own work.
        self.probe: _Counter | _Stopwatch | None = None
        self.protocol = protocol
        self.transport = transport
        self.reactor = reactor
        self.sequence = 1
        self.answered = 0
        self.receipts = 0
        self._submit = codec.encode(
            SubmitSm(
                source_addr="12345",
                destination_addr=PHONE,
                registered_delivery=1,
                short_message=b"Your code is 482913. Do not share it.",
            )
        )
        self._answer = codec.encode(DeliverSmResp())
        self._phone_at = self._submit.index(PHONE.encode("ascii"))
        self._phones = (
            [PHONE.encode("ascii")]
            if phones == 1
            else [f"{PHONES_PREFIX}{k:05d}".encode("ascii") for k in range(phones)]
        )

    def turn(self, data: bytes) -> list[bytes]:
        """One read by the server, its end-of-turn flush; what the ESME answers to what it got."""
        probe = self.probe
        if probe is not None:
            probe.enable()
        try:
            self.protocol.dataReceived(data)
            self.reactor.advance(0)
        finally:
            if probe is not None:
                probe.disable()
        out = self.transport.value()
        self.transport.clear()
        answers = []
        answer = self._answer
        offset = 0
        while offset < len(out):
            length, command_id, _, sequence = _HEADER.unpack_from(out, offset)
            if command_id == _SUBMIT_SM_RESP:
                self.answered += 1
            elif command_id == _DELIVER_SM:
                self.receipts += 1
                answers.append(answer[:12] + out[offset + 12 : offset + 16] + answer[16:])
            offset += length
        return answers

    def submits(self, count: int) -> list[bytes]:
        submit = self._submit
        first = self.sequence + 1
        self.sequence += count
        at, phones = self._phone_at, self._phones
        return [
            submit[:12] + sequence.to_bytes(4, "big") + submit[16:at]
            + phones[sequence % len(phones)] + submit[at + len(PHONE) :]
            for sequence in range(first, first + count)
        ]  # fmt: skip


@contextmanager
def _server(directory: Path, phones: int = 1, record: str | None = None) -> Iterator[_Esme]:
    """smsgw as ``smsgw serve`` builds it, bound by one ESME; ``record``: the ``[timeline]
    record`` mode (None: the default, which records no handset of this traffic)."""
    config = config_from_dict({} if record is None else {"timeline": {"record": record}}, merchant=False)
    store = SqliteStore(str(directory / "smsgw.db"), synchronous=config.store.synchronous.upper())
    carrier, deliveries = build_carrier(config, store, FakeClock())
    reactor = task.Clock()
    factory = SmppServerFactory(carrier, config.smpp.session, reactor, pdu_log=deliveries.pdu_log)
    carrier.start()
    protocol = factory.buildProtocol(address.IPv4Address("TCP", "127.0.0.1", 40000))
    assert isinstance(protocol, SmppServerProtocol)
    transport = StringTransport(peerAddress=address.IPv4Address("TCP", "127.0.0.1", 40000))
    protocol.makeConnection(transport)
    esme = _Esme(protocol, transport, reactor, phones)
    esme.turn(codec.encode(BindTransceiver(1, system_id=DEFAULT_SYSTEM_ID, password=DEFAULT_PASSWORD)))
    try:
        yield esme
    finally:
        store.close()


def _drive(esme: _Esme, messages: int, window: int) -> None:
    """``messages`` submits, ``window`` per read, each read also carrying the answers to the
    receipts of the read before; then the last receipts' answers."""
    answers: list[bytes] = []
    sent = 0
    while sent < messages:
        batch = min(window, messages - sent)
        answers = esme.turn(b"".join(answers + esme.submits(batch)))
        sent += batch
    while answers:
        answers = esme.turn(b"".join(answers))


class _Counter:
    def __init__(self) -> None:
        self.python: Counter[str] = Counter()
        self.c: Counter[str] = Counter()
        self._layers: dict[str, str] = {}

    def _layer(self, frame: FrameType) -> str:
        filename = frame.f_code.co_filename
        layer = self._layers.get(filename)
        if layer is None:
            layer = self._layers[filename] = layer_of(filename)
        return layer

    def enable(self) -> None:
        sys.setprofile(self)

    def disable(self) -> None:
        sys.setprofile(None)

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            self.python[self._layer(frame)] += 1
        elif event == "c_call":
            self.c[self._layer(frame)] += 1


def count(
    messages: int = 1000, window: int = 100, warmup: int = 200, phones: int = 1, record: str | None = None
) -> Work:
    """Calls per message for ``messages`` submits with receipts at ``window``, after ``warmup``
    untimed ones (caches, the first commit, the bind), to ``phones`` numbers in turn.

    :param record: the ``[timeline] record`` mode (None: the default, ``namespaces``; the
        handsets here are in no namespace).
    """
    with (
        tempfile.TemporaryDirectory(prefix="smsgw-work-") as tmp,
        _server(Path(tmp), phones, record) as esme,
    ):
        _drive(esme, warmup, window)
        # Garbage made before (the warm-up, another test in the same process) is collected
        # now, not while counting: its finalizers would be counted as this traffic's calls.
        gc.collect()
        gc.disable()
        try:
            counter = esme.probe = _Counter()
            _drive(esme, messages, window)
            esme.probe = None
        finally:
            gc.enable()
        total = warmup + messages
        if esme.answered != total or esme.receipts != total:
            raise RuntimeError(f"{esme.answered} answers and {esme.receipts} receipts for {total} submits")
    return Work(
        messages,
        {k: v / messages for k, v in counter.python.items()},
        {k: v / messages for k, v in counter.c.items()},
    )


class _Stopwatch:
    """CPU seconds of the server's turns (this process's, the ESME's own work left out)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def enable(self) -> None:
        self._started = time.process_time()

    def disable(self) -> None:
        self.seconds += time.process_time() - self._started


def cpu_per_message(
    messages: int = 20000, window: int = 100, warmup: int = 2000, rounds: int = 5, phones: int = 1
) -> float:
    """The median over ``rounds`` of smsgw's CPU seconds per message without I/O: a measure of
    this machine's speed too, so compare runs made side by side, never across days."""
    runs = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="smsgw-work-") as tmp, _server(Path(tmp), phones) as esme:
            _drive(esme, warmup, window)
            watch = esme.probe = _Stopwatch()
            _drive(esme, messages, window)
            esme.probe = None
        runs.append(watch.seconds / messages)
    return statistics.median(runs)


def drive(messages: int, window: int = 100, warmup: int = 200, phones: int = 1) -> None:
    """Run ``warmup`` then ``messages`` submits with receipts, measuring nothing: what
    :func:`instructions_per_message` runs under valgrind."""
    with tempfile.TemporaryDirectory(prefix="smsgw-work-") as tmp, _server(Path(tmp), phones) as esme:
        _drive(esme, warmup + messages, window)


_I_REFS = re.compile(rb"I\s+refs:\s+([\d,]+)")


def _drive_command(messages: int, window: int, phones: int) -> list[str]:
    """The process :func:`drive` runs in, for valgrind or py-spy to watch."""
    return [
        sys.executable, "-m", "benchmarks.work", "--drive", str(messages), "--window", str(window),
        "--phones", str(phones),
    ]  # fmt: skip


def _instructions(messages: int, window: int, phones: int) -> int:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise RuntimeError("valgrind is not installed (Debian: apt-get install valgrind)")
    run = subprocess.run(
        [
            valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
            *_drive_command(messages, window, phones),
        ],
        capture_output=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        check=True,
    )  # fmt: skip
    found = _I_REFS.search(run.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output: {run.stderr[-500:]!r}")
    return int(found[1].replace(b",", b""))


def instructions_per_message(messages: int = 2000, window: int = 100, phones: int = 1) -> float:
    """Machine instructions per message, counted by valgrind (cachegrind): the same on any
    machine however busy it is, unlike time, and unlike a count of calls it weighs each call.

    Two runs that differ only in ``messages`` more submits: start-up, the bind and the warm-up
    cancel out, leaving smsgw's work per message plus the little the in-memory ESME does
    (patching a submit, reading headers).
    """
    return (_instructions(messages, window, phones) - _instructions(0, window, phones)) / messages


def sampled_by_layer(
    messages: int = 60000, window: int = 100, rate: int = 1000, phones: int = 1
) -> dict[str, float]:
    """Each layer's share of the server's time, sampled by py-spy (``rate`` Hz) in a process
    driving ``messages``: unlike cProfile, sampling adds no cost per call, so a layer of many
    small calls is not overstated. Time in C (SQLite, struct) goes to the layer that called it.
    """
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    with tempfile.TemporaryDirectory(prefix="smsgw-work-") as tmp:
        out = Path(tmp) / "samples.txt"
        subprocess.run(
            [
                py_spy, "record", "--rate", str(rate), "--format", "raw", "--output", str(out), "--",
                *_drive_command(messages, window, phones),
            ],
            capture_output=True,
            check=True,
        )  # fmt: skip
        lines = out.read_text().splitlines()
    samples: Counter[str] = Counter()
    for line in lines:
        stack, count = line.rsplit(" ", 1)
        frames = stack.split(";")
        # The server's turns only: the in-memory ESME's own work is left out.
        if not any(f.startswith(_SERVER_TURN) for f in frames):
            continue
        filename = frames[-1].rpartition(" (")[2].rpartition(":")[0]
        # py-spy shortens paths under the working directory: smsgw/carrier/center.py
        samples[layer_of(filename if filename.startswith(("/", "<")) else "/" + filename)] += int(count)
    total = sum(samples.values())
    return {layer: count / total for layer, count in samples.items()}


#: Frames (py-spy's "function (file:line)") that start a server turn in :func:`drive`.
_SERVER_TURN = ("SmppServerProtocol.dataReceived (", "Clock.advance (")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.work", description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=1000, help="counted submit_sm (default 1000)")
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument(
        "--cpu", action="store_true", help="also smsgw's CPU µs per message, no I/O (median of 5)"
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also machine instructions per message, counted by valgrind (2,000 messages)",
    )
    parser.add_argument(
        "--layers",
        action="store_true",
        help="also each layer's share of the time (py-spy, 60,000 messages) and, with "
        "--instructions, its instructions per message",
    )
    parser.add_argument(
        "--phones",
        type=int,
        default=1,
        help="destination numbers in turn: 1 (default) is the provisioned +8613800000001; more are "
        "numbers nobody provisioned, 86138000xxxxx, as the load generator sends to",
    )
    parser.add_argument(
        "--record",
        choices=("namespaces", "all", "off"),
        help="the [timeline] record mode (default: the configuration's, namespaces, which records "
        "none of these handsets); all shows what recording every step costs",
    )
    parser.add_argument("--drive", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.drive is not None:  # the process valgrind counts
        drive(args.drive, args.window, phones=args.phones)
        return 0
    print(count(args.n, args.window, phones=args.phones, record=args.record).table())
    per_message = None
    if args.instructions:
        per_message = instructions_per_message(window=args.window, phones=args.phones)
        print(f"\ninstructions per message (valgrind): {per_message:,.0f}")
    if args.layers:
        shares = sampled_by_layer(window=args.window, phones=args.phones)
        print(f"\n{'layer':28} {'share (py-spy)':>15}" + (f" {'instructions':>13}" if per_message else ""))
        for layer, share in sorted(shares.items(), key=lambda item: -item[1]):
            line = f"{layer:28} {share:15.0%}"
            print(line + (f" {share * per_message:13,.0f}" if per_message else ""))
    if args.cpu:
        median = cpu_per_message(window=args.window, phones=args.phones)
        print(f"\nsmsgw CPU per message, no I/O: {median * 1e6:.1f} µs (median of 5 runs of 20,000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
