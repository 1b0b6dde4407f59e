"""An event stream whose client stops reading cannot grow the server's memory: past
``[http] stream_buffer`` behind it skips events (``event: lost``), and a client that takes
nothing for ``[http] idle_timeout`` is dropped, while one that reads keeps its stream."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from pathlib import Path

import pytest

from smsgw.smpp.constants import CommandId as C
from tests.e2e.conftest import DEMO, Smsgw, raw_pdu, submit_sm_body

pytestmark = pytest.mark.e2e

LOAD_SECONDS = 4.0
BATCH = 500


def rss_mb(server: Smsgw) -> float:
    assert server.process is not None
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/<pid>/status")


def open_stream(server: Smsgw, receive_buffer: int | None = None) -> socket.socket:
    """GET /api/events on a raw socket; return it once the response has begun."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:  # a small window, so the server's side backs up soon
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", server.ports["http"]))
    sock.sendall(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert sock.recv(1024).startswith(b"HTTP/1.1 200 ")
    return sock


def submit_load(server: Smsgw, connect, seconds: float) -> int:
    """Pipeline submit_sm in batches for ``seconds``; return how many were answered."""
    session = connect(server, raw=True)
    assert session.bind("transmitter").command_status == 0
    body = submit_sm_body(destination_addr=DEMO[1].encode(), registered_delivery=0)
    answered = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sequences = [session.next_sequence() for _ in range(BATCH)]
        session.send(b"".join(raw_pdu(C.SUBMIT_SM, body, sequence) for sequence in sequences))
        for _ in range(BATCH):
            assert session.read_raw() is not None, "the server closed the ESME's connection"
        answered += BATCH
    return answered


class Reader(threading.Thread):
    """Reads a stream until it closes; counts the events."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.events = 0
        self.closed = False

    def run(self) -> None:
        self.sock.settimeout(30)
        # A reset or a 30 s silence ends the reading as a close does: either way the stream
        # is over for this reader, and the test asserts it was not.
        with contextlib.suppress(OSError):
            while chunk := self.sock.recv(65536):
                self.events += chunk.count(b"\nevent: ") + chunk.startswith(b"event: ")
        self.closed = True


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """Whether the server closes ``sock`` within ``timeout`` (what it had sent is read and skipped)."""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            if not sock.recv(1 << 20):
                return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
    return False


def load_with_rss(server: Smsgw, connect, seconds: float) -> tuple[int, float]:
    """Submit for ``seconds``; return how many were answered and how much RSS grew at most (MB)."""
    submit_load(server, connect, 0.5)  # warm up: the first turns allocate what every later one reuses
    before = rss_mb(server)
    peak = before
    sampling = True

    def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, rss_mb(server))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        answered = submit_load(server, connect, seconds)
    finally:
        sampling = False
        sampler.join()
    print(f"{answered} submits in {seconds:g} s; RSS {before:.0f} -> peak {peak:.0f} MB")
    assert answered >= 4 * BATCH
    return answered, peak - before


def test_a_stream_that_falls_behind_skips_ahead_with_a_lost_marker(start_server, connect) -> None:
    server: Smsgw = start_server("[http]\nstream_buffer = 65536\n")
    stalled = open_stream(server, receive_buffer=4096)
    try:
        answered, growth = load_with_rss(server, connect, LOAD_SECONDS)
        assert growth < 18, f"RSS grew {growth:.0f} MB with a stream nobody reads"
        # The client reads again: what the server kept, then how many events it skipped.
        seen = b""
        deadline = time.monotonic() + 5
        stalled.settimeout(0.5)
        while b"event: lost\n" not in seen and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                seen = seen[-200:] + stalled.recv(1 << 20)
        marker = re.search(rb'event: lost\ndata: \{"type": "lost", "events": (\d+)\}', seen)
        assert marker is not None, "no lost marker after the stream fell behind"
        assert 0 < int(marker[1]) <= 10 * answered
    finally:
        stalled.close()


def test_a_stream_nobody_reads_is_dropped_and_one_that_reads_is_kept(start_server, connect) -> None:
    server: Smsgw = start_server("[http]\nidle_timeout = 2\n")
    stalled = open_stream(server, receive_buffer=4096)
    reader = Reader(open_stream(server))
    reader.start()
    try:
        answered, growth = load_with_rss(server, connect, LOAD_SECONDS)
        assert closed_by_server(stalled, timeout=2), "the stalled stream was kept open"
        assert growth < 18, f"RSS grew {growth:.0f} MB with a stream nobody reads"
        assert not reader.closed and reader.events > answered // 2, (reader.closed, reader.events, answered)
        assert "event stream of 127.0.0.1:" in server.stderr()
    finally:
        reader.sock.close()
        stalled.close()
