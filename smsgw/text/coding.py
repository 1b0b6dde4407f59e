"""Text <-> octets keyed by the SMPP ``data_coding`` octet (SMPP v3.4 §5.2.19).

Every ``short_message`` and ``message_payload`` is turned into text here and nowhere else.
Decoding never raises on any data: a fake carrier must show *something* for whatever a peer
sends, and a decode error must not become a ``*_resp`` status by accident.

The meaning of each of the 256 values is computed once into tables, so a decode is two tuple
lookups and one codec call.
"""

from __future__ import annotations

from typing import Final, Literal

from smsgw.text.errors import NotEncodable
from smsgw.text.gsm import decode_gsm, encode_gsm

__all__ = [
    "DATA_CODING_GSM",
    "DATA_CODING_IA5",
    "DATA_CODING_LATIN_1",
    "DATA_CODING_UCS2",
    "Alphabet",
    "DefaultAlphabet",
    "decode_text",
    "encode_text",
    "is_binary",
    "message_class",
]

DATA_CODING_GSM: Final = 0x00
"""SMSC default alphabet, which this carrier takes to be GSM 03.38 carried unpacked."""

DATA_CODING_IA5: Final = 0x01
"""IA5 (ASCII): what a peer that has no GSM alphabet (a CMPP SP, Msg_Fmt 0) gets text in."""

DATA_CODING_LATIN_1: Final = 0x03
"""ISO-8859-1: what a peer that reads data_coding 0 as Latin-1 gets instead of it."""

DATA_CODING_UCS2: Final = 0x08
"""UCS2, big-endian; decoded as UTF-16-BE so that surrogate pairs (emoji) survive."""

DefaultAlphabet = Literal["gsm", "latin-1"]
"""What ``data_coding = 0`` means; peers disagree, so it is configuration (docs/smpp-conformance.md)."""

Alphabet = Literal["gsm", "latin-1", "ascii"]
"""The single-octet alphabet a text is sent in when it fits: a :data:`DefaultAlphabet`, or
``ascii`` (IA5, data_coding 1) for a peer whose protocol has no GSM alphabet (CMPP)."""

# Kinds of payload.  "default" is data_coding 0, resolved per call from default_alphabet; the
# others name a Python codec, except "gsm" (ours) and "binary" (no text at all).
_DEFAULT: Final = "default"
_GSM: Final = "gsm"
_BINARY: Final = "binary"
_LATIN_1: Final = "latin-1"
_UCS2: Final = "utf-16-be"

# SMPP 3.4's own values 0x00-0x0F (SMPP v3.4 §5.2.19).  IA5 decodes as Latin-1, a superset
# of ASCII in which every octet is defined, so that a peer's stray 8-bit octet cannot fail.
_SMPP_KINDS: Final[dict[int, str]] = {
    0x00: _DEFAULT,
    0x01: _LATIN_1,
    0x02: _BINARY,
    0x03: _LATIN_1,
    0x04: _BINARY,
    0x06: "iso8859-5",
    0x07: "iso8859-8",
    0x08: _UCS2,
    # 0x0F is the cell broadcast DCS "GSM 7-bit, language unspecified" that some USSD gateways
    # pass through as data_coding; SMPP carries it unpacked like 0x00.
    0x0F: _GSM,
}

# 23.038 alphabet bits (bits 3-2) of the general and message-waiting coding groups.  Value 3 is
# reserved; it falls back to best-effort Latin-1 like any other unknown value.
_ALPHABET_BITS: Final = (_GSM, _BINARY, _UCS2, _LATIN_1)


def _classify(data_coding: int) -> tuple[str, int | None]:
    """Return the payload kind and message class of one data_coding value."""
    if data_coding in _SMPP_KINDS:
        return _SMPP_KINDS[data_coding], None
    group = data_coding >> 4
    if group in (0x1, 0x4, 0x5):
        # Values SMPP 3.4 reserves but that ESMEs copying a 23.038 DCS do send: the uncompressed
        # general data coding groups (00x1xxxx and 01x0xxxx / 01x1xxxx), e.g. Kannel's 0x18 for a
        # UCS2 flash message.  Bit 4 says whether bits 1-0 carry a message class.  Compressed
        # variants (bit 5) cannot be decompressed and are left to the Latin-1 fallback.
        message_class = data_coding & 0x03 if data_coding & 0x10 else None
        return _ALPHABET_BITS[(data_coding >> 2) & 0x03], message_class
    if group in (0xC, 0xD):
        # Message waiting indication, "discard" and "store" groups: GSM 7-bit text.
        return _GSM, None
    if group == 0xE:
        # Message waiting indication, "store" group with UCS2 text.
        return _UCS2, None
    if group == 0xF:
        # Data coding / message class group: bit 2 chooses 7-bit text or 8-bit data, bits 1-0
        # the class (0xF0 = class 0 = flash).  Bit 3 is reserved and ignored.
        return (_BINARY if data_coding & 0x04 else _GSM), data_coding & 0x03
    return _LATIN_1, None


