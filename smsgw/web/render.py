"""How the API shows things: messages, handsets, inbox messages and events, as JSON values."""

from __future__ import annotations

import time
from typing import Any

import attrs

from smsgw.carrier.subscribers import Subscriber
from smsgw.carrier.ussd import Dialogue, Phase
from smsgw.smpp.constants import EsmClass, MessageState
from smsgw.store.records import MessageRecord
from smsgw.text.coding import decode_text
from smsgw.text.errors import InvalidUdh
from smsgw.text.reassembly import InboxMessage
from smsgw.text.udh import split_udh


def iso(moment: float | None) -> str | None:
    """A moment as ISO 8601 in UTC with milliseconds, or None."""
    if moment is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment * 1000) % 1000:03d}Z"


def message_json(record: MessageRecord, text_coding: int | None = None) -> dict[str, Any]:
    """One stored message (one part) with its decoded text and every SMPP detail.

    :param text_coding: the data_coding to decode the text with, when not the stored one
        (see :meth:`~smsgw.carrier.messagelog.MessageLog.text_coding`).
    """
    body = record.body
    parts = None
    if record.esm_class & EsmClass.UDHI:
        try:
            udh, body = split_udh(body)
            if udh.concat is not None:
                parts = {"ref": udh.concat.reference, "total": udh.concat.total, "seq": udh.concat.seqnum}
        except InvalidUdh:
            pass  # a UDH the ESME got wrong: the message shows as one part
    if parts is None and record.sar_ref is not None:
        parts = {"ref": record.sar_ref, "total": record.sar_total, "seq": record.sar_seq}
    return {
        "message_id": record.message_id,
        "direction": record.direction,
        "account": record.system_id,
        "msisdn": record.msisdn,
        "from": record.source_addr,
        "to": record.dest_addr,
        "text": decode_text(body, record.data_coding if text_coding is None else text_coding),
        "data_coding": record.data_coding,
        "esm_class": record.esm_class,
        "registered_delivery": record.registered_delivery,
        "service_type": record.service_type,
        "parts": parts,
        "body_hex": record.body.hex(),
        "state": MessageState(record.state).name,
        "error": record.error,
        "submitted_at": iso(record.submitted_at),
        "scheduled_at": iso(record.scheduled_at),
        "expires_at": iso(record.expires_at),
        "done_at": iso(record.done_at),
    }


def handset_json(subscriber: Subscriber) -> dict[str, Any]:
    """A handset (subscriber) as the API shows it."""
    return {
        "msisdn": subscriber.msisdn,
        "name": subscriber.name,
        "state": subscriber.state.value,
        "namespace": subscriber.namespace,
    }


def inbox_json(message: InboxMessage, peer_key: str = "from") -> dict[str, Any]:
    """A message as the phone shows it: all its parts joined into one text.

    :param peer_key: ``from`` for the inbox, ``to`` for the sent box.
    """
    return {
        "id": message.id,
        "cursor": message.cursor,
        peer_key: message.sender,
        "text": message.text,
        "complete": message.complete,
        "total_parts": message.total,
        "data_coding": message.data_coding,
        "message_class": message.message_class,
        "flash": message.message_class == 0,
        "binary": message.binary,
        "concat": message.concat,
        "parts": [
            {"seq": p.seq, "message_id": p.message_id, "received_at": iso(p.received_at)}
            for p in message.parts
        ],
        "received_at": iso(message.received_at),
    }


def event_json(event: Any) -> dict[str, Any]:
    """A carrier event as a JSON object with its ``type`` (the class name in snake case)."""
    name = type(event).__name__
    kind = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
    return {"type": kind, **attrs.asdict(event, recurse=False)}


def dialogue_json(dialogue: Dialogue) -> dict[str, Any]:
    """A dialogue as the API shows it."""
    screen = dialogue.screen
    return {
        "session": dialogue.session,
        "service_code": dialogue.code or None,
        "origin": dialogue.origin,
        "state": dialogue.phase.value,
        "screen": screen.text if screen else None,
        "expects_reply": bool(screen and screen.expects_reply and dialogue.phase is Phase.WAITING_USER),
        "cursor": dialogue.cursor,
        "inputs": list(dialogue.shown_inputs),  # masked at a PIN prompt
        "end_reason": dialogue.end_reason,
        "end_code": dialogue.end_code,
    }
