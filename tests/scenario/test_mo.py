"""The run's ESME keeps MO by sender until a step takes each once, long ones put back together."""

from __future__ import annotations

import re

import pytest

from simulators.scenario.mo import CONCAT_WINDOW, Mo, MoInbox
from smsgw.smpp.sm import DeliverSm
from smsgw.text.split import Mode, split_text

BUYER = "8613800000001"
LONG = "Ünïcødé order " + "0123456789" * 20 + " END"


def deliveries(text: str, *, mode: Mode = "udh", sender: str = BUYER, to: str = "12345") -> list[DeliverSm]:
    """The deliver_sm the carrier sends for an MO, each part as its account's long_mo says."""
    pdus = []
    for part in split_text(text, ref=7, mode=mode):
        payload = mode == "payload"
        ref, total, seq = part.sar or (None, None, None)
        pdus.append(
            DeliverSm(
                source_addr=sender,
                destination_addr=to,
                esm_class=0x40 if part.esm_class_udhi else 0,
                data_coding=part.data_coding,
                short_message=b"" if payload else part.short_message,
                message_payload=part.short_message if payload else None,
                sar_msg_ref_num=ref,
                sar_total_segments=total,
                sar_segment_seqnum=seq,
            )
        )
    return pdus


def received(*texts: str, mode: Mode = "udh") -> MoInbox:
    """An inbox that has received these texts from the buyer, at time 0."""
    inbox = MoInbox()
    for text in texts:
        for pdu in deliveries(text, mode=mode):
            inbox.add(pdu, 0.0)
    return inbox


def test_an_mo_is_taken_once() -> None:
    """A step takes an MO that came before it; a later step does not get it again."""
    inbox = received("STOP")
    assert inbox.take(BUYER, 1.0) == Mo(BUYER, "12345", "STOP")
    assert inbox.take(BUYER, 1.0) is None
    assert inbox.waiting(BUYER) == []


def test_mo_are_kept_by_sender() -> None:
    """Another handset's MO is not this one's, and a number written with + is the same number."""
    inbox = received("mine")
    for pdu in deliveries("theirs", sender="8613800000002"):
        inbox.add(pdu, 0.0)
    assert inbox.take("8613800000002", 1.0) == Mo("8613800000002", "12345", "theirs")
    taken = inbox.take("+" + BUYER, 1.0)
    assert taken is not None and taken.text == "mine"


def test_the_first_that_matches_is_taken_and_the_others_left() -> None:
    """Text and short code both have to match; what does not is left for a later step."""
    inbox = received("HELP", "STOP 1", "STOP 2")
    for pdu in deliveries("STOP 0", to="54321"):
        inbox.add(pdu, 0.0)
    taken = inbox.take(BUYER, 1.0, pattern=re.compile(r"^STOP \d"), short_code="12345")
    assert taken is not None and taken.text == "STOP 1"
    assert [str(mo) for mo in inbox.waiting(BUYER)] == [
        "'HELP' to 12345",
        "'STOP 2' to 12345",
        "'STOP 0' to 54321",
    ]
    assert inbox.take(BUYER, 1.0, pattern=re.compile("START")) is None


@pytest.mark.parametrize("mode", ["udh", "sar", "payload"])
def test_a_long_mo_is_matched_on_its_whole_text(mode: Mode) -> None:
    """However the account takes a long MO (UDH or SAR parts, or one message_payload), a step
    matches the text the handset sent."""
    inbox = received(LONG, mode=mode)
    taken = inbox.take(BUYER, 1.0, pattern=re.compile(r"^Ünïcødé order (0123456789){20} END$"))
    assert taken is not None and taken.text == LONG and taken.complete
    assert taken.parts == (1 if mode == "payload" else len(split_text(LONG, ref=7, mode=mode)))
    assert inbox.waiting(BUYER) == []


def test_a_long_mo_missing_a_part_waits_for_it_and_is_listed_with_the_gap() -> None:
    """Parts still to come leave the text unmatched, but a failing step can say what came; once
    the reassembly window is over the MO is matched with its gap."""
    _, *rest = deliveries(LONG)
    inbox = MoInbox()
    for pdu in rest:
        inbox.add(pdu, 0.0)
    assert inbox.take(BUYER, 1.0) is None
    (waiting,) = inbox.waiting(BUYER)
    assert waiting.text.startswith("[…]") and not waiting.complete
    assert str(waiting).endswith(f"({len(rest)} parts) [incomplete]")
    taken = inbox.take(BUYER, CONCAT_WINDOW)
    assert taken is not None and taken.text.endswith(" END") and not taken.complete
