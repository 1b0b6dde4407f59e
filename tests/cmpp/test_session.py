"""The gateway's CMPP session, fed plain bytes with an injected clock."""

from __future__ import annotations

import struct

import pytest

from smsgw.cmpp import auth, codec
from smsgw.cmpp import pdu as p
from smsgw.cmpp.constants import CommandId, Version
from smsgw.cmpp.session import (
    ConnectRequested,
    IsmgSession,
    ProtocolErrorAnswered,
    ResponseReceived,
    ResponseUnmatched,
    SessionClosing,
    SessionConfig,
    State,
)

V20, V30 = Version.V20, Version.V30
SECRET = "secret"


def connect_bytes(version: int = 0x30, sequence: int = 1, secret: str = SECRET) -> bytes:
    stamp = 1206200556
    source = auth.authenticator_source("901234", secret, stamp)
    return codec.encode(p.Connect(sequence, "901234", source, version, stamp), V30)


def sent(session: IsmgSession, version: Version) -> list[p.Pdu]:
    out, pdus = session.data_to_send(), []
    while out:
        (length,) = struct.unpack_from(">I", out)
        pdus.append(codec.decode(out[:length], version))
        out = out[length:]
    return pdus


def connected(version: int = 0x30) -> IsmgSession:
    session: IsmgSession = IsmgSession(SessionConfig(), now=0.0)
    (asked,) = session.receive_data(connect_bytes(version), 0.0)
    assert isinstance(asked, ConnectRequested)
    session.accept(asked.pdu, SECRET)
    session.data_to_send()
    return session


def submit_bytes(version: Version, sequence: int = 2) -> bytes:
    return codec.encode(
        p.Submit(
            sequence,
            msg_src="901234",
            src_id="106901234",
            dest_terminal_ids=("8613800138000",),
            msg_content=b"hi",
        ),
        version,
    )


def test_a_3_0_sp_connects_and_submits() -> None:
    session: IsmgSession = IsmgSession(SessionConfig(), now=0.0)
    (asked,) = session.receive_data(connect_bytes(0x30), 0.0)
    assert isinstance(asked, ConnectRequested) and asked.version is V30 and asked.pdu.source_addr == "901234"
    session.accept(asked.pdu, SECRET)
    out = session.data_to_send()
    assert len(out) == 33  # 3.0 CONNECT_RESP: Status in 4 octets
    answer = codec.decode(out, V30)
    assert answer == p.ConnectResp(
        1, 0, auth.authenticator_ismg(0, asked.pdu.authenticator_source, SECRET, V30), 0x30
    )
    (submit,) = session.receive_data(submit_bytes(V30), 1.0)
    assert isinstance(submit, p.Submit) and submit.dest_terminal_ids == ("8613800138000",)
    session.respond(submit, msg_id=77, result=0)
    assert sent(session, V30) == [p.SubmitResp(2, 77, 0)]


def test_a_2_0_sp_is_answered_in_2_0_layouts() -> None:
    session = connected(0x20)
    assert session.version is V20
    (submit,) = session.receive_data(submit_bytes(V20), 1.0)
    assert isinstance(submit, p.Submit)
    session.respond(submit, msg_id=78, result=0)
    assert len(out := session.data_to_send()) == 21 and codec.decode(out, V20) == p.SubmitResp(2, 78, 0)


def test_a_version_above_3_0_is_refused_and_the_connection_ends() -> None:
    session: IsmgSession = IsmgSession(SessionConfig(), now=0.0)
    events = session.receive_data(connect_bytes(0x31), 0.0)
    assert events == [SessionClosing("CMPP_CONNECT asked for version 0x31")]
    assert codec.decode(session.data_to_send(), V30).status == 4


def test_a_refused_connect_ends_the_connection() -> None:
    session: IsmgSession = IsmgSession(SessionConfig(), now=0.0)
    (asked,) = session.receive_data(connect_bytes(), 0.0)
    closing = session.refuse(asked.pdu, 3)
    assert closing.reason == "CMPP_CONNECT refused with Status 3" and session.state is State.CLOSING
    assert codec.decode(session.data_to_send(), V30) == p.ConnectResp(1, 3, bytes(16), 0x30)


