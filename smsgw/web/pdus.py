"""A PDU's octets as the API shows them: its command, sequence number, status and every field
and TLV, decoded by its protocol's codec (the carrier keeps PDUs as opaque bytes).

Octet strings are shown as hex; a short message's text is shown decoded beside it (``text``),
by its data_coding (SMPP) or Msg_Fmt (CMPP), its UDH left out.
"""

from __future__ import annotations

from typing import Any

import attrs

from smsgw.cmpp import codec as cmpp_codec
from smsgw.cmpp import pdu as cmpp_pdu
from smsgw.cmpp.constants import MsgFmt, Version
from smsgw.cmpp.constants import command_name as cmpp_command_name
from smsgw.cmpp.errors import CmppError
from smsgw.smpp import codec as smpp_codec
from smsgw.smpp.constants import EsmClass, command_name, status_name
from smsgw.smpp.errors import SmppError
from smsgw.text.coding import DATA_CODING_IA5, DATA_CODING_UCS2, decode_text
from smsgw.text.errors import InvalidUdh
from smsgw.text.udh import split_udh

#: The data_coding of each CMPP Msg_Fmt whose content is text (GB 2312/GBK is decoded apart).
_CMPP_CODING: dict[int, int] = {MsgFmt.ASCII: DATA_CODING_IA5, MsgFmt.UCS2: DATA_CODING_UCS2}


def pdu_json(protocol: str, raw: bytes, version: object = None) -> dict[str, Any]:
    """The PDU ``raw`` of ``protocol`` (``smpp`` or ``cmpp``, whose ``version`` says its
    layout: 0x20 or 0x30) as a JSON object; ``{"error": ...}`` when it does not decode."""
    if protocol == "smpp":
        return smpp_json(raw)
    if protocol == "cmpp":
        return cmpp_json(raw, Version(version) if isinstance(version, int) else Version.V30)
    return {"error": f"no codec for protocol {protocol!r}"}


def smpp_json(raw: bytes) -> dict[str, Any]:
    """An SMPP PDU: ``command``, ``sequence``, ``status`` and its ``fields`` (a TLV only when
    present), with the short message's ``text``."""
    try:
        pdu = smpp_codec.decode(raw)
    except SmppError as error:
        return {"error": str(error)}
    fields = {
        field.name: _value(getattr(pdu, field.name))
        for field in attrs.fields(type(pdu))
        if field.name not in ("sequence_number", "command_status") and getattr(pdu, field.name) is not None
    }
    if not fields.get("extra_tlvs"):
        fields.pop("extra_tlvs", None)
    shown: dict[str, Any] = {
        "command": command_name(pdu.command_id),
        "sequence": pdu.sequence_number,
        "status": status_name(pdu.command_status),
        "fields": fields,
    }
    # submit_sm, deliver_sm, data_sm, submit_multi: the PDUs that carry a short message.
    body = getattr(pdu, "message_payload", None) or getattr(pdu, "short_message", None)
    coding, esm_class = getattr(pdu, "data_coding", None), getattr(pdu, "esm_class", 0)
    if body is not None and coding is not None:
        shown["text"] = _text(body, coding, bool(esm_class & EsmClass.UDHI))
    return shown


def cmpp_json(raw: bytes, version: Version) -> dict[str, Any]:
    """A CMPP PDU in ``version``'s layout: ``command``, ``sequence``, its ``fields``, the
    text of its content and, for a report, the report's fields."""
    try:
        pdu = cmpp_codec.decode(raw, version)
    except CmppError as error:
        return {"error": str(error)}
    fields = {
        field.name: _value(getattr(pdu, field.name))
        for field in attrs.fields(type(pdu))
        if field.name != "sequence_id"
    }
    shown: dict[str, Any] = {
        "command": cmpp_command_name(pdu.command_id),
        "sequence": pdu.sequence_id,
        "version": f"{int(version) >> 4}.{int(version) & 0xF}",
        "fields": fields,
    }
    if isinstance(pdu, cmpp_pdu.Deliver) and pdu.registered_delivery:
        try:
            shown["report"] = _value(cmpp_codec.decode_report(pdu.msg_content, version))
        except CmppError as error:
            shown["report"] = {"error": str(error)}
    elif isinstance(pdu, (cmpp_pdu.Submit, cmpp_pdu.Deliver)):
        shown["text"] = _cmpp_text(pdu.msg_content, pdu.msg_fmt, bool(pdu.tp_udhi))
    return shown


def _value(value: Any) -> Any:
    """A field's value as JSON: octets as hex, values made of fields as objects."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple | list):
        return [_value(item) for item in value]
    if attrs.has(type(value)):
        return {field.name: _value(getattr(value, field.name)) for field in attrs.fields(type(value))}
    return value


def _without_udh(body: bytes, udh: bool) -> bytes:
    """The text's octets after its UDH; a UDH the sender got wrong leaves them whole."""
    if not udh:
        return body
    try:
        return split_udh(body)[1]
    except InvalidUdh:
        return body


def _text(body: bytes, data_coding: int, udh: bool) -> str:
    return decode_text(_without_udh(body, udh), data_coding)


def _cmpp_text(content: bytes, msg_fmt: int, udh: bool) -> str:
    content = _without_udh(content, udh)
    if msg_fmt == MsgFmt.GB:
        return content.decode("gbk", "replace")
    # Any other format (binary, a SIM's write-card data) is octets: shown as hex, as data_coding 4.
    return decode_text(content, _CMPP_CODING.get(msg_fmt, 4))
