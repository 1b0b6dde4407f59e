"""The GSM 03.38 (3GPP 23.038) default alphabet and its extension table.

SMPP carries ``data_coding = 0`` text *unpacked*: one septet value per octet of ``short_message``
(as Kannel and smpplib send it). :func:`encode_gsm` and :func:`decode_gsm` work on that form;
:func:`pack_7bit` and :func:`unpack_7bit` convert to and from the packed air-interface form that
USSD strings and 7-bit text after a UDH use.

Speed matters because every submit_sm and deliver_sm passes through here, so both directions are
table driven and run in C: encoding is one :meth:`str.translate` plus an ASCII encode, decoding one
:func:`codecs.charmap_decode`; only texts with escape pairs take a regex pass.

National language shift tables (23.038 UDH IEI 0x24/0x25) are out of scope.
"""

from __future__ import annotations

import codecs
import re
from typing import Final

from smsgw.text.errors import NotEncodable

__all__ = [
    "BASIC_TABLE",
    "ESC",
    "EXTENSION_TABLE",
    "decode_gsm",
    "encode_gsm",
    "gsm_septets",
    "is_gsm",
    "pack_7bit",
    "unpack_7bit",
]

ESC: Final = 0x1B
"""The escape septet that announces a character from :data:`EXTENSION_TABLE`."""

BASIC_TABLE: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
"""The 128 characters of the default alphabet, indexed by septet value.

Index 0x1B holds U+001B only as a placeholder: that septet is the escape, not a character, and
U+001B in a text is not encodable.
"""

EXTENSION_TABLE: Final[dict[str, int]] = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
"""Characters sent as ``ESC`` followed by the given septet; each costs two septets."""

# Encoding table for str.translate: every encodable character maps to the characters whose code
# points are its septets, so that the result is pure ASCII and ``.encode("ascii")`` yields the
# unpacked septets.  ASCII characters that are *not* GSM (backtick, most controls) would otherwise
# pass through translate unchanged and be mistaken for septets, so they map to a non-ASCII
# sentinel; non-ASCII characters that are not GSM pass through unchanged and are non-ASCII anyway.
# Either way the translated text is not ASCII exactly when something was not encodable.
_NOT_GSM: Final = "\x80"
_ENCODE: Final[dict[int, str]] = {code: _NOT_GSM for code in range(128)}
_ENCODE.update({ord(char): chr(septet) for septet, char in enumerate(BASIC_TABLE) if septet != ESC})
_ENCODE.update({ord(char): chr(ESC) + chr(septet) for char, septet in EXTENSION_TABLE.items()})
_ENCODABLE: Final = frozenset(chr(code) for code, septets in _ENCODE.items() if septets != _NOT_GSM)

# Decoding table for codecs.charmap_decode, indexed by octet.  ESC stays U+001B so that the
# escape pass can find it; octets with the top bit set are not septets at all (typically Latin-1
# sent under data_coding 0 by a misconfigured peer) and become U+FFFD rather than a guessed
# character, so that the mistake stays visible.
_DECODE: Final = BASIC_TABLE + "\ufffd" * 128

# The escape pass runs after the table pass, so the character following ESC has already been
# turned into its *basic* character; the extension table is therefore keyed by that character.
# 23.038 says a receiver shows the basic character for an escape code it does not know, which is
# exactly ``.get(base, base)``.  ESC ESC is 23.038's "escape to another extension table", which a
# receiver without that table displays as a space.
_EXTENSION_BY_BASE: Final[dict[str, str]] = {
    BASIC_TABLE[septet]: char for char, septet in EXTENSION_TABLE.items()
}
_EXTENSION_BY_BASE["\x1b"] = " "
_ESCAPE_PAIR: Final = re.compile("\x1b(.)?", re.DOTALL)


def _unescape(match: re.Match[str]) -> str:
    base = match.group(1)
    if base is None:
        # A lone ESC at the very end can only be half of a pair cut off by truncation or by a
        # splitter that ignored pairs (smpplib has such a FIXME).  It stands for a character we
        # cannot know, not for a space, so it decodes as nothing; reassembly should join the
        # septets of all segments *before* decoding so that such a pair is rejoined.
        return ""
    return _EXTENSION_BY_BASE.get(base, base)


def _first_unencodable(text: str) -> NotEncodable:
    for position, char in enumerate(text):
        if char not in _ENCODABLE:
            return NotEncodable(char, position)
    raise AssertionError("called on an encodable text")  # pragma: no cover


