"""Checks an SMPP request's fields pass before the carrier hears of it, each refused as
``BAD_FIELD`` with the status the spec gives; what passes becomes the carrier's
:class:`~smsgw.carrier.requests.ShortMessage`."""

from __future__ import annotations

from typing import Protocol

from smsgw.carrier.errors import Refusal, Rejected
from smsgw.carrier.limits import Limits
from smsgw.carrier.requests import ShortMessage
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.constants import EsmClass
from smsgw.smpp.sm import DataSm, SubmitMulti, SubmitSm
from smsgw.smpp.smpptime import parse_smpp_time
from smsgw.text.errors import InvalidUdh
from smsgw.text.udh import split_udh

_VALID_NPI = frozenset({0, 1, 3, 4, 6, 8, 9, 10, 14, 18})
#: Message types an ESME may submit: normal, or an SME acknowledgement (never a receipt).
_SUBMIT_TYPES = frozenset({0x00, int(EsmClass.SME_DELIVERY_ACK), int(EsmClass.SME_MANUAL_ACK)})
# Plain ints on the hot path: arithmetic with an IntFlag member goes through enum code.
_TYPE_MASK = int(EsmClass.TYPE_MASK)
_UDHI = int(EsmClass.UDHI)
MAX_SHORT_MESSAGE = 254


def bad_field(status: int, reason: str) -> Rejected:
    """A field fails its check: refused with the status SMPP v3.4 gives for it."""
    return Rejected(Refusal.BAD_FIELD, reason, status=status)


class Source(Protocol):
    """A request's source address type: what every message-carrying PDU has."""

    @property
    def source_addr_ton(self) -> int: ...
    @property
    def source_addr_npi(self) -> int: ...


class Addressed(Source, Protocol):
    """A request with one destination (a submit_multi destination seen with its submit)."""

    @property
    def dest_addr_ton(self) -> int: ...
    @property
    def dest_addr_npi(self) -> int: ...
    @property
    def destination_addr(self) -> str: ...


def check_source(pdu: Source) -> None:
    """Source TON and NPI in range.

    :raises Rejected: ESME_RINVSRCTON or ESME_RINVSRCNPI.
    """
    if pdu.source_addr_ton > 6:
        raise bad_field(S.ESME_RINVSRCTON, f"source_addr_ton {pdu.source_addr_ton} is not 0-6")
    if pdu.source_addr_npi not in _VALID_NPI:
        raise bad_field(S.ESME_RINVSRCNPI, f"source_addr_npi {pdu.source_addr_npi} is not a known NPI")


def check_addresses(pdu: Addressed) -> None:
    """TON and NPI in range, a destination present.

    :raises Rejected: ESME_RINVSRCTON/NPI, ESME_RINVDSTTON/NPI or ESME_RINVDSTADR.
    """
    check_source(pdu)
    if pdu.dest_addr_ton > 6:
        raise bad_field(S.ESME_RINVDSTTON, f"dest_addr_ton {pdu.dest_addr_ton} is not 0-6")
    if pdu.dest_addr_npi not in _VALID_NPI:
        raise bad_field(S.ESME_RINVDSTNPI, f"dest_addr_npi {pdu.dest_addr_npi} is not a known NPI")
    if not pdu.destination_addr:
        raise bad_field(S.ESME_RINVDSTADR, "destination_addr is empty")


def check_times(
    schedule_delivery_time: str, validity_period: str, now: float, limits: Limits
) -> tuple[float | None, float]:
    """Parse schedule_delivery_time and validity_period (absolute or relative).

    :returns: when to deliver (``None`` = now) and when to give up.
    :raises Rejected: ESME_RINVSCHED or ESME_RINVEXPIRY, saying what is wrong.
    """
    if not schedule_delivery_time and not validity_period:  # most submits: now, for the default
        return None, min(now + limits.default_validity, now + limits.max_validity)
    try:
        scheduled_at = parse_smpp_time(schedule_delivery_time, now)
    except ValueError as error:
        raise bad_field(S.ESME_RINVSCHED, f"schedule_delivery_time: {error}") from None
    start = scheduled_at if scheduled_at is not None and scheduled_at > now else now
    try:
        expires_at = parse_smpp_time(validity_period, now)
    except ValueError as error:
        raise bad_field(S.ESME_RINVEXPIRY, f"validity_period: {error}") from None
    if expires_at is None:
        expires_at = start + limits.default_validity
    elif expires_at <= start:
        raise bad_field(S.ESME_RINVEXPIRY, f"validity_period {validity_period!r} ends before delivery starts")
    return scheduled_at, min(expires_at, start + limits.max_validity)


