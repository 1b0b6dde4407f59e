"""``python -m benchmarks.soak --minutes 10``: load with faults and misbehaving clients, then the
count of what was lost (it must be 0) and the carrier's memory over time.

One smsgw (file store, injected faults: every 97th submit throttled, every 89th delivery
undeliverable, every 101st receipt sent twice) takes, at once:

- the load: a transceiver that keeps ``--window`` submit_sm with receipts in flight;
- a slow receiver: a transceiver that submits with receipts and reads them lazily;
- misbehaving clients: garbage bytes, binds dropped halfway, unbinds with submits in flight,
  wrong passwords, PDUs that break the rules.

Every ``--every`` seconds it prints the server's RSS and the counts so far; at the end, what
was sent, accepted (got a message_id), stored, receipted, and lost: accepted but not stored, or
stored without a receipt after a grace period. Exit status 1 when anything was lost.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from smsgw.smpp import codec
from smsgw.smpp.constants import CommandId as C
from smsgw.smpp.framing import PduBuffer
from smsgw.smpp.pdu import BindTransceiver, Unbind, UnbindResp
from smsgw.smpp.sm import DeliverSmResp, SubmitSm

ROOT = Path(__file__).resolve().parent.parent
FAULTS = """
[[faults]]
name = "soak-throttle"
effect = "refuse_submit"
every = 97
[[faults]]
name = "soak-undeliverable"
effect = "fail_delivery"
every = 89
[[faults]]
name = "soak-twice"
effect = "duplicate_receipt"
every = 101
"""
PHONES = [f"86138{n:08d}" for n in range(1, 51)]


class Tally:
    """What the ESMEs saw, shared by the client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent = 0
        self.refused: Counter[int] = Counter()
        self.accepted: set[str] = set()
        self.receipts: Counter[str] = Counter()

    def snapshot(self) -> tuple[int, int, int, int]:
        with self.lock:
            return self.sent, len(self.accepted), sum(self.refused.values()), len(self.receipts)


