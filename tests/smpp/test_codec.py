"""The SMPP codec: golden bytes from the spec, round trips, strict errors, smpplib cross-checks."""

from __future__ import annotations

import struct

import attrs
import pytest
import smpplib.smpp
from hypothesis import given, settings
from hypothesis import strategies as st

from smsgw.smpp import codec, specs
from smsgw.smpp.constants import CommandId
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.errors import LocalProtocolError, RemoteProtocolError
from smsgw.smpp.pdu import (
    BindTransceiver,
    BindTransceiverResp,
    EnquireLink,
    GenericNack,
    QuerySmResp,
    Tlv,
)
from smsgw.smpp.sm import (
    DataSm,
    DeliverSm,
    DistributionList,
    SmeAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    UnsuccessSme,
)


def header(length: int, command_id: int, status: int = 0, sequence: int = 1) -> bytes:
    return struct.pack(">IIII", length, command_id, status, sequence)


def test_enquire_link_is_sixteen_header_octets() -> None:
    """enquire_link encodes as a bare header with its command_id and sequence_number."""
    assert codec.encode(EnquireLink(sequence_number=7)) == header(16, 0x15, 0, 7)


def test_bind_transceiver_golden_bytes() -> None:
    """bind_transceiver lays out its C-strings and integers in spec order."""
    body = b"esme\x00pw\x00\x00" + bytes((0x34, 1, 1)) + b"\x00"
    raw = header(16 + len(body), 0x09, 0, 3) + body
    pdu = BindTransceiver(sequence_number=3, system_id="esme", password="pw", addr_ton=1, addr_npi=1)
    assert codec.encode(pdu) == raw
    assert codec.decode(raw) == pdu


def test_submit_sm_golden_bytes() -> None:
    """submit_sm: mandatory fields, sm_length derived from short_message, then TLVs."""
    body = (
        b"\x00"
        + bytes((1, 1))
        + b"12345\x00"
        + bytes((1, 1))
        + b"8613800000001\x00"
        + bytes((0, 0, 0))
        + b"\x00\x00"
        + bytes((1, 0, 0, 0))
        + bytes((2,))
        + b"hi"
        + bytes.fromhex("020c00020005")
    )
    raw = header(16 + len(body), 0x04, 0, 9) + body
    pdu = codec.decode(raw)
    assert isinstance(pdu, SubmitSm)
    assert (pdu.source_addr, pdu.destination_addr, pdu.short_message) == ("12345", "8613800000001", b"hi")
    assert pdu.registered_delivery == 1 and pdu.sar_msg_ref_num == 5
    assert codec.encode(pdu) == raw


def test_error_response_has_no_body() -> None:
    """A submit_sm_resp or bind_resp with a non-zero status is the 16-octet header only."""
    assert codec.encode(SubmitSmResp(4, S.ESME_RTHROTTLED, "123")) == header(16, 0x80000004, 0x58, 4)
    assert codec.encode(BindTransceiverResp(1, S.ESME_RINVPASWD, "smsgw")) == header(16, 0x80000009, 0x0E, 1)
    assert codec.decode(header(16, 0x80000004, 0x58, 4)) == SubmitSmResp(4, 0x58)


def test_unknown_tlv_is_kept_and_resent() -> None:
    """A vendor TLV survives decode and encode byte for byte."""
    pdu = SubmitSm(sequence_number=1, destination_addr="1", extra_tlvs=(Tlv(0x1401, b"\x01\x02"),))
    raw = codec.encode(pdu)
    assert raw.endswith(bytes.fromhex("14010002") + b"\x01\x02")
    assert codec.decode(raw).extra_tlvs == (Tlv(0x1401, b"\x01\x02"),)


def test_ussd_service_op_decodes_in_deliver_sm() -> None:
    """deliver_sm carries ussd_service_op as a typed TLV, as USSD gateways send it."""
    pdu = DeliverSm(
        sequence_number=2,
        source_addr="86138",
        short_message=b"*126#",
        ussd_service_op=1,
        its_session_info=0x0100,
    )
    decoded = codec.decode(codec.encode(pdu))
    assert decoded.ussd_service_op == 1 and decoded.its_session_info == 0x0100


def test_query_sm_resp_message_state_is_a_field() -> None:
    """query_sm_resp has message_state as a mandatory field, not the 0x0427 TLV."""
    raw = codec.encode(QuerySmResp(5, 0, "42", "", 2, 0))
    assert raw[16:] == b"42\x00\x00\x02\x00"


def test_submit_multi_round_trip() -> None:
    """submit_multi with SME and list destinations, and its resp with failures, round trip."""
    pdu = SubmitMulti(
        sequence_number=8,
        source_addr="12345",
        dest_addresses=(SmeAddress(1, 1, "8613800000001"), DistributionList("friends")),
        short_message=b"hello",
    )
    assert codec.decode(codec.encode(pdu)) == pdu
    resp = SubmitMultiResp(8, 0, "77", (UnsuccessSme(1, 1, "861", S.ESME_RINVDSTADR),))
    assert codec.decode(codec.encode(resp)) == resp


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (header(16, 0x00000077), S.ESME_RINVCMDID),
        (header(20, 0x04) + b"\x00\x01\x01x", S.ESME_RINVCMDLEN),
        (header(16 + 31, 0x04) + b"\x00\x01\x01" + b"1" * 27 + b"\x00", S.ESME_RINVSRCADR),
        (header(16 + 8, 0x04) + b"toolong\x00", S.ESME_RINVSERTYP),
        (header(16 + 3, 0x02) + b"abc", S.ESME_RINVCMDLEN),
        (header(17, 0x15) + b"\x00", S.ESME_RINVCMDLEN),
    ],
    ids=[
        "unknown-command",
        "truncated",
        "long-source",
        "long-service-type",
        "unterminated",
        "enquire-with-body",
    ],
)
def test_decode_errors_name_their_status(raw: bytes, status: int) -> None:
    """Each malformation is reported with the command_status the peer must be answered with."""
    with pytest.raises(RemoteProtocolError) as caught:
        codec.decode(raw)
    assert caught.value.command_status == status
    assert caught.value.sequence_number == 1


