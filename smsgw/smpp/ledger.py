"""SMPP's requests sent and not yet answered (:class:`smsgw.ledger.RequestLedger`): sequence
numbers 1..0x7FFFFFFF, and generic_nack with an error status answers any request."""

from __future__ import annotations

from smsgw.ledger import ContextT
from smsgw.ledger import RequestLedger as _Ledger
from smsgw.smpp.constants import SEQUENCE_MAX
from smsgw.smpp.constants import CommandId as C

__all__ = ["ContextT", "RequestLedger"]


class RequestLedger(_Ledger[ContextT]):
    """Outstanding SMPP requests by sequence_number.

    :param counted: command_ids that count against the window (``in_flight``).
    """

    __slots__ = ()

    def __init__(self, counted: frozenset[int]) -> None:
        super().__init__(counted, sequence_max=SEQUENCE_MAX, nack=C.GENERIC_NACK)
