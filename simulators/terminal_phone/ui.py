"""The phone's model (pure): :class:`PhoneUi` keeps the state, applies events, renders frames.

No I/O, no threads, no clock of its own: network work goes through the ``request`` callable
it is given, and time comes in as arguments.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from simulators.handset import Handset, HandsetClient, Page, Sms, SmsgwError
from simulators.terminal_phone.events import (
    ActionDone,
    Event,
    HandsetChanged,
    InboxArrived,
    KeyPressed,
    Pasted,
    Reachability,
    UssdUpdated,
)
from simulators.terminal_phone.screens import (
    ComposeScreen,
    Frame,
    Line,
    ListScreen,
    MenuScreen,
    MessageScreen,
    Screen,
)
from simulators.terminal_phone.text import clip, pad, printable, text_width
from simulators.terminal_phone.ussd import USSD_WAIT, DialScreen, UssdView, answered, show

#: How long a notice such as "New message from 12345" stays on the status line.
NOTICE_SECONDS = 10.0
#: The phone's screen is at most this wide and tall, however large the terminal.
MAX_WIDTH = 60
MAX_HEIGHT = 30
MIN_WIDTH, MIN_HEIGHT = 24, 8

SIGNAL_BARS = "▂▄▆█"
NO_SIGNAL = "✕"
STATE_LABELS = {"on": "ON", "off": "OFF", "busy": "BUSY", "inbox_full": "FULL"}


class PhoneUi:
    """The phone's state and screens: events in, frames out, no I/O; the UI thread owns it.

    :param handset: the handset as the server first answered.
    :param request: runs ``work(api)`` away from the UI thread and delivers ``on_done(result,
        error)`` back on it (see :func:`run`); the model never blocks.
    """

    def __init__(
        self,
        handset: Handset,
        request: Callable[[Callable[[HandsetClient], Any], Callable[[Any, SmsgwError | None], None]], None],
    ) -> None:
        self.handset = handset
        self.request = request
        self.inbox: dict[int, Sms] = {}
        self.inbox_loaded = False
        self.unread: set[int] = set()
        self.sent: dict[int, Sms] | None = None
        self.online = True
        self.offline_reason = ""
        self.notice = ""
        self.notice_until = 0.0
        self.bell = False
        self._new_notice = ""
        self._new_senders: list[str] = []
        self.running = True
        self.stack: list[Screen] = [MenuScreen()]
        #: USSD sessions the user has left or seen end: later answers about them are old news.
        self.ussd_done: set[int] = set()
        #: The screen of a dial the server has not answered yet.
        self.ussd_pending: UssdView | None = None

    # -- navigation ------------------------------------------------------------------

    @property
    def screen(self) -> Screen:
        """The screen on top."""
        return self.stack[-1]

    @property
    def is_off(self) -> bool:
        """Whether the phone is switched off."""
        return self.handset.state == "off"

    def push(self, screen: Screen) -> None:
        """Open a screen over the current one."""
        self.stack.append(screen)

    def replace(self, screen: Screen) -> None:
        """Replace the current screen (Back then returns to the one below it)."""
        self.stack[-1] = screen

    def pop(self) -> None:
        """Back: close the current screen (the menu stays)."""
        if len(self.stack) > 1:
            self.stack.pop()

    def remove(self, screen: Screen) -> None:
        """Close ``screen`` wherever it is in the stack (a dialogue may end under a newer one)."""
        if screen in self.stack[1:]:
            self.stack.remove(screen)

    def quit(self) -> None:
        """Leave the phone."""
        self.running = False

    def say(self, text: str, now: float, bell: bool = False) -> None:
        """Show ``text`` on the status line for :data:`NOTICE_SECONDS`."""
        self.notice, self.notice_until = text, now + NOTICE_SECONDS
        self.bell = self.bell or bell

    # -- actions ---------------------------------------------------------------------

    def choose(self, item: str) -> None:
        """A main-menu item."""
        if item == "1":
            self.push(ListScreen("inbox"))
            # The long poll only sees messages after its cursor; a full reload also catches a
            # long message the server shows late (incomplete, after its parts timed out).
            known = frozenset(self.inbox)
            self.request(
                lambda api: api.read("/inbox"), lambda page, error: self._reloaded(known, page, error)
            )
        elif item == "2":
            self.compose()
        elif item == "3":
            self.sent = None
            self.push(ListScreen("sent"))
            self.request(lambda api: api.read("/sent"), self._sent_loaded)
        elif item == "4":
            state = "on" if self.is_off else "off"
            self.say(f"Switching {state}…", time.monotonic())
            self.request(lambda api: api.set_state(state), self._switched)
        elif item == "0":
            self.quit()

    def compose(self, to: str = "", text: str = "") -> None:
        """Open the composer, optionally with a recipient (reply) or a text (forward)."""
        if self.is_off:
            self.say("The phone is off: 4 switches it on", time.monotonic())
            return
        self.push(ComposeScreen(to, text))

    def dial(self, first: str = "") -> None:
        """Open the dial line, starting with the key that opened it (``*`` or ``#``)."""
        self.push(DialScreen(first))

    def dial_ussd(self, dial: DialScreen, dialled: str) -> None:
        """Send a USSD code from the dial line: "running…" until the first screen comes."""
        screen = UssdView(dialled)
        if self.screen is dial:
            self.replace(screen)
        else:
            self.push(screen)
        self.ussd_pending = screen
        self.request(lambda api: api.dial(dialled, wait=USSD_WAIT), lambda d, e: answered(self, screen, d, e))

    def reply_ussd(self, screen: UssdView, text: str) -> None:
        """Send the answer typed at a USSD prompt."""
        self.request(lambda api: api.reply(text, wait=USSD_WAIT), lambda d, e: answered(self, screen, d, e))

    def open_message(self, box: str, message_id: int) -> None:
        """Open a message from the inbox or the sent box; it is read now."""
        self.push(MessageScreen(box, message_id))
        if box == "inbox":
            self.unread.discard(message_id)
            self.notice_until = 0.0

    def send(self, compose: ComposeScreen) -> None:
        """Send the composer's text (MO) in the background."""
        to, text = compose.to, compose.text
        self.request(lambda api: api.send_sms(text, to), lambda r, e: compose.sent(self, r, e))

    def _reloaded(self, known: frozenset[int], page: Page | None, error: SmsgwError | None) -> None:
        if page is not None:
            event = InboxArrived(page.messages, live=self.inbox_loaded, known=known)
            self.handle(event, time.monotonic())

    def _sent_loaded(self, page: Page | None, error: SmsgwError | None) -> None:
        self.sent = {m.id: m for m in (page.messages if page is not None else ())}
        if error is not None:
            self.say(f"Sent box: {error.message}", time.monotonic())

    def _switched(self, handset: Handset | None, error: SmsgwError | None) -> None:
        if handset is not None:
            self.handset = handset
            self.say(f"Phone switched {handset.state}", time.monotonic())
        elif error is not None:
            self.say(f"Not switched: {error.message}", time.monotonic())

    # -- events ----------------------------------------------------------------------

    def handle(self, event: Event, now: float) -> None:
        """Apply one event; ``now`` is ``time.monotonic()``."""
        if isinstance(event, KeyPressed):
            key = event.key
            typing = self.screen.takes_text  # keys are text here: q and Backspace too
            if key in ("ctrl-c", "eof") or (key in ("q", "Q") and not typing):
                self.quit()
            elif key == "esc" and typing:
                self.screen.back(self)
            elif key in ("esc", "left", "backspace") and not typing:
                self.pop()
            else:
                self.screen.key(self, key)
        elif isinstance(event, Pasted):
            self.screen.paste(self, event.text)
        elif isinstance(event, InboxArrived):
            self._arrived(event, now)
        elif isinstance(event, UssdUpdated):
            if event.initial:  # the server may have restarted and numbered sessions anew
                self.ussd_done.clear()
            show(self, event.dialogue, event.initial)
        elif isinstance(event, Reachability):
            self.online, self.offline_reason = event.online, event.reason
        elif isinstance(event, HandsetChanged):
            self.handset = event.handset
        elif isinstance(event, ActionDone):
            event.callback(event.result, event.error)

    def _arrived(self, event: InboxArrived, now: float) -> None:
        fresh = [m for m in event.messages if m.id not in self.inbox]
        for message_id in event.known - {m.id for m in event.messages}:
            self.inbox.pop(message_id, None)
            self.unread.discard(message_id)
        for message in event.messages:
            self.inbox[message.id] = message
        # What the inbox held when the phone started counts as read: the network keeps no
        # read flags, and a test inbox of hundreds of "new" messages would help nobody.
        if event.live and fresh:
            self.unread.update(m.id for m in fresh)
            # Messages landing while the last "new message" notice shows are counted together.
            showing = self.notice_until > now and self.notice == self._new_notice
            self._new_senders = (self._new_senders if showing else []) + [printable(m.sender) for m in fresh]
            count, senders = len(self._new_senders), set(self._new_senders)
            if count == 1:
                notice = f"New message from {self._new_senders[0]}"
            elif len(senders) == 1:
                notice = f"{count} new messages from {self._new_senders[0]}"
            else:
                notice = f"{count} new messages"
            self.say(notice, now, bell=True)
            self._new_notice = notice
        self.inbox_loaded = True

    def wake_in(self, now: float, wall: float) -> float:
        """Seconds until the screen changes by itself: the notice ends, or the clock turns."""
        wait = 60.0 - wall % 60.0
        if self.notice and self.notice_until > now:
            wait = min(wait, self.notice_until - now)
        return max(wait, 0.01)

    # -- rendering -------------------------------------------------------------------

    def frame(self, columns: int, rows: int, now: float, clock: datetime) -> Frame:
        """The whole screen for a terminal of ``columns`` x ``rows``."""
        width, height = min(columns, MAX_WIDTH), min(rows, MAX_HEIGHT)
        if width < MIN_WIDTH or height < MIN_HEIGHT:
            return Frame((Line(clip("Terminal too small", columns)),))
        screen = self.screen
        body_rows = height - 5
        # The body gets a margin of one column on each side.
        body = screen.body(self, width - 2, body_rows, clock)
        shown = body.lines[:body_rows]
        status = self._status_line(now)
        lines = [
            Line(self._header(width, clock), "bar"),
            Line(pad(" " + screen.title, width), "bold"),
            Line("─" * width),
            *(Line(pad(" " + line.text, width), line.style) for line in shown),
            *([Line()] * (body_rows - len(shown))),
            Line("─" * width),
            Line(pad(" " + status, width), "bold" if status else ""),
            Line(pad(" " + screen.softkeys, width), "bar"),
        ]
        cursor = None
        if body.cursor is not None:
            cursor = (3 + body.cursor[0], 1 + min(body.cursor[1], width - 3))
        return Frame(tuple(lines), cursor)

    def _status_line(self, now: float) -> str:
        if self.notice and self.notice_until > now:
            return self.notice
        if not self.online:
            return f"No network: {self.offline_reason}"
        return ""

    def _header(self, width: int, clock: datetime) -> str:
        state = STATE_LABELS.get(self.handset.state, self.handset.state.upper())
        bars = NO_SIGNAL if not self.online else ("" if self.is_off else SIGNAL_BARS)
        right = " ".join(x for x in (bars, state, clock.strftime("%H:%M")) if x) + " "
        number = "+" + self.handset.msisdn
        room = width - text_width(right) - 1
        name = printable(self.handset.name or "Phone")
        name_room = room - text_width(number) - 3  # " name  number"
        if text_width(name) <= name_room or name_room >= 6:
            left = f" {clip(name, name_room)}  {number}"
        else:  # a narrow screen: the number matters more than the name
            left = f" {number}"
        return pad(pad(left, room) + " " + right, width)
