"""What the carrier owes a CMPP SP, written as CMPP_DELIVER: status reports and MO.

Encoded once, when the carrier queues the delivery, in 3.0's layout (the queue does not know
which session will take it); a 2.0 session lays each out again as it sends it
(:func:`relaid_for`). CMPP has no USSD: the config keeps USSD routes off CMPP accounts.

A report's Msg_Id is the one the SUBMIT_RESP gave, its Dest_terminal_Id the handset; the
DELIVER carrying it comes from the handset's number to the SP's Src_Id. Stat is the message's
final state by its name (DELIVRD, EXPIRED, UNDELIV, REJECTD, DELETED, ...); Submit_time and
Done_time are YYMMDDHHMM in UTC, as the SMPP receipts' dates are.
"""

from __future__ import annotations

import struct
import time

from smsgw.carrier.accounts import Account
from smsgw.carrier.encoding import UssdScreenOut
from smsgw.cmpp import codec
from smsgw.cmpp import pdu as p
from smsgw.cmpp.constants import CommandId, MsgFmt, Version
from smsgw.smpp.constants import EsmClass, MessageState
from smsgw.store.records import MessageRecord
from smsgw.text.coding import DATA_CODING_IA5, DATA_CODING_UCS2, decode_text, encode_text, is_binary
from smsgw.text.errors import InvalidUdh
from smsgw.text.udh import split_udh

#: Stat by MessageState value; the states no report is final in are UNKNOWN to an SP.
_STAT = tuple(
    state.name
    if state not in (MessageState.SCHEDULED, MessageState.ENROUTE, MessageState.SKIPPED)
    else "UNKNOWN"
    for state in MessageState
)
_UDHI = int(EsmClass.UDHI)
_MSG_ID_MAX = (1 << 64) - 1


def msg_id(record: MessageRecord) -> int:
    """The message's Msg_Id: its message_id, which a CMPP account's style makes a 64-bit
    decimal; any other (an SMPP account's hex id) falls back to the row id."""
    given = record.message_id
    if given.isdigit() and int(given) <= _MSG_ID_MAX:
        return int(given)
    return record.id


