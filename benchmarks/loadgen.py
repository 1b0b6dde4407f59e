"""Windowed SMPP load generator: one transceiver bind, N submit_sm, every receipt answered.

Run as ``python -m benchmarks.loadgen --host H --port P --system-id X --password Y -n N
--window W``; it prints one JSON object on one line (see :func:`run_load` for the keys).

The generator must not be the bottleneck, so the hot loop does almost nothing per message:

* every submit_sm is encoded before the clock starts (:func:`benchmarks.wire.submit_sm_stream`),
  and a window's worth is one slice of that buffer sent with one ``send``;
* a response is read only as far as its header and message_id, a receipt only as far as its
  receipted id; all receipts of one read are answered in that same single write;
* times are taken once per write and once per read, not once per PDU: PDUs written together
  left together, and PDUs read together arrived together.

Its own CPU time per message is reported (``client_cpu_us_per_msg``) so that a run can show
who was saturated.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import struct
import sys
import time
from collections import Counter
from typing import Any

from benchmarks import wire

#: deliver_sm_resp: header plus a NULL message_id (SMPP v3.4 §4.6.2).
_DELIVER_SM_RESP = struct.Struct(">IIIIx")
_RECV_SIZE = 1 << 18


class ProtocolFailure(Exception):
    """The peer refused the bind, closed the connection or sent something unusable."""


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    """Open a blocking TCP connection with Nagle's algorithm off and kernel timeouts.

    A blocking socket costs one system call per read; Python's own socket timeout would add a
    ``poll`` before each one, and a non-blocking socket a failed ``recv`` plus a ``select``,
    which at window 1 is a measurable share of the round trip. The kernel's SO_RCVTIMEO and
    SO_SNDTIMEO still bound every wait: an expired wait raises :class:`BlockingIOError`.
    """
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _set_kernel_timeout(sock, socket.SO_RCVTIMEO, timeout)
    _set_kernel_timeout(sock, socket.SO_SNDTIMEO, timeout)
    return sock


def _set_kernel_timeout(sock: socket.socket, option: int, seconds: float) -> None:
    """Set SO_RCVTIMEO or SO_SNDTIMEO (a struct timeval) on a blocking socket."""
    whole = int(seconds)
    sock.setsockopt(socket.SOL_SOCKET, option, struct.pack("@ll", whole, int((seconds - whole) * 1e6)))


def _await_pdu(sock: socket.socket, want: int, sequence: int, timeout: float) -> int:
    """Read until the response ``want`` (or a generic_nack) to ``sequence``; return its status.

    Used outside the timed section only (bind, unbind), so it may be simple: any deliver_sm
    seen meanwhile is answered, anything else is ignored.
    """
    deadline = time.monotonic() + timeout
    buf = b""
    while True:
        try:
            if time.monotonic() > deadline:
                raise BlockingIOError
            chunk = sock.recv(_RECV_SIZE)
        except BlockingIOError:
            raise ProtocolFailure(f"no response 0x{want:08x} within {timeout:.0f} s") from None
        if not chunk:
            raise ProtocolFailure("connection closed by the server")
        buf += chunk
        off = 0
        while len(buf) - off >= 16:
            length, command_id, status, seq = wire.HEADER.unpack_from(buf, off)
            if len(buf) - off < length:
                break
            if seq == sequence and command_id == want:
                return int(status)
            if seq == sequence and command_id == wire.GENERIC_NACK:
                return int(status) or wire.GENERIC_NACK  # a nack without a status is still a no
            if command_id == wire.DELIVER_SM:
                sock.sendall(_DELIVER_SM_RESP.pack(17, wire.DELIVER_SM_RESP, 0, seq))
            off += length
        buf = buf[off:]


def _percentile(ordered: list[int], fraction: float) -> float:
    """Nearest-rank percentile of sorted nanosecond samples, in milliseconds."""
    if not ordered:
        return 0.0
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered)))) - 1
    return ordered[rank] / 1e6


def _match(resp_ids: list[bytes], receipt_ids: list[bytes | None]) -> dict[str, int]:
    """Check that every submit_sm_resp message_id is named by exactly one receipt.

    :returns: ``matched`` ids with exactly one receipt, ``unmatched`` ids with none or several
        (or given twice by the server), ``orphan_receipts`` naming no id we were given.
    """
    issued = Counter(resp_ids)
    named = Counter(receipt_ids)
    matched = sum(1 for mid, c in issued.items() if c == 1 and named[mid] == 1)
    orphans = sum(c for mid, c in named.items() if mid not in issued)
    return {
        "matched": matched,
        "unmatched": len(resp_ids) - matched,
        "orphan_receipts": orphans,
    }


def run_load(  # noqa: C901 - one hot loop, kept in one frame on purpose (local lookups)
    host: str,
    port: int,
    system_id: str,
    password: str,
    n: int,
    window: int,
    stall_timeout: float = 10.0,
    receipt_timeout: float = 5.0,
) -> dict[str, Any]:
    """Bind, send ``n`` submit_sm keeping at most ``window`` unanswered, answer receipts.

    :param stall_timeout: give up when nothing arrives for this long while responses are due.
    :param receipt_timeout: after the last response, wait this long for missing receipts.
    :returns: a JSON-ready dict; rates are per second over the time from the first submit_sm
        to the last submit_sm_resp (``submit_rate``) or to the last receipt (``receipt_rate``).
    :raises ProtocolFailure: if the bind fails or the server closes the connection.
    """
    stream, pdu_len = wire.submit_sm_stream(n)
    view = memoryview(stream)
    bind_seq, unbind_seq = n + 1, n + 2
    sock = _connect(host, port, stall_timeout)
    try:
        sock.sendall(wire.bind_transceiver(system_id, password, bind_seq))
        status = _await_pdu(sock, wire.BIND_TRANSCEIVER_RESP, bind_seq, stall_timeout)
        if status:
            raise ProtocolFailure(f"bind_transceiver refused with status 0x{status:08x}")

        sent_at = [0] * (n + 3)
        latencies: list[int] = []
        resp_ids: list[bytes] = []
        receipt_ids: list[bytes | None] = []
        errors: Counter[int] = Counter()
        out = bytearray()
        buf = b""
        next_seq, inflight, responses, ok_responses = 1, 0, 0, 0
        t_first = t_last_resp = t_last_receipt = 0
        stopped = "complete"
        receipt_wait = False
        # Local names: the loop below runs once per read and its inner loop once per PDU.
        unpack_from, perf_ns = wire.HEADER.unpack_from, time.perf_counter_ns
        pack_dsr, receipted_id = _DELIVER_SM_RESP.pack, wire.receipted_id
        lat_append, id_append, rid_append = latencies.append, resp_ids.append, receipt_ids.append
        recv, sendall = sock.recv, sock.sendall
        cpu_start = time.process_time()

        while True:
            if inflight < window and next_seq <= n:
                k = min(window - inflight, n + 1 - next_seq)
                start = (next_seq - 1) * pdu_len
                out += view[start : start + k * pdu_len]
                now = perf_ns()
                t_first = t_first or now
                sent_at[next_seq : next_seq + k] = [now] * k
                next_seq += k
                inflight += k
            if out:
                sendall(out)
                out.clear()
            try:
                chunk = recv(_RECV_SIZE)
            except BlockingIOError:
                stopped = "stalled" if responses < n else "receipt timeout"
                break
            if not chunk:
                raise ProtocolFailure("connection closed by the server during the run")
            now = perf_ns()
            data = buf + chunk if buf else chunk
            size = len(data)
            off = 0
            while size - off >= 16:
                length, command_id, status, seq = unpack_from(data, off)
                end = off + length
                if end > size:
                    break
                if command_id == wire.SUBMIT_SM_RESP:
                    inflight -= 1
                    responses += 1
                    t_last_resp = now
                    lat_append(now - sent_at[seq])
                    if status:
                        errors[status] += 1
                    else:
                        ok_responses += 1
                        nul = data.find(0, off + 16, end)
                        id_append(data[off + 16 : nul if nul >= 0 else end])
                elif command_id == wire.DELIVER_SM:
                    t_last_receipt = now
                    rid_append(receipted_id(data, off, end))
                    out += pack_dsr(17, wire.DELIVER_SM_RESP, 0, seq)
                elif command_id == wire.ENQUIRE_LINK:
                    out += wire.header_only(wire.ENQUIRE_LINK_RESP, seq)
                elif command_id == wire.GENERIC_NACK:
                    # A nack for a submit ends that request; count it as an error status.
                    errors[status or wire.GENERIC_NACK] += 1
                    if 1 <= seq <= n:
                        inflight -= 1
                        responses += 1
                        t_last_resp = now
                elif length < 16:
                    raise ProtocolFailure(f"impossible command_length {length}")
                off = end
            buf = data[off:]
            if responses >= n:
                if len(receipt_ids) >= ok_responses:
                    break
                if not receipt_wait:
                    receipt_wait = True
                    _set_kernel_timeout(sock, socket.SO_RCVTIMEO, receipt_timeout)
        cpu_used = time.process_time() - cpu_start

        if out:
            sock.sendall(out)
        _set_kernel_timeout(sock, socket.SO_RCVTIMEO, 5.0)
        sock.sendall(wire.header_only(wire.UNBIND, unbind_seq))
        try:
            unbind_ok = _await_pdu(sock, wire.UNBIND_RESP, unbind_seq, 5.0) == 0
        except ProtocolFailure:
            unbind_ok = False
    finally:
        sock.close()

    return {
        **summarize(
            n, window, responses, ok_responses, latencies, resp_ids, receipt_ids, errors,
            (t_first, t_last_resp, t_last_receipt), cpu_used,
        ),
        "stopped": stopped,
        "unbind_ok": unbind_ok,
    }  # fmt: skip


def summarize(
    n: int,
    window: int,
    responses: int,
    ok_responses: int,
    latencies: list[int],
    resp_ids: list[bytes],
    receipt_ids: list[bytes | None],
    errors: Counter[int],
    times: tuple[int, int, int],
    cpu_used: float,
) -> dict[str, Any]:
    """A run's figures, JSON-ready: rates over the time from the first submit_sm to the last
    submit_sm_resp (``submit_rate``) or to the last receipt (``receipt_rate``).

    :param times: ``perf_counter_ns`` of the first submit, the last response, the last receipt.
    """
    t_first, t_last_resp, t_last_receipt = times
    latencies.sort()
    submit_s = (t_last_resp - t_first) / 1e9 if t_last_resp else 0.0
    receipt_s = (t_last_receipt - t_first) / 1e9 if t_last_receipt else 0.0
    return {
        "n": n,
        "window": window,
        "responses": responses,
        "ok_responses": ok_responses,
        "receipts": len(receipt_ids),
        "submit_rate": responses / submit_s if submit_s else 0.0,
        "receipt_rate": len(receipt_ids) / receipt_s if receipt_s else 0.0,
        "submit_seconds": submit_s,
        "receipt_seconds": receipt_s,
        "p50_ms": _percentile(latencies, 0.50),
        "p99_ms": _percentile(latencies, 0.99),
        "max_ms": latencies[-1] / 1e6 if latencies else 0.0,
        "errors": sum(errors.values()),
        "error_statuses": {f"0x{s:08x}": c for s, c in sorted(errors.items())},
        **_match(resp_ids, receipt_ids),
        "client_cpu_us_per_msg": cpu_used / n * 1e6 if n else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: run one load and print its result as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadgen", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--system-id", default="smsgw")
    parser.add_argument("--password", default="smsgw")
    parser.add_argument("-n", type=int, default=20_000, help="number of submit_sm")
    parser.add_argument("--window", type=int, default=100, help="max unanswered submit_sm (per bind)")
    parser.add_argument(
        "--binds",
        type=int,
        default=1,
        help="transceivers of the account sharing the load (benchmarks.multiload)",
    )
    parser.add_argument("--stall-timeout", type=float, default=10.0)
    parser.add_argument("--receipt-timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 0x7FFFFFF0 or args.window < 1 or not 1 <= args.binds <= args.n:
        parser.error("-n, --window and --binds must be at least 1, and -n at least --binds")
    try:
        peer = (args.host, args.port, args.system_id, args.password, args.n)
        timeouts = (args.stall_timeout, args.receipt_timeout)
        if args.binds == 1:
            result = run_load(*peer, args.window, *timeouts)
        else:
            from benchmarks.multiload import run_multi  # it builds on this module

            result = run_multi(*peer, args.binds, args.window, *timeouts)
    except (OSError, ProtocolFailure) as exc:
        print(json.dumps({"n": args.n, "window": args.window, "error": str(exc)}))
        return 2
    except (IndexError, ValueError, struct.error) as exc:
        # The hot loop trusts the server's framing; a malformed PDU lands here.
        error = f"malformed PDU from the server: {exc!r}"
        print(json.dumps({"n": args.n, "window": args.window, "error": error}))
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
