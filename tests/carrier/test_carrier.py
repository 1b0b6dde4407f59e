"""The carrier core on an in-memory store and a fake clock: MT, receipts, MO, limits, restart."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from smsgw.carrier.accounts import Account
from smsgw.carrier.bindguard import UNKNOWN
from smsgw.carrier.carrier import Carrier
from smsgw.carrier.clock import FakeClock
from smsgw.carrier.events import Refused
from smsgw.carrier.subscribers import HandsetState, normalize_msisdn
from smsgw.smpp.constants import BindType, CommandId, MessageState
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.pdu import BindReceiver, BindTransmitter, CancelSm, QuerySm, ReplaceSm
from smsgw.smpp.sm import DeliverSm, SmeAddress, SubmitMulti, SubmitSmResp
from tests.carrier.helpers import OFF_PHONE, Link, make_carrier, submit


def test_submit_is_answered_then_receipted() -> None:
    """A submit_sm gets its message_id, then a DELIVRD receipt naming it, in that order."""
    carrier = make_carrier()
    link = Link(carrier)
    link.send(submit())
    resp, receipt = link.read()
    assert isinstance(resp, SubmitSmResp) and resp.message_id == "1"
    assert isinstance(receipt, DeliverSm) and receipt.esm_class == 0x04
    assert receipt.receipted_message_id == "1" and receipt.message_state == MessageState.DELIVRD
    assert (receipt.source_addr, receipt.destination_addr) == ("8613800000001", "12345")
    text = receipt.short_message.decode()
    assert (
        text.startswith("id:1 sub:001 dlvrd:001 submit date:")
        and "stat:DELIVRD err:000 text:Your code is 123456" in text
    )


def test_no_receipt_unless_asked() -> None:
    """registered_delivery 0 gives no receipt; 2 (failure only) none for a delivered message."""
    carrier = make_carrier()
    link = Link(carrier)
    link.send(submit(registered_delivery=0))
    link.send(submit(sequence=2, registered_delivery=2))
    assert [type(p) for p in link.read()] == [SubmitSmResp, SubmitSmResp]


def test_off_phone_waits_and_is_delivered_when_switched_on() -> None:
    """A message to a phone that is off stays ENROUTE until it comes on, then is receipted."""
    carrier = make_carrier()
    link = Link(carrier)
    link.send(submit(OFF_PHONE, registered_delivery=0x11))
    resp, intermediate = link.read()
    assert intermediate.esm_class == 0x20 and intermediate.message_state == MessageState.ENROUTE
    link.ack([intermediate])
    carrier.handsets.set_state(OFF_PHONE, HandsetState.ON)
    (receipt,) = link.read()
    assert receipt.receipted_message_id == resp.message_id and receipt.message_state == MessageState.DELIVRD


def test_expiry_gives_expired_receipt() -> None:
    """A message whose validity ends before the phone comes on is receipted EXPIRED."""
    clock = FakeClock()
    carrier = make_carrier(clock=clock)
    link = Link(carrier)
    link.send(submit(OFF_PHONE, validity_period="000000000100000R"))
    (resp,) = link.read()
    clock.advance(61)
    carrier.tick()
    (receipt,) = link.read()
    assert receipt.message_state == MessageState.EXPIRED and b"stat:EXPIRED" in receipt.short_message


def test_scheduled_message_is_delivered_when_due() -> None:
    """schedule_delivery_time (relative) holds the message until then."""
    clock = FakeClock()
    carrier = make_carrier(clock=clock)
    link = Link(carrier)
    link.send(submit(schedule_delivery_time="000000000030000R"))
    assert len(link.read()) == 1
    clock.advance(29)
    carrier.tick()
    assert link.read() == []
    clock.advance(1)
    carrier.tick()
    (receipt,) = link.read()
    assert receipt.message_state == MessageState.DELIVRD


def test_query_cancel_replace() -> None:
    """query_sm reports states; cancel_sm and replace_sm work only on pending messages."""
    carrier = make_carrier()
    link = Link(carrier)
    link.send(submit(OFF_PHONE, registered_delivery=0))
    link.send(submit(registered_delivery=0, sequence=2))
    pending, delivered = link.read()
    link.send(QuerySm(3, message_id=delivered.message_id, source_addr="12345"))
    link.send(ReplaceSm(4, message_id=pending.message_id, source_addr="12345", short_message=b"new text"))
    link.send(ReplaceSm(5, message_id=delivered.message_id, source_addr="12345", short_message=b"x"))
    link.send(CancelSm(6, message_id=pending.message_id, source_addr="12345"))
    link.send(CancelSm(7, message_id=pending.message_id, source_addr="12345"))
    link.send(QuerySm(8, message_id=pending.message_id))
    link.send(QuerySm(9, message_id="999"))
    query, replaced, not_replaced, cancelled, not_cancelled, query2, unknown = link.read()
    assert query.message_state == MessageState.DELIVRD and query.final_date.endswith("00+")
    assert replaced.command_status == 0 and not_replaced.command_status == S.ESME_RREPLACEFAIL
    assert cancelled.command_status == 0 and not_cancelled.command_status == S.ESME_RCANCELFAIL
    assert query2.message_state == MessageState.DELETED
    assert unknown.command_status == S.ESME_RQUERYFAIL
    assert carrier.store.get_message(int(pending.message_id)).body == b"new text"


def test_with_a_store_read_elsewhere_query_cancel_and_replace_answer_once_their_read_is_done() -> None:
    """A store whose reads wait on a database server is not read on the thread serving the
    connections: query_sm, cancel_sm and replace_sm are answered once the front end has run
    their read elsewhere, each as it would be answered at once, and a message that changed
    meanwhile is answered as the carrier holds it now."""
    carrier = make_carrier()
    carrier.store.reads_anywhere = True  # as PostgreSQL's: the link must not read it here
    reads: list[tuple[Any, Any]] = []
    link = Link(carrier, read_later=lambda read, then, failed: reads.append((read, then)))
    link.send(submit(OFF_PHONE, registered_delivery=0))
    link.send(submit(registered_delivery=0, sequence=2))
    pending, delivered = link.read()
    link.send(QuerySm(3, message_id=delivered.message_id, source_addr="12345"))
    link.send(ReplaceSm(4, message_id=pending.message_id, source_addr="12345", short_message=b"new text"))
    link.send(QuerySm(5, message_id=pending.message_id, source_addr="12345"))
    link.send(CancelSm(6, message_id=delivered.message_id, source_addr="12345"))
    link.send(QuerySm(7, message_id="999"))
    assert link.read() == [] and len(reads) == 5

    done = [(then, read()) for read, then in reads]  # the reads, run "elsewhere"
    reads.clear()
    carrier.handsets.set_state(OFF_PHONE, HandsetState.ON)  # meanwhile the pending one arrives
    for then, result in done:
        then(result)
    assert len(reads) == 2  # replace_sm and its query found it waiting: read again
    for read, then in reads:
        then(read())
    answers = {pdu.sequence_number: pdu for pdu in link.read()}

    query, replaced, query2, not_cancelled, unknown = (answers[n] for n in (3, 4, 5, 6, 7))
    assert query.message_state == MessageState.DELIVRD and query.final_date.endswith("00+")
    assert replaced.command_status == S.ESME_RREPLACEFAIL  # delivered before it was answered
    assert query2.message_state == MessageState.DELIVRD
    assert not_cancelled.command_status == S.ESME_RCANCELFAIL
    assert unknown.command_status == S.ESME_RQUERYFAIL
    assert carrier.store.get_message(int(pending.message_id)).body != b"new text"


def test_the_source_address_verifies_the_message_id() -> None:
    """query_sm, cancel_sm and replace_sm find a message only from the source_addr it was
    submitted with (SMPP v3.4 §4.8.1, 4.9.1, 4.10.1); query_sm may leave it empty."""
    carrier = make_carrier()
    link = Link(carrier)
    link.send(submit(OFF_PHONE, registered_delivery=0))
    (pending,) = link.read()
    message_id = pending.message_id
    link.send(QuerySm(2, message_id=message_id, source_addr="54321"))
    link.send(QuerySm(3, message_id=message_id, source_addr=""))
    link.send(ReplaceSm(4, message_id=message_id, source_addr="54321", short_message=b"forged"))
    link.send(ReplaceSm(5, message_id=message_id, source_addr="", short_message=b"forged"))
    link.send(CancelSm(6, message_id=message_id, source_addr="54321"))
    link.send(CancelSm(7, message_id=message_id, source_addr=""))
    link.send(CancelSm(8, message_id=message_id, source_addr="12345", destination_addr="8613800000002"))
    answers = link.read()
    assert [a.command_status for a in answers] == [
        S.ESME_RQUERYFAIL,
        0,
        S.ESME_RREPLACEFAIL,
        S.ESME_RREPLACEFAIL,
        S.ESME_RCANCELFAIL,
        S.ESME_RCANCELFAIL,
        S.ESME_RCANCELFAIL,
    ]
    record = carrier.store.get_message(int(message_id))
    assert (record.body, record.state) == (b"Your code is 123456", MessageState.ENROUTE)


def test_throttling() -> None:
    """Above the account's throughput, submits get ESME_RTHROTTLED."""
    carrier = make_carrier(throughput=2)
    link = Link(carrier)
    for n in range(4):
        link.send(submit(sequence=n + 1, registered_delivery=0))
    statuses = [p.command_status for p in link.read()]
    assert statuses == [0, 0, S.ESME_RTHROTTLED, S.ESME_RTHROTTLED]


