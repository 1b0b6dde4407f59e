"""USSD on the phone (pure): the dial line, the dialogue screen, and how answers reach it.

A dialogue's news comes from two places that may race: the answers to the phone's own
requests (dial, reply) and the background long poll (see
:class:`~simulators.terminal_phone.app.UssdPoller`). :func:`show` takes both and applies an
answer only when it is later in its dialogue than what the screen shows
(:func:`order`); a dialogue the user has left (dismissed, cancelled) stays gone.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from simulators.handset import SmsgwError
from simulators.terminal_phone.screens import Body, Line, Screen
from simulators.terminal_phone.text import pad, printable, text_width, wrap
from simulators.ussd_screen import UssdScreen

if TYPE_CHECKING:
    from simulators.terminal_phone.ui import PhoneUi

#: Seconds a dial or a reply asks the server to wait for the next screen (the network gives
#: an application 15 s by default, then shows an error screen, so the answer comes first).
USSD_WAIT = 25
RUNNING = "USSD code running…"
#: What the dial line takes: a feature phone's keypad.
DIAL_KEYS = "0123456789*#+"


#: How a dialogue's answers follow each other at one screen: the prompt, the answer sent, the end.
_PHASE_ORDER = {"idle": 0, "waiting_user": 0, "waiting_app": 1, "closed": 2}


def order(dialogue: UssdScreen) -> tuple[int, int]:
    """Sorts the answers about one dialogue: a later screen, then the answer sent, then the end."""
    return dialogue.cursor, _PHASE_ORDER.get(dialogue.state, 0)


class DialScreen(Screen):
    """The dial line that ``*`` or ``#`` opens from the menu; Enter sends the code."""

    title = "Dial"
    softkeys = "Enter Call   Esc Back"
    takes_text = True

    def __init__(self, number: str = "") -> None:
        self.number = number

    def body(self, ui: PhoneUi, width: int, height: int, now: datetime) -> Body:
        """The number typed so far, the cursor after it, and a hint."""
        shown = self.number
        while text_width(shown) > width - 1:  # keep the end, where one types, visible
            shown = shown[1:]
        lines = [Line(pad(shown, width), "bold"), Line(""), Line("USSD codes look like *126#")]
        return Body(lines[:height], (0, text_width(shown)))

    def key(self, ui: PhoneUi, key: str) -> None:
        """Keypad characters add, Backspace deletes (and leaves when empty), Enter calls."""
        if key == "enter":
            if self.number:
                ui.dial_ussd(self, self.number)
        elif key == "backspace":
            if self.number:
                self.number = self.number[:-1]
            else:
                ui.pop()
        elif key == "ctrl-u":
            self.number = ""
        elif key in DIAL_KEYS and len(key) == 1:
            self.number += key

    def paste(self, ui: PhoneUi, text: str) -> None:
        """A pasted code: its keypad characters only."""
        self.number += "".join(c for c in text if c in DIAL_KEYS)


