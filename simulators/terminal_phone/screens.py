"""The phone's screens (pure): menu, message lists, reader, composer and notes.

Each screen draws a :class:`Body` for a given size and handles the keys meant for it; the
:class:`~simulators.terminal_phone.ui.PhoneUi` that owns them assembles the :class:`Frame`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from simulators.handset import Sms, SmsgwError
from simulators.terminal_phone.text import first_line, pad, printable, sms_parts, text_width, wrap

if TYPE_CHECKING:
    from simulators.terminal_phone.ui import PhoneUi


# -- the model and its screens (pure) ----------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One screen line; ``style`` is ``""``, ``"bar"`` (reverse video), ``"bold"`` or ``"selected"``."""

    text: str = ""
    style: str = ""


@dataclass(frozen=True)
class Frame:
    """A whole screen: lines, and where the text cursor shows (row, column) or None."""

    lines: tuple[Line, ...]
    cursor: tuple[int, int] | None = None


@dataclass
class Body:
    """What a screen draws under the title: lines, and optionally where the cursor is."""

    lines: list[Line] = field(default_factory=list)
    cursor: tuple[int, int] | None = None


def when(moment: datetime | None, now: datetime, full: bool = False) -> str:
    """A time the way a phone shows it, in local time: ``15:01`` today, else ``25 Nov``."""
    if moment is None:
        return ""
    local = moment.astimezone()
    if full:
        return local.strftime("%d %b %Y %H:%M:%S")
    return local.strftime("%H:%M") if local.date() == now.date() else local.strftime("%d %b")


class Screen:
    """One screen of the phone: a title, soft keys, a body and what keys do there."""

    title = ""
    softkeys = "Enter OK   Esc Back"
    #: Whether keys are text here (q, Backspace and Esc go to the screen, not to navigation).
    takes_text = False

    def body(self, ui: PhoneUi, width: int, height: int, now: datetime) -> Body:
        """The lines under the title, at most ``height`` of ``width`` columns."""
        return Body()

    def key(self, ui: PhoneUi, key: str) -> None:
        """Handle a key press (``Esc`` and Ctrl-C are handled by :class:`PhoneUi`)."""

    def paste(self, ui: PhoneUi, text: str) -> None:
        """Handle pasted text; only screens that take text use it."""

    def back(self, ui: PhoneUi) -> None:
        """Esc on a screen that takes text (elsewhere Esc is always Back)."""
        ui.pop()


def _move(key: str) -> int:
    """-1, +1 or 0: how a key moves a selection (arrows, j/k and the keypad's 2/8)."""
    return {"up": -1, "k": -1, "2": -1, "down": 1, "j": 1, "8": 1}.get(key, 0)


class MenuScreen(Screen):
    """The main menu."""

    title = "Menu"
    softkeys = "1-4 Select   Enter OK   * # USSD   0 Quit"
    items = ("1", "2", "3", "4", "0")

    def __init__(self) -> None:
        self.selected = 0

    def labels(self, ui: PhoneUi) -> list[str]:
        """The items as shown, with the inbox count and the switch's direction."""
        if ui.inbox_loaded:
            unread = len(ui.unread)
            count = f"{len(ui.inbox)}, {unread} new" if unread else f"{len(ui.inbox)}"
        else:
            count = "…"
        switch = "Switch on" if ui.is_off else "Switch off"
        return [f"1 Inbox ({count})", "2 Write message", "3 Sent", f"4 {switch}", "0 Quit"]

    def body(self, ui: PhoneUi, width: int, height: int, now: datetime) -> Body:
        """The five items, the selected one highlighted."""
        lines = []
        for index, label in enumerate(self.labels(ui)):
            style = "selected" if index == self.selected else ""
            lines.append(Line(pad(label, width), style))
        return Body(lines)

    def key(self, ui: PhoneUi, key: str) -> None:
        """A digit picks an item; arrows move; Enter picks the selected one."""
        if key in ("up", "down"):
            self.selected = (self.selected + _move(key)) % len(self.items)
        elif key == "enter":
            ui.choose(self.items[self.selected])
        elif key in self.items:
            self.selected = self.items.index(key)
            ui.choose(key)
        elif key in ("*", "#"):  # a feature phone dials from its idle screen
            ui.dial(key)


def peer(message: Sms, box: str) -> str:
    """The other end: who sent a message of the inbox, whom one of the sent box went to."""
    return message.sender if box == "inbox" else message.recipient


