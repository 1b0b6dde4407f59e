"""The CMPP codec against the specification's sizes and offsets, published test vectors
(gocmpp's connect_test.go), an independent client's bytes (PyPI cmppy) and round trips."""

from __future__ import annotations

import struct

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgw.cmpp import auth, codec, msgid
from smsgw.cmpp import pdu as p
from smsgw.cmpp.constants import CommandId, Version
from smsgw.cmpp.errors import LocalProtocolError, RemoteProtocolError

V20, V30 = Version.V20, Version.V30

# gocmpp connect_test.go: SP 900001, secret 888888, at 10-21 08:05:10, version 0x21, seq 0x17.
GOCMPP_CONNECT = bytes.fromhex(
    "00000027000000010000001739303030303190d00c1d517abd0b4f65f6bcf8535d16213cdc73be"
)


def test_the_published_connect_decodes_and_encodes_back() -> None:
    connect = codec.decode(GOCMPP_CONNECT, V20)
    assert connect == p.Connect(
        0x17, "900001", bytes.fromhex("90d00c1d517abd0b4f65f6bcf8535d16"), 0x21, 1021080510
    )
    assert codec.encode(connect, V20) == GOCMPP_CONNECT
    assert codec.encode(connect, V30) == GOCMPP_CONNECT  # the same layout in both versions


def test_the_authenticators_match_the_published_vectors() -> None:
    source = auth.authenticator_source("900001", "888888", 1021080510)
    assert source.hex() == "90d00c1d517abd0b4f65f6bcf8535d16"
    assert auth.is_authentic(source, "900001", "888888", 1021080510)
    assert not auth.is_authentic(source, "900001", "888889", 1021080510)
    # Status as on the wire: 1 octet in 2.0, 4 in 3.0 (gocmpp's vectors).
    assert auth.authenticator_ismg(0, source, "888888", V20).hex() == "6c0b846e25bab6daa4ed1c466e0f4bd8"
    assert auth.authenticator_ismg(0, source, "888888", V30).hex() == "7942977274098cf210ab0c16c367bc8d"
    assert auth.authenticator_ismg(3, source, "888888", V30) == bytes(16)  # a refusal: empty


def test_a_january_timestamp_keeps_its_leading_zero_in_the_digest() -> None:
    # 01-02 15:04:05 is the number 102150405; the MD5 takes "0102150405".
    import hashlib

    expected = hashlib.md5(b"901234" + bytes(9) + b"pw" + b"0102150405").digest()
    assert auth.authenticator_source("901234", "pw", 102150405) == expected


def submit(**changes: object) -> p.Submit:
    base = p.Submit(
        7, registered_delivery=1, service_id="TEST", fee_terminal_id="", msg_fmt=8, msg_src="901234",
        fee_type="01", fee_code="000000", src_id="106901234", dest_terminal_ids=("8613800138000",),
        msg_content="你好".encode("utf-16-be"),
    )  # fmt: skip
    return attrs.evolve(base, **changes)


# Sizes from the specification's tables (docs/cmpp.md), not from our layouts.
@pytest.mark.parametrize(
    ("pdu", "v20", "v30"),
    [
        (p.Connect(1), 39, 39),
        (p.ConnectResp(1), 30, 33),
        (p.Terminate(1), 12, 12),
        (p.TerminateResp(1), 12, 12),
        (p.ActiveTest(1), 12, 12),
        (p.ActiveTestResp(1), 13, 13),
        (submit(dest_terminal_ids=("1", "2"), msg_content=b"x" * 10), 138 + 42 + 10, 163 + 64 + 10),
        (p.SubmitResp(1), 21, 24),
        (p.Deliver(1, msg_content=b"abc"), 88, 112),
        (p.DeliverResp(1), 21, 24),
        (p.Query(1), 39, 39),
        (p.QueryResp(1), 63, 63),
        (p.Cancel(1), 20, 20),
        (p.CancelResp(1), 13, 16),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, p.Pdu) else str(value),
)
def test_each_pdu_has_the_specifications_size(pdu: p.Pdu, v20: int, v30: int) -> None:
    for version, size in ((V20, v20), (V30, v30)):
        raw = codec.encode(pdu, version)
        assert len(raw) == size
        assert struct.unpack(">III", raw[:12]) == (size, pdu.command_id, pdu.sequence_id)


