"""The PDUs of recent messages, for the console's message detail (``/api/messages/{id}/pdus``).

Kept only while someone follows ``/api/events`` (the console does): holding the PDUs of
thousands of messages costs a load test about 2 µs a message, through the garbage collector.
Bounded: the newest ``size`` messages keep theirs. A request is kept as the PDU it was decoded
to and encoded again only when asked (smsgw's codec writes every field and TLV back as it
came; TLVs in the order the codec writes them), so the hot path pays one dict insert; a
deliver_sm is kept as the bytes queued for the ESME (sequence number 0 until it is sent).
"""

from __future__ import annotations

from collections import OrderedDict

import attrs

from smsgw.smpp import codec
from smsgw.smpp.pdu import Pdu


@attrs.frozen
class LoggedPdu:
    """One PDU of a message: ``received`` from an ESME or ``sent`` to one."""

    direction: str
    at: float
    pdu: Pdu | bytes

    @property
    def raw(self) -> bytes:
        return self.pdu if isinstance(self.pdu, bytes) else codec.encode(self.pdu)


class PduLog:
    """(system_id, message_id) -> its PDUs, oldest message dropped first beyond ``size``.

    Keyed by the account too: accounts format their ids differently (decimal, hex), so two
    accounts' messages can have the same message_id. Entries are plain tuples (direction, at,
    pdu): cheaper to keep than objects.
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._by_message: OrderedDict[tuple[str, str], list[tuple[str, float, Pdu | bytes]]] = OrderedDict()

    def received(self, system_id: str, message_id: str, pdu: Pdu, at: float) -> None:
        """The request that created the message (submit_sm, data_sm, submit_multi: one
        message_id for all its destinations, logged once).

        Logged once it is answered, so after what its acceptance already queued (a receipt
        of a message delivered at once): it goes first, where it happened.
        """
        key = (system_id, message_id)
        entries = self._by_message.get(key)
        if entries is None:
            self._add(key, ("received", at, pdu))
        elif entries[0][2] is not pdu:
            entries.insert(0, ("received", at, pdu))

    def sent(self, system_id: str, message_id: str, raw: bytes, at: float) -> None:
        """A deliver_sm for the message (its receipt, or the MO itself)."""
        self._add((system_id, message_id), ("sent", at, raw))

    def _add(self, key: tuple[str, str], entry: tuple[str, float, Pdu | bytes]) -> None:
        by_message = self._by_message
        entries = by_message.get(key)
        if entries is not None:
            entries.append(entry)
            return
        by_message[key] = [entry]
        if len(by_message) > self.size:
            by_message.popitem(last=False)

    def of(self, system_id: str, message_id: str) -> list[LoggedPdu]:
        """The PDUs of the account's message, oldest first; empty when it is older than the
        log reaches."""
        return [LoggedPdu(*entry) for entry in self._by_message.get((system_id, message_id), ())]
