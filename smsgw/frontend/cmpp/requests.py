"""A CMPP_SUBMIT decoded into the carrier's protocol-neutral request, its fields checked.

Each check raises :class:`~smsgw.carrier.errors.Rejected` with the SUBMIT_RESP Result CMPP
gives it, before the carrier hears of the request. The message is kept as the network keeps
every SMS (GSM's TP fields under SMPP's names): Msg_Fmt 0 becomes IA5 (data_coding 1), 8
UCS2, 3 and 4 binary, and 15 (GBK) is transcoded to UCS2 here, since the store's data_coding
15 means GSM. ValId_Time and At_Time are in SMPP's time format, as CMPP says they are.
"""

from __future__ import annotations

from collections.abc import Callable

from smsgw.carrier.accounts import Account
from smsgw.carrier.errors import Refusal, Rejected
from smsgw.carrier.limits import Limits
from smsgw.carrier.requests import Destination, ShortMessage, Submit, SubmitMany
from smsgw.cmpp import pdu as p
from smsgw.cmpp.constants import MsgFmt
from smsgw.cmpp.constants import SubmitResult as R
from smsgw.digits import is_digits
from smsgw.smpp.constants import EsmClass, Npi, Ton
from smsgw.smpp.smpptime import parse_smpp_time
from smsgw.text.coding import DATA_CODING_IA5, DATA_CODING_UCS2
from smsgw.text.errors import InvalidUdh
from smsgw.text.udh import split_udh

#: A SUBMIT names 1 to 100 numbers (DestUsr_tl, [S3] §7.4.3).
MAX_DESTINATIONS = 100
#: Msg_Length: under 160 octets for ASCII, at most 140 for the rest.
MAX_ASCII, MAX_OTHER = 159, 140
_DATA_CODING = {
    MsgFmt.ASCII: DATA_CODING_IA5,
    MsgFmt.UCS2: DATA_CODING_UCS2,
    MsgFmt.WRITE_CARD: 4,
    MsgFmt.BINARY: 4,
}
_UDHI = int(EsmClass.UDHI)


def bad(result: int, reason: str) -> Rejected:
    """A refusal for a field of the SUBMIT, answered with ``result``."""
    return Rejected(Refusal.BAD_FIELD, reason, status=result)


def decode_submit(
    pdu: p.Submit, account: Account, now: float, limits: Limits, admit: Callable[[float], None]
) -> Submit | SubmitMany:
    """The carrier's request for a CMPP_SUBMIT: one destination or several.

    :param admit: the carrier's admission of a submit at ``now`` (throughput, queue), asked
        before the fields are checked, so a throttled SP hears it is throttled.
    :raises Rejected: for the first field that fails its check, or the admission.
    """
    admit(now)
    count = len(pdu.dest_terminal_ids)
    if not 1 <= count <= MAX_DESTINATIONS:
        raise bad(R.BAD_STRUCTURE, f"DestUsr_tl {count} is not 1-{MAX_DESTINATIONS}")
    if pdu.msg_src and pdu.msg_src != account.system_id:
        raise bad(R.BAD_MSG_SRC, f"Msg_src {pdu.msg_src!r} is not the SP's own {account.system_id!r}")
    _check_src_id(pdu.src_id, account)
    destinations = [
        Destination(Ton.INTERNATIONAL, Npi.ISDN, _dest(number)) for number in pdu.dest_terminal_ids
    ]
    message = _message(pdu, now, limits)
    if count == 1:
        return Submit(message, destinations[0])
    return SubmitMany(message, [(destination, None) for destination in destinations], shared_id=False)


def _check_src_id(src_id: str, account: Account) -> None:
    if not src_id:
        raise bad(R.BAD_SRC_ID, "Src_Id is empty; it is the SP's service code and an extension")
    codes = account.short_codes
    if codes and not any(src_id.startswith(code) for code in codes):
        raise bad(
            R.BAD_SRC_ID, f"Src_Id {src_id!r} does not start with a service code of {account.system_id!r}"
        )


def _dest(number: str) -> str:
    if not is_digits(number):  # ASCII digits: str.isdigit takes '²' too
        raise bad(R.BAD_DEST_TERMINAL, f"Dest_terminal_Id {number!r} is not a number")
    return number


def _message(pdu: p.Submit, now: float, limits: Limits) -> ShortMessage:
    if pdu.registered_delivery not in (0, 1):
        raise bad(R.BAD_STRUCTURE, f"Registered_Delivery {pdu.registered_delivery} is not 0 or 1")
    content = pdu.msg_content
    limit = MAX_ASCII if pdu.msg_fmt == MsgFmt.ASCII else MAX_OTHER
    if len(content) > limit:
        raise bad(R.TOO_LONG, f"Msg_Length {len(content)} exceeds {limit} for Msg_Fmt {pdu.msg_fmt}")
    esm_class = _UDHI if pdu.tp_udhi else 0
    if esm_class:
        try:
            split_udh(content)
        except InvalidUdh as error:
            raise bad(R.BAD_STRUCTURE, f"TP_udhi is set but Msg_Content has no valid UDH: {error}") from None
    if pdu.msg_fmt == MsgFmt.GB:
        data_coding, content = DATA_CODING_UCS2, _gbk_as_ucs2(content, esm_class)
    elif pdu.msg_fmt in _DATA_CODING:
        data_coding = _DATA_CODING[MsgFmt(pdu.msg_fmt)]
    else:
        raise bad(R.BAD_STRUCTURE, f"Msg_Fmt {pdu.msg_fmt} is not 0, 3, 4, 8 or 15")
    scheduled_at, expires_at = _times(pdu, now, limits)
    return ShortMessage(
        service_type=pdu.service_id,
        source_ton=0,
        source_npi=0,
        source_addr=pdu.src_id,
        esm_class=esm_class,
        protocol_id=pdu.tp_pid,
        priority=min(pdu.msg_level, 3),
        registered_delivery=pdu.registered_delivery,
        data_coding=data_coding,
        body=content,
        sar=None,
        scheduled_at=scheduled_at,
        expires_at=expires_at,
    )


def _gbk_as_ucs2(content: bytes, esm_class: int) -> bytes:
    """GBK text (after its UDH) as UCS2; a character cut in two by the SP's split shows as U+FFFD."""
    text_at = 1 + content[0] if esm_class else 0
    text = content[text_at:].decode("gbk", "replace")
    return content[:text_at] + text.encode("utf-16-be", "surrogatepass")


def _times(pdu: p.Submit, now: float, limits: Limits) -> tuple[float | None, float]:
    """At_Time and ValId_Time (absolute or relative): when to deliver, when to give up."""
    if not pdu.at_time and not pdu.valid_time:
        return None, now + min(limits.default_validity, limits.max_validity)
    try:
        scheduled_at = parse_smpp_time(pdu.at_time, now)
        expires_at = parse_smpp_time(pdu.valid_time, now)
    except ValueError as error:
        raise bad(R.BAD_STRUCTURE, f"At_Time or ValId_Time: {error}") from None
    start = scheduled_at if scheduled_at is not None and scheduled_at > now else now
    if expires_at is None:
        expires_at = start + limits.default_validity
    elif expires_at <= start:
        raise bad(R.BAD_STRUCTURE, f"ValId_Time {pdu.valid_time!r} ends before delivery starts")
    return scheduled_at, min(expires_at, start + limits.max_validity)
