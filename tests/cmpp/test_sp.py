"""The SP's session against the gateway's, bytes passed by hand: connect, submit, a report,
keep-alive and terminate, on an injected clock."""

from __future__ import annotations

import pytest

from smsgw.cmpp import auth
from smsgw.cmpp import pdu as p
from smsgw.cmpp.constants import Version
from smsgw.cmpp.session import ConnectRequested, IsmgSession, ResponseReceived, SessionClosing, SessionConfig
from smsgw.cmpp.sp import Answered, BindRefused, Bound, Delivered, SpConfig, SpSession

SP, SECRET, STAMP_CLOCK = "901234", "smsgw", lambda: 1_765_000_000.0


def pair(version: Version = Version.V30, secret: str = SECRET) -> tuple[SpSession, IsmgSession[object], list]:
    sp = SpSession(SpConfig(SP, secret, version=version), 0.0, clock=STAMP_CLOCK)
    ismg: IsmgSession[object] = IsmgSession(SessionConfig(), 0.0)
    sp.start(0.0)
    (asked,) = ismg.receive_data(sp.data_to_send(), 0.0)
    assert isinstance(asked, ConnectRequested) and asked.version is version
    return sp, ismg, [asked]


@pytest.mark.parametrize("version", [Version.V30, Version.V20])
def test_connect_submit_and_a_report_both_ways(version: Version) -> None:
    sp, ismg, (asked,) = pair(version)
    assert auth.is_authentic(asked.pdu.authenticator_source, SP, SECRET, asked.pdu.timestamp)
    ismg.accept(asked.pdu, SECRET)
    assert sp.receive_data(ismg.data_to_send(), 0.1) == [Bound()] and sp.can_send
    sp.send(
        p.Submit(0, src_id="1065712345", dest_terminal_ids=("8613800000001",), msg_content=b"hi"),
        0.2,
        "order",
    )
    (submit,) = ismg.receive_data(sp.data_to_send(), 0.2)
    assert isinstance(submit, p.Submit) and submit.dest_terminal_ids == ("8613800000001",)
    ismg.respond(submit, msg_id=42, result=0)
    (answered,) = sp.receive_data(ismg.data_to_send(), 0.3)
    assert answered == Answered(p.SubmitResp(submit.sequence_id, 42, 0), "order")
    ismg.send(p.Deliver(0, msg_id=42, registered_delivery=1, msg_content=b"x" * 60), 0.4, context="report")
    (delivered,) = sp.receive_data(ismg.data_to_send(), 0.4)
    assert isinstance(delivered, Delivered) and delivered.pdu.msg_id == 42
    sp.respond(delivered.pdu, 0)
    (taken,) = ismg.receive_data(sp.data_to_send(), 0.5)
    assert isinstance(taken, ResponseReceived) and taken.context == "report" and taken.pdu.result == 0


def test_a_wrong_secret_is_refused_and_the_session_closes() -> None:
    sp, ismg, (asked,) = pair(secret="wrong")
    ismg.refuse(asked.pdu, 3)
    events = sp.receive_data(ismg.data_to_send(), 0.1)
    assert events == [BindRefused(3), SessionClosing("CMPP_CONNECT refused with Status 3")]
    assert not sp.can_send


def test_active_tests_are_answered_and_a_silent_gateway_is_tested() -> None:
    sp, ismg, (asked,) = pair()
    ismg.accept(asked.pdu, SECRET)
    sp.receive_data(ismg.data_to_send(), 0.0)
    ismg.send(p.ActiveTest(0), 1.0)
    assert sp.receive_data(ismg.data_to_send(), 1.0) == []
    assert ismg.receive_data(sp.data_to_send(), 1.0) == []  # our answer matched its test
    assert sp.tick(180.0) == [] and sp.data_to_send() == b""  # heard 179 s ago
    assert sp.tick(181.0) == []
    assert ismg.receive_data(sp.data_to_send(), 181.0) == []  # the gateway answers it itself
    assert sp.receive_data(ismg.data_to_send(), 181.1) == []
    assert sp.tick(200.0) == [] and sp.data_to_send() == b""  # answered: no second test


def test_terminate_from_either_end_closes() -> None:
    sp, ismg, (asked,) = pair()
    ismg.accept(asked.pdu, SECRET)
    sp.receive_data(ismg.data_to_send(), 0.0)
    sp.unbind(1.0)
    events = ismg.receive_data(sp.data_to_send(), 1.0)
    assert events == [SessionClosing("the SP sent CMPP_TERMINATE")]
    assert sp.receive_data(ismg.data_to_send(), 1.1) == [SessionClosing("CMPP_TERMINATE answered")]
