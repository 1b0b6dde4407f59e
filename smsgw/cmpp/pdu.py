"""CMPP PDUs as values, one class per command; the same classes for 2.0 and 3.0.

Field names are the specification's, in wire order, in snake case. Counts and lengths
(DestUsr_tl, Msg_Length) are not attributes: they are derived from what they count. The
fields 3.0 added (the ``*_terminal_type`` octets) are 0 in a 2.0 PDU and not on its wire;
``link_id`` is 3.0's 20-octet LinkID and 2.0's 8-octet Reserve. Wire layouts live in
:mod:`smsgw.cmpp.specs`.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from smsgw.cmpp.constants import CommandId


@attrs.define
class Pdu:
    """What every PDU has: the Sequence_Id its response echoes."""

    command_id: ClassVar[CommandId]
    sequence_id: int


@attrs.define
class Connect(Pdu):
    command_id = CommandId.CONNECT
    source_addr: str = ""
    authenticator_source: bytes = bytes(16)
    version: int = 0x30
    #: MMDDHHMMSS as a decimal number (the digits of the time the authenticator used).
    timestamp: int = 0


@attrs.define
class ConnectResp(Pdu):
    command_id = CommandId.CONNECT_RESP
    status: int = 0
    authenticator_ismg: bytes = bytes(16)
    version: int = 0x30


@attrs.define
class Terminate(Pdu):
    command_id = CommandId.TERMINATE


@attrs.define
class TerminateResp(Pdu):
    command_id = CommandId.TERMINATE_RESP


@attrs.define
class ActiveTest(Pdu):
    command_id = CommandId.ACTIVE_TEST


@attrs.define
class ActiveTestResp(Pdu):
    command_id = CommandId.ACTIVE_TEST_RESP
    reserved: int = 0


@attrs.define
class Submit(Pdu):
    command_id = CommandId.SUBMIT
    msg_id: int = 0
    pk_total: int = 1
    pk_number: int = 1
    registered_delivery: int = 0
    msg_level: int = 0
    service_id: str = ""
    fee_user_type: int = 0
    fee_terminal_id: str = ""
    fee_terminal_type: int = 0
    tp_pid: int = 0
    tp_udhi: int = 0
    msg_fmt: int = 0
    msg_src: str = ""
    fee_type: str = "01"
    fee_code: str = ""
    valid_time: str = ""
    at_time: str = ""
    src_id: str = ""
    dest_terminal_ids: tuple[str, ...] = ()
    dest_terminal_type: int = 0
    msg_content: bytes = b""
    link_id: str = ""


@attrs.define
class SubmitResp(Pdu):
    command_id = CommandId.SUBMIT_RESP
    msg_id: int = 0
    result: int = 0


@attrs.define
class Deliver(Pdu):
    command_id = CommandId.DELIVER
    msg_id: int = 0
    dest_id: str = ""
    service_id: str = ""
    tp_pid: int = 0
    tp_udhi: int = 0
    msg_fmt: int = 0
    src_terminal_id: str = ""
    src_terminal_type: int = 0
    #: 1: ``msg_content`` is a status report (:class:`StatusReport`), 0: a message (MO).
    registered_delivery: int = 0
    msg_content: bytes = b""
    link_id: str = ""


@attrs.define
class DeliverResp(Pdu):
    command_id = CommandId.DELIVER_RESP
    msg_id: int = 0
    result: int = 0


@attrs.define
class Query(Pdu):
    command_id = CommandId.QUERY
    time: str = ""
    query_type: int = 0
    query_code: str = ""
    reserve: str = ""


@attrs.define
class QueryResp(Pdu):
    command_id = CommandId.QUERY_RESP
    time: str = ""
    query_type: int = 0
    query_code: str = ""
    mt_tl_msg: int = 0
    mt_tl_usr: int = 0
    mt_scs: int = 0
    mt_wt: int = 0
    mt_fl: int = 0
    mo_scs: int = 0
    mo_wt: int = 0
    mo_fl: int = 0


@attrs.define
class Cancel(Pdu):
    command_id = CommandId.CANCEL
    msg_id: int = 0


@attrs.define
class CancelResp(Pdu):
    command_id = CommandId.CANCEL_RESP
    #: 0 cancelled, 1 not.
    success_id: int = 0


@attrs.frozen
class StatusReport:
    """A status report: the ``msg_content`` of a DELIVER whose ``registered_delivery`` is 1."""

    msg_id: int
    stat: str
    #: YYMMDDHHMM.
    submit_time: str
    done_time: str
    dest_terminal_id: str
    smsc_sequence: int = 0
