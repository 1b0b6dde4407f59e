"""The PDUs that carry a short message: submit_sm, deliver_sm, data_sm, submit_multi.

These are the hot path of a load test. Every declared TLV of SMPP v3.4 is a typed attribute;
``ussd_service_op`` is also declared on deliver_sm and data_sm because every USSD gateway in
the field sends it there (v5.0 made that official).
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from smsgw.smpp.constants import CommandId
from smsgw.smpp.pdu import OptBytes, OptInt, OptStr, Pdu, Tlv


@attrs.define
class SubmitSm(Pdu):
    """An ESME submits a message (MT) to the SMSC."""

    command_id: ClassVar[int] = CommandId.SUBMIT_SM
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    user_message_reference: OptInt = None
    source_port: OptInt = None
    source_addr_subunit: OptInt = None
    destination_port: OptInt = None
    dest_addr_subunit: OptInt = None
    sar_msg_ref_num: OptInt = None
    sar_total_segments: OptInt = None
    sar_segment_seqnum: OptInt = None
    more_messages_to_send: OptInt = None
    payload_type: OptInt = None
    message_payload: OptBytes = None
    privacy_indicator: OptInt = None
    callback_num: OptBytes = None
    callback_num_pres_ind: OptInt = None
    callback_num_atag: OptBytes = None
    source_subaddress: OptBytes = None
    dest_subaddress: OptBytes = None
    user_response_code: OptInt = None
    display_time: OptInt = None
    sms_signal: OptInt = None
    ms_validity: OptInt = None
    ms_msg_wait_facilities: OptInt = None
    number_of_messages: OptInt = None
    alert_on_message_delivery: OptBytes = None
    language_indicator: OptInt = None
    its_reply_type: OptInt = None
    its_session_info: OptInt = None
    ussd_service_op: OptInt = None
    extra_tlvs: tuple[Tlv, ...] = ()


@attrs.define
class SubmitSmResp(Pdu):
    """Answer to submit_sm; carries the message_id only when command_status is 0."""

    command_id: ClassVar[int] = CommandId.SUBMIT_SM_RESP
    message_id: str = ""
    extra_tlvs: tuple[Tlv, ...] = ()


@attrs.define
class DeliverSm(Pdu):
    """The SMSC delivers a message (MO, receipt or USSD) to an ESME."""

    command_id: ClassVar[int] = CommandId.DELIVER_SM
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    user_message_reference: OptInt = None
    source_port: OptInt = None
    destination_port: OptInt = None
    sar_msg_ref_num: OptInt = None
    sar_total_segments: OptInt = None
    sar_segment_seqnum: OptInt = None
    user_response_code: OptInt = None
    privacy_indicator: OptInt = None
    payload_type: OptInt = None
    message_payload: OptBytes = None
    callback_num: OptBytes = None
    source_subaddress: OptBytes = None
    dest_subaddress: OptBytes = None
    language_indicator: OptInt = None
    its_session_info: OptInt = None
    network_error_code: OptBytes = None
    message_state: OptInt = None
    receipted_message_id: OptStr = None
    ussd_service_op: OptInt = None
    extra_tlvs: tuple[Tlv, ...] = ()


@attrs.define
class DeliverSmResp(Pdu):
    """Answer to deliver_sm; its message_id is unused and always empty."""

    command_id: ClassVar[int] = CommandId.DELIVER_SM_RESP
    message_id: str = ""
    extra_tlvs: tuple[Tlv, ...] = ()


@attrs.define
class DataSm(Pdu):
    """Either side sends a message whose text travels in message_payload."""

    command_id: ClassVar[int] = CommandId.DATA_SM
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    registered_delivery: int = 0
    data_coding: int = 0
    source_port: OptInt = None
    source_addr_subunit: OptInt = None
    source_network_type: OptInt = None
    source_bearer_type: OptInt = None
    source_telematics_id: OptInt = None
    destination_port: OptInt = None
    dest_addr_subunit: OptInt = None
    dest_network_type: OptInt = None
    dest_bearer_type: OptInt = None
    dest_telematics_id: OptInt = None
    sar_msg_ref_num: OptInt = None
    sar_total_segments: OptInt = None
    sar_segment_seqnum: OptInt = None
    more_messages_to_send: OptInt = None
    qos_time_to_live: OptInt = None
    payload_type: OptInt = None
    message_payload: OptBytes = None
    set_dpf: OptInt = None
    receipted_message_id: OptStr = None
    message_state: OptInt = None
    network_error_code: OptBytes = None
    user_message_reference: OptInt = None
    privacy_indicator: OptInt = None
    callback_num: OptBytes = None
    callback_num_pres_ind: OptInt = None
    callback_num_atag: OptBytes = None
    source_subaddress: OptBytes = None
    dest_subaddress: OptBytes = None
    user_response_code: OptInt = None
    display_time: OptInt = None
    sms_signal: OptInt = None
    ms_validity: OptInt = None
    ms_msg_wait_facilities: OptInt = None
    number_of_messages: OptInt = None
    alert_on_message_delivery: OptBytes = None
    language_indicator: OptInt = None
    its_reply_type: OptInt = None
    its_session_info: OptInt = None
    ussd_service_op: OptInt = None
    extra_tlvs: tuple[Tlv, ...] = ()


@attrs.define
class DataSmResp(Pdu):
    """Answer to data_sm; unlike submit_sm_resp it keeps its body (and reasons) on error."""

    command_id: ClassVar[int] = CommandId.DATA_SM_RESP
    message_id: str = ""
    delivery_failure_reason: OptInt = None
    network_error_code: OptBytes = None
    additional_status_info_text: OptStr = None
    dpf_result: OptInt = None
    extra_tlvs: tuple[Tlv, ...] = ()


@attrs.frozen
class SmeAddress:
    """A submit_multi destination that is one SME (dest_flag 1)."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""


