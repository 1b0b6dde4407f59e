r"""Virtual handsets of smsgw, driven through its JSON API: a blocking client for QA scripts and tests.

Usage::

    import re
    from simulators.handset import Phone

    phone = Phone("+8613800000001")              # any notation; phone.msisdn is normalised
    shop.send_login_code(phone.msisdn)            # the system under test submits an SMS
    sms = phone.wait_for_sms(r"code is (\d{6})", sender="12345", timeout=30)
    code = re.search(r"code is (\d{6})", sms.text).group(1)
    phone.send_sms(f"YES {code}", to="12345")     # the reply reaches the shop as deliver_sm
    phone.expect_no_sms(within=2)                 # and nothing else comes

    menu = phone.dial("*126#")                    # a USSD menu: waits for the application's first screen
    assert "2 My balance" in menu.text and menu.expects_reply
    balance = phone.answer("2")                   # the next screen, or the last one when it ends
    assert balance.closed and balance.text.startswith("Balance:")
    prompt = phone.wait_for_ussd(r"Pay \d+\.\d\d CNY")  # a prompt the shop pushes to the phone
    phone.answer("1")                             # reaches the shop as USSR confirm
    phone.switch_off()                            # from now on the network holds its SMS

Waits never sleep: :meth:`Phone.wait_for_sms` is a long poll (``GET .../inbox?wait=``) that the
server answers as soon as a matching message lands. Each :class:`Phone` keeps a *cursor*, the
position in the inbox it has read up to, so consecutive waits return consecutive messages and
tests waiting on other phones (or with other patterns) never see each other's messages.

USSD works the same way with a second cursor, that of the last USSD change the phone saw
(a dialogue opening, a screen, an end): :meth:`Phone.dial`, :meth:`Phone.answer` and
:meth:`Phone.wait_for_ussd` long-poll ``.../ussd?after=`` for the next screen. An application
that does not answer in time raises :class:`UssdTimeout`, which says what the phone shows.

Only the standard library is used, so a QA script needs nothing but this file.
"""

from __future__ import annotations

import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import re2

from simulators.http import SmsgwError, call_api
from simulators.ussd_screen import UssdScreen, UssdTimeout

__all__ = ["Phone", "Sms", "SmsNotReceived", "SmsgwError", "UnexpectedSms", "UssdScreen", "UssdTimeout"]

DEFAULT_BASE_URL = "http://127.0.0.1:8775"
#: The longest ``wait`` the server accepts (docs/api.md); longer timeouts take several polls.
MAX_WAIT = 300
#: The largest ``limit`` the server accepts; a page after a cursor holds the oldest matches first.
MAX_LIMIT = 1000
#: The gateway's ``end_code`` values for an application that did not answer, or could not be reached.
_APP_SILENT = frozenset({"app_timeout", "app_failed", "app_unreachable"})

# The pattern reaches the server as text, so the flags of a compiled pattern travel as an
# inline group in front of it.
_INLINE_FLAGS = (
    (re.IGNORECASE, "i"),
    (re.MULTILINE, "m"),
    (re.DOTALL, "s"),
    (re.VERBOSE, "x"),
    (re.ASCII, "a"),
)


@dataclass(frozen=True)
class Sms:
    """One message as a phone shows it: a concatenated message is one :class:`Sms`.

    :ivar id: the server's id for it (the store row of its first part).
    :ivar cursor: its position in the inbox, for waits on what came after it.
    :ivar sender: ``source_addr`` (for the sent box, the phone itself).
    :ivar recipient: the phone for the inbox; the short code it went to for the sent box.
    :ivar text: the decoded text, ``[…]`` standing in for missing parts.
    :ivar complete: whether every part arrived.
    :ivar parts: the message ids of its parts, in order.
    :ivar received_at: when its last part arrived (UTC), or ``None`` if the server gave none.
    :ivar data_coding: the SMPP ``data_coding`` of its first part.
    :ivar flash: whether it is a class 0 ("flash") message.
    :ivar total_parts: how many parts it has (more than :attr:`parts` while some are missing).
    """

    id: int
    cursor: int
    sender: str
    recipient: str
    text: str
    complete: bool
    parts: tuple[str, ...]
    received_at: datetime | None
    data_coding: int
    flash: bool
    total_parts: int = 1

    def __str__(self) -> str:
        when = f" at {self.received_at:%Y-%m-%d %H:%M:%S}Z" if self.received_at is not None else ""
        notes = "".join(
            note for flag, note in ((not self.complete, " [incomplete]"), (self.flash, " [flash]")) if flag
        )
        return f"SMS from {self.sender} to {self.recipient}{when}: {self.text!r}{notes}"

    @classmethod
    def from_json(cls, item: Mapping[str, Any], phone: str) -> Sms:
        """Build from one entry of ``.../inbox`` (has ``from``) or ``.../sent`` (has ``to``).

        :param phone: the handset's msisdn, the other end of the message.
        """
        received = item.get("received_at")
        sent = "to" in item
        return cls(
            id=int(item["id"]),
            cursor=int(item["cursor"]),
            sender=phone if sent else str(item["from"]),
            recipient=str(item["to"]) if sent else phone,
            text=str(item["text"]),
            complete=bool(item["complete"]),
            parts=tuple(str(part["message_id"]) for part in item["parts"]),
            received_at=datetime.fromisoformat(received) if received else None,
            data_coding=int(item["data_coding"]),
            flash=bool(item["flash"]),
            total_parts=int(item.get("total_parts") or len(item["parts"]) or 1),
        )


