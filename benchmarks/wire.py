"""The few SMPP v3.4 PDUs the benchmark needs, as fixed-layout byte templates.

Only what the load generator and the null SMSC exchange is here: binds, submit_sm,
deliver_sm receipts and the header-only PDUs. Layouts follow SMPP v3.4 §4 and the
receipt text of its Appendix B. Nothing here validates: the benchmark trusts its own bytes and
reads a peer's bytes only as far as it must.
"""

from __future__ import annotations

import struct

# command_id values (SMPP v3.4 §5.1.2.1).
GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
SUBMIT_SM = 0x00000004
SUBMIT_SM_RESP = 0x80000004
DELIVER_SM = 0x00000005
DELIVER_SM_RESP = 0x80000005
UNBIND = 0x00000006
UNBIND_RESP = 0x80000006
BIND_TRANSCEIVER = 0x00000009
BIND_TRANSCEIVER_RESP = 0x80000009
ENQUIRE_LINK = 0x00000015
ENQUIRE_LINK_RESP = 0x80000015

ESME_ROK = 0x00000000
ESME_RINVCMDID = 0x00000003

TAG_RECEIPTED_MESSAGE_ID = 0x001E
TAG_MESSAGE_STATE = 0x0427
ESM_CLASS_RECEIPT = 0x04
MESSAGE_STATE_DELIVERED = 2

#: command_length, command_id, command_status, sequence_number.
HEADER = struct.Struct(">IIII")
#: A TLV's tag and value length.
TLV_HEAD = struct.Struct(">HH")

#: Exactly 30 GSM 03.38 characters that are the same octets in ASCII (data_coding 0).
TEXT = b"Hello from the smsgw benchmark"
SOURCE_ADDR = b"12345"
#: Destination MSISDNs are this prefix plus five digits: 86138000xxxxx.
DEST_PREFIX = b"86138000"


def header_only(command_id: int, sequence_number: int, status: int = ESME_ROK) -> bytes:
    """Encode a PDU without a body (unbind, enquire_link, generic_nack, their responses).

    :param command_id: the PDU's command_id.
    :param sequence_number: the sequence number to send or echo.
    :param status: command_status (non-zero only in responses).
    """
    return HEADER.pack(16, command_id, status, sequence_number)


def bind_transceiver(system_id: str, password: str, sequence_number: int) -> bytes:
    """Encode a bind_transceiver for SMPP v3.4 with empty system_type and address_range.

    :param system_id: account name (at most 15 characters).
    :param password: account password (at most 8 characters).
    :param sequence_number: sequence number of the request.
    """
    body = (
        system_id.encode("ascii")
        + b"\0"
        + password.encode("ascii")
        + b"\0"
        + b"\0"  # system_type
        + bytes((0x34, 0, 0))  # interface_version, addr_ton, addr_npi
        + b"\0"  # address_range
    )
    return HEADER.pack(16 + len(body), BIND_TRANSCEIVER, ESME_ROK, sequence_number) + body


def submit_sm_stream(count: int, first_sequence: int = 1) -> tuple[bytes, int]:
    """Encode ``count`` back-to-back submit_sm PDUs with consecutive sequence numbers.

    Every PDU has the same length (the destination always has 13 digits), so the caller
    sends a window as one slice of the returned buffer and encodes nothing while timing.

    :param count: number of PDUs.
    :param first_sequence: sequence number of the first PDU; the k-th has ``first + k``.
    :returns: the concatenated PDUs and the length of one PDU.
    """
    head = b"\0" + bytes((0, 0)) + SOURCE_ADDR + b"\0" + bytes((1, 1))  # service_type .. dest_npi
    tail = (
        b"\0"  # end of destination_addr
        + bytes((0, 0, 0))  # esm_class, protocol_id, priority_flag
        + b"\0\0"  # schedule_delivery_time, validity_period: NULL
        + bytes((1, 0, 0, 0))  # registered_delivery=1, replace_if_present, data_coding=0, default id
        + bytes((len(TEXT),))
        + TEXT
    )
    length = 16 + len(head) + len(DEST_PREFIX) + 5 + len(tail)
    pack = HEADER.pack
    parts = [
        pack(length, SUBMIT_SM, ESME_ROK, first_sequence + k)
        + head
        + DEST_PREFIX
        + b"%05d" % ((first_sequence + k) % 100_000)
        + tail
        for k in range(count)
    ]
    return b"".join(parts), length


def receipt_text(message_id: bytes, date: bytes) -> bytes:
    """The Appendix B receipt text of a delivered message (SMPP v3.4).

    :param message_id: the id given in submit_sm_resp.
    :param date: ``YYMMDDhhmm`` used as both submit and done date.
    """
    return (
        b"id:"
        + message_id
        + b" sub:001 dlvrd:001 submit date:"
        + date
        + b" done date:"
        + date
        + b" stat:DELIVRD err:000 text:"
    )


def receipted_id(data: bytes, start: int, end: int) -> bytes | None:
    """Return the message id a deliver_sm receipt refers to, or None if it names none.

    Walks the mandatory fields only to find where the TLVs start. Prefers the
    receipted_message_id TLV and falls back to the ``id:`` field of the text, as Kannel does.

    :param data: buffer holding the PDU.
    :param start: offset of the PDU's first octet (its command_length).
    :param end: offset just past the PDU.
    :raises ValueError: if a C-string is not terminated inside the PDU.
    """
    index = data.index
    p = index(0, start + 16, end) + 3  # service_type, source_addr_ton, source_addr_npi
    p = index(0, p, end) + 3  # source_addr, dest_addr_ton, dest_addr_npi
    p = index(0, p, end) + 4  # destination_addr, esm_class, protocol_id, priority_flag
    p = index(0, p, end) + 1  # schedule_delivery_time
    p = index(0, p, end) + 5  # validity_period, registered_delivery .. sm_default_msg_id
    text_start = p + 1
    p = text_start + data[p]
    text_end = p
    while p + 4 <= end:
        tag, size = TLV_HEAD.unpack_from(data, p)
        p += 4
        if tag == TAG_RECEIPTED_MESSAGE_ID:
            nul = data.find(0, p, p + size)
            return data[p : nul if nul >= 0 else p + size]
        p += size
    at = data.find(b"id:", text_start, text_end)
    if at < 0:
        return None
    stop = data.find(b" ", at + 3, text_end)
    return data[at + 3 : stop if stop >= 0 else text_end]
