"""Delivery receipts as ESMEs expect them (docs/smpp-conformance.md, Receipts).

A receipt is a deliver_sm whose source_addr is the original recipient and whose
destination_addr is the original sender (Kannel finds the pending receipt by that source),
with esm_class 0x04 (0x20 for an intermediate notification), the receipted_message_id and
message_state TLVs, network_error_code, and the de-facto text of SMPP v3.4 Appendix B.
"""

from __future__ import annotations

import re

from smsgw.smpp import codec
from smsgw.smpp.constants import EsmClass, MessageState
from smsgw.smpp.sm import DeliverSm
from smsgw.smpp.smpptime import format_receipt_date
from smsgw.store.records import MessageRecord
from smsgw.text.coding import DefaultAlphabet, decode_text
from smsgw.text.errors import InvalidUdh
from smsgw.text.udh import split_udh

_GSM_NETWORK = 3  # network_error_code octet 1: the network type is GSM
_NO_NETWORK_ERROR = bytes((_GSM_NETWORK, 0, 0))
#: A receipt's deliver_sm: these fields, the rest at their defaults (written once).
_encode_receipt = codec.field_encoder(
    DeliverSm,
    (
        "service_type", "source_addr_ton", "source_addr_npi", "source_addr",
        "dest_addr_ton", "dest_addr_npi", "destination_addr", "esm_class", "short_message",
        "network_error_code", "message_state", "receipted_message_id",
    ),
)  # fmt: skip
# Plain ints and a tuple: IntFlag arithmetic and Enum lookups cost microseconds per receipt.
_STAT = tuple(state.name.encode("ascii") for state in MessageState)
_DELIVRD = int(MessageState.DELIVRD)
_UDHI = int(EsmClass.UDHI)
_RECEIPT = int(EsmClass.DELIVERY_RECEIPT)
_INTERMEDIATE = int(EsmClass.INTERMEDIATE_NOTIFICATION)


# Anything but the characters whose code is the same in GSM 03.38 and ASCII. Receipt text
# is data_coding 0, but ESMEs parse it as ASCII (Kannel hands it on byte for byte): '@'
# would reach them as NUL, so everything else becomes '?', as real SMSCs do.
_SAFE = r" !\"#%&'()*+,\-./0-9:;<=>?A-Za-z"
_UNSAFE = re.compile(f"[^{_SAFE}]")
#: GSM 03.38 (unpacked), IA5, ASCII and Latin-1 all give the safe characters the same codes,
#: so text made of them needs no decoding (most OTP texts, on every receipt).
_SAFE_BYTES = re.compile(f"[{_SAFE}]*".encode("ascii"))
#: data_coding values whose safe characters are those bytes: SMSC default, IA5, Latin-1.
_SAFE_CODINGS = frozenset({0x00, 0x01, 0x03})


def receipt_excerpt(
    body: bytes, esm_class: int, data_coding: int, alphabet: DefaultAlphabet = "gsm"
) -> bytes:
    """The first 20 characters of a message's text, made safe for any receipt parser (ASCII).

    :param alphabet: what data_coding 0 means for the submitting account.
    """
    if esm_class & _UDHI:
        try:
            body = split_udh(body)[1]
        except InvalidUdh:
            pass
    elif data_coding in _SAFE_CODINGS and _SAFE_BYTES.fullmatch(body, 0, 20) is not None:
        return body[:20]
    text = decode_text(body[:80], data_coding, default_alphabet=alphabet)[:20]
    return _UNSAFE.sub("?", text).encode("ascii")


def receipt_text(
    message_id: str,
    submitted_at: float,
    done_at: float,
    state: int,
    error: int,
    excerpt: bytes,
    *,
    short: bool = False,
) -> bytes:
    """The receipt's short_message text, in ASCII.

    :param excerpt: from :func:`receipt_excerpt`, in ASCII.
    :param short: Jasmin's shorter form (no sub, dlvrd or text), for ESMEs built against it.
    """
    # Joined from pieces, not formatted: a format is parsed anew on every call, twice the work.
    err = b"%03d" % error if error else b"000"
    # Both dates are almost always of the minute last formatted.
    submitted, done = int(submitted_at // 60), int(done_at // 60)
    minute, formatted = _last_minute
    submit_date = formatted if submitted == minute else _receipt_date(submitted)
    done_date = submit_date if done == submitted else formatted if done == minute else _receipt_date(done)
    stat = _STAT[state]
    if short:
        return b"".join(
            (b"id:", message_id.encode("ascii"), b" submit date:", submit_date, b" done date:", done_date,
             b" stat:", stat, b" err:", err)
        )  # fmt: skip
    return b"".join(
        (b"id:", message_id.encode("ascii"), _SUB_DLVRD[state == _DELIVRD], submit_date, b" done date:",
         done_date, b" stat:", stat, b" err:", err, b" text:", excerpt)
    )  # fmt: skip


#: What follows the id in the full form, for a state other than DELIVRD and for DELIVRD.
_SUB_DLVRD = (b" sub:001 dlvrd:000 submit date:", b" sub:001 dlvrd:001 submit date:")
# The minute last formatted: a receipt has two dates, almost always of the current minute,
# so this is the one place a receipt date is remembered.
_last_minute = (-1, b"")


def _receipt_date(minute: int) -> bytes:
    global _last_minute
    _last_minute = minute, format_receipt_date(minute * 60).encode("ascii")
    return _last_minute[1]


def encode_receipt(
    message: MessageRecord,
    now: float,
    *,
    short: bool = False,
    intermediate: bool = False,
    alphabet: DefaultAlphabet = "gsm",
) -> bytes:
    """Encode the receipt deliver_sm for a message in its current state (sequence number 0)."""
    excerpt = receipt_excerpt(message.body, message.esm_class, message.data_coding, alphabet)
    error = message.error
    text = receipt_text(
        message.message_id,
        message.submitted_at,
        message.done_at if message.done_at is not None else now,
        message.state,
        error,
        excerpt,
        short=short,
    )
    return _encode_receipt(
        0, 0, message.service_type, message.dest_ton, message.dest_npi, message.dest_addr,
        message.source_ton, message.source_npi, message.source_addr,
        _INTERMEDIATE if intermediate else _RECEIPT, text,
        bytes((_GSM_NETWORK, error >> 8 & 0xFF, error & 0xFF)) if error else _NO_NETWORK_ERROR,
        message.state, message.message_id,
    )  # fmt: skip