@dataclass(frozen=True)
class Handset:
    """A subscriber's phone as the network knows it (``GET /api/handsets/{msisdn}``)."""

    msisdn: str
    name: str
    state: str

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> Handset:
        return cls(str(item["msisdn"]), str(item.get("name") or ""), str(item["state"]))


@dataclass(frozen=True)
class Page:
    """Messages of a box, oldest first, and the cursor of the last one looked at."""

    messages: tuple[Sms, ...]
    cursor: int


def _listing(messages: Iterable[Sms]) -> str:
    lines = [f"\n    {sms}" for sms in messages]
    return "".join(lines) if lines else " nothing arrived"


class SmsNotReceived(AssertionError):
    """No matching SMS arrived in time; the message says what was expected and what came instead.

    An :class:`AssertionError`, so pytest reports it as a failed expectation, not a crash.

    :ivar arrived: everything the inbox received after the cursor, oldest first.
    """

    def __init__(self, msisdn: str, expected: str, timeout: float, after: int, arrived: list[Sms]) -> None:
        self.arrived = tuple(arrived)
        super().__init__(
            f"{msisdn} received no SMS within {timeout:g} s\n"
            f"  expected: {expected}, after cursor {after}\n"
            f"  arrived after cursor {after}:{_listing(arrived)}"
        )


class UnexpectedSms(AssertionError):
    """An SMS arrived that a test said must not.

    :ivar arrived: the offending messages, oldest first.
    """

    def __init__(self, msisdn: str, expected: str, within: float, arrived: list[Sms]) -> None:
        self.arrived = tuple(arrived)
        super().__init__(
            f"{msisdn} received {len(arrived)} SMS within {within:g} s, expected none ({expected}):"
            f"{_listing(arrived)}"
        )


def _flag_letters(pattern: re.Pattern[str]) -> str:
    return "".join(letter for flag, letter in _INLINE_FLAGS if pattern.flags & flag)


def _describe(pattern: re.Pattern[str] | None, sender: str | None) -> str:
    if pattern is None and sender is None:
        return "any SMS"
    words = ["an SMS"]
    if pattern is not None:
        words.append(f"matching /{pattern.pattern}/{_flag_letters(pattern)}")
    if sender is not None:
        words.append(f"from {sender}")
    return " ".join(words)


def _server_pattern(pattern: re.Pattern[str]) -> str:
    flags = _flag_letters(pattern)
    return f"(?{flags}){pattern.pattern}" if flags else pattern.pattern


_RE2_QUIET = re2.Options()
_RE2_QUIET.log_errors = False


def _server_can_run(pattern: re.Pattern[str]) -> bool:
    """Whether the server's RE2 engine accepts the pattern (with its flags)."""
    try:
        re2.compile(_server_pattern(pattern), _RE2_QUIET)
    except re2.error:
        return False
    return True


def _server_wait(seconds: float) -> int:
    # The server counts whole seconds: rounding up ends a wait at, or less than a second past,
    # its deadline.
    return min(MAX_WAIT, max(0, math.ceil(seconds)))


def _compile(matching: str | re.Pattern[str] | None) -> re.Pattern[str] | None:
    # Compiling here makes a bad pattern fail as re.error in the caller, before any request.
    if matching is None or isinstance(matching, re.Pattern):
        return matching
    return re.compile(matching)


