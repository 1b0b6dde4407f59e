"""Text in terminal columns: display width, clipping, wrapping, sanitising, SMS part counting.

Pure functions of their arguments; no I/O.
"""

from __future__ import annotations

import re
import unicodedata

# -- text in terminal columns --------------------------------------------------------------


def char_width(char: str) -> int:
    """Columns one character takes in a terminal: 2 for wide East Asian, 0 for combining marks."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def text_width(text: str) -> int:
    """Columns ``text`` (one line, already :func:`printable`) takes."""
    return sum(char_width(c) for c in text)


def printable(text: str) -> str:
    """``text`` made safe to write to a terminal: tabs become spaces, other controls ``�``.

    Newlines are kept; :func:`wrap` turns them into lines. Without this an SMS carrying
    ``ESC [ 2 J`` could clear the screen.
    """
    text = text.replace("\r\n", "\n").replace("\t", " ")
    return "".join(c if c == "\n" or unicodedata.category(c) != "Cc" else "\ufffd" for c in text)


def clip(text: str, width: int, ellipsis: str = "…") -> str:
    """``text`` cut to at most ``width`` columns, ending with ``ellipsis`` when cut."""
    if text_width(text) <= width:
        return text
    room = width - text_width(ellipsis)
    out, used = [], 0
    for char in text:
        w = char_width(char)
        if used + w > room:
            break
        out.append(char)
        used += w
    return "".join(out) + ellipsis if room >= 0 else ""


def pad(text: str, width: int) -> str:
    """``text`` clipped or padded with spaces to exactly ``width`` columns."""
    text = clip(text, width)
    return text + " " * (width - text_width(text))


def _tokens(paragraph: str) -> list[str]:
    """Break opportunities: runs of spaces, narrow words, and each wide (CJK) character alone."""
    tokens: list[str] = []
    for run in re.findall(r"\s+|\S+", paragraph):
        if run.isspace():
            tokens.append(run)
            continue
        word = ""
        for char in run:
            if char_width(char) == 2:
                tokens += [word, char] if word else [char]
                word = ""
            else:
                word += char
        if word:
            tokens.append(word)
    return tokens


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` columns: breaks at spaces, between CJK characters, or inside
    a word too long for a line.

    Each newline in ``text`` starts a new line; an empty text is one empty line.
    """
    lines: list[str] = []
    for paragraph in printable(text).split("\n"):
        line, used = "", 0
        for token in _tokens(paragraph):
            size = text_width(token)
            if used + size <= width:
                line, used = line + token, used + size
            elif token.isspace():  # the line breaks here; the space goes
                lines.append(line.rstrip())
                line, used = "", 0
            elif size <= width:
                lines.append(line.rstrip())
                line, used = token, size
            else:
                for char in token:
                    w = char_width(char)
                    if used + w > width and line:
                        lines.append(line.rstrip())
                        line, used = "", 0
                    line, used = line + char, used + w
        lines.append(line.rstrip())
    return lines


def first_line(text: str) -> str:
    """The first non-empty line of a text, for lists."""
    for line in printable(text).split("\n"):
        if line.strip():
            return line.strip()
    return ""


# GSM 03.38 basic set and the extension characters that take two septets, for the composer's
# "chars/parts" counter. The server decides the real encoding; this only has to agree with it.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


def sms_parts(text: str) -> tuple[int, int]:
    """(units, parts) the way a phone counts a text: GSM septets or UCS-2 code units."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text):
        units = sum(2 if c in _GSM_EXTENDED else 1 for c in text)
        single, multi = 160, 153
    else:
        units = len(text.encode("utf-16-be")) // 2
        single, multi = 70, 67
    parts = 1 if units <= single else -(-units // multi)
    return units, parts
