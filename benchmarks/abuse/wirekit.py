"""Raw SMPP and HTTP for the probe and the abusers: fixed bytes, deadlines, nothing decoded
beyond the header.

The probe's timings must be the carrier's, not a client library's, so PDUs are encoded once
(:mod:`benchmarks.wire` layouts) and read only as far as their header.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import resource
import socket
import time
from typing import Any

from benchmarks import wire

BIND_RECEIVER_RESP = 0x80000001
BIND_TRANSMITTER_RESP = 0x80000002
BIND_RESP = {
    wire.BIND_RECEIVER: BIND_RECEIVER_RESP,
    wire.BIND_TRANSMITTER: BIND_TRANSMITTER_RESP,
    wire.BIND_TRANSCEIVER: wire.BIND_TRANSCEIVER_RESP,
}


def bind(command_id: int, system_id: str, password: str, sequence: int = 1) -> bytes:
    """A bind_transmitter, bind_receiver or bind_transceiver (v3.4, empty type and range)."""
    body = (
        system_id.encode("ascii")
        + b"\0"
        + password.encode("ascii")
        + b"\0"
        + b"\0"
        + bytes((0x34, 0, 0))
        + b"\0"
    )
    return wire.HEADER.pack(16 + len(body), command_id, 0, sequence) + body


def submit_sm(destination: bytes, text: bytes, sequence: int, registered_delivery: int = 1) -> bytes:
    """One submit_sm from the short code 12345 to ``destination`` (GSM text, data_coding 0)."""
    body = (
        b"\0" + bytes((0, 0)) + wire.SOURCE_ADDR + b"\0" + bytes((1, 1)) + destination + b"\0"
        + bytes((0, 0, 0)) + b"\0\0"
        + bytes((registered_delivery, 0, 0, 0, len(text))) + text
    )  # fmt: skip
    return wire.HEADER.pack(16 + len(body), wire.SUBMIT_SM, 0, sequence) + body


def deliver_sm_resp(sequence: int) -> bytes:
    """deliver_sm_resp with a NULL message_id."""
    return wire.HEADER.pack(17, wire.DELIVER_SM_RESP, 0, sequence) + b"\0"


class Closed(Exception):
    """The peer closed the connection (or reset it)."""


class PduReader:
    """Reads whole PDUs from a blocking socket, each read bounded by a deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.offset = 0  # where the next PDU starts: consumed octets are dropped once per recv

    def next(self, deadline: float) -> tuple[int, int, int, bytes] | None:
        """(command_id, status, sequence, body) of the next PDU, or None at the deadline.

        :raises Closed: the connection ended first.
        """
        buffer = self.buffer
        while True:
            start = self.offset
            if len(buffer) - start >= 16:
                length, command_id, status, sequence = wire.HEADER.unpack_from(buffer, start)
                if length < 16 or length > 1 << 20:
                    raise Closed(f"command_length {length}")
                if len(buffer) - start >= length:
                    self.offset = start + length
                    return command_id, status, sequence, bytes(buffer[start + 16 : start + length])
            if start:
                del buffer[:start]
                self.offset = 0
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(262144)
            except TimeoutError:
                return None
            except OSError as error:
                raise Closed(str(error)) from None
            if not chunk:
                raise Closed("closed by the carrier")
            buffer += chunk

    def until(self, command_id: int, deadline: float) -> tuple[int, int, int, bytes] | None:
        """Read up to the PDU with ``command_id`` (or a generic_nack), answering what asks for
        an answer on the way (deliver_sm, enquire_link); None at the deadline."""
        while True:
            pdu = self.next(deadline)
            if pdu is None or pdu[0] in (command_id, wire.GENERIC_NACK):
                return pdu
            if pdu[0] == wire.DELIVER_SM:
                self.sock.sendall(deliver_sm_resp(pdu[2]))
            elif pdu[0] == wire.ENQUIRE_LINK:
                self.sock.sendall(wire.header_only(wire.ENQUIRE_LINK_RESP, pdu[2]))


def smpp_connect(address: tuple[str, int], timeout: float, rcvbuf: int = 0) -> socket.socket:
    """A TCP connection with Nagle off (``rcvbuf``: a small receive buffer, set before connecting)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(timeout)
        sock.connect(address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except BaseException:
        sock.close()
        raise
    return sock


def smpp_bind(
    address: tuple[str, int],
    command_id: int,
    system_id: str,
    password: str,
    timeout: float = 5.0,
    rcvbuf: int = 0,
) -> tuple[socket.socket, PduReader]:
    """Connect and bind; return the socket and its reader.

    :raises RuntimeError: the bind was refused or got no answer.
    """
    sock = smpp_connect(address, timeout, rcvbuf)
    reader = PduReader(sock)
    try:
        sock.sendall(bind(command_id, system_id, password))
        answer = reader.until(BIND_RESP[command_id], time.perf_counter() + timeout)
    except (OSError, Closed) as error:
        sock.close()
        raise RuntimeError(f"bind as {system_id}: {error}") from None
    if answer is None or answer[1] != 0:
        sock.close()
        status = "no answer" if answer is None else f"status 0x{answer[1]:08x}"
        raise RuntimeError(f"bind as {system_id} refused: {status}")
    return sock, reader


def drain(sock: socket.socket) -> None:
    """Close quietly (the peer may have gone first)."""
    with contextlib.suppress(OSError):  # the connection is being thrown away either way
        sock.close()


# -- HTTP --------------------------------------------------------------------------------


def http_call(
    base: dict[str, Any], method: str, path: str, body: Any = None, timeout: float = 5.0
) -> tuple[int, Any]:
    """One JSON request to the carrier's API: (status, decoded body or raw text).

    :raises OSError: no answer (timeouts included).
    """
    connection = http.client.HTTPConnection(base["http_host"], base["http_port"], timeout=timeout)
    headers = {"Accept": "application/json"}
    if base.get("token"):
        headers["Authorization"] = f"Bearer {base['token']}"
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    except http.client.HTTPException as error:
        raise OSError(f"{method} {path}: {error!r}") from None
    finally:
        connection.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw.decode("utf-8", "replace")


def http_head(base: dict[str, Any], method: str, target: str) -> bytes:
    """The start of a request, up to and including its last header line, not its blank line."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {base['http_host']}:{base['http_port']}"]
    if base.get("token"):
        lines.append(f"Authorization: Bearer {base['token']}")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def raise_nofile(wanted: int) -> int:
    """Raise this process's soft descriptor limit towards ``wanted``; return what it is now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):  # not allowed: the caller uses fewer
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