def test_a_submits_fields_sit_at_the_specifications_offsets() -> None:
    # Body offsets from the 3.0 specification; 2.0's shift where Fee_terminal_Id is 21 octets.
    for version, msg_fmt, src_id, dest_count, dest in ((V30, 58, 107, 128, 129), (V20, 46, 95, 116, 117)):
        body = codec.encode(submit(), version)[12:]
        assert body[msg_fmt] == 8
        assert body[src_id : src_id + 21] == b"106901234".ljust(21, b"\0")
        assert body[dest_count] == 1
        width = 32 if version is V30 else 21
        assert body[dest : dest + width] == b"8613800138000".ljust(width, b"\0")


def test_the_submit_an_independent_client_sends_decodes() -> None:
    cmppy = pytest.importorskip("cmppy", reason="cmppy is not installed (the test extra has it)")
    sent = cmppy.SubmitReq(
        msg_src="901234", msg_content="你好 hello", src_id="106901234", dest_terminal_id=["8613800138000"],
        service_id="TEST", feetype="01", feecode="000000", registered_delivery=1,
    )  # fmt: skip
    got = codec.decode(sent.message, V30)
    assert isinstance(got, p.Submit)
    assert (got.sequence_id, got.msg_src, got.src_id, got.dest_terminal_ids) == (
        sent.sequence,
        "901234",
        "106901234",
        ("8613800138000",),
    )
    assert (got.registered_delivery, got.msg_fmt, got.service_id, got.fee_code) == (1, 8, "TEST", "000000")
    assert got.msg_content.decode("utf-16-be") == "你好 hello"
    assert codec.encode(got, V30) == sent.message


def test_the_independent_client_reads_our_answers() -> None:
    cmppy = pytest.importorskip("cmppy", reason="cmppy is not installed (the test extra has it)")
    answer = cmppy.parse_response(codec.encode(p.SubmitResp(5, msg_id=0xC3505E01E2400001, result=0), V30))
    assert (answer.sequence, answer.msg_id, answer.result) == (5, 0xC3505E01E2400001, 0)
    connected = cmppy.parse_response(codec.encode(p.ConnectResp(2, 0, bytes(range(16)), 0x30), V30))
    assert (connected.status, connected.version) == (0, 0x30)


def test_a_status_report_is_60_octets_in_2_0_and_71_in_3_0() -> None:
    report = p.StatusReport(0xC3505E01E2400001, "DELIVRD", "2612062005", "2612062006", "8613800138000", 9)
    for version, size in ((V20, 60), (V30, 71)):
        content = codec.encode_report(report, version)
        assert len(content) == size
        assert codec.decode_report(content, version) == report
    # Some gateways send 2.0's 60 octets inside a 3.0 DELIVER: taken as they are.
    assert codec.decode_report(codec.encode_report(report, V20), V30) == report
    with pytest.raises(RemoteProtocolError, match="71 octets, not 12"):
        codec.decode_report(b"x" * 12, V30)


def test_bad_bodies_get_the_code_their_answer_needs() -> None:
    good = codec.encode(submit(), V30)
    with pytest.raises(RemoteProtocolError) as short:
        codec.decode(struct.pack(">I", len(good) - 5) + good[4:-5], V30)
    assert (short.value.code, short.value.sequence_id) == (4, 7)
    with pytest.raises(RemoteProtocolError, match="after its last field") as long_:
        codec.decode(struct.pack(">I", len(good) + 2) + good[4:] + b"\0\0", V30)
    assert long_.value.code == 4
    with pytest.raises(RemoteProtocolError, match="Total_Length 39 but 38") as connect:
        codec.decode(GOCMPP_CONNECT[:-1], V20)
    assert connect.value.code == 1  # CONNECT_RESP: bad structure
    with pytest.raises(RemoteProtocolError, match="unknown Command_Id 0x00000003") as unknown:
        codec.decode(struct.pack(">III", 12, 3, 9), V30)
    assert (unknown.value.code, unknown.value.command_id) == (2, 3)
    # A 2.0 SUBMIT read as 3.0 does not fit: its length says so.
    with pytest.raises(RemoteProtocolError):
        codec.decode(codec.encode(submit(), V20), V30)