def test_tlv_stream_errors() -> None:
    """A TLV that overruns the PDU gives ESME_RINVOPTPARSTREAM; a wrong size ESME_RINVPARLEN."""
    base = codec.encode(SubmitSm(sequence_number=1, destination_addr="1"))[16:]
    overrun = base + bytes.fromhex("020c0005") + b"\x00"
    wrong_size = base + bytes.fromhex("020c0003") + b"\x00\x00\x00"
    for body, status in ((overrun, S.ESME_RINVOPTPARSTREAM), (wrong_size, S.ESME_RINVPARLEN)):
        with pytest.raises(RemoteProtocolError) as caught:
            codec.decode(header(16 + len(body), 0x04) + body)
        assert caught.value.command_status == status


def test_encode_refuses_values_that_do_not_fit() -> None:
    """Building a PDU whose string exceeds its field is our bug, reported locally."""
    with pytest.raises(LocalProtocolError):
        codec.encode(SubmitSm(source_addr="1" * 21))
    with pytest.raises(LocalProtocolError):
        codec.encode(SubmitSm(short_message=b"x" * 256))


def test_every_command_has_a_codec_and_matching_layout() -> None:
    """Every SMPP v3.4 command id has a PDU class whose attributes match its wire table."""
    assert {int(c) for c in CommandId} == set(specs.PDU_CLASSES)
    for cls in specs.FIELDS:
        assert codec.decode(codec.encode(cls(sequence_number=1))) == cls(sequence_number=1)


def test_smpplib_submit_sm_decodes() -> None:
    """A submit_sm generated by smpplib decodes to the same fields."""
    pdu = smpplib.smpp.make_pdu(
        "submit_sm",
        client=None,
        source_addr="12345",
        destination_addr="8613800000001",
        short_message=b"Hello",
        registered_delivery=1,
        data_coding=0,
        sequence=11,
    )
    pdu.sequence = 11
    decoded = codec.decode(pdu.generate())
    assert isinstance(decoded, SubmitSm)
    assert decoded.sequence_number == 11
    assert (decoded.destination_addr, decoded.short_message, decoded.registered_delivery) == (
        "8613800000001",
        b"Hello",
        1,
    )


def test_smpplib_parses_our_receipt() -> None:
    """smpplib parses the deliver_sm receipt we encode, TLVs included."""
    raw = codec.encode(
        DeliverSm(
            sequence_number=5,
            source_addr="8613800000001",
            destination_addr="12345",
            esm_class=4,
            short_message=b"id:1 stat:DELIVRD",
            receipted_message_id="1",
            message_state=2,
            network_error_code=b"\x03\x00\x00",
        )
    )

    class Sequencer:
        def next_sequence(self) -> int:
            return 1

    parsed = smpplib.smpp.parse_pdu(raw, client=Sequencer(), allow_unknown_opt_params=True)
    assert parsed.receipted_message_id == b"1"
    assert parsed.message_state == 2
    assert parsed.short_message == b"id:1 stat:DELIVRD"


addresses = st.text(alphabet="0123456789", max_size=20)


@settings(max_examples=200, deadline=None)
@given(
    st.builds(
        SubmitSm,
        sequence_number=st.integers(1, 0x7FFFFFFF),
        source_addr=addresses,
        destination_addr=addresses,
        esm_class=st.integers(0, 255),
        data_coding=st.integers(0, 255),
        registered_delivery=st.integers(0, 255),
        short_message=st.binary(max_size=254),
        sar_msg_ref_num=st.none() | st.integers(0, 0xFFFF),
        message_payload=st.none() | st.binary(max_size=300),
        its_session_info=st.none() | st.integers(0, 0xFFFF),
    )
)
def test_submit_sm_round_trips(pdu: SubmitSm) -> None:
    """decode(encode(p)) == p for arbitrary submit_sm values."""
    assert codec.decode(codec.encode(pdu)) == pdu


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(sorted(specs.PDU_CLASSES)), st.binary(max_size=200))
def test_arbitrary_bodies_decode_or_raise_smpp_errors(command_id: int, body: bytes) -> None:
    """Any body under any known command either decodes or raises RemoteProtocolError."""
    raw = header(16 + len(body), command_id) + body
    try:
        pdu = codec.decode(raw)
    except RemoteProtocolError as error:
        assert error.command_status != 0
    else:
        assert pdu.sequence_number == 1


def test_data_sm_accepts_long_addresses() -> None:
    """data_sm addresses may be 64 characters (spec 65 with NUL), unlike submit_sm's 20."""
    pdu = DataSm(sequence_number=1, source_addr="a" * 64, destination_addr="1" * 64)
    assert codec.decode(codec.encode(pdu)) == pdu
    assert attrs.fields(DataSm).message_payload.default is None


def test_generic_nack_keeps_status() -> None:
    """generic_nack carries its status and sequence number in the header."""
    assert codec.decode(codec.encode(GenericNack(9, S.ESME_RINVCMDID))) == GenericNack(9, S.ESME_RINVCMDID)
