"""The tty: phone mode (termios), ANSI output of frames, and the keyboard (decoding and reading).

The only module that touches the terminal device.
"""

from __future__ import annotations

import codecs
import os
import re
import select
import termios
import threading
import unicodedata
from typing import Any

from simulators.terminal_phone.events import KeyPressed, Pasted, Post
from simulators.terminal_phone.screens import Frame

#: After a lone ESC, how long to wait for the rest of an escape sequence (an arrow key).
ESC_DELAY = 0.05


# -- keyboard ------------------------------------------------------------------------------

_CSI_KEYS = {"A": "up", "B": "down", "C": "right", "D": "left", "H": "home", "F": "end"}
_TILDE_KEYS = {"1": "home", "7": "home", "4": "end", "8": "end", "3": "delete", "5": "pgup", "6": "pgdn"}
_CONTROL_KEYS = {
    "\r": "enter", "\n": "enter", "\x7f": "backspace", "\x08": "backspace",
    "\x03": "ctrl-c", "\x04": "eof", "\x15": "ctrl-u", "\t": " ",
}  # fmt: skip
_CSI = re.compile(r"\x1b\[([0-?]*)[ -/]*([@-~])")
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"


def split_keys(buffer: str, final: bool = False) -> tuple[list[KeyPressed | Pasted], str]:
    """Decode typed characters into key events; return them and what is left incomplete.

    A lone ESC may be the start of an arrow key's sequence, so it stays in the rest until
    more comes or, with ``final``, the caller has waited long enough to call it Esc.
    """
    events: list[KeyPressed | Pasted] = []
    i = 0
    while i < len(buffer):
        char = buffer[i]
        if char != "\x1b":
            if char in _CONTROL_KEYS:
                events.append(KeyPressed(_CONTROL_KEYS[char]))
            elif unicodedata.category(char) != "Cc":
                events.append(KeyPressed(char))
            i += 1
            continue
        rest = buffer[i:]
        if rest.startswith(PASTE_START):
            end = rest.find(PASTE_END)
            if end < 0:
                return events, rest  # the paste is still arriving
            events.append(Pasted(rest[len(PASTE_START) : end]))
            i += end + len(PASTE_END)
            continue
        match = _CSI.match(rest)
        if match:
            params, final_byte = match.groups()
            name = _TILDE_KEYS.get(params) if final_byte == "~" else _CSI_KEYS.get(final_byte)
            if name:
                events.append(KeyPressed(name))
            i += match.end()
            continue
        if len(rest) >= 3 and rest[1] == "O":  # SS3: arrows in application mode
            name = _CSI_KEYS.get(rest[2])
            if name:
                events.append(KeyPressed(name))
            i += 3
            continue
        if not final and (len(rest) == 1 or rest[1] in "[O"):
            return events, rest  # maybe the start of a sequence
        events.append(KeyPressed("esc"))
        i += 1
    return events, ""


class KeyReader(threading.Thread):
    """Reads the keyboard on its own thread and posts key events; :meth:`stop` ends it.

    It blocks in ``select`` on the tty and on a pipe that :meth:`stop` writes to, so it never
    polls and always ends.
    """

    def __init__(self, fd: int, post: Post) -> None:
        super().__init__(name="phone-keys", daemon=True)
        self.fd = fd
        self.post = post
        self._wake_read, self._wake_write = os.pipe()

    def stop(self) -> None:
        """Make the thread end soon (it may have ended already, at the end of input)."""
        os.write(self._wake_write, b"x")

    def close(self) -> None:
        """Close the stop pipe, once the thread has ended."""
        os.close(self._wake_read)
        os.close(self._wake_write)

    def run(self) -> None:
        """Read, decode and post until stopped or the tty closes."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending = ""
        while True:
            timeout = ESC_DELAY if pending and not pending.startswith(PASTE_START) else None
            ready, _, _ = select.select([self.fd, self._wake_read], [], [], timeout)
            if self._wake_read in ready:
                return
            if not ready:  # nothing followed the ESC: it was the Esc key
                events, pending = split_keys(pending, final=True)
            else:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:  # EIO: the terminal is gone
                    data = b""
                if not data:
                    self.post(KeyPressed("eof"))
                    return
                events, pending = split_keys(pending + decoder.decode(data))
            for event in events:
                self.post(event)


# -- the terminal ------------------------------------------------------------------------

_STYLES = {"": "", "bold": "\x1b[1m", "bar": "\x1b[7m", "selected": "\x1b[7m"}


class Terminal:
    """The tty in phone mode: no echo, keys one at a time, alternate screen, hidden cursor.

    Ctrl-C still raises SIGINT (so it works even while the UI thread is busy); Ctrl-Z and
    XON/XOFF are disabled so a stray key cannot stop the phone with the terminal half set up.
    """

    def __init__(self, fd_in: int, fd_out: int) -> None:
        self.fd_in, self.fd_out = fd_in, fd_out
        self._saved: list[Any] | None = None
        self._shown: list[str] = []

    def __enter__(self) -> Terminal:
        self._saved = termios.tcgetattr(self.fd_in)
        mode = termios.tcgetattr(self.fd_in)
        mode[0] &= ~(termios.IXON | termios.IXOFF)
        mode[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN)
        mode[6] = list(mode[6])
        mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
        mode[6][termios.VSUSP] = 0
        termios.tcsetattr(self.fd_in, termios.TCSADRAIN, mode)
        self.write("\x1b[?1049h\x1b[?2004h\x1b[?25l\x1b[H\x1b[2J")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.write("\x1b[0m\x1b[?2004l\x1b[?25h\x1b[?1049l")
        if self._saved is not None:
            termios.tcsetattr(self.fd_in, termios.TCSADRAIN, self._saved)

    def size(self) -> tuple[int, int]:
        """(columns, rows); from the tty, else $COLUMNS/$LINES, else 80x24."""
        try:
            columns, rows = os.get_terminal_size(self.fd_out)
        except OSError:
            columns = rows = 0
        if columns <= 0 or rows <= 0:
            columns = int(os.environ.get("COLUMNS", "0") or 0) or 80
            rows = int(os.environ.get("LINES", "0") or 0) or 24
        return columns, rows

    def invalidate(self) -> None:
        """Forget what is on screen, so the next draw repaints everything."""
        self._shown = []
        self.write("\x1b[H\x1b[2J")

    def draw(self, frame: Frame, bell: bool = False) -> None:
        """Repaint the lines that changed, then place (or hide) the cursor."""
        out = ["\a"] if bell else []
        rendered = [f"{_STYLES.get(line.style, '')}{line.text}\x1b[0m" for line in frame.lines]
        for row, text in enumerate(rendered):
            if row >= len(self._shown) or self._shown[row] != text:
                out.append(f"\x1b[{row + 1};1H{text}\x1b[K")
        if len(rendered) < len(self._shown):
            out.append(f"\x1b[{len(rendered) + 1};1H\x1b[J")
        self._shown = rendered
        if frame.cursor is None:
            out.append("\x1b[?25l")
        else:
            out.append(f"\x1b[{frame.cursor[0] + 1};{frame.cursor[1] + 1}H\x1b[?25h")
        self.write("".join(out))

    def write(self, text: str) -> None:
        """Write all of ``text`` to the terminal."""
        data = text.encode("utf-8", "replace")
        while data:
            data = data[os.write(self.fd_out, data) :]