def test_an_active_test_resp_without_its_reserved_octet_is_taken() -> None:
    assert codec.decode(struct.pack(">III", 12, CommandId.ACTIVE_TEST_RESP, 4), V30) == p.ActiveTestResp(4)


def test_what_a_field_cannot_hold_is_refused_before_it_is_sent() -> None:
    with pytest.raises(LocalProtocolError, match="longer than its 6 octets"):
        codec.encode(p.Connect(1, source_addr="9012345"), V30)
    with pytest.raises(LocalProtocolError, match="more than one octet"):
        codec.encode(submit(src_id="１０６"), V30)
    with pytest.raises(LocalProtocolError, match="at most 255"):
        codec.encode(submit(msg_content=b"x" * 256), V30)
    with pytest.raises(LocalProtocolError, match="does not fit 1 octet"):
        codec.encode(p.SubmitResp(1, result=256), V20)


def test_the_version_octet_picks_the_layouts() -> None:
    assert [Version.of(octet) for octet in (0x00, 0x01, 0x20, 0x21, 0x30)] == [V20, V20, V20, V20, V30]
    with pytest.raises(ValueError, match="above 0x30"):
        Version.of(0x31)


def test_a_msg_id_packs_its_fields_as_the_specification_lays_them() -> None:
    parts = msgid.MsgIdParts(12, 6, 20, 5, 56, 123456, 1)
    assert msgid.pack(parts) == 0xC3505E01E2400001
    assert msgid.unpack(0xC3505E01E2400001) == parts


def test_msg_ids_are_unique_and_a_group_takes_a_block() -> None:
    now = [1_765_051_556.0]
    ids = msgid.MsgIds(123456, clock=lambda: now[0])
    first = ids.next()
    block = ids.next(3)
    assert block == first + 1 and ids.next() == first + 4
    assert msgid.unpack(first).gateway == 123456
    ids.next(0x10000 - 5)  # the rest of this second
    with pytest.raises(OverflowError):
        ids.next()
    now[0] += 1
    assert msgid.unpack(ids.next()).sequence == 0


_text = st.text(alphabet="0123456789ABCDEFabcdef", max_size=6)
_octet = st.integers(0, 255)


@given(
    version=st.sampled_from([V20, V30]),
    sequence=st.integers(0, 0xFFFFFFFF),
    msg_id=st.integers(0, 2**64 - 1),
    terminals=st.lists(st.text(alphabet="0123456789", min_size=1, max_size=21), max_size=5),
    content=st.binary(max_size=255),
    octets=st.tuples(_octet, _octet, _octet, _octet),
    texts=st.tuples(_text, _text, _text),
)
def test_submits_and_delivers_round_trip(
    version, sequence, msg_id, terminals, content, octets, texts
) -> None:
    pk_total, tp_udhi, msg_fmt, terminal_type = octets
    terminal_type = terminal_type if version is V30 else 0  # not on a 2.0 wire
    sent = submit(
        sequence_id=sequence, msg_id=msg_id, pk_total=pk_total, tp_udhi=tp_udhi, msg_fmt=msg_fmt,
        service_id=texts[0], msg_src=texts[1], fee_code=texts[2], dest_terminal_ids=tuple(terminals),
        dest_terminal_type=terminal_type, fee_terminal_type=terminal_type, msg_content=content,
        link_id=texts[0] if version is V30 else "",
    )  # fmt: skip
    assert codec.decode(codec.encode(sent, version), version) == sent
    delivered = p.Deliver(
        sequence, msg_id, texts[0], texts[1], tp_udhi, tp_udhi, msg_fmt, "".join(terminals)[:21],
        terminal_type, 1, content, texts[2],
    )  # fmt: skip
    assert codec.decode(codec.encode(delivered, version), version) == delivered