def test_a_throttled_esme_hears_it_is_throttled_before_its_fields_are_read() -> None:
    """Throughput is checked before the message: a throttled submit with a bad field still
    gets ESME_RTHROTTLED, so the ESME slows down instead of "fixing" a field."""
    carrier = make_carrier(throughput=1)
    link = Link(carrier)
    link.send(submit(sequence=1, registered_delivery=0))
    link.send(submit(sequence=2, registered_delivery=0, schedule_delivery_time="garbage"))
    assert [p.command_status for p in link.read()] == [0, S.ESME_RTHROTTLED]


def test_a_submit_refused_for_a_field_is_announced_with_its_reason() -> None:
    """A field check's refusal reaches the event stream (and so the refusal log) like any other."""
    carrier = make_carrier()
    seen: list[Refused] = []
    carrier.events.subscribe(seen.append, Refused)
    link = Link(carrier)
    link.send(submit(sequence=1, schedule_delivery_time="garbage"))
    assert [p.command_status for p in link.read()] == [S.ESME_RINVSCHED]
    ((event,),) = [seen]
    assert (event.system_id, event.command, event.status) == ("shop", "submit_sm", "ESME_RINVSCHED")
    assert "schedule_delivery_time" in event.reason


def test_queue_full() -> None:
    """With receipts waiting for a receiver and max_queue reached, submits get ESME_RMSGQFUL."""
    carrier = make_carrier(max_queue=2)
    link = Link(carrier, BindTransmitter)
    for n in range(3):
        link.send(submit(sequence=n + 1))
    assert [p.command_status for p in link.read()] == [0, 0, S.ESME_RMSGQFUL]