def check_submit(pdu: SubmitSm | SubmitMulti, now: float, limits: Limits) -> ShortMessage:
    """Validate a submit_sm (or the common part of submit_multi).

    :raises Rejected: with the status the spec gives for the first problem found.
    """
    if pdu.priority_flag > 3:
        raise bad_field(S.ESME_RINVPRTFLG, f"priority_flag {pdu.priority_flag} is not 0-3")
    if pdu.registered_delivery & RESERVED_DELIVERY_BITS:
        raise bad_registered_delivery(pdu.registered_delivery)
    if pdu.replace_if_present_flag > 1:
        raise bad_field(
            S.ESME_RINVREPFLAG, f"replace_if_present_flag {pdu.replace_if_present_flag} is not 0 or 1"
        )
    if pdu.esm_class & _TYPE_MASK not in _SUBMIT_TYPES:
        raise bad_esm_class(pdu.esm_class)
    if pdu.sm_default_msg_id:
        raise bad_default_msg_id(pdu.sm_default_msg_id)
    body = check_body(pdu.short_message, pdu.message_payload, pdu.esm_class, limits)
    sar = check_sar(pdu)
    scheduled_at, expires_at = check_times(pdu.schedule_delivery_time, pdu.validity_period, now, limits)
    return ShortMessage(
        pdu.service_type, pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr,
        pdu.esm_class, pdu.protocol_id, pdu.priority_flag, pdu.registered_delivery,
        pdu.data_coding, body, sar, scheduled_at, expires_at, pdu.replace_if_present_flag == 1,
    )  # fmt: skip


def check_data_sm(pdu: DataSm, now: float, limits: Limits) -> ShortMessage:
    """Validate a data_sm: its text is in message_payload, its validity in qos_time_to_live.
    It has no protocol_id or priority_flag: both are 0.

    :raises Rejected: with the status the spec gives for the first problem found.
    """
    if pdu.registered_delivery & RESERVED_DELIVERY_BITS:
        raise bad_registered_delivery(pdu.registered_delivery)
    if pdu.esm_class & _TYPE_MASK not in _SUBMIT_TYPES:
        raise bad_esm_class(pdu.esm_class)
    body = check_body(b"", pdu.message_payload or b"", pdu.esm_class, limits)
    lifetime = min(pdu.qos_time_to_live or limits.default_validity, limits.max_validity)
    return ShortMessage(
        pdu.service_type, pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr,
        pdu.esm_class, 0, 0, pdu.registered_delivery,
        pdu.data_coding, body, check_sar(pdu), None, now + lifetime,
    )  # fmt: skip


# Each check is its condition, written where it is asked (a submit passes them all: a call
# each would cost more than the test), and a function that says what is wrong.


def bad_default_msg_id(sm_default_msg_id: int) -> Rejected:
    """This SMSC has no canned messages: sm_default_msg_id must be 0."""
    return bad_field(
        S.ESME_RINVDFTMSGID, f"sm_default_msg_id {sm_default_msg_id}: this SMSC has no canned messages"
    )


#: registered_delivery bits beyond the receipt, SME-ack and intermediate ones.
RESERVED_DELIVERY_BITS = ~0x1F


def bad_registered_delivery(registered_delivery: int) -> Rejected:
    """Only the receipt, SME-ack and intermediate bits may be set."""
    return bad_field(
        S.ESME_RINVREGDLVFLG, f"registered_delivery 0x{registered_delivery:02X} sets reserved bits"
    )


def bad_esm_class(esm_class: int) -> Rejected:
    """An ESME submits normal messages or SME acknowledgements, never receipts."""
    return bad_field(
        S.ESME_RINVESMCLASS, f"esm_class 0x{esm_class:02X} is not a message type an ESME submits"
    )


def check_body(short_message: bytes, payload: bytes | None, esm_class: int, limits: Limits) -> bytes:
    """The user data, from short_message or message_payload (not both), with a sound UDH.

    :raises Rejected: ESME_RINVMSGLEN, ESME_RINVOPTPARAMVAL or ESME_RINVESMCLASS.
    """
    if payload is not None:
        if short_message:
            raise bad_field(
                S.ESME_RINVOPTPARAMVAL,
                "both short_message and message_payload carry data; send sm_length 0 with message_payload",
            )
        if len(payload) > limits.max_payload:
            raise bad_field(
                S.ESME_RINVMSGLEN, f"message_payload has {len(payload)} octets (max {limits.max_payload})"
            )
        body = payload
    else:
        if len(short_message) > MAX_SHORT_MESSAGE:
            raise bad_field(S.ESME_RINVMSGLEN, f"sm_length {len(short_message)} exceeds {MAX_SHORT_MESSAGE}")
        body = short_message
    if esm_class & _UDHI:
        try:
            split_udh(body)
        except InvalidUdh as error:
            raise bad_field(
                S.ESME_RINVESMCLASS, f"esm_class has UDHI but the UDH is broken: {error}"
            ) from None
    return body


def check_sar(pdu: SubmitSm | SubmitMulti | DataSm) -> tuple[int, int, int] | None:
    """The SAR concatenation TLVs, all three or none, and never with a UDH.

    :raises Rejected: ESME_RMISSINGOPTPARAM or ESME_RINVOPTPARAMVAL.
    """
    ref, total, seq = pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum
    if ref is None and total is None and seq is None:
        return None
    if ref is None or total is None or seq is None:
        raise bad_field(
            S.ESME_RMISSINGOPTPARAM, "sar_msg_ref_num, sar_total_segments and sar_segment_seqnum go together"
        )
    if pdu.esm_class & _UDHI:
        raise bad_field(S.ESME_RINVOPTPARAMVAL, "SAR TLVs cannot be combined with a UDH (esm_class UDHI)")
    if not 1 <= seq <= total:
        raise bad_field(S.ESME_RINVOPTPARAMVAL, f"sar_segment_seqnum {seq} is not within 1..{total}")
    return ref, total, seq
