"""The bounded log of recent PDUs behind the console's message detail."""

from __future__ import annotations

from smsgw.frontend.smpp.pdulog import PduLog
from smsgw.smpp import codec
from smsgw.smpp.sm import SubmitSm
from tests.carrier.helpers import Link, make_carrier, pdu_log, submit


def test_a_request_is_kept_as_decoded_and_written_back_byte_for_byte() -> None:
    raw = codec.encode(SubmitSm(7, destination_addr="8613800000001", short_message=b"hi"))
    log = PduLog()
    log.received("shop", "1", codec.decode(raw), 10.0)
    log.sent("shop", "1", b"\x00deliver", 11.0)
    (request, receipt) = log.of("shop", "1")
    assert (request.direction, request.at, request.raw) == ("received", 10.0, raw)
    assert (receipt.direction, receipt.raw) == ("sent", b"\x00deliver")


def test_a_submit_multi_is_logged_once_for_its_message_id() -> None:
    log = PduLog()
    pdu = SubmitSm(1)
    log.received("shop", "5", pdu, 1.0)
    log.received("shop", "5", pdu, 1.0)
    assert len(log.of("shop", "5")) == 1


def test_the_same_message_id_of_two_accounts_is_two_messages() -> None:
    """A decimal account's row 10 and a hex account's row 16 are both "10"."""
    log = PduLog()
    log.received("shop", "10", SubmitSm(1), 1.0)
    log.received("hexa", "10", SubmitSm(2), 2.0)
    log.sent("hexa", "10", b"\x00receipt", 3.0)
    assert [p.at for p in log.of("shop", "10")] == [1.0]
    assert [p.at for p in log.of("hexa", "10")] == [2.0, 3.0]


def test_the_oldest_messages_go_first_beyond_the_size() -> None:
    log = PduLog(size=3)
    for n in range(5):
        log.received("shop", str(n), SubmitSm(n), float(n))
    assert [log.of("shop", str(n)) != [] for n in range(5)] == [False, False, True, True, True]


def test_the_carrier_keeps_pdus_only_while_someone_follows_its_events() -> None:
    carrier = make_carrier()
    link = Link(carrier)
    link.send(submit(sequence=1))
    unwatched = [p.message_id for p in link.read() if hasattr(p, "message_id") and p.message_id]
    seen: list[object] = []
    carrier.events.subscribe(seen.append)
    link.send(submit(sequence=2))
    watched = [p.message_id for p in link.read() if hasattr(p, "message_id") and p.message_id]
    assert pdu_log(carrier).of("shop", unwatched[0]) == []
    assert [e.direction for e in pdu_log(carrier).of("shop", watched[0])] == ["received", "sent"]
