"""Exceptions raised by :mod:`smsgw.text`.

All of them are :class:`ValueError` subclasses: each one means "this input cannot be turned into
what you asked for", never a bug in the caller's control flow. The carrier maps them to SMPP
statuses (for example :class:`InvalidUdh` to ``ESME_RINVESMCLASS``); this package knows nothing
about SMPP statuses so that it stays importable from every layer.
"""

from __future__ import annotations

__all__ = ["InvalidUdh", "NotEncodable", "TextTooLong"]


class NotEncodable(ValueError):
    """A character of the text has no representation in the requested alphabet.

    :ivar char: the first offending character.
    :ivar position: its index in the text (in code points, as Python indexes ``str``).
    """

    def __init__(self, char: str, position: int, alphabet: str = "GSM 03.38") -> None:
        """Build the error for the first character that cannot be encoded.

        :param char: the offending character.
        :param position: its index in the text.
        :param alphabet: the alphabet's name, used in the message only.
        """
        super().__init__(
            f"{char!r} (U+{ord(char):04X}) at position {position} is not in the {alphabet} alphabet"
        )
        self.char = char
        self.position = position


class InvalidUdh(ValueError):
    """A User Data Header is malformed: its length octet or an element overruns the message."""


class TextTooLong(ValueError):
    """The text needs more segments (255 at most) or octets (65535 in message_payload) than allowed."""