def encode_gsm(text: str) -> bytes:
    """Encode a text as unpacked GSM 03.38 septets, one per octet.

    Extension characters (``€``, ``{``, ``[`` ...) become ``ESC`` plus their code. Nothing is
    replaced lossily: ``ç``, a backtick or U+001B are not encodable (callers fall back to UCS2).

    :param text: the text to encode.
    :returns: the septets, each in the low 7 bits of one octet.
    :raises NotEncodable: naming the first character that has no GSM representation.
    """
    septets = text.translate(_ENCODE)
    if not septets.isascii():
        raise _first_unencodable(text)
    return septets.encode("ascii")


def decode_gsm(data: bytes) -> str:
    """Decode unpacked GSM 03.38 septets; never raises.

    Leniency, following 23.038 practice: an unknown escape code decodes as its basic character,
    ``ESC ESC`` as a space, a trailing lone ``ESC`` as nothing (it is half of a cut pair, see the
    module source), and an octet above 0x7F as U+FFFD.

    :param data: one septet per octet.
    :returns: the text.
    """
    text = codecs.charmap_decode(data, "strict", _DECODE)[0]
    if ESC in data:
        return _ESCAPE_PAIR.sub(_unescape, text)
    return text


def gsm_septets(text: str) -> int | None:
    """Count the septets a text needs in GSM 03.38, extension characters counting two.

    :param text: the text to measure.
    :returns: the septet count, or ``None`` when the text is not encodable.
    """
    septets = text.translate(_ENCODE)
    # isascii() is a constant-time flag check on CPython's compact strings.
    return len(septets) if septets.isascii() else None


def is_gsm(text: str) -> bool:
    """Tell whether every character of a text is in the GSM 03.38 alphabet or its extension.

    :param text: the text to test.
    """
    return text.translate(_ENCODE).isascii()


def _check_fill_bits(fill_bits: int) -> None:
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill_bits must be 0..6, not {fill_bits}")


def pack_7bit(septets: bytes, fill_bits: int = 0, *, cr_padding: bool = False) -> bytes:
    """Pack septets into octets, least significant bit first (23.038 section 6.1.2.1).

    :param septets: one septet per octet, as :func:`encode_gsm` returns.
    :param fill_bits: zero bits to put before the first septet so that it starts on a septet
        boundary after a UDH (23.040 section 9.2.3.24); 0 to 6.
    :param cr_padding: apply the USSD / cell broadcast rule of 23.038 section 6.1.2.3.1: when 7
        spare bits would remain in the last octet (a receiver would read them as an ``@``), fill
        them with a CR; when the text itself ends with a CR on an octet boundary, add another CR
        so that the receiver does not strip the wanted one as padding.
    :returns: the packed octets; empty when there are no septets.
    :raises ValueError: if a septet exceeds 0x7F or ``fill_bits`` is out of range.
    """
    _check_fill_bits(fill_bits)
    if not septets:
        return b""
    if max(septets) > 0x7F:
        raise ValueError("septets must be 0x00..0x7F")
    if cr_padding:
        used = (len(septets) * 7 + fill_bits) % 8
        if used == 1 or (used == 0 and septets[-1] == 0x0D):
            septets = septets + b"\r"
    accumulator = 0
    pending = fill_bits
    packed = bytearray()
    for septet in septets:
        accumulator |= septet << pending
        pending += 7
        if pending >= 8:
            packed.append(accumulator & 0xFF)
            accumulator >>= 8
            pending -= 8
    if pending:
        packed.append(accumulator)
    return bytes(packed)


def unpack_7bit(data: bytes, count: int, fill_bits: int = 0) -> bytes:
    """Unpack septets from packed octets, the inverse of :func:`pack_7bit`.

    The count must come from the caller (the TP-UDL of an SMS, say) because the octets alone are
    ambiguous: 7 spare bits at the end look like one more ``@``. Asking for more septets than the
    octets hold returns only the whole septets that are there. A USSD/CBS text packed with
    ``cr_padding`` comes back with its padding CR, which the caller strips.

    :param data: the packed octets.
    :param count: how many septets to extract.
    :param fill_bits: the bits to skip before the first septet; 0 to 6.
    :returns: one septet per octet.
    :raises ValueError: if ``count`` is negative or ``fill_bits`` is out of range.
    """
    _check_fill_bits(fill_bits)
    if count < 0:
        raise ValueError(f"count must not be negative, not {count}")
    count = min(count, (len(data) * 8 - fill_bits) // 7)
    value = int.from_bytes(data, "little") >> fill_bits
    # One big integer shifted 7 bits at a time reads the septets in order, least significant
    # first, without per-octet carry bookkeeping.
    return bytes((value >> (7 * index)) & 0x7F for index in range(max(count, 0)))
