"""Field encoders (a PDU written from a few fields, the rest at their defaults, without making
the PDU) write exactly what the codec writes for the same PDU, and refuse what it refuses."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsgw.smpp import codec
from smsgw.smpp.errors import LocalProtocolError
from smsgw.smpp.sm import DataSmResp, DeliverSm, SubmitSm, SubmitSmResp

#: The fields the carrier writes receipts with (smsgw.frontend.smpp.receipts).
RECEIPT = (
    "service_type", "source_addr_ton", "source_addr_npi", "source_addr", "dest_addr_ton",
    "dest_addr_npi", "destination_addr", "esm_class", "short_message", "network_error_code",
    "message_state", "receipted_message_id",
)  # fmt: skip
encode_receipt = codec.field_encoder(DeliverSm, RECEIPT)
octet = st.integers(0, 255)
addresses = st.text(alphabet="0123456789+", max_size=20)


@settings(max_examples=300, deadline=None)
@given(
    sequence_number=st.integers(0, 0x7FFFFFFF),
    values=st.fixed_dictionaries(
        {
            "service_type": st.sampled_from(["", "USSD", "CMT"]),
            "source_addr_ton": octet,
            "source_addr_npi": octet,
            "source_addr": addresses,
            "dest_addr_ton": octet,
            "dest_addr_npi": octet,
            "destination_addr": addresses,
            "esm_class": octet,
            "short_message": st.binary(max_size=255),  # %-signs among them, as in any text
            "network_error_code": st.binary(min_size=3, max_size=3),
            "message_state": st.integers(0, 9),
            "receipted_message_id": st.text(alphabet="0123456789ABCDEF", max_size=64),
        }
    ),
)
def test_a_receipt_is_the_bytes_the_codec_writes(sequence_number: int, values: dict[str, Any]) -> None:
    written = encode_receipt(sequence_number, 0, *(values[name] for name in RECEIPT))
    assert written == codec.encode(DeliverSm(sequence_number, 0, **values))
    assert codec.decode(written) == DeliverSm(sequence_number, 0, **values)


@pytest.mark.parametrize("response", [SubmitSmResp, DataSmResp])
@pytest.mark.parametrize("status", [0, 0x58])
def test_a_response_with_its_message_id_is_the_bytes_the_codec_writes(response: type, status: int) -> None:
    encode = codec.field_encoder(response, ("message_id",))
    assert encode(7, status, "1F3A") == codec.encode(response(7, status, message_id="1F3A"))


def test_no_field_at_all_writes_the_defaults() -> None:
    assert codec.field_encoder(SubmitSm, ())(3, 0) == codec.encode(SubmitSm(3))


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("source_addr", "1" * 21, "source_addr '111111111111111111111' is longer than 20 characters"),
        ("short_message", b"x" * 256, "short_message has 256 octets"),
        ("esm_class", 256, "cannot encode deliver_sm"),
        ("message_state", -1, "cannot encode deliver_sm"),
        ("receipted_message_id", "支付", "cannot encode deliver_sm"),
    ],
)
def test_what_the_codec_refuses_a_field_encoder_refuses(field: str, value: object, says: str) -> None:
    values: dict[str, Any] = {
        "service_type": "", "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": "8613800000001",
        "dest_addr_ton": 0, "dest_addr_npi": 0, "destination_addr": "12345", "esm_class": 4,
        "short_message": b"id:1", "network_error_code": b"\x03\x00\x00", "message_state": 2,
        "receipted_message_id": "1",
    }  # fmt: skip
    values[field] = value
    with pytest.raises(LocalProtocolError, match=says):
        encode_receipt(1, 0, *(values[name] for name in RECEIPT))
    with pytest.raises(LocalProtocolError):
        codec.encode(DeliverSm(1, 0, **values))


def test_a_field_the_pdu_does_not_have_is_refused_when_compiled() -> None:
    with pytest.raises(TypeError, match="no fields"):
        codec.field_encoder(SubmitSmResp, ("message_state",))