def test_receipts_wait_for_a_receiver_and_arrive_in_order() -> None:
    """Receipts for an account with no receiver bound are delivered in order once one binds."""
    carrier = make_carrier()
    sender = Link(carrier, BindTransmitter)
    for n in range(3):
        sender.send(submit(sequence=n + 1))
    ids = [p.message_id for p in sender.read()]
    receiver = Link(carrier, BindReceiver)
    assert [p.receipted_message_id for p in receiver.read()] == ids


def test_refused_receipt_is_retried_with_backoff() -> None:
    """A receipt answered ESME_RX_T_APPN comes again after the backoff; RX_P_APPN ends it."""
    clock = FakeClock()
    carrier = make_carrier(clock=clock)
    link = Link(carrier)
    link.send(submit())
    _, receipt = link.read()
    link.ack([receipt], S.ESME_RX_T_APPN)
    assert link.read() == []
    clock.advance(1)
    carrier.tick()
    (again,) = link.read()
    assert again.receipted_message_id == receipt.receipted_message_id
    link.ack([again], S.ESME_RX_P_APPN)
    clock.advance(10)
    carrier.tick()
    assert link.read() == [] and carrier.outbox.pending("shop") == 0


def test_receipts_go_back_to_the_transceiver_that_submitted() -> None:
    """Each of two transceivers of one account gets the receipts of its own submits, even
    when it has to wait for room in its window (so parallel test runs see their own)."""
    carrier = make_carrier()
    first, second = Link(carrier, window=1), Link(carrier, window=1)
    first.send(submit())
    first.send(submit(sequence=2))
    second.send(submit(sequence=3))
    first_batch, second_batch = first.read(), second.read()
    first_ids = [p.message_id for p in first_batch if isinstance(p, SubmitSmResp)]
    (second_id,) = [p.message_id for p in second_batch if isinstance(p, SubmitSmResp)]
    first_receipts = [p for p in first_batch if isinstance(p, DeliverSm)]
    assert [p.receipted_message_id for p in first_receipts] == first_ids[:1]  # window 1: one at a time
    assert [p.receipted_message_id for p in second_batch if isinstance(p, DeliverSm)] == [second_id]
    first.ack(first_receipts)
    assert [p.receipted_message_id for p in first.read() if isinstance(p, DeliverSm)] == first_ids[1:]
    assert second.read() == []


