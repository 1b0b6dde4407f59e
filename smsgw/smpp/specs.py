"""Wire layouts of SMPP v3.4 PDUs and TLVs, as data.

Each command maps to its mandatory fields in wire order. The codec compiles these tables into
one decoder and one encoder per command (see :mod:`smsgw.smpp.codec`), so the layout is written
once, here, and checked against the PDU classes at import.

Where implementations disagree on a size (the spec, smpplib, Jasmin, Kannel), the table takes the size that
accepts what real clients send; ``docs/smpp-conformance.md`` lists each choice.
"""

from __future__ import annotations

from typing import NamedTuple

from smsgw.smpp import pdu as p
from smsgw.smpp import sm
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.constants import Tag


class Int(NamedTuple):
    """An unsigned big-endian integer of 1, 2 or 4 octets."""

    name: str
    size: int


class CStr(NamedTuple):
    """A NUL-terminated string; ``max`` counts the NUL, as the spec does.

    ``status`` answers a value that is too long (each field has its own status in the spec).
    """

    name: str
    max: int
    status: int


class ShortMessage(NamedTuple):
    """``sm_length`` (1 octet) followed by that many octets of ``short_message``."""

    name: str = "short_message"


class DestAddresses(NamedTuple):
    """submit_multi: ``number_of_dests`` then each SME address or distribution list."""

    name: str = "dest_addresses"


class UnsuccessSmes(NamedTuple):
    """submit_multi_resp: ``no_unsuccess`` then each failed destination with its status."""

    name: str = "unsuccess_smes"


Field = Int | CStr | ShortMessage | DestAddresses | UnsuccessSmes

_SERVICE_TYPE = CStr("service_type", 6, S.ESME_RINVSERTYP)
_MESSAGE_ID = CStr("message_id", 65, S.ESME_RINVMSGID)
_SCHEDULE = CStr("schedule_delivery_time", 17, S.ESME_RINVSCHED)
_VALIDITY = CStr("validity_period", 17, S.ESME_RINVEXPIRY)


def _source(max_len: int = 21) -> tuple[Field, ...]:
    return (
        Int("source_addr_ton", 1),
        Int("source_addr_npi", 1),
        CStr("source_addr", max_len, S.ESME_RINVSRCADR),
    )


def _dest(max_len: int = 21) -> tuple[Field, ...]:
    return (
        Int("dest_addr_ton", 1),
        Int("dest_addr_npi", 1),
        CStr("destination_addr", max_len, S.ESME_RINVDSTADR),
    )


_BIND: tuple[Field, ...] = (
    CStr("system_id", 16, S.ESME_RINVSYSID),
    CStr("password", 9, S.ESME_RINVPASWD),
    CStr("system_type", 13, S.ESME_RINVSYSTYP),
    Int("interface_version", 1),
    Int("addr_ton", 1),
    Int("addr_npi", 1),
    CStr("address_range", 41, S.ESME_RINVSRCADR),
)
_BIND_RESP: tuple[Field, ...] = (CStr("system_id", 16, S.ESME_RINVSYSID),)

_SM_TAIL: tuple[Field, ...] = (
    Int("esm_class", 1),
    Int("protocol_id", 1),
    Int("priority_flag", 1),
    _SCHEDULE,
    _VALIDITY,
    Int("registered_delivery", 1),
    Int("replace_if_present_flag", 1),
    Int("data_coding", 1),
    Int("sm_default_msg_id", 1),
    ShortMessage(),
)
_SUBMIT_OR_DELIVER: tuple[Field, ...] = (_SERVICE_TYPE, *_source(), *_dest(), *_SM_TAIL)

