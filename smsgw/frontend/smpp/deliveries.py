"""What the carrier owes an ESME, written as deliver_sm: receipts, MO, USSD screens.

Encoded once, when the carrier queues the delivery (a retry resends the same bytes; the
session sets the sequence number), in the dialect of the account it goes to. While someone
follows the carrier's events (the console does), each is also kept in the PDU log.
"""

from __future__ import annotations

from smsgw.carrier.accounts import Account
from smsgw.carrier.encoding import UssdScreenOut
from smsgw.carrier.events import EventBus
from smsgw.carrier.ussd import ABORT_OP, EOS
from smsgw.frontend.smpp.checks import MAX_SHORT_MESSAGE
from smsgw.frontend.smpp.pdulog import PduLog
from smsgw.frontend.smpp.receipts import encode_receipt
from smsgw.smpp import codec
from smsgw.smpp.constants import MessageState, Npi, Ton, UssdServiceOp
from smsgw.smpp.sm import DeliverSm
from smsgw.store.records import MessageRecord
from smsgw.text.coding import DefaultAlphabet, encode_text

_ENROUTE = int(MessageState.ENROUTE)
#: The USSD dialect of a dialogue whose account is gone from the config (the defaults).
_DEFAULT_PROFILE = Account(system_id="", password="")


def encode_mo(record: MessageRecord) -> bytes:
    """The deliver_sm that carries an MO (one part) to its ESME (sequence number 0).

    SAR parts carry the three SAR TLVs; a text too long for short_message (the account asked
    for message_payload) travels in message_payload with sm_length 0.
    """
    body = record.body
    payload = body if len(body) > MAX_SHORT_MESSAGE else None
    return codec.encode(
        DeliverSm(
            source_addr_ton=record.source_ton,
            source_addr_npi=record.source_npi,
            source_addr=record.source_addr,
            dest_addr_ton=record.dest_ton,
            dest_addr_npi=record.dest_npi,
            destination_addr=record.dest_addr,
            esm_class=record.esm_class,
            data_coding=record.data_coding,
            short_message=b"" if payload is not None else body,
            message_payload=payload,
            sar_msg_ref_num=record.sar_ref,
            sar_total_segments=record.sar_total,
            sar_segment_seqnum=record.sar_seq,
        )
    )


def encode_ussd(screen: UssdScreenOut, account: Account | None) -> bytes:
    """A USSD screen event as deliver_sm, in the account's USSD dialect (docs/ussd.md)."""
    profile = account if account is not None else _DEFAULT_PROFILE
    op, text = screen.op, screen.text
    if op == ABORT_OP and profile.ussd_network_end == "eos":
        op, text = UssdServiceOp.USSR_CONFIRM, ""  # VUMI's "Tata": the EOS bit alone says it
    data_coding, encoded = encode_text(text, profile.data_coding_0)
    if data_coding == 0 and profile.ussd_data_coding == "cbs":
        data_coding = 0x0F
    session_info = screen.its_session_info | (EOS if screen.end else 0)
    return codec.encode(
        DeliverSm(
            service_type=profile.ussd_service_type,
            source_addr_ton=Ton.INTERNATIONAL,
            source_addr_npi=Npi.ISDN,
            source_addr=screen.msisdn,
            destination_addr=screen.code,
            data_coding=data_coding,
            short_message=encoded,
            ussd_service_op=op,
            its_session_info=session_info if profile.ussd_session == "its_session_info" else None,
            user_message_reference=(
                screen.its_session_info if profile.ussd_session == "user_message_reference" else None
            ),
        )
    )


class SmppDeliveries:
    """The carrier's :class:`~smsgw.carrier.encoding.DeliveryEncoder` for SMPP.

    :param events: the carrier's event bus: the PDU log is kept while anyone follows it.
    """

    def __init__(self, events: EventBus, pdu_log: PduLog | None = None) -> None:
        self.events = events
        self.pdu_log = pdu_log if pdu_log is not None else PduLog()

    def receipt(self, record: MessageRecord, account: Account | None, now: float) -> bytes:
        short = account is not None and account.receipt_format == "short"
        alphabet: DefaultAlphabet = account.data_coding_0 if account is not None else "gsm"
        pdu = encode_receipt(
            record, now, short=short, intermediate=record.state == _ENROUTE, alphabet=alphabet
        )
        if self.events.followed:  # the PDU log costs ~2 µs a message: kept while someone looks
            self.pdu_log.sent(record.system_id, record.message_id, pdu, now)
        return pdu

    def mo(self, record: MessageRecord, now: float) -> bytes:
        pdu = encode_mo(record)
        if self.events.followed:
            self.pdu_log.sent(record.system_id, record.message_id, pdu, now)
        return pdu

    def ussd(self, screen: UssdScreenOut, account: Account | None) -> bytes:
        return encode_ussd(screen, account)