class Esme:
    """A raw SMPP transceiver that answers deliver_sm and records into a :class:`Tally`."""

    def __init__(self, port: int, tally: Tally, *, read_delay: float = 0.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.tally = tally
        self.read_delay = read_delay
        self.buffer = PduBuffer()
        self.sequence = 1
        self.in_flight = 0
        self.sock.sendall(codec.encode(BindTransceiver(1, system_id="smsgw", password="smsgw")))
        self.closed = False

    def submit(self, count: int) -> None:
        pdus = []
        for _ in range(count):
            self.sequence += 1
            pdus.append(
                codec.encode(
                    SubmitSm(
                        self.sequence, source_addr="12345", dest_addr_ton=1, dest_addr_npi=1,
                        destination_addr=random.choice(PHONES), registered_delivery=1,
                        short_message=f"soak {self.sequence}".encode(),
                    )
                )
            )  # fmt: skip
        self.sock.sendall(b"".join(pdus))
        self.in_flight += count
        with self.tally.lock:
            self.tally.sent += count

    def read(self, timeout: float) -> None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return
        if not data:
            self.closed = True
            return
        answers = []
        for raw in self.buffer.feed(data):
            pdu = codec.decode(raw)
            if pdu.command_id == C.SUBMIT_SM_RESP:
                self.in_flight -= 1
                with self.tally.lock:
                    if pdu.command_status == 0:
                        self.tally.accepted.add(pdu.message_id)
                    else:
                        self.tally.refused[pdu.command_status] += 1
            elif pdu.command_id == C.DELIVER_SM:
                with self.tally.lock:
                    self.tally.receipts[pdu.receipted_message_id] += 1
                answers.append(codec.encode(DeliverSmResp(pdu.sequence_number)))
            elif pdu.command_id == C.UNBIND:
                answers.append(codec.encode(UnbindResp(pdu.sequence_number)))
        if answers:
            if self.read_delay:
                time.sleep(self.read_delay)
            self.sock.sendall(b"".join(answers))

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the carrier may have closed first; nothing to unbind
            self.sock.sendall(codec.encode(Unbind(self.sequence + 1)))
            time.sleep(0.2)
        self.sock.close()


def load(port: int, tally: Tally, stop: threading.Event, window: int) -> None:
    esme = Esme(port, tally)
    while not stop.is_set() and not esme.closed:
        if esme.in_flight < window:
            esme.submit(min(100, window - esme.in_flight))
        esme.read(0.05)
    drain(esme)


def slow_receiver(port: int, tally: Tally, stop: threading.Event) -> None:
    esme = Esme(port, tally, read_delay=0.2)
    while not stop.is_set() and not esme.closed:
        if esme.in_flight < 5:
            esme.submit(5)
        esme.read(0.5)
    drain(esme)


def drain(esme: Esme) -> None:
    """Read until the submits in flight are answered (or 10 s), then unbind."""
    deadline = time.monotonic() + 10
    while esme.in_flight > 0 and not esme.closed and time.monotonic() < deadline:
        esme.read(0.2)
    esme.close()


def misbehave(port: int, stop: threading.Event, counts: Counter[str]) -> None:
    """Garbage, half binds, abrupt closes, wrong passwords, forbidden PDUs: in a loop."""
    rng = random.Random(1)
    while not stop.is_set():
        kind = rng.choice(["garbage", "half", "abrupt", "password", "unbound_submit"])
        counts[kind] += 1
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                if kind == "garbage":
                    sock.sendall(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))))
                elif kind == "half":
                    raw = codec.encode(BindTransceiver(1, system_id="smsgw", password="smsgw"))
                    sock.sendall(raw[: len(raw) // 2])
                elif kind == "abrupt":
                    sock.sendall(codec.encode(BindTransceiver(1, system_id="smsgw", password="smsgw")))
                    sock.sendall(codec.encode(SubmitSm(2, destination_addr=PHONES[0], short_message=b"x")))
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
                elif kind == "password":
                    sock.sendall(codec.encode(BindTransceiver(1, system_id="smsgw", password="nope")))
                else:
                    sock.sendall(codec.encode(SubmitSm(1, destination_addr=PHONES[0], short_message=b"x")))
                sock.settimeout(0.2)
                with contextlib.suppress(TimeoutError, OSError):  # an answer, a close or nothing: all fine
                    sock.recv(4096)
        except OSError:
            counts["refused_connection"] += 1
        stop.wait(0.05)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def start(workdir: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    config = workdir / "soak.toml"
    # Misbehaving clients all come from 127.0.0.1: the bind limit would lock the load out.
    config.write_text("[smpp]\nmax_failed_binds = 0\n" + FAULTS, encoding="utf-8")
    ports = workdir / "ports.json"
    command = [
        sys.executable, "-m", "smsgw", "serve", "--smpp-port", "0", "--http-port", "0", "--no-merchant",
        "--db", str(workdir / "soak.db"), "--ports-file", str(ports), "--config", str(config), "--log-level", "warn",
    ]  # fmt: skip
    log = open(workdir / "serve.log", "wb")  # noqa: SIM115 - open for the server's life
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while not ports.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"smsgw did not start: {(workdir / 'serve.log').read_text()[-2000:]}")
        time.sleep(0.05)
    return process, json.loads(ports.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to load (default 10)")
    parser.add_argument("--window", type=int, default=100, help="the load's submits in flight (default 100)")
    parser.add_argument(
        "--every", type=float, default=30.0, help="seconds between progress lines (default 30)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="smsgw-soak-") as directory:
        workdir = Path(directory)
        process, ports = start(workdir)
        port, tally, stop, misbehaved = int(ports["smpp"]), Tally(), threading.Event(), Counter[str]()
        threads = [
            threading.Thread(target=load, args=(port, tally, stop, args.window)),
            threading.Thread(target=slow_receiver, args=(port, tally, stop)),
            threading.Thread(target=misbehave, args=(port, stop, misbehaved)),
        ]
        for thread in threads:
            thread.start()
        began = time.monotonic()
        rss: list[int] = []
        print(f"{'min':>6} {'RSS MiB':>8} {'sent':>10} {'accepted':>10} {'refused':>8} {'receipted':>10}")
        try:
            while (elapsed := time.monotonic() - began) < args.minutes * 60:
                time.sleep(min(args.every, args.minutes * 60 - elapsed))
                rss.append(rss_kib(process.pid))
                sent, accepted, refused, receipted = tally.snapshot()
                minutes = (time.monotonic() - began) / 60
                print(
                    f"{minutes:6.1f} {rss[-1] / 1024:8.1f} {sent:10d} {accepted:10d} {refused:8d} {receipted:10d}",
                    flush=True,
                )
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
        # Receipts still owed (the slow receiver's, retries) get a grace period.
        grace = time.monotonic() + 30
        while time.monotonic() < grace:
            with tally.lock:
                owed = tally.accepted - set(tally.receipts)
            if not owed:
                break
            collect(port, tally, owed, grace - time.monotonic())
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        with sqlite3.connect(workdir / "soak.db") as db:
            stored = {row[0] for row in db.execute("SELECT message_id FROM messages WHERE direction = 'MT'")}
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        db.close()
    with tally.lock:
        not_stored = tally.accepted - stored
        no_receipt = tally.accepted - set(tally.receipts)
        twice = sum(1 for n in tally.receipts.values() if n > 1)
        print(
            f"\nsent {tally.sent}, accepted {len(tally.accepted)}, refused {sum(tally.refused.values())} "
            f"({', '.join(f'0x{s:02X}: {n}' for s, n in sorted(tally.refused.items()))}), "
            f"stored {len(tally.accepted & stored)}, receipted {len(tally.accepted) - len(no_receipt)} "
            f"({twice} twice, as injected)"
        )
    print(f"misbehaving connections: {dict(misbehaved)}; store integrity: {integrity}")
    if rss:
        print(
            f"RSS MiB: first {rss[0] / 1024:.1f}, median {sorted(rss)[len(rss) // 2] / 1024:.1f}, last {rss[-1] / 1024:.1f}, max {max(rss) / 1024:.1f}"
        )
    lost = len(not_stored | no_receipt)
    print(f"LOST: {lost} ({len(not_stored)} accepted but not stored, {len(no_receipt)} without a receipt)")
    return 1 if lost or integrity != "ok" else 0


def collect(port: int, tally: Tally, owed: set[str], seconds: float) -> None:
    """Bind once more and take the receipts the carrier still holds."""
    esme = Esme(port, tally)
    deadline = time.monotonic() + max(seconds, 1)
    while time.monotonic() < deadline and not esme.closed:
        esme.read(0.2)
        with tally.lock:
            if owed <= set(tally.receipts):
                break
    esme.close()


if __name__ == "__main__":
    sys.exit(main())