def test_a_request_before_connect_ends_the_connection() -> None:
    session: IsmgSession = IsmgSession(SessionConfig(), now=0.0)
    events = session.receive_data(submit_bytes(V30), 0.0)
    assert events == [SessionClosing("CMPP_SUBMIT before a successful CMPP_CONNECT")]
    assert session.data_to_send() == b""


def test_active_test_and_terminate_are_answered_by_the_session() -> None:
    session = connected()
    assert session.receive_data(codec.encode(p.ActiveTest(5), V30), 1.0) == []
    assert sent(session, V30) == [p.ActiveTestResp(5)]
    events = session.receive_data(codec.encode(p.Terminate(6), V30), 2.0)
    assert events == [SessionClosing("the SP sent CMPP_TERMINATE")]
    assert sent(session, V30) == [p.TerminateResp(6)]


def test_a_malformed_submit_is_answered_with_its_code_and_the_session_goes_on() -> None:
    session = connected()
    good = submit_bytes(V30, sequence=9)
    short = struct.pack(">I", len(good) - 3) + good[4:-3]
    (error,) = session.receive_data(short, 1.0)
    assert isinstance(error, ProtocolErrorAnswered) and error.error.code == 4
    assert sent(session, V30) == [p.SubmitResp(9, 0, 4)]
    (submit,) = session.receive_data(submit_bytes(V30, sequence=10), 2.0)
    assert isinstance(submit, p.Submit)


def test_a_broken_stream_ends_the_connection() -> None:
    session = connected()
    events = session.receive_data(struct.pack(">III", 5, CommandId.SUBMIT, 3), 1.0)
    assert len(events) == 1 and isinstance(events[0], SessionClosing)
    assert "Total_Length 5 is outside 12..4096" in events[0].reason


def test_delivers_keep_to_the_window_and_their_answers_carry_their_context() -> None:
    session = connected()
    sequences = []
    while session.can_deliver:
        sequences.append(
            session.send(p.Deliver(0, msg_id=len(sequences)), 1.0, context=f"mo{len(sequences)}")
        )
    assert len(sequences) == 16
    assert len(sent(session, V30)) == 16
    (answered,) = session.receive_data(codec.encode(p.DeliverResp(sequences[3], 3, 0), V30), 2.0)
    assert answered == ResponseReceived(p.DeliverResp(sequences[3], 3, 0), "mo3")
    assert session.can_deliver
    (late,) = session.receive_data(codec.encode(p.DeliverResp(sequences[3], 3, 0), V30), 2.5)
    assert isinstance(late, ResponseUnmatched)
    lost = session.connection_lost()
    assert len(lost.contexts) == 15 and "mo3" not in lost.contexts


def test_an_encoded_deliver_is_sent_with_a_fresh_sequence_id_and_counts_in_the_window() -> None:
    """Deliveries are kept encoded; each send (a retry too) patches in the next Sequence_Id."""
    session = connected()
    raw = codec.encode(p.Deliver(0, msg_id=77, dest_id="1065712345", src_terminal_id="8613800000001"), V30)
    first = session.send_encoded(raw, 1.0, context="mo")
    again = session.send_encoded(raw, 2.0, context="mo again")
    assert first != again and session.window_free == 14
    out = sent(session, V30)
    assert [pdu.sequence_id for pdu in out] == [first, again] and out[0].msg_id == 77
    session.send_paused = True
    assert not session.can_deliver and session.window_free == 14
    session.send_paused = False
    (answer,) = session.receive_data(codec.encode(p.DeliverResp(again, 77, 0), V30), 3.0)
    assert answer == ResponseReceived(p.DeliverResp(again, 77, 0), "mo again")
    assert session.window_free == 15


def test_a_dropped_session_reads_nothing_more() -> None:
    session = connected()
    session.drop("injected fault")
    assert session.dropped and session.close_reason == "injected fault"
    assert session.receive_data(submit_bytes(V30, sequence=4), 1.0) == []
    assert not session.can_deliver


