"""What a protocol session (SMPP's, CMPP's) has queued for its peer, until its connection
writes it: whole PDUs, in order, all at once at the end of the reactor's turn."""

from __future__ import annotations


class Outgoing:
    """The octets of each PDU a session queued for its peer (``_out``, which the session
    fills), given to its connection as one write."""

    _out: list[bytes]

    def data_to_send(self) -> bytes:
        """Return and forget the bytes queued for the peer (each PDU whole: one write keeps
        simple clients whole)."""
        if not self._out:
            return b""
        data = b"".join(self._out)
        self._out.clear()
        return data

    @property
    def has_data_to_send(self) -> bool:
        """Whether output is waiting to be written."""
        return bool(self._out)

    @property
    def last_queued(self) -> bytes:
        """The last PDU queued for the peer and not yet written (a response just given),
        as its octets; empty if none."""
        return self._out[-1] if self._out else b""