def test_deliveries_of_transmitters_are_shared_between_receivers() -> None:
    """Receipts of a transmitter bind's submits go to the account's receiving binds in turn."""
    carrier = make_carrier()
    sender = Link(carrier, bind=BindTransmitter)
    first, second = Link(carrier, bind=BindReceiver, window=1), Link(carrier, bind=BindReceiver, window=1)
    sender.send(submit())
    sender.send(submit(sequence=2))
    got_first = [p for p in first.read() if isinstance(p, DeliverSm)]
    got_second = [p for p in second.read() if isinstance(p, DeliverSm)]
    assert len(got_first) == 1 and len(got_second) == 1


def test_receipts_waiting_for_a_bind_that_goes_are_sent_to_another() -> None:
    carrier = make_carrier()
    first, second = Link(carrier, window=1), Link(carrier, window=1)
    first.send(submit())
    first.send(submit(sequence=2))
    (sent,) = [p for p in first.read() if isinstance(p, DeliverSm)]
    assert [p for p in second.read() if isinstance(p, DeliverSm)] == []
    carrier.unbound(first.smpp.binding, [], "connection lost")
    carrier.tick()
    moved = [p for p in second.read() if isinstance(p, DeliverSm)]
    assert [p.receipted_message_id for p in moved] == [str(int(sent.receipted_message_id) + 1)]


def test_mo_to_short_code() -> None:
    """A handset's MO is delivered to the short code's owner as deliver_sm, UCS2 when needed."""
    carrier = make_carrier()
    link = Link(carrier)
    carrier.handsets.send_sms("8613800000001", "12345", "支付 25")
    (mo,) = link.read()
    assert (mo.source_addr, mo.destination_addr, mo.data_coding) == ("8613800000001", "12345", 8)
    assert mo.short_message.decode("utf-16-be") == "支付 25"
    link.ack([mo])
    carrier.flush()
    assert carrier.store.find_messages(direction="MO")[0].state == MessageState.DELIVRD


@pytest.mark.parametrize(("style", "expected"), [("decimal", "1"), ("hex", "1"), ("decimal10", "0000000001")])
def test_message_id_formats(style: str, expected: str) -> None:
    """The account's message_id format is used in the resp and the receipt alike."""
    carrier = make_carrier(message_id_format=style)
    link = Link(carrier)
    link.send(submit())
    resp, receipt = link.read()
    assert resp.message_id == receipt.receipted_message_id == expected
    assert f"id:{expected} ".encode() in receipt.short_message


def test_restart_resumes_pending_work(tmp_path) -> None:
    """After a restart on the same file, waiting messages and receipts carry on."""
    path = str(tmp_path / "store.db")
    carrier = make_carrier(path)
    sender = Link(carrier, BindTransmitter)
    sender.send(submit(OFF_PHONE))
    sender.send(submit(sequence=2))
    waiting, delivered = sender.read()
    carrier.store.close()

    carrier = make_carrier(path)
    receiver = Link(carrier, BindReceiver)
    (receipt,) = receiver.read()
    assert receipt.receipted_message_id == delivered.message_id
    carrier.handsets.set_state(OFF_PHONE, HandsetState.ON)
    (late,) = receiver.read()
    assert late.receipted_message_id == waiting.message_id
    sender = Link(carrier, BindTransmitter)
    sender.send(submit(sequence=3))
    (resp,) = sender.read()
    assert resp.message_id == "3"