class UssdView(Screen):
    """One USSD dialogue, full screen: running…, a prompt with a reply line, or the final text.

    :param dialled: what the phone dialled, for a dialogue it starts; "" for a pushed one.
    :ivar session: the server's number for the dialogue, once an answer names it.
    :ivar cancelled: the user left before the server named the dialogue (it is cancelled then).
    """

    takes_text = True

    def __init__(self, dialled: str = "", session: int | None = None) -> None:
        self.dialled = dialled
        self.session = session
        self.phase = "running"  # or "prompt", or "closed"
        self.text = ""
        self.reply = ""
        self.scroll = 0
        self.cancelled = False
        self.order: tuple[int, int] = (-1, -1)
        self.title = f"USSD {dialled}" if dialled else "USSD"

    @property
    def softkeys(self) -> str:  # type: ignore[override]
        """What Enter and Esc do now."""
        return {"running": "Esc Cancel", "prompt": "Enter Send   Esc Cancel"}.get(self.phase, "Enter OK")

    def update(self, dialogue: UssdScreen) -> bool:
        """Show ``dialogue`` if it is later than what shows; return whether a new text came."""
        if order(dialogue) <= self.order:
            return False
        fresh = bool(dialogue.text) and dialogue.cursor > self.order[0]
        self.order = order(dialogue)
        if dialogue.service_code and not self.dialled:
            self.title = f"USSD {dialogue.service_code}"
        if dialogue.state == "closed":
            self.phase = "closed"
            if fresh:
                self.text = dialogue.text
            else:  # ended without a last screen: cancelled, or the user was too slow
                self.text = "USSD session ended" + (f": {dialogue.end_reason}" if dialogue.end_reason else "")
        elif dialogue.state == "waiting_user" and dialogue.expects_reply:
            self.phase, self.text, self.reply = "prompt", dialogue.text, ""
        else:
            self.phase = "running"
        if fresh:
            self.scroll = 0
        return fresh

    def fail(self, message: str) -> None:
        """A request was refused or got no answer: show why, to be dismissed."""
        self.phase, self.text, self.scroll = "closed", message, 0

    def body(self, ui: PhoneUi, width: int, height: int, now: datetime) -> Body:
        """The text wrapped to the width; under a prompt, the reply line with the cursor."""
        if self.phase == "running":
            return Body([Line(RUNNING)])
        text = [Line(line) for line in wrap(self.text, width)]
        foot: list[Line] = []
        cursor = None
        if self.phase == "prompt":
            shown = printable(self.reply)
            while text_width(shown) > width - 3:
                shown = shown[1:]
            foot = [Line(""), Line(pad("> " + shown, width), "bold")]
        room = max(height - len(foot), 1)
        self.scroll = max(0, min(self.scroll, len(text) - room))
        lines = text[self.scroll : self.scroll + room] + foot
        if self.phase == "prompt":
            cursor = (len(lines) - 1, 2 + text_width(shown))
        return Body(lines[:height], cursor)

    def key(self, ui: PhoneUi, key: str) -> None:
        """Arrows scroll; at a prompt keys type the reply and Enter sends it; when ended, OK."""
        if key in ("up", "down", "pgup", "pgdn"):
            step = {"up": -1, "down": 1, "pgup": -5, "pgdn": 5}[key]
            self.scroll = max(0, self.scroll + step)
        elif self.phase == "closed":
            if key in ("enter", "5", "backspace", "left", " "):
                ui.remove(self)
        elif self.phase != "prompt":
            return
        elif key == "enter":
            if self.reply:
                self.phase = "running"
                ui.reply_ussd(self, self.reply)
        elif key == "backspace":
            self.reply = self.reply[:-1]
        elif key == "ctrl-u":
            self.reply = ""
        elif len(key) == 1:
            self.reply += key

    def paste(self, ui: PhoneUi, text: str) -> None:
        """Pasted text goes into the reply, on one line."""
        if self.phase == "prompt":
            self.reply += " ".join(text.split())

    def back(self, ui: PhoneUi) -> None:
        """Esc: dismiss an ended dialogue, else cancel it (the application hears an abort)."""
        ui.remove(self)
        if self.phase == "closed":
            return
        if self.session is None:  # the dial is still on its way: cancel once it is answered
            self.cancelled = True
        else:
            ui.ussd_done.add(self.session)
            ui.request(lambda api: api.cancel_ussd(), lambda result, error: None)


def show(ui: PhoneUi, dialogue: UssdScreen, initial: bool = False) -> None:
    """Apply a server answer about the USSD dialogue: update its screen, or pop one up.

    :param initial: the first answer since start-up (or since the network came back): an
        ended dialogue nobody shows is history then, not news.
    """
    session = dialogue.session
    if session is None or dialogue.state == "idle" or session in ui.ussd_done:
        return
    screen = next((s for s in ui.stack if isinstance(s, UssdView) and s.session == session), None)
    pending = ui.ussd_pending
    history = initial and dialogue.state == "closed"
    if screen is None and pending is not None and dialogue.origin == "mobile" and not history:
        screen, ui.ussd_pending = pending, None  # the answer to our own dial
        screen.session = session
        if screen.cancelled:
            ui.ussd_done.add(session)
            if dialogue.state != "closed":
                ui.request(lambda api: api.cancel_ussd(), lambda result, error: None)
            return
    if screen is None:
        if history:
            ui.ussd_done.add(session)
            return
        screen = UssdView(session=session)
        ui.push(screen)
        ui.bell = True  # a pushed prompt or notice pops up by itself
    if screen.update(dialogue) and screen is not ui.screen:
        ui.bell = True
    if dialogue.state == "closed":
        ui.ussd_done.add(session)


def answered(ui: PhoneUi, screen: UssdView, dialogue: UssdScreen | None, error: SmsgwError | None) -> None:
    """The answer to a dial or a reply: the next screen, or why there is none."""
    if ui.ussd_pending is screen and error is not None:
        ui.ussd_pending = None
    if dialogue is not None:
        show(ui, dialogue)
    elif error is not None and not screen.cancelled and screen.phase != "closed":
        screen.fail(error.message)