@attrs.frozen
class DistributionList:
    """A submit_multi destination that names a distribution list (dest_flag 2)."""

    dl_name: str = ""


@attrs.frozen
class UnsuccessSme:
    """One destination of a submit_multi that was not accepted, with the reason."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    error_status_code: int = 0


@attrs.define
class SubmitMulti(Pdu):
    """An ESME submits one message to up to 254 destinations."""

    command_id: ClassVar[int] = CommandId.SUBMIT_MULTI
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addresses: tuple[SmeAddress | DistributionList, ...] = ()
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    user_message_reference: OptInt = None
    source_port: OptInt = None
    source_addr_subunit: OptInt = None
    destination_port: OptInt = None
    dest_addr_subunit: OptInt = None
    sar_msg_ref_num: OptInt = None
    sar_total_segments: OptInt = None
    sar_segment_seqnum: OptInt = None
    payload_type: OptInt = None
    message_payload: OptBytes = None
    privacy_indicator: OptInt = None
    callback_num: OptBytes = None
    callback_num_pres_ind: OptInt = None
    callback_num_atag: OptBytes = None
    source_subaddress: OptBytes = None
    dest_subaddress: OptBytes = None
    display_time: OptInt = None
    sms_signal: OptInt = None
    ms_validity: OptInt = None
    ms_msg_wait_facilities: OptInt = None
    alert_on_message_delivery: OptBytes = None
    language_indicator: OptInt = None
    extra_tlvs: tuple[Tlv, ...] = ()


@attrs.define
class SubmitMultiResp(Pdu):
    """Answer to submit_multi, listing the destinations that were not accepted."""

    command_id: ClassVar[int] = CommandId.SUBMIT_MULTI_RESP
    message_id: str = ""
    unsuccess_smes: tuple[UnsuccessSme, ...] = ()
    extra_tlvs: tuple[Tlv, ...] = ()