def test_bind_refusals() -> None:
    """Unknown system_id, wrong password and a bind type not allowed each have their status."""
    carrier = make_carrier(bind_types=frozenset({BindType.TRANSMITTER}))
    assert not Link(carrier, system_id="nobody").bound
    assert not Link(carrier, BindReceiver).bound
    assert Link(carrier, BindTransmitter).bound


def test_receipt_text_is_plain_ascii() -> None:
    """Receipt text never carries GSM-only codes: '@' would reach an ESME as NUL (Kannel)."""
    carrier = make_carrier()
    link = Link(carrier)
    sm = submit()
    link.send(attrs.evolve(sm, short_message=b"\x00home: \x015 \x1b\x28"))  # "@home: £5 {" in GSM
    _, receipt = link.read()
    assert receipt.short_message.endswith(b"text:?home: ?5 ?")
    assert all(0x20 <= b < 0x7F for b in receipt.short_message)


def test_restart_keeps_subscribers_and_delivers_what_waited(tmp_path) -> None:
    """Numbers used once and phone states survive a restart; waiting mail to a phone now on goes out."""
    path = str(tmp_path / "store.db")
    carrier = make_carrier(path)
    sender = Link(carrier, BindTransmitter)
    sender.send(submit("8613712345678", registered_delivery=0))
    sender.send(submit(OFF_PHONE, sequence=2, registered_delivery=0))
    sender.read()
    carrier.handsets.set_state("8613800000001", HandsetState.OFF)
    carrier.flush()
    carrier.store.close()
    # The process dies with the phone's state changed behind its back: on at the next start.
    from smsgw.store.sqlite import SqliteStore

    store = SqliteStore(path)
    store.save_subscriber(OFF_PHONE, "Off", "on", 0)
    store.close()

    carrier = make_carrier(path)
    assert carrier.subscribers.find("8613712345678") is not None
    assert len(carrier.store.find_messages(msisdn="8613712345678")) == 1
    assert carrier.subscribers.get("8613800000001").state is HandsetState.OFF
    carrier.flush()
    (record,) = carrier.store.find_messages(msisdn=OFF_PHONE)
    assert record.state == MessageState.DELIVRD


def test_auto_provisioned_numbers_cost_no_objects_until_changed() -> None:
    """A load test to many numbers keeps no subscriber per number; switching one off keeps it."""
    carrier = make_carrier()
    link = Link(carrier)
    for n in range(20):
        link.send(submit(f"86137000000{n:02d}", sequence=n + 1, registered_delivery=0))
    link.read()
    assert len(carrier.subscribers) == 2
    carrier.handsets.set_state("8613700000007", HandsetState.OFF)
    assert carrier.subscribers.get("8613700000007").state is HandsetState.OFF
    carrier.flush()
    assert ("8613700000007", "", "off", 0, "") in carrier.store.subscribers()


@pytest.mark.parametrize("form", ["udh", "sar", "payload"])
def test_long_mo_in_the_form_the_account_asks_for(form: str) -> None:
    """A 300-character MO reaches the ESME as UDH parts, SAR parts, or one message_payload."""
    carrier = make_carrier(long_mo=form)
    link = Link(carrier)
    text = "".join(f"{n:02d} reply YES to confirm; " for n in range(14))[:300]
    carrier.handsets.send_sms("8613800000001", "12345", text)
    pdus = link.read()
    if form == "udh":
        assert [p.esm_class for p in pdus] == [0x40, 0x40]
        assert b"".join(p.short_message[6:] for p in pdus).decode("ascii") == text
    elif form == "sar":
        assert [(p.sar_segment_seqnum, p.sar_total_segments, p.esm_class) for p in pdus] == [
            (1, 2, 0),
            (2, 2, 0),
        ]
        assert len({p.sar_msg_ref_num for p in pdus}) == 1
        assert b"".join(p.short_message for p in pdus).decode("ascii") == text
    else:
        (pdu,) = pdus
        assert pdu.short_message == b"" and pdu.message_payload.decode("ascii") == text


def test_handset_to_handset_sms() -> None:
    """A handset texting another: the recipient gets it from the sender's number, the sender's sent box has it."""
    carrier = make_carrier()
    ids = carrier.handsets.send_sms("8613800000001", "+8613900000002", "see you at 8")
    carrier.flush()
    (received,) = carrier.store.find_messages(msisdn="8613900000002", direction="MT")
    assert [received.message_id] == ids
    assert (received.source_addr, received.state) == ("8613800000001", MessageState.DELIVRD)
    (sent,) = carrier.store.find_messages(msisdn="8613800000001", direction="MO")
    assert sent.dest_addr == "8613900000002"


