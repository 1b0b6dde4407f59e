"""How a front end writes what the carrier owes applications: the carrier queues bytes it
never reads.

A delivery is encoded once, when it is queued, by the front end's
:class:`DeliveryEncoder` (SMPP's is :class:`~smsgw.frontend.smpp.deliveries.SmppDeliveries`),
in the dialect of the account it is for; the outbox resends the same bytes on a retry.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from smsgw.carrier.accounts import Account
from smsgw.store.records import MessageRecord


@attrs.frozen
class UssdScreenOut:
    """A USSD screen event for an application: the handset's dial, answer or the dialogue's end.

    :ivar code: the service code (or the pushing application's address) it is for.
    :ivar op: the USSD operation (SMPP's ussd_service_op values; 0x81 an abort).
    :ivar its_session_info: the dialogue's number, EOS bit clear.
    :ivar end: whether the dialogue ends with it.
    """

    msisdn: str
    code: str
    op: int
    text: str
    its_session_info: int
    end: bool


class DeliveryEncoder(Protocol):
    """Encodes receipts, MO and USSD screens for the accounts' applications."""

    def receipt(self, record: MessageRecord, account: Account | None, now: float) -> bytes:
        """The receipt of the message's current state (intermediate while it is ENROUTE)."""

    def mo(self, record: MessageRecord, now: float) -> bytes:
        """An MO part for its account."""

    def ussd(self, screen: UssdScreenOut, account: Account | None) -> bytes:
        """A USSD screen event, in the account's USSD dialect."""