class ListScreen(Screen):
    """The inbox or the sent box, newest first, one message a line."""

    def __init__(self, box: str) -> None:
        self.box = box  # "inbox" or "sent"
        self.selected_id: int | None = None
        self.top = 0
        self.title = "Inbox" if box == "inbox" else "Sent"
        self.softkeys = "↑↓ Move   Enter Open   Esc Back"

    def messages(self, ui: PhoneUi) -> list[Sms]:
        """The box's messages, newest first."""
        box = ui.inbox if self.box == "inbox" else ui.sent
        return sorted((box or {}).values(), key=lambda m: (m.cursor, m.id), reverse=True)

    def _index(self, messages: list[Sms]) -> int:
        ids = [m.id for m in messages]
        return ids.index(self.selected_id) if self.selected_id in ids else 0

    def body(self, ui: PhoneUi, width: int, height: int, now: datetime) -> Body:
        """One line per message: unread mark, peer, first line of text, time."""
        messages = self.messages(ui)
        if self.box == "sent" and ui.sent is None:
            return Body([Line("Loading…")])
        if not messages:
            return Body([Line("No messages" if self.box == "inbox" else "Nothing sent yet")])
        index = self._index(messages)
        self.top = min(max(self.top, index - height + 1), index)
        peer_width = min(max(text_width(peer(m, self.box)) for m in messages), 16)
        lines = []
        for message in messages[self.top : self.top + height]:
            mark = "●" if message.id in ui.unread else ("→" if self.box == "sent" else " ")
            stamp = when(message.received_at, now)
            head = f"{mark} {pad(printable(peer(message, self.box)), peer_width)}  "
            room = width - text_width(head) - text_width(stamp) - 1
            text = pad(first_line(message.text), max(room, 0))
            style = "selected" if message.id == messages[index].id else ""
            lines.append(Line(pad(f"{head}{text} {stamp}", width), style))
        return Body(lines)

    def key(self, ui: PhoneUi, key: str) -> None:
        """Move the selection, open the selected message, or reply to it."""
        messages = self.messages(ui)
        if not messages:
            return
        index = self._index(messages)
        if _move(key):
            index = min(max(index + _move(key), 0), len(messages) - 1)
            self.selected_id = messages[index].id
        elif key in ("enter", "5", "right"):
            self.selected_id = messages[index].id
            ui.open_message(self.box, messages[index].id)
        elif key in ("r", "R") and self.box == "inbox":
            ui.compose(to=messages[index].sender)


class MessageScreen(Screen):
    """One message: who, when, and the whole text, scrolled with the arrows."""

    def __init__(self, box: str, message_id: int) -> None:
        self.box = box
        self.message_id = message_id
        self.scroll = 0
        self.title = "Message" if box == "inbox" else "Sent message"
        self.softkeys = "R Reply   F Forward   Esc Back" if box == "inbox" else "F Forward   Esc Back"

    def message(self, ui: PhoneUi) -> Sms | None:
        """The message shown (it may have grown parts since it was opened)."""
        box = ui.inbox if self.box == "inbox" else ui.sent
        return (box or {}).get(self.message_id)

    def body(self, ui: PhoneUi, width: int, height: int, now: datetime) -> Body:
        """Header lines, then the text wrapped to the width, from the scroll position."""
        message = self.message(ui)
        if message is None:
            return Body([Line("This message is gone.")])
        parts = plural(message.total_parts, "part")
        if not message.complete:
            parts += ", incomplete"
        lines = [
            Line(
                pad(
                    ("From: " if self.box == "inbox" else "To: ") + printable(peer(message, self.box)), width
                ),
                "bold",
            ),
            Line(pad(f"{when(message.received_at, now, full=True)}  ({parts})", width)),
            Line(""),
        ]
        text = [Line(line) for line in wrap(message.text, width)]
        self.scroll = max(0, min(self.scroll, len(lines) + len(text) - height))
        return Body((lines + text)[self.scroll : self.scroll + height])

    def key(self, ui: PhoneUi, key: str) -> None:
        """Scroll, reply (R) or forward (F)."""
        message = self.message(ui)
        if key in ("up", "down", "k", "j", "2", "8"):
            self.scroll = max(0, self.scroll + _move(key))
        elif key == "pgdn" or key == " ":
            self.scroll += 5
        elif key == "pgup":
            self.scroll = max(0, self.scroll - 5)
        elif message is None:
            return
        elif key in ("r", "R") and self.box == "inbox":
            ui.compose(to=message.sender)
        elif key in ("f", "F"):
            ui.compose(text=message.text)