_KINDS: Final = tuple(_classify(value)[0] for value in range(256))
_CLASSES: Final = tuple(_classify(value)[1] for value in range(256))


def _kind(data_coding: int) -> str:
    # data_coding is one octet on the wire; anything else is treated as an unknown value rather
    # than raising (a negative index would silently wrap).
    return _KINDS[data_coding] if 0 <= data_coding <= 0xFF else _LATIN_1


def decode_text(data: bytes, data_coding: int, *, default_alphabet: DefaultAlphabet = "gsm") -> str:
    """Decode a ``short_message`` or ``message_payload`` (without its UDH) to text.

    * 0x00: GSM 03.38 unpacked, or ISO-8859-1 when ``default_alphabet="latin-1"``.
    * 0x01 (IA5) and 0x03: ISO-8859-1. 0x06: ISO-8859-5. 0x07: ISO-8859-8.
    * 0x08, 0xE0-0xEF: UTF-16-BE; an odd trailing octet or a lone surrogate becomes U+FFFD.
    * 0x0F, 0xC0-0xDF, 0xF0-0xF3 (and 0xF8-0xFB, reserved bit 3 ignored): GSM 03.38 unpacked.
    * 0x10-0x1F, 0x40-0x5F: the 23.038 general coding groups, by their alphabet bits.
    * Binary (0x02, 0x04, 0xF4-0xF7, see :func:`is_binary`): the octets as lowercase hex
      (``"0a1b"``), so the result is always a ``str`` fit for logs and the console. Callers that
      need the octets check :func:`is_binary` first and keep the ``bytes``.
    * Anything else: ISO-8859-1, best effort (every octet is defined, so it cannot fail).

    :param data: the octets, with any UDH already removed (see :func:`smsgw.text.udh.split_udh`).
    :param data_coding: the SMPP ``data_coding`` octet.
    :param default_alphabet: what ``data_coding = 0`` means on this link.
    :returns: the text; undecodable octets become U+FFFD.
    :raises ValueError: only for an unknown ``default_alphabet`` (a configuration error).
    """
    if default_alphabet != "gsm" and default_alphabet != "latin-1":
        raise ValueError(f"default_alphabet must be 'gsm' or 'latin-1', not {default_alphabet!r}")
    kind = _kind(data_coding)
    if kind == _DEFAULT:
        kind = _GSM if default_alphabet == "gsm" else _LATIN_1
    if kind == _GSM:
        return decode_gsm(data)
    if kind == _BINARY:
        return data.hex()
    return data.decode(kind, "replace")


def is_binary(data_coding: int) -> bool:
    """Tell whether a ``data_coding`` announces 8-bit data rather than text.

    :param data_coding: the SMPP ``data_coding`` octet.
    :returns: true for 0x02, 0x04, 0xF4-0xF7 (0xFC-0xFF too, reserved bit 3 ignored) and the
        23.038 8-bit general-group values (0x14-0x17, 0x44-0x47, 0x54-0x57).
    """
    return _kind(data_coding) == _BINARY


def is_ucs2(data_coding: int) -> bool:
    """Tell whether a ``data_coding`` announces UCS2 text (16-bit code units).

    :param data_coding: the SMPP ``data_coding`` octet.
    """
    return _kind(data_coding) == _UCS2


def message_class(data_coding: int) -> int | None:
    """Return the 23.038 message class a ``data_coding`` carries, if any.

    :param data_coding: the SMPP ``data_coding`` octet.
    :returns: 0 (flash, shown and not stored), 1 (ME), 2 (SIM) or 3 (TE) for 0xF0-0xFF and the
        general-group values with bit 4 set (0x10-0x1F, 0x50-0x5F); ``None`` otherwise.
    """
    return _CLASSES[data_coding] if 0 <= data_coding <= 0xFF else None


def encode_text(text: str, default_alphabet: Alphabet = "gsm") -> tuple[int, bytes]:
    """Encode a text in the cheapest alphabet that holds it, as a peer reading it expects.

    :param text: the text to send.
    :param default_alphabet: what the peer takes ``data_coding = 0`` to mean. For a peer that
        reads it as Latin-1, GSM 03.38 octets would be read wrongly (``_`` is 0x11 there), so
        such a peer gets Latin-1 with its own value, 3; ``ascii`` gives IA5 (1) when every
        character is ASCII.
    :returns: ``(0, unpacked GSM septets)`` when every character is in GSM 03.38 (for a
        Latin-1 peer: ``(3, Latin-1 octets)`` when every character is in Latin-1), otherwise
        ``(8, UTF-16-BE octets)``. A lone surrogate in ``text`` is carried as its own code unit
        (UCS2 is a sequence of 16-bit units), so this never raises.
    """
    try:
        if default_alphabet == "latin-1":
            return DATA_CODING_LATIN_1, text.encode(_LATIN_1)
        if default_alphabet == "ascii":
            return DATA_CODING_IA5, text.encode("ascii")
        return DATA_CODING_GSM, encode_gsm(text)
    except (NotEncodable, UnicodeEncodeError):
        return DATA_CODING_UCS2, text.encode(_UCS2, "surrogatepass")