def test_a_silent_link_is_tested_and_ended_after_three_unanswered_tests() -> None:
    session = connected()
    assert session.tick(179.0) == [] and session.data_to_send() == b""
    assert session.tick(180.0) == []
    assert [type(pdu) for pdu in sent(session, V30)] == [p.ActiveTest]
    assert session.tick(240.0) == []  # T passed: the second try, at once
    assert [type(pdu) for pdu in sent(session, V30)] == [p.ActiveTest]
    assert session.tick(300.0) == []
    assert session.tick(360.0) == [SessionClosing("3 CMPP_ACTIVE_TEST unanswered")]


def test_an_answered_test_keeps_the_link() -> None:
    session = connected()
    session.tick(180.0)
    (test,) = sent(session, V30)
    assert session.receive_data(codec.encode(p.ActiveTestResp(test.sequence_id), V30), 181.0) == []
    assert session.tick(300.0) == [] and session.data_to_send() == b""
    assert session.state is State.CONNECTED


def test_a_connection_that_never_connects_is_ended() -> None:
    session: IsmgSession = IsmgSession(SessionConfig(connect_timeout=30.0), now=0.0)
    assert session.tick(29.0) == []
    assert session.tick(30.0) == [SessionClosing("no CMPP_CONNECT within 30 s")]


def test_the_gateway_terminates_and_closes_on_the_answer() -> None:
    session = connected()
    session.terminate(5.0)
    (terminate,) = sent(session, V30)
    assert isinstance(terminate, p.Terminate) and not session.can_deliver
    events = session.receive_data(codec.encode(p.TerminateResp(terminate.sequence_id), V30), 6.0)
    assert events == [SessionClosing("the SP answered CMPP_TERMINATE")]


def test_a_connect_trickled_one_octet_at_a_time_arrives_whole() -> None:
    session: IsmgSession = IsmgSession(SessionConfig(), now=0.0)
    raw = connect_bytes()
    events = [event for i in range(len(raw)) for event in session.receive_data(raw[i : i + 1], 0.0)]
    assert len(events) == 1 and isinstance(events[0], ConnectRequested)


def test_a_connect_answered_after_its_connection_ended_stays_ended() -> None:
    session: IsmgSession = IsmgSession(SessionConfig(connect_timeout=30.0), now=0.0)
    (asked,) = session.receive_data(connect_bytes(), 0.0)
    assert session.tick(30.0) == [SessionClosing("no CMPP_CONNECT within 30 s")]
    session.accept(asked.pdu, SECRET)
    assert session.state is State.CLOSING and not session.can_deliver
    assert session.data_to_send() == b""


def test_a_terminate_from_both_ends_at_once_is_answered() -> None:
    session = connected()
    session.terminate(5.0)
    session.data_to_send()
    events = session.receive_data(codec.encode(p.Terminate(8), V30), 5.1)
    assert events == [SessionClosing("the SP sent CMPP_TERMINATE")]
    assert sent(session, V30) == [p.TerminateResp(8)]


def test_a_source_address_of_any_octets_is_checked_not_crashed_on() -> None:
    assert not auth.is_authentic(bytes(16), "\xff12345", SECRET, 1206200556)


@pytest.mark.parametrize(("octet", "version"), [(0x30, V30), (0x20, V20)])
def test_the_packed_submit_resp_and_deliver_resp_are_the_codecs(octet: int, version: Version) -> None:
    """The two PDUs every message passes are packed and read directly; the same octets and
    the same meaning as the codec's, in both versions."""
    session = connected(octet)
    submit = p.Submit(7, src_id="1065712345", dest_terminal_ids=("8613800000001",))
    session.answer_submit(submit, 0x1234_5678_9ABC_DEF0, 0)
    session.answer_submit(submit, 0, 8)
    assert session.data_to_send() == codec.encode(
        p.SubmitResp(7, 0x1234_5678_9ABC_DEF0, 0), version
    ) + codec.encode(p.SubmitResp(7, 0, 8), version)
    sequence = session.send(p.Deliver(0, msg_id=5), 1.0, context="mo")
    session.data_to_send()
    (answer,) = session.receive_data(codec.encode(p.DeliverResp(sequence, 5, 9), version), 2.0)
    assert answer == ResponseReceived(p.DeliverResp(sequence, 5, 9), "mo")
