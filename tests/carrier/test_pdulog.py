"""The bounded log of recent PDUs behind the console's message detail."""

from __future__ import annotations

from smsgw.carrier.pdulog import PduLog
from smsgw.smpp import codec
from smsgw.smpp.sm import SubmitSm
from tests.carrier.helpers import Link, make_carrier, submit


def test_a_request_is_kept_as_decoded_and_written_back_byte_for_byte() -> None:
    raw = codec.encode(SubmitSm(7, destination_addr="8613800000001", short_message=b"hi"))
    log = PduLog()
    log.received("1", codec.decode(raw), 10.0)
    log.sent("1", b"\x00deliver", 11.0)
    (request, receipt) = log.of("1")
    assert (request.direction, request.at, request.raw) == ("received", 10.0, raw)
    assert (receipt.direction, receipt.raw) == ("sent", b"\x00deliver")


def test_a_submit_multi_is_logged_once_for_its_message_id() -> None:
    log = PduLog()
    pdu = SubmitSm(1)
    log.received("5", pdu, 1.0)
    log.received("5", pdu, 1.0)
    assert len(log.of("5")) == 1


def test_the_oldest_messages_go_first_beyond_the_size() -> None:
    log = PduLog(size=3)
    for n in range(5):
        log.received(str(n), SubmitSm(n), float(n))
    assert [log.of(str(n)) != [] for n in range(5)] == [False, False, True, True, True]


def test_the_carrier_keeps_pdus_only_while_someone_follows_its_events() -> None:
    carrier = make_carrier()
    link = Link(carrier)
    link.send(submit(sequence=1))
    unwatched = [p.message_id for p in link.read() if hasattr(p, "message_id") and p.message_id]
    seen: list[object] = []
    carrier.events.subscribe(seen.append)
    link.send(submit(sequence=2))
    watched = [p.message_id for p in link.read() if hasattr(p, "message_id") and p.message_id]
    assert carrier.center.pdu_log.of(unwatched[0]) == []
    assert [e.direction for e in carrier.center.pdu_log.of(watched[0])] == ["received", "sent"]