class HandsetClient:
    """One handset's routes of the API, a blocking call each, with no state but the number.

    Safe to share between threads (the terminal phone's pollers and key actions do). :class:`Phone`
    adds cursors and waits over it for QA scripts.

    :param timeout: seconds to wait for the server to answer an ordinary request; a long poll
        gets its ``wait`` on top.
    :raises SmsgwError: from every call, for an error envelope or no answer at all.
    :ivar msisdn: the number; :meth:`handset` sets it as the network writes it.
    """

    def __init__(self, base_url: str, msisdn: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.msisdn = msisdn
        self.timeout = timeout

    def call(
        self,
        method: str,
        suffix: str = "",
        body: Mapping[str, Any] | None = None,
        *,
        query: Mapping[str, object] | None = None,
        wait: float = 0,
    ) -> Any:
        """One request to ``/api/handsets/{msisdn}{suffix}``; return the decoded answer."""
        path = "/api/handsets/" + urllib.parse.quote(self.msisdn, safe="") + suffix
        return call_api(self.base_url, method, path, body=body, query=query, timeout=wait + self.timeout)

    def handset(self) -> Handset:
        """The handset's name and state; also learns the number as the network writes it."""
        handset = Handset.from_json(self.call("GET"))
        self.msisdn = handset.msisdn
        return handset

    def set_state(self, state: str) -> Handset:
        """Switch the phone ``on``, ``off``, ``busy`` or ``inbox_full``."""
        return Handset.from_json(self.call("PATCH", body={"state": state}))

    def send_sms(self, text: str, to: str) -> list[str]:
        """Send a text (MO) to ``to``; return one message id per part."""
        answer = self.call("POST", "/sms", {"to": to, "text": text})
        return [str(message_id) for message_id in answer["message_ids"]]

    def messages(self, answer: Mapping[str, Any]) -> list[Sms]:
        """The messages of an answer from ``/inbox`` or ``/sent``."""
        return [Sms.from_json(item, self.msisdn) for item in answer["messages"]]

    def read(self, box: str, *, after: int | None = None, wait: int = 0) -> Page:
        """The newest :data:`MAX_LIMIT` messages of ``box``; with ``after``, every message after
        it, page by page; with ``wait``, a long poll answered when one lands."""
        found: list[Sms] = []
        while True:
            query = {"wait": wait, "limit": MAX_LIMIT} | ({} if after is None else {"after": after})
            answer = self.call("GET", box, query=query, wait=wait)
            found += self.messages(answer)
            after = int(answer["cursor"])
            if not answer.get("more"):
                return Page(tuple(found), after)
            wait = 0  # there is more already: no need to wait for it

    def ussd(self, *, after: int, wait: int) -> UssdScreen:
        """The USSD dialogue; with ``wait``, a long poll for a change past ``after``."""
        return UssdScreen.from_json(
            self.call("GET", "/ussd", query={"after": after, "wait": wait}, wait=wait)
        )

    def dial(self, code: str, *, wait: int) -> UssdScreen:
        """Dial a USSD string; with ``wait``, answered at its first screen."""
        return UssdScreen.from_json(
            self.call("POST", "/ussd", {"dial": code}, query={"wait": wait}, wait=wait)
        )

    def reply(self, text: str, *, wait: int, session: int | None = None) -> UssdScreen:
        """Answer the prompt shown (of dialogue ``session``, if given); with ``wait``, answered
        at the next screen.

        :raises SmsgwError: ``dialogue_changed`` when ``session`` no longer shows.
        """
        body: dict[str, object] = {"text": text}
        if session is not None:
            body["session"] = session
        return UssdScreen.from_json(self.call("POST", "/ussd/reply", body, query={"wait": wait}, wait=wait))

    def cancel_ussd(self) -> UssdScreen:
        """Press cancel: end the dialogue (the application hears an abort)."""
        return UssdScreen.from_json(self.call("DELETE", "/ussd"))


class Phone:
    """A subscriber's handset on the fake network, as a QA script holds it.

    Not thread-safe: give each thread its own :class:`Phone` (they may share a number; each
    keeps its own cursor).

    :param msisdn: the number in any common notation (``+8613800000001``, ``13800000001``).
    :param base_url: smsgw's HTTP API.
    :param timeout: seconds to wait for the server to answer an ordinary request.
    :raises SmsgwError: ``unknown_handset`` when the network has no such subscriber.
    :ivar msisdn: the number as the network normalised it (E.164 digits, no ``+``).
    :ivar base_url: smsgw's HTTP API, without a trailing slash.
    """

    def __init__(self, msisdn: str, base_url: str = DEFAULT_BASE_URL, *, timeout: float = 10.0) -> None:
        self._client = HandsetClient(base_url, msisdn, timeout=timeout)
        self.base_url = self._client.base_url
        self.timeout = timeout
        self._client.handset()
        # Start after what the phone already shows, so a Phone made for a test waits only for
        # messages of that test. ``limit=1`` suffices: the answer's cursor is the newest one.
        self._cursor = int(self._client.call("GET", "/inbox", query={"limit": 1})["cursor"])
        # Likewise, USSD waits look for screens after the one the phone shows now.
        self._ussd_cursor = self._client.ussd(after=0, wait=0).cursor
        #: The dialogue of the last prompt this phone saw: an answer is meant for it, and the
        #: server refuses it if another dialogue has taken the screen since.
        self._prompt_session: int | None = None

    def __repr__(self) -> str:
        return f"Phone({self.msisdn!r}, base_url={self.base_url!r})"

    @classmethod
    def provision(
        cls,
        msisdn: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        *,
        name: str = "",
        state: str = "on",
        namespace: str = "",
        timeout: float = 10.0,
    ) -> Phone:
        """Create a stored handset (needed under strict provisioning) and return its phone.

        :param msisdn: the number, or None for a fresh one that nothing has used.
        :param namespace: the test world it belongs to (see ``/api/namespaces``).
        :raises SmsgwError: ``exists`` if the number already has a stored handset.
        """
        body: dict[str, str] = {"name": name, "state": state, "namespace": namespace}
        if msisdn is not None:
            body["msisdn"] = msisdn
        created = call_api(base_url.rstrip("/"), "POST", "/api/handsets", body=body, timeout=timeout)
        return cls(str(created["msisdn"]), base_url, timeout=timeout)

    # -- the handset -----------------------------------------------------------------

    @property
    def msisdn(self) -> str:
        """The number as the network normalised it."""
        return self._client.msisdn

    @property
    def cursor(self) -> int:
        """The inbox position this phone has read up to; waits look at what came after it."""
        return self._cursor

    @property
    def name(self) -> str:
        """The subscriber's name, read from the server; assigning renames it."""
        return self._client.handset().name

    @name.setter
    def name(self, value: str) -> None:
        self._client.call("PATCH", body={"name": value})

    @property
    def state(self) -> str:
        """``on``, ``off``, ``busy`` or ``inbox_full``, read from the server."""
        return self._client.handset().state

    def set_state(self, state: str) -> None:
        """Switch to ``on``, ``off``, ``busy`` or ``inbox_full``.

        Becoming reachable (``on``/``busy``) makes the network deliver what it held, at once.

        :raises SmsgwError: ``bad_field`` for any other state.
        """
        self._client.set_state(state)

    def switch_off(self) -> None:
        """Turn the phone off: the network holds its SMS until it is on again (or they expire)."""
        self.set_state("off")

    def switch_on(self) -> None:
        """Turn the phone on: what the network held is delivered at once."""
        self.set_state("on")

    def forget(self) -> None:
        """Delete the stored handset (its messages stay in the log; auto provisioning revives it).

        :raises SmsgwError: ``unknown_handset`` if it was never provisioned or changed.
        """
        self._client.call("DELETE")

    # -- messages --------------------------------------------------------------------

    def send_sms(self, text: str, to: str) -> list[str]:
        """Send a text from this phone (MO), as deliver_sm to the ESME owning short code ``to``.

        :return: the message ids, one per part.
        :raises SmsgwError: ``unroutable`` or ``bad_text`` when the network cannot carry it.
        """
        return self._client.send_sms(text, to)

    def _all(self, box: str) -> list[Sms]:
        """Every message of the box, oldest first, read a page at a time."""
        return list(self._client.read(box, after=0).messages)

    def inbox(self) -> list[Sms]:
        """Everything the phone shows, oldest first."""
        return self._all("/inbox")

    def sent(self) -> list[Sms]:
        """The texts this phone sent, oldest first."""
        return self._all("/sent")

    def clear_inbox(self) -> None:
        """Empty the inbox as the phone shows it (the message log keeps everything)."""
        answer = self._client.call("DELETE", "/inbox")
        # Nothing up to the cleared point can show any more, so waits may start there.
        self._cursor = max(self._cursor, int(answer["cursor"]))

    def _await(
        self, after: int, pattern: re.Pattern[str] | None, sender: str | None, timeout: float
    ) -> list[Sms]:
        """Long-poll until a matching message is in the inbox after ``after`` or time runs out.

        The server counts whole seconds, so the last poll is rounded up: a wait ends at least
        ``timeout`` and less than a second past it, without ever sleeping here.
        """
        query: dict[str, object] = {"after": after, "limit": MAX_LIMIT, "from": sender}
        # The server matches with RE2; a pattern only Python's re can run (lookaround,
        # backreferences) is matched here instead, on every message the server lets through.
        here = pattern if pattern is not None and not _server_can_run(pattern) else None
        if pattern is not None and here is None:
            query["match"] = _server_pattern(pattern)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            query["wait"] = wait = min(MAX_WAIT, max(0, math.ceil(remaining)))
            answer = self._client.call("GET", "/inbox", query=query, wait=wait)
            found = self._client.messages(answer)
            if here is not None:
                found = [sms for sms in found if here.search(sms.text)]
            if found or time.monotonic() >= deadline:
                return found
            if answer.get("more") or here is not None:  # nothing matched: look on from there
                query["after"] = int(answer["cursor"])

    def wait_for_sms(
        self,
        matching: str | re.Pattern[str] | None = None,
        *,
        sender: str | None = None,
        timeout: float = 10.0,
        after: int | None = None,
    ) -> Sms:
        """Return the first SMS after the cursor that matches, as soon as it lands.

        Returning moves the cursor to that message, so the next wait returns a later one.
        Messages skipped because they did not match stay skipped.

        :param matching: a regular expression searched for in the text: by the server with
            RE2, or here with Python's ``re`` when it uses what RE2 cannot run (lookaround,
            backreferences).
        :param sender: only messages whose ``source_addr`` is exactly this.
        :param timeout: seconds to wait, rounded up to whole seconds by the server.
        :param after: a cursor to start from instead of the phone's own.
        :raises SmsNotReceived: when none came in time; it lists what did come.
        """
        pattern = _compile(matching)
        start = self._cursor if after is None else after
        found = self._await(start, pattern, sender, timeout)
        if not found:
            answer = self._client.call("GET", "/inbox", query={"after": start, "limit": MAX_LIMIT})
            arrived = self._client.messages(answer)
            raise SmsNotReceived(self.msisdn, _describe(pattern, sender), timeout, start, arrived)
        sms = found[0]
        self._cursor = sms.cursor
        return sms

    def expect_no_sms(
        self,
        within: float,
        matching: str | re.Pattern[str] | None = None,
        sender: str | None = None,
    ) -> None:
        """Check that no matching SMS arrives after the cursor for ``within`` seconds.

        Returns as soon as one does, by raising. The cursor does not move either way.

        :raises UnexpectedSms: listing the matching messages that arrived.
        """
        pattern = _compile(matching)
        found = self._await(self._cursor, pattern, sender, within)
        if found:
            raise UnexpectedSms(self.msisdn, _describe(pattern, sender), within, found)

    # -- USSD ------------------------------------------------------------------------

    @property
    def ussd_cursor(self) -> int:
        """The cursor of the last USSD change this phone saw; USSD waits look for later ones."""
        return self._ussd_cursor

    def _saw(self, screen: UssdScreen) -> UssdScreen:
        """Remember ``screen`` as the last one seen, so that waits return only later ones."""
        self._ussd_cursor = max(self._ussd_cursor, screen.cursor)
        self._prompt_session = screen.session if screen.expects_reply and not screen.closed else None
        return screen

    def _is_news(self, screen: UssdScreen) -> bool:
        """Whether ``screen`` shows something since the last change seen: a screen or an end.

        A dialogue that just opened (a dial, perhaps by another client) moves the cursor
        too, but shows nothing yet.
        """
        opened_only = screen.state == "waiting_app" and not screen.text
        return screen.cursor > self._ussd_cursor and not opened_only

    def _application_answer(
        self, screen: UssdScreen, deadline: float, timeout: float, what: str
    ) -> UssdScreen:
        """Follow the dialogue while the application has the move; return the screen it shows.

        :param what: what was awaited, for the error (``first screen of *126#``).
        :raises UssdTimeout: the application did not answer by ``deadline``, or the network
            ended the dialogue because it did not answer in time.
        """
        self._saw(screen)
        # The server answered at its own wait; longer timeouts than MAX_WAIT take more polls.
        while screen.state == "waiting_app" and (remaining := deadline - time.monotonic()) > 0:
            screen = self._saw(self._client.ussd(after=self._ussd_cursor, wait=_server_wait(remaining)))
        if screen.state == "waiting_app":
            problem = f"got no {what} within {timeout:g} s: the USSD application did not answer"
            raise UssdTimeout(self.msisdn, problem, screen)
        if screen.closed and screen.end_code in _APP_SILENT:
            problem = f"got no {what}: the network ended the dialogue, the application did not answer in time"
            raise UssdTimeout(self.msisdn, problem, screen)
        return screen

    def dial(self, code: str, *, timeout: float = 10.0) -> UssdScreen:
        """Dial a USSD string (``*126#``, or a direct one like ``*126*1*25#``); return the first screen.

        That is usually a prompt (:attr:`UssdScreen.expects_reply`); a direct string may get a
        last screen at once (:attr:`UssdScreen.closed`). When no application can be reached
        the network ends the dialogue at once, and the closed screen's ``end_reason`` says why.

        :param timeout: seconds the application has to show its first screen.
        :raises UssdTimeout: the application did not answer in time; it says what the phone shows.
        :raises SmsgwError: ``ussd_refused`` for a code no application answers, a phone that is
            not on, or one already in a dialogue.
        """
        deadline = time.monotonic() + timeout
        wait = _server_wait(timeout)
        return self._application_answer(
            self._client.dial(code, wait=wait), deadline, timeout, f"first screen of {code}"
        )

    def answer(self, text: str, *, timeout: float = 10.0) -> UssdScreen:
        """Type ``text`` at the prompt shown; return the next screen, or the last one if the dialogue ends.

        :param timeout: seconds the application has to answer.
        :raises UssdTimeout: the application did not answer in time; it says what the phone shows.
        :raises SmsgwError: ``no_prompt`` when no prompt waits for an answer;
            ``dialogue_changed`` when the prompt this phone last saw has gone and another
            dialogue shows (the answer is not typed into it).
        """
        deadline = time.monotonic() + timeout
        wait = _server_wait(timeout)
        reply = self._client.reply(text, wait=wait, session=self._prompt_session)
        return self._application_answer(reply, deadline, timeout, f"answer to {text!r}")

    def cancel_ussd(self) -> UssdScreen:
        """Press cancel: the dialogue ends (the application gets an abort); return it, closed.

        :raises SmsgwError: ``no_dialogue`` when the phone is not in one.
        """
        return self._saw(self._client.cancel_ussd())

    def ussd_screen(self, *, wait: float = 0, after: int | None = None) -> UssdScreen:
        """What the USSD screen shows; with ``wait``, one long poll for a change after ``after``.

        The server answers as soon as the dialogue changes past ``after`` (it opens, shows a
        screen, or ends), or when ``wait`` runs out.

        :param wait: seconds the server may wait, rounded up to whole seconds.
        :param after: a cursor to wait past instead of :attr:`ussd_cursor`.
        """
        start = self._ussd_cursor if after is None else after
        return self._saw(self._client.ussd(after=start, wait=_server_wait(wait)))

    def wait_for_ussd(
        self, matching: str | re.Pattern[str] | None = None, *, timeout: float = 10.0
    ) -> UssdScreen:
        """Return the next USSD screen after the last one the phone saw, as soon as it shows.

        That is a prompt or notice an application pushes, the next screen of the dialogue in
        progress, or its end (a closed screen). Returning moves :attr:`ussd_cursor` to it.
        Screens that do not match are passed over: later waits do not return them either.

        :param matching: a regular expression searched for in the screen's text (``re.search``).
        :param timeout: seconds to wait.
        :raises UssdTimeout: when no matching screen showed in time; it lists the screens that did.
        """
        pattern = _compile(matching)
        deadline = time.monotonic() + timeout
        passed: list[UssdScreen] = []
        while True:
            screen = self._client.ussd(
                after=self._ussd_cursor, wait=_server_wait(deadline - time.monotonic())
            )
            news = self._is_news(screen)
            self._saw(screen)
            if news and (pattern is None or pattern.search(screen.text)):
                return screen
            if news:
                passed.append(screen)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                wanted = (
                    "new USSD screen"
                    if pattern is None
                    else f"USSD screen matching /{pattern.pattern}/{_flag_letters(pattern)}"
                )
                raise UssdTimeout(self.msisdn, f"got no {wanted} within {timeout:g} s", screen, passed)