def test_inbox_full_holds_then_undeliverable() -> None:
    """A full inbox holds the message; still full when validity ends, the receipt is UNDELIV err 032."""
    clock = FakeClock()
    carrier = make_carrier(clock=clock)
    carrier.handsets.set_state("8613800000001", HandsetState.INBOX_FULL)
    link = Link(carrier)
    link.send(submit(validity_period="000000000100000R"))
    (resp,) = link.read()
    clock.advance(61)
    carrier.tick()
    (receipt,) = link.read()
    assert receipt.message_state == MessageState.UNDELIV and b"stat:UNDELIV err:032" in receipt.short_message


def test_latin1_account_reads_and_receives_latin1() -> None:
    """For an ESME whose data_coding 0 means Latin-1, its text reads as Latin-1 and MO comes as data_coding 3."""
    carrier = make_carrier(data_coding_0="latin-1")
    link = Link(carrier)
    link.send(attrs.evolve(submit(), short_message="Café à 5€? ".encode("latin-1", "replace")))
    _, receipt = link.read()
    assert b"text:Caf? ? 5?? " in receipt.short_message  # é, à decoded as Latin-1, then made ASCII
    (record,) = carrier.store.find_messages(direction="MT")
    assert carrier.messages.text_coding(record) == 3
    carrier.handsets.send_sms("8613800000001", "12345", "Café crème")
    (mo,) = link.read()
    assert (mo.data_coding, mo.short_message) == (3, "Café crème".encode("latin-1"))


def _two_accounts(clock: FakeClock) -> Carrier:
    return make_carrier(clock=clock, accounts=[Account("shop", "pw"), Account("other", "pw2", max_binds=1)])


def test_failed_binds_for_one_system_id_are_refused_unread_for_a_while() -> None:
    """Ten wrong passwords for 'shop' in a minute, and its eleventh bind (even a right one) is
    refused; 'other', from the same address, binds meanwhile."""
    clock = FakeClock()
    carrier = _two_accounts(clock)
    for _ in range(carrier.binds.failed_binds.limit):
        assert not Link(carrier, password="wrong").bound
    refused: list[object] = []
    carrier.events.subscribe(refused.append)
    assert not Link(carrier).bound  # the right password, not even checked
    assert "failed binds for system_id 'shop' from test" in refused[-1].reason  # type: ignore[attr-defined]
    assert Link(carrier, system_id="other", password="pw2").bound
    clock.advance(carrier.binds.failed_binds.window)
    assert Link(carrier).bound
    assert not carrier.binds.failed_binds.blocked("test", "shop", clock.now())


def test_unknown_system_ids_share_one_count_and_lock_out_no_account() -> None:
    """A client inventing a name per bind fills one entry, is refused unread after ten, and
    every account still binds from the same address."""
    clock = FakeClock()
    carrier = _two_accounts(clock)
    assert not any(Link(carrier, system_id=f"guess{n}").bound for n in range(30))
    assert len(carrier.binds.failed_binds) == 1
    assert carrier.binds.failed_binds.blocked("test", UNKNOWN, clock.now())
    assert Link(carrier).bound
    assert Link(carrier, system_id="other", password="pw2").bound


def test_a_right_password_over_max_binds_is_no_failed_bind() -> None:
    """A load test binding more sessions than max_binds is refused those, not locked out."""
    clock = FakeClock()
    carrier = _two_accounts(clock)
    assert Link(carrier, system_id="other", password="pw2").bound
    for _ in range(carrier.binds.failed_binds.limit + 5):
        assert not Link(carrier, system_id="other", password="pw2").bound  # max_binds 1
    assert not carrier.binds.failed_binds.blocked("test", "other", clock.now())


def test_a_national_number_too_long_for_e164_is_not_a_phone_number() -> None:
    """Found by schemathesis: 15 national digits behind +86 made a 17-digit MSISDN."""
    assert normalize_msisdn("953204428482919", "86") is None
    assert normalize_msisdn("13800000001", "86") == "8613800000001"


