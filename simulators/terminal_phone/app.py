"""Putting it together: the inbox and USSD long polls, the UI thread's event loop, and :func:`main`.

The only code (with :mod:`~simulators.terminal_phone.terminal`) that starts threads.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from simulators.handset import DEFAULT_BASE_URL, Handset, HandsetClient, SmsgwError
from simulators.terminal_phone.events import (
    ActionDone,
    Event,
    HandsetChanged,
    InboxArrived,
    Post,
    Reachability,
    Resized,
    UssdUpdated,
)
from simulators.terminal_phone.terminal import KeyReader, Terminal
from simulators.terminal_phone.ui import PhoneUi
from simulators.ussd_screen import UssdScreen

#: Seconds each inbox or USSD long poll asks the server to wait.
POLL_WAIT = 25
#: Seconds between USSD polls that the server answered at once with nothing new (see UssdPoller).
USSD_IDLE_PACE = 1.0


# -- the inbox long poll -------------------------------------------------------------------


class _Poller(threading.Thread):
    """A daemon thread that long-polls one of the handset's routes and posts what it learns."""

    def __init__(self, api: HandsetClient, post: Post, wait: int, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.api = api
        self.post = post
        self.wait = wait
        self._stopped = threading.Event()

    def stop(self) -> None:
        """Stop polling (a poll in progress still runs to its end, on this daemon thread)."""
        self._stopped.set()


class InboxPoller(_Poller):
    """Long-polls the inbox and posts what lands; :meth:`stop` ends it after the current poll.

    The first answer loads the inbox as it is (``live=False``); every later one carries new
    messages (``live=True``). When the API cannot be reached it says so, waits (1 s, doubling up
    to 30 s) and, once it answers again, reloads everything so nothing landed in between is lost.
    """

    def __init__(self, api: HandsetClient, post: Post, wait: int = POLL_WAIT) -> None:
        super().__init__(api, post, wait, "phone-inbox")

    def run(self) -> None:
        """Poll until stopped."""
        cursor: int | None = None
        loaded = False
        backoff = 1.0
        online = True
        while not self._stopped.is_set():
            try:
                if cursor is None:
                    page = self.api.read("/inbox")
                    self.post(InboxArrived(page.messages, live=loaded))
                    loaded = True
                else:
                    page = self.api.read("/inbox", after=cursor, wait=self.wait)
                    if page.messages:
                        self.post(InboxArrived(page.messages, live=True))
                    else:  # a quiet poll: catch name or state changes made elsewhere
                        self.post(HandsetChanged(self.api.handset()))
                cursor = page.cursor
                backoff = 1.0
                if not online:
                    online = True
                    self.post(Reachability(True))
            except SmsgwError as error:
                online = False
                cursor = None
                self.post(Reachability(False, error.message))
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, 30.0)


# -- the USSD long poll --------------------------------------------------------------------


class UssdPoller(_Poller):
    """Long-polls the handset's USSD dialogue and posts what changes, so a pushed prompt pops up.

    It asks ``GET .../ussd?after=CURSOR&wait=25``, CURSOR being the last screen it saw. smsgw
    holds that poll while a dialogue is open, but answers it at once while the handset has none
    (state ``idle``, or ``closed`` for the last one), whatever ``after`` says. So an answer in that
    state that comes back well before the wait is followed by a pause of :data:`USSD_IDLE_PACE`
    on the stop event, not by the next request at once, or the thread would spin; a push then
    shows within that pause. A poll the server really held is repeated at once.
    """

    def __init__(self, api: HandsetClient, post: Post, wait: int = POLL_WAIT) -> None:
        super().__init__(api, post, wait, "phone-ussd")

    def run(self) -> None:
        """Poll until stopped; errors back off (1 s, doubling up to 30 s) like the inbox's."""
        cursor = 0
        last: UssdScreen | None = None
        backoff = 1.0
        while not self._stopped.is_set():
            asked = time.monotonic()
            try:
                dialogue = self.api.ussd(after=cursor, wait=self.wait)
            except SmsgwError:  # the inbox poller tells the user
                last = None  # the first answer after the outage is a fresh start
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            if dialogue != last:
                self.post(UssdUpdated(dialogue, initial=last is None))
                last = dialogue
            cursor = max(cursor, dialogue.cursor)
            early = time.monotonic() - asked < self.wait / 2
            if dialogue.state in ("idle", "closed") and early:
                self._stopped.wait(USSD_IDLE_PACE)


# -- putting it together -----------------------------------------------------------------


def run(api: HandsetClient, handset: Handset, fd_in: int = 0, fd_out: int = 1) -> int:
    """Run the phone on a terminal until the user quits; return the exit status (0).

    :param handset: the handset as the server answered, shown until the poller says more.
    """
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()

    def request(
        work: Callable[[HandsetClient], Any], on_done: Callable[[Any, SmsgwError | None], None]
    ) -> None:
        def job() -> None:
            try:
                events.put(ActionDone(on_done, work(api), None))
            except SmsgwError as error:
                events.put(ActionDone(on_done, None, error))

        threading.Thread(target=job, name="phone-request", daemon=True).start()

    ui = PhoneUi(handset, request)
    keys = KeyReader(fd_in, events.put)
    poller = InboxPoller(api, events.put)
    ussd_poller = UssdPoller(api, events.put)
    handlers: dict[int, Any] = {}
    in_main_thread = threading.current_thread() is threading.main_thread()

    def leave(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    with Terminal(fd_in, fd_out) as terminal:
        try:
            if in_main_thread:
                handlers[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, lambda *_: events.put(Resized()))
                for signum in (signal.SIGTERM, signal.SIGHUP):
                    handlers[signum] = signal.signal(signum, leave)
            keys.start()
            poller.start()
            ussd_poller.start()
            while ui.running:
                now = time.monotonic()
                ui.bell, bell = False, ui.bell
                terminal.draw(ui.frame(*terminal.size(), now, datetime.now()), bell)
                try:
                    event = events.get(timeout=ui.wake_in(now, time.time()))
                except queue.Empty:
                    continue
                while True:  # apply everything that is waiting, then draw once
                    if isinstance(event, Resized):
                        terminal.invalidate()
                    ui.handle(event, time.monotonic())
                    try:
                        event = events.get_nowait()
                    except queue.Empty:
                        break
        except KeyboardInterrupt:
            pass  # Ctrl-C: a normal way to put the phone down
        finally:
            keys.stop()
            poller.stop()
            ussd_poller.stop()
            for number, handler in handlers.items():
                signal.signal(number, handler)
    keys.join(timeout=1.0)
    if not keys.is_alive():
        keys.close()
    return 0


def main(msisdn: str, api_url: str = DEFAULT_BASE_URL) -> int:
    """Start the terminal phone for ``msisdn`` against the API at ``api_url``; return the exit status.

    It fails early, with a message on stderr, when the terminal is not a terminal, the API
    cannot be reached, or the network has no such subscriber.
    """
    if not (os.isatty(0) and os.isatty(1)):
        print("smsgw phone: needs a terminal (stdin and stdout must be a tty)", file=sys.stderr)
        return 2
    api = HandsetClient(api_url, msisdn)
    try:
        handset = api.handset()
    except SmsgwError as error:
        whose = f"{msisdn}: " if error.status is not None else ""  # the server answered about the number
        print(f"smsgw phone: {whose}{error.message}", file=sys.stderr)
        return 1
    return run(api, handset)
