"""Requests a session sent and not yet answered, with their deadlines (SMPP's and CMPP's,
both roles).

One dict in send order, swept from the front by ``tick``: with one response timeout for
all, the oldest request is always the first to expire. No timer per request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

#: A response's command id is its request's with this bit set, in SMPP and in CMPP.
RESPONSE_BIT = 0x80000000

#: What the owner of a request keeps with it (a delivery, an answer to wait for); never looked at here.
ContextT = TypeVar("ContextT")


class RequestLedger(Generic[ContextT]):
    """Outstanding requests by sequence number.

    :param counted: command_ids that count against the window (``in_flight``).
    :param sequence_max: the highest sequence number before numbering starts again at 1.
    :param nack: the command id of a negative answer to any request (SMPP's generic_nack);
        None where the protocol has none.
    """

    __slots__ = ("counted", "in_flight", "sequence_max", "nack", "_entries", "_next")

    def __init__(self, counted: frozenset[int], *, sequence_max: int, nack: int | None = None) -> None:
        self.counted = counted
        self.sequence_max = sequence_max
        self.nack = nack
        #: Outstanding requests whose command_id is in ``counted``.
        self.in_flight = 0
        self._entries: dict[int, tuple[float, int, ContextT]] = {}
        self._next = 1

    def next_sequence(self) -> int:
        """The next sequence number: 1..``sequence_max``, then 1 again."""
        sequence_number = self._next
        self._next = 1 if sequence_number >= self.sequence_max else sequence_number + 1
        return sequence_number

    def add(self, sequence_number: int, deadline: float, command_id: int, context: ContextT) -> None:
        """Remember a request until its response or its deadline."""
        self._entries[sequence_number] = (deadline, command_id, context)
        if command_id in self.counted:
            self.in_flight += 1

    def pop(self, sequence_number: int) -> tuple[float, int, ContextT] | None:
        """Forget an answered request; return (deadline, command_id, context), or None if unknown."""
        entry = self._entries.pop(sequence_number, None)
        if entry is not None and entry[1] in self.counted:
            self.in_flight -= 1
        return entry

    def answer(
        self, sequence_number: int, command_id: int, command_status: int
    ) -> tuple[float, int, ContextT] | None:
        """Forget the request a response answers; return (deadline, command_id, context), or None.

        A response answers the request of its sequence_number only if it is that request's own
        response (its command_id with bit 31 set, SMPP v3.4 §3.2) or a nack with an error
        status; anything else (an enquire_link_resp on a deliver_sm's number, a generic_nack
        with status 0) answers nothing, and the request keeps waiting for its own response or
        its deadline.
        """
        entries = self._entries
        entry = entries.get(sequence_number)
        if entry is None or (
            command_id != entry[1] | RESPONSE_BIT and (command_id != self.nack or not command_status)
        ):
            return None
        del entries[sequence_number]
        if entry[1] in self.counted:
            self.in_flight -= 1
        return entry

    def command_of(self, sequence_number: int) -> int | None:
        """The command_id of the outstanding request with this number, or None."""
        entry = self._entries.get(sequence_number)
        return None if entry is None else entry[1]

    def expired(self, now: float) -> Iterator[tuple[int, ContextT]]:
        """Forget and yield (command_id, context) of every request past its deadline."""
        entries = self._entries
        while entries:
            sequence_number, (deadline, command_id, context) = next(iter(entries.items()))
            if deadline > now:
                return
            self.pop(sequence_number)
            yield command_id, context

    def clear(self) -> list[tuple[int, ContextT]]:
        """Forget everything (the connection is gone); return (command_id, context) of each."""
        lost = [(command_id, context) for _, command_id, context in self._entries.values()]
        self._entries.clear()
        self.in_flight = 0
        return lost

    def __len__(self) -> int:
        return len(self._entries)