class ComposeScreen(Screen):
    """Write a message: the recipient, then the text; Enter sends."""

    title = "Write message"
    takes_text = True

    def __init__(self, to: str = "", text: str = "") -> None:
        self.to = to
        self.text = text
        # A reply knows its recipient, so it starts in the text; Esc goes back to the number.
        self.step = "text" if to else "to"
        self.sending = False
        self.problem = ""

    @property
    def softkeys(self) -> str:  # type: ignore[override]
        """What Enter and Esc do at this step."""
        if self.sending:
            return "Sending…"
        return "Enter Next   Esc Back" if self.step == "to" else "Enter Send   Esc Back"

    def body(self, ui: PhoneUi, width: int, height: int, now: datetime) -> Body:
        """The number field, the text field (wrapped) and the counter; the cursor on the field."""
        lines = [Line(pad("To: " + printable(self.to), width), "bold" if self.step == "to" else "")]
        cursor = (0, min(4 + text_width(printable(self.to)), width - 1)) if self.step == "to" else None
        lines.append(Line("Text:"))
        text_lines = wrap(self.text, width)
        if self.step == "text":
            last = text_lines[-1]
            if text_width(last) >= width:  # the cursor goes on a line of its own
                text_lines.append("")
                last = ""
            room = height - len(lines) - 2
            if len(text_lines) > room:  # keep the end of a long text, where one types, visible
                text_lines = text_lines[len(text_lines) - max(room, 1) :]
            cursor = (len(lines) + len(text_lines) - 1, text_width(last))
        lines += [Line(line) for line in text_lines]
        units, parts = sms_parts(self.text)
        counter = f"{units} chars, {parts} SMS" if self.text else ""
        lines += [Line(""), Line(self.problem or counter)]
        return Body(lines[:height], cursor if not self.sending else None)

    def _field(self) -> str:
        return self.to if self.step == "to" else self.text

    def _set_field(self, value: str) -> None:
        if self.step == "to":
            self.to = value
        else:
            self.text = value
        self.problem = ""

    def back(self, ui: PhoneUi) -> None:
        """From the text go back to the number; from the number leave (not while sending)."""
        if self.sending:
            return
        if self.step == "text":
            self.step = "to"
        else:
            ui.pop()

    def key(self, ui: PhoneUi, key: str) -> None:
        """Edit the field; Enter moves on or sends; Backspace on an empty field is Back."""
        if self.sending:
            return
        if key == "enter":
            if self.step == "to":
                self.to = self.to.strip()
                if not self.to:
                    self.problem = "Enter a number or short code"
                else:
                    self.step = "text"
            elif not self.text.strip():
                self.problem = "Write something first"
            else:
                self.sending = True
                ui.send(self)
        elif key == "backspace":
            if self._field():
                self._set_field(self._field()[:-1])
            else:
                self.back(ui)
        elif key == "ctrl-u":
            self._set_field("")
        elif len(key) == 1 and (self.step == "text" or not key.isspace()):
            self._set_field(self._field() + key)

    def paste(self, ui: PhoneUi, text: str) -> None:
        """Pasted text goes into the field; only the text keeps newlines."""
        if self.sending:
            return
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        self._set_field(self._field() + ("".join(text.split()) if self.step == "to" else text))

    def sent(self, ui: PhoneUi, result: list[str] | None, error: SmsgwError | None) -> None:
        """The network's answer: on success the composer gives way to a "Sent" note."""
        self.sending = False
        if error is None:
            note = NoteScreen("Message sent", [f"Sent to {self.to}", plural(len(result or []), "part")])
            if ui.screen is self:
                ui.replace(note)
            else:
                ui.push(note)
        else:
            ui.push(NoteScreen("Not sent", ["Not sent:", error.message]))


class NoteScreen(Screen):
    """A message to the user ("Sent", "Not sent: ..."); any key goes back."""

    softkeys = "Enter OK"

    def __init__(self, title: str, lines: list[str]) -> None:
        self.title = title
        self.lines = lines

    def body(self, ui: PhoneUi, width: int, height: int, now: datetime) -> Body:
        """The note, wrapped."""
        lines = [Line(line) for text in self.lines for line in wrap(text, width)]
        return Body(lines[:height])

    def key(self, ui: PhoneUi, key: str) -> None:
        """Enter (or any key but a modifier sequence) closes the note."""
        if key in ("enter", "5", "backspace", "left") or len(key) == 1:
            ui.pop()


def plural(count: int, noun: str) -> str:
    """``1 part``, ``2 parts``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")