def cmpp_time(moment: float) -> str:
    """YYMMDDHHMM in UTC."""
    global _last_minute
    minute = int(moment // 60)
    if minute != _last_minute[0]:  # a report's two times are almost always of the minute last made
        _last_minute = minute, time.strftime("%y%m%d%H%M", time.gmtime(minute * 60))
    return _last_minute[1]


_last_minute = (-1, "")


#: A 3.0 DELIVER carrying a 71-octet report, in one struct: header, Msg_Id, Dest_Id,
#: Service_Id, TP_pid, TP_udhi, Msg_Fmt, Src_terminal_Id and its type, Registered_Delivery,
#: Msg_Length, the report (Msg_Id, Stat, Submit_time, Done_time, Dest_terminal_Id,
#: SMSC_sequence), LinkID. Every MT with a report passes here once.
_REPORT_DELIVER = struct.Struct(">IIIQ21s10sBBB32sBBBQ7s10s10s32sI20s")
_DELIVER = int(CommandId.DELIVER)


def encode_report(record: MessageRecord, now: float) -> bytes:
    """The DELIVER that reports an MT's final state to the SP that submitted it."""
    msg = msg_id(record)
    stat = _STAT[record.state] if 0 <= record.state < len(_STAT) else "UNKNOWN"
    done_at = record.done_at if record.done_at is not None else now
    source, handset, service = record.source_addr, record.dest_addr, record.service_type
    # What the layout holds packs directly; anything else goes through the codec, which
    # says what does not fit.
    if (
        len(source) <= 21
        and len(handset) <= 32
        and len(service) <= 10
        and (source + handset + service).isascii()
    ):
        return _REPORT_DELIVER.pack(
            _REPORT_DELIVER.size, _DELIVER, 0, msg, source.encode(), service.encode(), 0, 0, 0,
            handset.encode(), 0, 1, 71, msg, stat.encode(), cmpp_time(record.submitted_at).encode(),
            cmpp_time(done_at).encode(), handset.encode(), record.id & 0xFFFFFFFF, b"",
        )  # fmt: skip
    return _encode_report(record, now)


def _encode_report(record: MessageRecord, now: float) -> bytes:
    report = p.StatusReport(
        msg_id=msg_id(record),
        stat=_STAT[record.state] if 0 <= record.state < len(_STAT) else "UNKNOWN",
        submit_time=cmpp_time(record.submitted_at),
        done_time=cmpp_time(record.done_at if record.done_at is not None else now),
        dest_terminal_id=record.dest_addr,
        smsc_sequence=record.id & 0xFFFFFFFF,
    )
    return codec.encode(
        p.Deliver(
            0,
            msg_id=report.msg_id,
            dest_id=record.source_addr,
            service_id=record.service_type,
            src_terminal_id=record.dest_addr,
            registered_delivery=1,
            msg_content=codec.encode_report(report, Version.V30),
        ),
        Version.V30,
    )


def mo_content(record: MessageRecord) -> tuple[int, bytes]:
    """An MO part's (Msg_Fmt, Msg_Content): ASCII, UCS2 or binary as stored; text stored in
    an SMPP alphabet CMPP lacks (GSM, Latin-1) is carried as ASCII when it is, else UCS2."""
    coding, body = record.data_coding, record.body
    if coding == DATA_CODING_IA5:
        return MsgFmt.ASCII, body
    if coding == DATA_CODING_UCS2:
        return MsgFmt.UCS2, body
    if is_binary(coding):
        return MsgFmt.BINARY, body
    header = b""
    if record.esm_class & _UDHI:
        try:
            body = split_udh(body)[1]
        except InvalidUdh:
            return MsgFmt.BINARY, record.body
        header = record.body[: len(record.body) - len(body)]
    coding, encoded = encode_text(decode_text(body, coding), "ascii")
    return (MsgFmt.ASCII if coding == DATA_CODING_IA5 else MsgFmt.UCS2), header + encoded


def encode_mo(record: MessageRecord) -> bytes:
    """The DELIVER that carries an MO part from a handset to the SP owning the number it texted."""
    msg_fmt, content = mo_content(record)
    return codec.encode(
        p.Deliver(
            0,
            msg_id=msg_id(record),
            dest_id=record.dest_addr,
            service_id=record.service_type,
            tp_pid=record.protocol_id,
            tp_udhi=1 if record.esm_class & _UDHI else 0,
            msg_fmt=msg_fmt,
            src_terminal_id=record.source_addr,
            msg_content=content,
        ),
        Version.V30,
    )


def relaid_for(raw: bytes, version: Version) -> bytes:
    """A DELIVER encoded in 3.0's layout, laid out for a session of ``version``."""
    if version is Version.V30:
        return raw
    deliver = codec.decode(raw, Version.V30)
    assert isinstance(deliver, p.Deliver)
    if deliver.registered_delivery:
        report = codec.decode_report(deliver.msg_content, Version.V30)
        deliver.msg_content = codec.encode_report(report, version)
    return codec.encode(deliver, version)


class CmppDeliveries:
    """The carrier's :class:`~smsgw.carrier.encoding.DeliveryEncoder` for CMPP accounts."""

    def receipt(self, record: MessageRecord, account: Account | None, now: float) -> bytes:
        return encode_report(record, now)

    def mo(self, record: MessageRecord, now: float) -> bytes:
        return encode_mo(record)

    def ussd(self, screen: UssdScreenOut, account: Account | None) -> bytes:
        system_id = account.system_id if account is not None else "?"
        raise ValueError(f"CMPP has no USSD: {system_id!r} cannot be sent a USSD screen for {screen.msisdn}")