# Generous address sizes where implementations disagree: accepting 65 loses nothing.
FIELDS: dict[type[p.Pdu], tuple[Field, ...]] = {
    p.GenericNack: (),
    p.Unbind: (),
    p.UnbindResp: (),
    p.EnquireLink: (),
    p.EnquireLinkResp: (),
    p.CancelSmResp: (),
    p.ReplaceSmResp: (),
    p.BindTransmitter: _BIND,
    p.BindReceiver: _BIND,
    p.BindTransceiver: _BIND,
    p.BindTransmitterResp: _BIND_RESP,
    p.BindReceiverResp: _BIND_RESP,
    p.BindTransceiverResp: _BIND_RESP,
    p.Outbind: (CStr("system_id", 16, S.ESME_RINVSYSID), CStr("password", 9, S.ESME_RINVPASWD)),
    p.AlertNotification: (
        *_source(65),
        Int("esme_addr_ton", 1),
        Int("esme_addr_npi", 1),
        CStr("esme_addr", 65, S.ESME_RINVDSTADR),
    ),
    p.QuerySm: (_MESSAGE_ID, *_source()),
    p.QuerySmResp: (
        _MESSAGE_ID,
        CStr("final_date", 17, S.ESME_RINVSCHED),
        Int("message_state", 1),
        Int("error_code", 1),
    ),
    p.CancelSm: (_SERVICE_TYPE, _MESSAGE_ID, *_source(), *_dest(65)),
    p.ReplaceSm: (
        _MESSAGE_ID,
        *_source(),
        _SCHEDULE,
        _VALIDITY,
        Int("registered_delivery", 1),
        Int("sm_default_msg_id", 1),
        ShortMessage(),
    ),
    sm.SubmitSm: _SUBMIT_OR_DELIVER,
    sm.DeliverSm: _SUBMIT_OR_DELIVER,
    sm.SubmitSmResp: (_MESSAGE_ID,),
    sm.DeliverSmResp: (_MESSAGE_ID,),
    sm.SubmitMulti: (_SERVICE_TYPE, *_source(), DestAddresses(), *_SM_TAIL),
    sm.SubmitMultiResp: (_MESSAGE_ID, UnsuccessSmes()),
    sm.DataSm: (
        _SERVICE_TYPE,
        *_source(65),
        *_dest(65),
        Int("esm_class", 1),
        Int("registered_delivery", 1),
        Int("data_coding", 1),
    ),
    sm.DataSmResp: (_MESSAGE_ID,),
}

#: Responses whose body is left out when command_status is not 0 (SPEC34 §4; JASMIN
#: ``noBodyOnError``). data_sm_resp keeps its body: its TLVs say why delivery failed.
NO_BODY_ON_ERROR: frozenset[type[p.Pdu]] = frozenset(
    {
        p.BindTransmitterResp,
        p.BindReceiverResp,
        p.BindTransceiverResp,
        sm.SubmitSmResp,
        sm.SubmitMultiResp,
        sm.DeliverSmResp,
        p.QuerySmResp,
    }
)

RESPONSE_CLASS: dict[type[p.Pdu], type[p.Pdu]] = {
    p.BindTransmitter: p.BindTransmitterResp,
    p.BindReceiver: p.BindReceiverResp,
    p.BindTransceiver: p.BindTransceiverResp,
    p.Unbind: p.UnbindResp,
    p.EnquireLink: p.EnquireLinkResp,
    p.QuerySm: p.QuerySmResp,
    p.CancelSm: p.CancelSmResp,
    p.ReplaceSm: p.ReplaceSmResp,
    sm.SubmitSm: sm.SubmitSmResp,
    sm.DeliverSm: sm.DeliverSmResp,
    sm.SubmitMulti: sm.SubmitMultiResp,
    sm.DataSm: sm.DataSmResp,
}

PDU_CLASSES: dict[int, type[p.Pdu]] = {cls.command_id: cls for cls in FIELDS}


class TlvSpec(NamedTuple):
    """How a known TLV's value is read: ``kind`` is int, cstr or octets.

    ``sizes`` are the accepted value lengths (``None`` = any length up to ``max``).
    """

    name: str
    kind: str
    sizes: tuple[int, ...] | None = None
    max: int = 65535


