"""A blocking CMPP client for the end-to-end tests: an SP on a real socket, its PDUs made
and read by :mod:`smsgw.cmpp.codec` (the independent client, PyPI cmppy, speaks only
CONNECT, SUBMIT and TERMINATE)."""

from __future__ import annotations

import time
from typing import Any

from smsgw.cmpp import auth, codec
from smsgw.cmpp import pdu as p
from smsgw.cmpp.constants import Version

from .framedsocket import READ_TIMEOUT, FramedSocket


class CmppClient(FramedSocket):
    """One SP connection driven PDU by PDU, with deadlines."""

    def __init__(self, address: tuple[str, int], version: Version = Version.V30) -> None:
        super().__init__(address, header_size=12)
        self.version = version
        self._sequence = 0
        #: DELIVERs that arrived while an answer was awaited.
        self.held: list[p.Deliver] = []

    def send(self, pdu: p.Pdu) -> int:
        """Send a PDU (a request gets the next Sequence_Id); its Sequence_Id."""
        if not pdu.sequence_id:
            self._sequence += 1
            pdu.sequence_id = self._sequence
        self.sock.sendall(codec.encode(pdu, self.version))
        return pdu.sequence_id

    def connect(self, source_addr: str, secret: str, *, version: int | None = None) -> p.ConnectResp:
        """CMPP_CONNECT with a fresh authenticator; the answer."""
        stamp = auth.timestamp(time.time())
        self.send(
            p.Connect(
                0,
                source_addr=source_addr,
                authenticator_source=auth.authenticator_source(source_addr, secret, stamp),
                version=self.version if version is None else version,
                timestamp=stamp,
            )
        )
        answer = self.read()
        assert isinstance(answer, p.ConnectResp), answer
        return answer

    def submit(self, **fields: Any) -> p.SubmitResp:
        """One CMPP_SUBMIT; its SUBMIT_RESP (DELIVERs that come first are kept for :meth:`deliver`)."""
        sequence = self.send(p.Submit(0, **fields))
        return self.answer_to(sequence)  # type: ignore[return-value]

    def answer_to(self, sequence: int, timeout: float = READ_TIMEOUT) -> p.Pdu:
        """The response with this Sequence_Id; DELIVERs before it are kept."""
        while True:
            pdu = self.read(timeout)
            if isinstance(pdu, p.Deliver):
                self.held.append(pdu)
            elif pdu.sequence_id == sequence:
                return pdu

    def deliver(self, timeout: float = READ_TIMEOUT, result: int = 0) -> p.Deliver:
        """The next CMPP_DELIVER, answered with ``result`` (0 takes it)."""
        pdu = self.held.pop(0) if self.held else self.read(timeout)
        assert isinstance(pdu, p.Deliver), pdu
        self.send(p.DeliverResp(pdu.sequence_id, msg_id=pdu.msg_id, result=result))
        return pdu

    def read(self, timeout: float = READ_TIMEOUT) -> p.Pdu:
        """The next PDU; fails on a deadline or a closed connection."""
        raw = self.read_raw(timeout)
        assert raw is not None, "the server closed the connection"
        return codec.decode(raw, self.version)
