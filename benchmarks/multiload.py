"""Load from many binds at once: B transceivers of one account, each keeping a window.

Run as ``python -m benchmarks.loadgen --port P --binds 10 --window 10 -n 20000``; it prints
one JSON object on one line, with the keys of :func:`benchmarks.loadgen.run_load` plus
``binds``. A carrier rarely has one bind, and the receipts of one account's binds are shared
among them: a receipt may come back on another bind than its submit went out on, so
receipts are matched to message_ids across all binds, as an SMS gateway with a bind pool does.

One thread serves every connection: a read on whichever socket is ready, then each bind
with room in its window sends its next submits in one write, as :mod:`benchmarks.loadgen`
does for one bind. Submits are encoded before the clock starts.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections import Counter
from typing import Any

from benchmarks import wire
from benchmarks.loadgen import _DELIVER_SM_RESP, ProtocolFailure, _await_pdu, _connect, summarize

_RECV_SIZE = 1 << 18


class _Bind:
    """One connection's share of the load."""

    def __init__(self, sock: socket.socket, n: int) -> None:
        self.sock = sock
        self.n = n
        self.stream, self.pdu_len = wire.submit_sm_stream(n)
        self.sent_at = [0] * (n + 3)
        self.next_seq = 1
        self.inflight = 0
        self.buf = b""
        self.out = bytearray()


def run_multi(
    host: str,
    port: int,
    system_id: str,
    password: str,
    n: int,
    binds: int,
    window: int,
    stall_timeout: float = 10.0,
    receipt_timeout: float = 5.0,
) -> dict[str, Any]:
    """Bind ``binds`` transceivers, send ``n`` submit_sm among them (each keeping at most
    ``window`` unanswered), answer every receipt on the bind it came on."""
    shares = [n // binds + (1 if k < n % binds else 0) for k in range(binds)]
    conns: list[_Bind] = []
    selector = selectors.DefaultSelector()
    try:
        for share in shares:
            sock = _connect(host, port, stall_timeout)
            conns.append(_Bind(sock, share))
            bind_seq = share + 1
            sock.sendall(wire.bind_transceiver(system_id, password, bind_seq))
            status = _await_pdu(sock, wire.BIND_TRANSCEIVER_RESP, bind_seq, stall_timeout)
            if status:
                raise ProtocolFailure(f"bind_transceiver {len(conns)} refused with status 0x{status:08x}")
        for conn in conns:
            selector.register(conn.sock, selectors.EVENT_READ, conn)
        return _drive(conns, selector, n, binds, window, stall_timeout, receipt_timeout)
    finally:
        selector.close()
        for conn in conns:
            conn.sock.close()


def _drive(  # noqa: C901 - one hot loop, kept in one frame on purpose (local lookups)
    conns: list[_Bind],
    selector: selectors.BaseSelector,
    n: int,
    binds: int,
    window: int,
    stall_timeout: float,
    receipt_timeout: float,
) -> dict[str, Any]:
    latencies: list[int] = []
    resp_ids: list[bytes] = []
    receipt_ids: list[bytes | None] = []
    errors: Counter[int] = Counter()
    responses = ok_responses = 0
    t_first = t_last_resp = t_last_receipt = 0
    stopped = "complete"
    unpack_from, perf_ns = wire.HEADER.unpack_from, time.perf_counter_ns
    pack_dsr, receipted_id = _DELIVER_SM_RESP.pack, wire.receipted_id
    cpu_start = time.process_time()
    ready = conns
    deadline_wait = stall_timeout
    while True:
        for conn in ready:
            if conn.inflight < window and conn.next_seq <= conn.n:
                k = min(window - conn.inflight, conn.n + 1 - conn.next_seq)
                start = (conn.next_seq - 1) * conn.pdu_len
                conn.out += conn.stream[start : start + k * conn.pdu_len]
                now = perf_ns()
                t_first = t_first or now
                conn.sent_at[conn.next_seq : conn.next_seq + k] = [now] * k
                conn.next_seq += k
                conn.inflight += k
            if conn.out:
                conn.sock.sendall(conn.out)
                conn.out.clear()
        events = selector.select(deadline_wait)
        if not events:
            stopped = "stalled" if responses < n else "receipt timeout"
            break
        now = perf_ns()
        ready = []
        for key, _ in events:
            conn = key.data
            chunk = conn.sock.recv(_RECV_SIZE)
            if not chunk:
                raise ProtocolFailure("connection closed by the server during the run")
            data = conn.buf + chunk if conn.buf else chunk
            size, off = len(data), 0
            while size - off >= 16:
                length, command_id, status, seq = unpack_from(data, off)
                end = off + length
                if end > size:
                    break
                if command_id == wire.SUBMIT_SM_RESP:
                    conn.inflight -= 1
                    responses += 1
                    t_last_resp = now
                    latencies.append(now - conn.sent_at[seq])
                    if status:
                        errors[status] += 1
                    else:
                        ok_responses += 1
                        nul = data.find(0, off + 16, end)
                        resp_ids.append(data[off + 16 : nul if nul >= 0 else end])
                elif command_id == wire.DELIVER_SM:
                    t_last_receipt = now
                    receipt_ids.append(receipted_id(data, off, end))
                    conn.out += pack_dsr(17, wire.DELIVER_SM_RESP, 0, seq)
                elif command_id == wire.ENQUIRE_LINK:
                    conn.out += wire.header_only(wire.ENQUIRE_LINK_RESP, seq)
                elif command_id == wire.GENERIC_NACK:
                    errors[status or wire.GENERIC_NACK] += 1
                    if 1 <= seq <= conn.n:
                        conn.inflight -= 1
                        responses += 1
                        t_last_resp = now
                elif length < 16:
                    raise ProtocolFailure(f"impossible command_length {length}")
                off = end
            conn.buf = data[off:]
            ready.append(conn)
        if responses >= n:
            if len(receipt_ids) >= ok_responses:
                break
            deadline_wait = receipt_timeout
    cpu_used = time.process_time() - cpu_start
    for conn in conns:
        if conn.out:
            conn.sock.sendall(conn.out)
    return {
        **summarize(
            n, window, responses, ok_responses, latencies, resp_ids, receipt_ids, errors,
            (t_first, t_last_resp, t_last_receipt), cpu_used,
        ),
        "binds": binds,
        "stopped": stopped,
    }  # fmt: skip