TLVS: dict[int, TlvSpec] = {
    Tag.DEST_ADDR_SUBUNIT: TlvSpec("dest_addr_subunit", "int", (1,)),
    Tag.DEST_NETWORK_TYPE: TlvSpec("dest_network_type", "int", (1,)),
    Tag.DEST_BEARER_TYPE: TlvSpec("dest_bearer_type", "int", (1,)),
    Tag.DEST_TELEMATICS_ID: TlvSpec("dest_telematics_id", "int", (2,)),
    # smpplib 2.2.4 sends 2 octets where SMPP v3.4 has 1: accept both.
    Tag.SOURCE_ADDR_SUBUNIT: TlvSpec("source_addr_subunit", "int", (1, 2)),
    Tag.SOURCE_NETWORK_TYPE: TlvSpec("source_network_type", "int", (1,)),
    Tag.SOURCE_BEARER_TYPE: TlvSpec("source_bearer_type", "int", (1,)),
    Tag.SOURCE_TELEMATICS_ID: TlvSpec("source_telematics_id", "int", (1, 2)),
    Tag.QOS_TIME_TO_LIVE: TlvSpec("qos_time_to_live", "int", (4,)),
    Tag.PAYLOAD_TYPE: TlvSpec("payload_type", "int", (1,)),
    Tag.ADDITIONAL_STATUS_INFO_TEXT: TlvSpec("additional_status_info_text", "cstr", None, 256),
    Tag.RECEIPTED_MESSAGE_ID: TlvSpec("receipted_message_id", "cstr", None, 65),
    Tag.MS_MSG_WAIT_FACILITIES: TlvSpec("ms_msg_wait_facilities", "int", (1,)),
    Tag.PRIVACY_INDICATOR: TlvSpec("privacy_indicator", "int", (1,)),
    Tag.SOURCE_SUBADDRESS: TlvSpec("source_subaddress", "octets", None, 23),
    Tag.DEST_SUBADDRESS: TlvSpec("dest_subaddress", "octets", None, 23),
    Tag.USER_MESSAGE_REFERENCE: TlvSpec("user_message_reference", "int", (2,)),
    Tag.USER_RESPONSE_CODE: TlvSpec("user_response_code", "int", (1,)),
    Tag.SOURCE_PORT: TlvSpec("source_port", "int", (2,)),
    Tag.DESTINATION_PORT: TlvSpec("destination_port", "int", (2,)),
    Tag.SAR_MSG_REF_NUM: TlvSpec("sar_msg_ref_num", "int", (2,)),
    Tag.LANGUAGE_INDICATOR: TlvSpec("language_indicator", "int", (1,)),
    Tag.SAR_TOTAL_SEGMENTS: TlvSpec("sar_total_segments", "int", (1,)),
    Tag.SAR_SEGMENT_SEQNUM: TlvSpec("sar_segment_seqnum", "int", (1,)),
    Tag.SC_INTERFACE_VERSION: TlvSpec("sc_interface_version", "int", (1,)),
    Tag.CALLBACK_NUM_PRES_IND: TlvSpec("callback_num_pres_ind", "int", (1,)),
    Tag.CALLBACK_NUM_ATAG: TlvSpec("callback_num_atag", "octets", None, 65),
    Tag.NUMBER_OF_MESSAGES: TlvSpec("number_of_messages", "int", (1,)),
    Tag.CALLBACK_NUM: TlvSpec("callback_num", "octets", None, 19),
    Tag.DPF_RESULT: TlvSpec("dpf_result", "int", (1,)),
    Tag.SET_DPF: TlvSpec("set_dpf", "int", (1,)),
    Tag.MS_AVAILABILITY_STATUS: TlvSpec("ms_availability_status", "int", (1,)),
    Tag.NETWORK_ERROR_CODE: TlvSpec("network_error_code", "octets", (3,)),
    Tag.MESSAGE_PAYLOAD: TlvSpec("message_payload", "octets"),
    Tag.DELIVERY_FAILURE_REASON: TlvSpec("delivery_failure_reason", "int", (1,)),
    Tag.MORE_MESSAGES_TO_SEND: TlvSpec("more_messages_to_send", "int", (1,)),
    Tag.MESSAGE_STATE: TlvSpec("message_state", "int", (1,)),
    Tag.USSD_SERVICE_OP: TlvSpec("ussd_service_op", "int", (1,)),
    Tag.DISPLAY_TIME: TlvSpec("display_time", "int", (1,)),
    Tag.SMS_SIGNAL: TlvSpec("sms_signal", "int", (2,)),
    Tag.MS_VALIDITY: TlvSpec("ms_validity", "int", (1,)),
    # A flag: present with no value (some peers send one octet).
    Tag.ALERT_ON_MESSAGE_DELIVERY: TlvSpec("alert_on_message_delivery", "octets", None, 1),
    Tag.ITS_REPLY_TYPE: TlvSpec("its_reply_type", "int", (1,)),
    Tag.ITS_SESSION_INFO: TlvSpec("its_session_info", "int", (2,)),
}

#: Encoded size of each integer TLV (the first accepted size).
TLV_INT_SIZE: dict[str, int] = {
    spec.name: spec.sizes[0] for spec in TLVS.values() if spec.kind == "int" and spec.sizes
}
TAG_BY_NAME: dict[str, int] = {spec.name: tag for tag, spec in TLVS.items()}
