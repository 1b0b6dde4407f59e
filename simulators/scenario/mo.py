"""MO that reached the run's ESME, kept by sender until an ``expect_mo`` step takes it.

A handset's text may reach the ESME before the step that expects it runs, or while another
scenario's step waits, so every MO is kept until a step takes it, and each is taken once.

A long MO comes as several deliver_sm (UDH or SAR parts) or as one with message_payload,
as the account's ``long_mo`` says. A step matches what the handset sent, so the parts are
put back together with the carrier's own reassembly (:func:`smsgw.text.reassembly.assemble`)
before anything is matched.
"""

from __future__ import annotations

import itertools
import math
import re

import attrs

from smsgw.smpp.sm import DeliverSm
from smsgw.text.reassembly import InboxMessage, ReceivedPart, assemble

#: Seconds the parts of one long MO may take to arrive: the carrier's default concat_timeout.
#: The carrier sends them back to back, so this only matters when a fault loses one.
CONCAT_WINDOW = 60.0


@attrs.frozen
class Mo:
    """One MO as the ESME received it, reassembled when it came in parts.

    :ivar sender: the handset's number (source_addr), without ``+``.
    :ivar short_code: what the handset sent it to (destination_addr).
    :ivar parts: how many deliver_sm carried it.
    :ivar complete: False when parts are still missing; ``text`` shows ``[…]`` for each gap.
    """

    sender: str
    short_code: str
    text: str
    parts: int = 1
    complete: bool = True

    def matches(self, pattern: re.Pattern[str] | None, short_code: str | None) -> bool:
        """Whether it went to ``short_code`` and its text holds ``pattern`` (None: any)."""
        return (short_code is None or self.short_code == short_code) and (
            pattern is None or pattern.search(self.text) is not None
        )

    def __str__(self) -> str:
        parts = f" ({self.parts} parts)" if self.parts > 1 else ""
        incomplete = "" if self.complete else " [incomplete]"
        return f"{self.text!r} to {self.short_code}{parts}{incomplete}"


@attrs.frozen
class _Part:
    """One deliver_sm of an MO: what reassembly reads, and the short code it went to."""

    received: ReceivedPart
    short_code: str


def _sar(pdu: DeliverSm) -> tuple[int, int, int] | None:
    """The part's SAR TLVs (reference, total, sequence), or None when it has not all three."""
    ref, total, seq = pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum
    return None if ref is None or total is None or seq is None else (ref, total, seq)


def _mo(message: InboxMessage, short_code: str) -> Mo:
    return Mo(message.sender, short_code, message.text, len(message.parts), message.complete)


def _number(msisdn: str) -> str:
    # source_addr carries E.164 digits; a handset's number may be written with a +.
    return msisdn.lstrip("+")


class MoInbox:
    """The MO not taken yet, by sender, in arrival order.

    Not thread-safe: :class:`~simulators.scenario.esme.ScenarioEsme` holds its lock around
    every call. Times are the caller's clock (``now``), only ever compared with each other.
    """

    def __init__(self) -> None:
        self._parts: dict[str, list[_Part]] = {}
        self._rows = itertools.count(1)

    def add(self, pdu: DeliverSm, now: float) -> None:
        """Keep one deliver_sm that carries an MO (or a part of one)."""
        sender = _number(pdu.source_addr)
        received = ReceivedPart(
            row=next(self._rows),
            message_id="",  # an MO's deliver_sm carries no id
            sender=sender,
            data_coding=pdu.data_coding,
            esm_class=pdu.esm_class,
            body=pdu.message_payload if pdu.message_payload is not None else pdu.short_message,
            sar=_sar(pdu),
            received_at=now,
        )
        self._parts.setdefault(sender, []).append(_Part(received, pdu.destination_addr))

    def take(
        self,
        sender: str,
        now: float,
        *,
        pattern: re.Pattern[str] | None = None,
        short_code: str | None = None,
    ) -> Mo | None:
        """The first whole MO from ``sender`` that matches (see :meth:`Mo.matches`), taken out so
        that nothing takes it again; None when none has arrived (yet).

        A long MO whose parts are not all here is not matched (its text is not whole) until
        :data:`CONCAT_WINDOW` seconds after its first part; then it is, gaps and all.
        """
        for message, mo in self._messages(sender, now):
            if mo.matches(pattern, short_code):
                self._forget(sender, {part.row for part in message.parts})
                return mo
        return None

    def waiting(self, sender: str) -> list[Mo]:
        """Every MO from ``sender`` not taken yet, incomplete ones too: what a failing step
        says arrived instead."""
        # An infinite now ends every reassembly window: incomplete messages show with their gaps.
        return [mo for _, mo in self._messages(sender, math.inf)]

    def _messages(self, sender: str, now: float) -> list[tuple[InboxMessage, Mo]]:
        parts = self._parts.get(_number(sender), [])
        short_codes = {part.received.row: part.short_code for part in parts}
        # data_coding 0 is read as GSM (assemble's default) rightly: an account that reads it as
        # Latin-1 gets its MO from the carrier as data_coding 3 instead.
        messages = assemble([part.received for part in parts], now=now, timeout=CONCAT_WINDOW)
        # A message's id is the row of its first part.
        return [(message, _mo(message, short_codes[message.id])) for message in messages]

    def _forget(self, sender: str, rows: set[int]) -> None:
        key = _number(sender)
        self._parts[key] = [part for part in self._parts[key] if part.received.row not in rows]