@pytest.mark.parametrize(
    "address",
    [
        "8613800000001",
        "+8613800000001",
        "008613800000001",
        "13800000001",
        "013800000001",
        " +86 138-0000-0001 ",
    ],
)
def test_every_way_of_writing_a_number_names_the_same_subscriber(address: str) -> None:
    assert normalize_msisdn(address, "86") == "8613800000001"


@pytest.mark.parametrize("address", ["١٣٨٠٠٠٠٠٠٠١", "12345", "86138000000012345", "+86 138 abc"])
def test_what_is_no_phone_number_is_refused(address: str) -> None:
    """Digits other than ASCII ones (str.isdigit takes them), short codes, too many digits."""
    assert normalize_msisdn(address, "86") is None


def test_replace_if_present_keeps_every_part_of_the_new_long_message() -> None:
    """A long message sent with replace_if_present_flag replaces the pending short one, but its
    own later parts (same UDH reference and total) do not replace its earlier ones."""
    carrier = make_carrier()
    link = Link(carrier)
    link.send(submit(OFF_PHONE, registered_delivery=0))
    for seq in (1, 2):
        udh = bytes([5, 0, 3, 0x42, 2, seq])
        part = submit(OFF_PHONE, sequence=1 + seq, registered_delivery=0, replace_if_present_flag=1)
        link.send(attrs.evolve(part, esm_class=0x40, short_message=udh + f"part {seq}".encode()))
    old, part1, part2 = link.read()
    assert carrier.store.get_message(int(old.message_id)).state == MessageState.DELETED
    assert carrier.center.pending(int(part1.message_id)) is not None
    assert carrier.center.pending(int(part2.message_id)) is not None
    # The next long message with the flag replaces both parts of this one.
    link.send(submit(OFF_PHONE, sequence=9, registered_delivery=0, replace_if_present_flag=1))
    link.read()
    assert carrier.center.pending(int(part1.message_id)) is None
    assert carrier.center.pending(int(part2.message_id)) is None


def test_a_submit_multi_id_names_every_destination() -> None:
    """The message_id a submit_multi shares among its destinations names all of them:
    query_sm answers for the group, cancel_sm cancels each one still waiting (or the one
    destination_addr names), and a delivered one is no reason to refuse."""
    carrier = make_carrier()
    link = Link(carrier)
    on, off = "8613800000001", OFF_PHONE
    link.send(
        SubmitMulti(
            1,
            source_addr="12345",
            dest_addresses=(SmeAddress(1, 1, on), SmeAddress(1, 1, off)),
            short_message=b"Sale today",
        )
    )
    (response,) = link.read()
    message_id = response.message_id
    link.send(QuerySm(2, message_id=message_id, source_addr="12345"))
    link.send(CancelSm(3, message_id=message_id, source_addr="12345", destination_addr=on))
    link.send(CancelSm(4, message_id=message_id, source_addr="12345", destination_addr="8613800000077"))
    link.send(CancelSm(5, message_id=message_id, source_addr="12345"))
    link.send(QuerySm(6, message_id=message_id, source_addr="12345"))
    waiting, delivered_one, not_a_destination, cancelled, query = link.read()
    assert (waiting.command_status, waiting.message_state, waiting.final_date) == (
        0,
        MessageState.ENROUTE,
        "",
    )
    assert delivered_one.command_status == S.ESME_RCANCELFAIL
    assert not_a_destination.command_status == S.ESME_RCANCELFAIL
    assert cancelled.command_status == 0
    assert (query.message_state, query.final_date != "") == (MessageState.DELETED, True)
    states = {r.msisdn: r.state for r in (carrier.store.get_message(int(message_id) + i) for i in (0, 1))}
    assert states == {on: MessageState.DELIVRD, off: MessageState.DELETED}


def test_query_sm_does_not_find_an_mo() -> None:
    """An MO the account received is not a message it submitted: query_sm gets ESME_RQUERYFAIL."""
    carrier = make_carrier()
    link = Link(carrier)
    (mo_id,) = carrier.handsets.send_sms("8613800000001", "12345", "YES 123456")
    link.ack(link.read())
    link.send(QuerySm(2, message_id=mo_id, source_addr=""))
    (answer,) = [p for p in link.read() if p.command_id == CommandId.QUERY_SM_RESP]
    assert answer.command_status == S.ESME_RQUERYFAIL
