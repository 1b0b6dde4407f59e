"""TCP details that decide latency for clients that send one PDU and wait for the answer."""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet import tcp

_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


def tune_socket(transport: Any) -> Any:
    """Turn Nagle off; return the socket when delayed ACKs can be cut short (Linux), else None.

    A client that writes a request and waits for its response (smpplib) stalls 40 ms per
    message when the server's response waits for the client's delayed ACK (benchmarks/README.md).
    """
    sock = getattr(transport, "socket", None)
    if sock is None:
        return None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock if _QUICKACK is not None else None


def quick_ack(sock: Any) -> bool:
    """Re-arm TCP_QUICKACK (the kernel clears it); return False once it stops working."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
    except OSError:
        return False
    return True


def write_now(transport: Any, data: bytes) -> None:
    """Write ``data``, sending it in this call when nothing else is queued on the transport.

    ``transport.write`` always waits for the reactor's next poll to send, which costs a loop
    iteration and two epoll_ctl calls per response: the largest share of a one-at-a-time
    client's round trip. Sending directly is safe only when the transport's own buffer is
    empty (order is kept); anything the kernel does not take goes through ``write``.
    """
    if (
        isinstance(transport, tcp.Connection)
        and not transport._tempDataBuffer
        and len(transport.dataBuffer) == transport.offset
        and transport.connected
        and not transport.disconnecting
    ):
        sent = transport.writeSomeData(data)
        if isinstance(sent, int):
            if sent < len(data):
                transport.write(data[sent:])
            return
    transport.write(data)
