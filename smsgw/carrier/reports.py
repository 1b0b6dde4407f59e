"""Which receipts a message asks for, read from its registered_delivery (SMPP v3.4 §5.2.17)."""

from __future__ import annotations

from smsgw.smpp.constants import MessageState

_DELIVRD = int(MessageState.DELIVRD)


def wants_receipt(registered_delivery: int, state: int) -> bool:
    """Whether registered_delivery asks for a receipt on reaching ``state`` (a final state)."""
    mode = registered_delivery & 0x03  # RegisteredDelivery.RECEIPT_MASK
    if mode == 1:  # RECEIPT_FINAL
        return True
    if mode == 2:  # RECEIPT_FAILURE
        return state != _DELIVRD
    return mode == 3 and state == _DELIVRD  # RECEIPT_SUCCESS (v5.0)


def wants_intermediate(registered_delivery: int) -> bool:
    """Whether registered_delivery asks for intermediate notifications (bit 4)."""
    return bool(registered_delivery & 0x10)  # RegisteredDelivery.INTERMEDIATE
