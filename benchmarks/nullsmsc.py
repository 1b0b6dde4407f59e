"""A null SMSC: the least work an SMSC can do, to show the load generator's ceiling.

Run as ``python -m benchmarks.nullsmsc [--port 0]``; it prints ``{"port": N}`` once listening
and serves until it is terminated (SIGTERM's default action, or Ctrl-C).

It accepts any bind, answers each submit_sm with a submit_sm_resp and at once a deliver_sm
receipt, and answers unbind and enquire_link. All replies to one read go out in one write.
Message ids are a fixed-width decimal counter rather than one fixed id, so that the
generator's "exactly one receipt per message_id" check is exercised here too; formatting
ten digits costs nothing next to the rest.

It serves one connection at a time in its only thread, with blocking reads: one system call
per read and no selector round, which at window 1 brings a round trip close to the machine's
bare Python ping-pong. The benchmark opens one connection at a time; another client waits in
the listen backlog. One thread also keeps the server's CPU time readable from the one task's
``schedstat``, where a finished thread's time would be lost.

It sets TCP_NODELAY and re-arms TCP_QUICKACK after every read, which was measured to
lift a one-at-a-time client such as smpplib from ~46/s to thousands per second; so the
smpplib ping-pong figure against this server is that client's own ceiling. ``--no-quickack``
keeps delayed ACKs, to show the 46/s trap.
"""

from __future__ import annotations

import argparse
import itertools
import json
import socket
import struct
import sys
import time
from collections.abc import Iterator

from benchmarks import wire

_RECV_SIZE = 1 << 18
_SUBMIT_SM_RESP = struct.Struct(">IIII10sx")  # header + 10-digit message_id + NUL
_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)  # Linux only
_BINDS = (wire.BIND_TRANSCEIVER, wire.BIND_TRANSMITTER, wire.BIND_RECEIVER)


class _ReceiptTemplate:
    """A deliver_sm receipt split around its variable parts: sequence and message id."""

    def __init__(self) -> None:
        date = time.strftime("%y%m%d%H%M", time.gmtime()).encode()
        text = wire.receipt_text(b"0" * 10, date)
        body_head = (
            b"\0"
            + bytes((1, 1))
            + wire.DEST_PREFIX
            + b"00000\0"  # handset is the source
            + bytes((0, 0))
            + wire.SOURCE_ADDR
            + b"\0"  # the ESME's short code is the destination
            + bytes((wire.ESM_CLASS_RECEIPT, 0, 0))
            + b"\0\0"
            + bytes((0, 0, 0, 0))
            + bytes((len(text),))
        )
        id_at = len(b"id:")
        tlvs = (
            wire.TLV_HEAD.pack(wire.TAG_MESSAGE_STATE, 1)
            + bytes((wire.MESSAGE_STATE_DELIVERED,))
            + wire.TLV_HEAD.pack(wire.TAG_RECEIPTED_MESSAGE_ID, 11)
        )
        self.length = 16 + len(body_head) + len(text) + len(tlvs) + 11
        self.before_text_id = body_head + text[:id_at]
        self.after_text_id = text[id_at + 10 :] + tlvs

    def encode(self, sequence: int, message_id: bytes) -> bytes:
        """Encode one receipt for ``message_id`` (exactly 10 octets)."""
        return b"".join(
            (
                wire.HEADER.pack(self.length, wire.DELIVER_SM, 0, sequence),
                self.before_text_id,
                message_id,
                self.after_text_id,
                message_id,
                b"\0",
            )
        )


class Connection:
    """One ESME connection: turns every complete PDU read into canned replies."""

    def __init__(self, sock: socket.socket, ids: Iterator[int], quickack: bool) -> None:
        """Serve ``sock``, drawing message ids from ``ids`` (shared by all connections)."""
        self._sock = sock
        self._ids = ids
        self._quickack = _QUICKACK if quickack else None
        self._receipt = _ReceiptTemplate()
        self._next_seq = 0

    def serve(self) -> None:
        """Read, answer, write, until the peer closes the connection."""
        sock = self._sock
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        inbuf, out = bytearray(), bytearray()
        try:
            while chunk := sock.recv(_RECV_SIZE):
                if self._quickack is not None:
                    # Linux drops back to delayed ACKs after a while; re-arm after every read.
                    sock.setsockopt(socket.IPPROTO_TCP, self._quickack, 1)
                inbuf += chunk
                if not self.answer(inbuf, out):
                    break
                if out:
                    sock.sendall(out)
                    out.clear()
        except OSError:
            pass  # reset by the peer: nothing to report, the benchmark judges from its side
        finally:
            sock.close()

    def answer(self, inbuf: bytearray, out: bytearray) -> bool:
        """Consume every complete PDU in ``inbuf`` and append the replies to ``out``.

        :returns: False when the stream cannot be framed and the connection must close.
        """
        unpack_from, resp, receipt = wire.HEADER.unpack_from, _SUBMIT_SM_RESP.pack, self._receipt
        size = len(inbuf)
        off = 0
        while size - off >= 16:
            length, command_id, _status, seq = unpack_from(inbuf, off)
            if length < 16:
                return False
            if size - off < length:
                break
            off += length
            if command_id == wire.SUBMIT_SM:
                message_id = b"%010d" % next(self._ids)
                self._next_seq += 1
                out += resp(_SUBMIT_SM_RESP.size, wire.SUBMIT_SM_RESP, 0, seq, message_id)
                out += receipt.encode(self._next_seq, message_id)
            elif command_id in _BINDS:
                out += wire.HEADER.pack(21, command_id | 0x80000000, 0, seq) + b"null\0"
            elif command_id in (wire.UNBIND, wire.ENQUIRE_LINK):
                out += wire.header_only(command_id | 0x80000000, seq)
            elif not command_id & 0x80000000:
                out += wire.header_only(wire.GENERIC_NACK, seq, wire.ESME_RINVCMDID)
        del inbuf[:off]
        return True


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: listen, print ``{"port": N}``, serve until terminated."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.nullsmsc", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-quickack", action="store_true", help="leave delayed ACKs on")
    args = parser.parse_args(argv)
    listener = socket.create_server((args.host, args.port), backlog=16)
    ids = itertools.count(1)  # message ids stay unique across connections
    print(json.dumps({"port": listener.getsockname()[1]}), flush=True)
    try:
        while True:
            conn, _ = listener.accept()
            Connection(conn, ids, quickack=not args.no_quickack).serve()
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
