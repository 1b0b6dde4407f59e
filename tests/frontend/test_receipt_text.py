"""The receipt's text, byte for byte: SMPP v3.4 Appendix B's form, and Jasmin's short one."""

from __future__ import annotations

import calendar

from smsgw.frontend.smpp.receipts import receipt_text
from smsgw.smpp.constants import MessageState

SUBMITTED = calendar.timegm((2026, 12, 6, 3, 16, 59))
DONE = SUBMITTED + 2  # the next minute


def test_a_delivered_message_says_so_with_its_excerpt() -> None:
    text = receipt_text("1A2B", SUBMITTED, DONE, MessageState.DELIVRD, 0, b"Your code is 482913.")
    assert text == (
        b"id:1A2B sub:001 dlvrd:001 submit date:2612060316 done date:2612060317 stat:DELIVRD "
        b"err:000 text:Your code is 482913."
    )


def test_a_failed_message_says_none_was_delivered_and_why() -> None:
    text = receipt_text("7", SUBMITTED, DONE, MessageState.UNDELIV, 32, b"hi")
    assert text == (
        b"id:7 sub:001 dlvrd:000 submit date:2612060316 done date:2612060317 stat:UNDELIV err:032 text:hi"
    )


def test_the_short_form_has_no_sub_dlvrd_or_text() -> None:
    text = receipt_text("7", SUBMITTED, DONE, MessageState.EXPIRED, 27, b"hi", short=True)
    assert text == b"id:7 submit date:2612060316 done date:2612060317 stat:EXPIRED err:027"
