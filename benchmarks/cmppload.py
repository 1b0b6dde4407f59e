"""Windowed CMPP 3.0 load generator: one SP connection, N CMPP_SUBMIT asking for a status
report, every report answered; the same load shape as :mod:`benchmarks.loadgen` (SMPP).

Run as ``python -m benchmarks.cmppload --host H --port P --system-id SP_ID --password SECRET
-n N --window W``; it prints one JSON object on one line, with the keys of
:func:`benchmarks.loadgen.summarize`.

Its PDUs are packed here from the specification's layouts (CMPP V3.0 §7.4), not by smsgw's
codec, so the code under test does not write its own load. As the SMPP generator does, it
encodes every SUBMIT before the clock starts, sends a window's worth with one ``send``,
reads a SUBMIT_RESP only as far as its Msg_Id and a report only as far as its Msg_Id, and
answers all reports of one read in one write.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import struct
import sys
import time
from collections import Counter
from typing import Any

from benchmarks.loadgen import ProtocolFailure, _connect, _set_kernel_timeout, summarize

HEADER = struct.Struct(">III")
CONNECT, CONNECT_RESP = 0x00000001, 0x80000001
TERMINATE, TERMINATE_RESP = 0x00000002, 0x80000002
SUBMIT, SUBMIT_RESP = 0x00000004, 0x80000004
DELIVER, DELIVER_RESP = 0x00000005, 0x80000005
ACTIVE_TEST, ACTIVE_TEST_RESP = 0x00000008, 0x80000008
#: Where a 3.0 DELIVER's Registered_Delivery and Msg_Content start (header included).
_DELIVER_REGISTERED, _DELIVER_CONTENT = 87, 89
_U64 = struct.Struct(">Q")
_DELIVER_RESP = struct.Struct(">IIIQI")
_RECV_SIZE = 1 << 18
SERVICE_CODE = b"1065712345"
DEST_PREFIX = b"86138000"
TEXT = "Hello from the smsgw benchmark".encode("utf-16-be")


def _text(value: bytes, size: int) -> bytes:
    return value.ljust(size, b"\0")


def connect_pdu(sp_id: str, secret: str, sequence: int) -> bytes:
    """CMPP_CONNECT (3.0) with the authenticator of now."""
    stamp = time.strftime("%m%d%H%M%S", time.localtime())
    digest = hashlib.md5(sp_id.encode() + bytes(9) + secret.encode() + stamp.encode()).digest()
    body = _text(sp_id.encode(), 6) + digest + bytes((0x30,)) + struct.pack(">I", int(stamp))
    return HEADER.pack(12 + len(body), CONNECT, sequence) + body


def submit_stream(sp_id: str, count: int) -> tuple[bytes, int]:
    """``count`` back-to-back 3.0 SUBMITs (Sequence_Id 1..count), UCS2, a report asked for,
    each to one number; every one the same length."""
    head = (
        bytes(8)  # Msg_Id: the gateway's to give
        + bytes((1, 1, 1, 0))  # Pk_total, Pk_number, Registered_Delivery, Msg_level
        + _text(b"BENCH", 10)
        + bytes((0,))
        + bytes(32)
        + bytes((0, 0, 0, 8))  # Fee_terminal_type, TP_pId, TP_udhi, Msg_Fmt (UCS2)
        + _text(sp_id.encode(), 6)
        + b"01"
        + _text(b"000000", 6)
        + bytes(17)
        + bytes(17)
        + _text(SERVICE_CODE, 21)
        + bytes((1,))
    )
    tail = bytes((0, len(TEXT))) + TEXT + bytes(20)
    length = 12 + len(head) + 32 + len(tail)
    parts = [
        HEADER.pack(length, SUBMIT, k) + head + _text(DEST_PREFIX + b"%05d" % (k % 100_000), 32) + tail
        for k in range(1, count + 1)
    ]
    return b"".join(parts), length


def _await(sock: socket.socket, want: int, sequence: int, timeout: float) -> bytes:
    """Read until the response ``want`` to ``sequence`` (outside the timed section); its body."""
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
        while len(buf) >= 12:
            length, command_id, seq = HEADER.unpack_from(buf)
            if len(buf) < length:
                break
            if command_id == want and seq == sequence:
                return buf[12:length]
            if command_id == DELIVER:
                sock.sendall(_DELIVER_RESP.pack(24, DELIVER_RESP, seq, _U64.unpack_from(buf, 12)[0], 0))
            buf = buf[length:]


def run_load(  # noqa: C901 - one hot loop, kept in one frame on purpose (local lookups)
    host: str,
    port: int,
    sp_id: str,
    secret: str,
    n: int,
    window: int,
    stall_timeout: float = 10.0,
    receipt_timeout: float = 5.0,
) -> dict[str, Any]:
    """Connect, send ``n`` SUBMITs keeping at most ``window`` unanswered, answer reports."""
    stream, pdu_len = submit_stream(sp_id, n)
    view = memoryview(stream)
    connect_seq, terminate_seq = n + 1, n + 2
    sock = _connect(host, port, stall_timeout)
    try:
        sock.sendall(connect_pdu(sp_id, secret, connect_seq))
        (status,) = struct.unpack_from(">I", _await(sock, CONNECT_RESP, connect_seq, stall_timeout))
        if status:
            raise ProtocolFailure(f"CMPP_CONNECT refused with Status {status}")

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
        unpack_from, perf_ns, pack_resp = HEADER.unpack_from, time.perf_counter_ns, _DELIVER_RESP.pack
        result_of = struct.Struct(">I").unpack_from
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
            while size - off >= 12:
                length, command_id, seq = unpack_from(data, off)
                end = off + length
                if length < 12:
                    raise ProtocolFailure(f"impossible Total_Length {length}")
                if end > size:
                    break
                if command_id == SUBMIT_RESP:
                    inflight -= 1
                    responses += 1
                    t_last_resp = now
                    lat_append(now - sent_at[seq])
                    (result,) = result_of(data, off + 20)
                    if result:
                        errors[result] += 1
                    else:
                        ok_responses += 1
                        id_append(data[off + 12 : off + 20])
                elif command_id == DELIVER:
                    msg_id = data[off + 12 : off + 20]
                    if data[off + _DELIVER_REGISTERED]:
                        t_last_receipt = now
                        content = off + _DELIVER_CONTENT
                        rid_append(data[content : content + 8])
                    out += pack_resp(24, DELIVER_RESP, seq, _U64.unpack(msg_id)[0], 0)
                elif command_id == ACTIVE_TEST:
                    out += HEADER.pack(13, ACTIVE_TEST_RESP, seq) + b"\0"
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
        sock.sendall(HEADER.pack(12, TERMINATE, terminate_seq))
        try:
            _await(sock, TERMINATE_RESP, terminate_seq, 5.0)
            terminated = True
        except ProtocolFailure:
            terminated = False
    finally:
        sock.close()

    return {
        **summarize(
            n, window, responses, ok_responses, latencies, resp_ids, receipt_ids, errors,
            (t_first, t_last_resp, t_last_receipt), cpu_used,
        ),
        "stopped": stopped,
        "unbind_ok": terminated,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: run one load and print its result as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cmppload", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--system-id", default="901234", help="the SP_Id")
    parser.add_argument("--password", default="smsgw", help="the SP's shared secret")
    parser.add_argument("-n", type=int, default=20_000, help="number of CMPP_SUBMIT")
    parser.add_argument("--window", type=int, default=100, help="max unanswered CMPP_SUBMIT")
    parser.add_argument("--stall-timeout", type=float, default=10.0)
    parser.add_argument("--receipt-timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 0x7FFFFFF0 or args.window < 1:
        parser.error("-n and --window must be at least 1")
    try:
        result = run_load(
            args.host, args.port, args.system_id, args.password, args.n, args.window,
            args.stall_timeout, args.receipt_timeout,
        )  # fmt: skip
    except (OSError, ProtocolFailure) as exc:
        print(json.dumps({"n": args.n, "window": args.window, "error": str(exc)}))
        return 2
    except (IndexError, ValueError, struct.error) as exc:
        error = f"malformed PDU from the server: {exc!r}"
        print(json.dumps({"n": args.n, "window": args.window, "error": error}))
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
