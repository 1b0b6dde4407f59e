"""API routes for virtual handsets: the air interface as a QA script drives it.

A handset's inbox shows what the phone shows: every concatenated message as one text
(:func:`smsgw.text.reassembly.assemble`). ``GET .../inbox?wait=S&after=CURSOR`` is a long
poll, so scripts never sleep, and its ``from`` and ``match`` filters let tests that share a
handset wait for their own message only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import partial
from typing import Any

from twisted.web import server

from smsgw.carrier.errors import DialogueChanged, Rejected, UnknownSubscriber
from smsgw.carrier.freshnumbers import NoFreshNumber
from smsgw.carrier.handset_ussd import HandsetUssd
from smsgw.carrier.handsets import Handsets
from smsgw.carrier.inbox import BoxReader, Page
from smsgw.carrier.subscribers import (
    NAMESPACE_PATTERN,
    NAMESPACE_RULE,
    HandsetState,
    Subscriber,
    normalize_msisdn,
)
from smsgw.carrier.timeline import Timeline
from smsgw.digits import is_digits
from smsgw.server.reads import Reads, inline_reads
from smsgw.text.reassembly import InboxMessage
from smsgw.web.api import ApiError, Route, int_query, json_body, query
from smsgw.web.forward import Forwarder, Placement, forwarded
from smsgw.web.httpsteps import recorded
from smsgw.web.inbox import InboxFeed
from smsgw.web.pattern import compile_pattern
from smsgw.web.render import dialogue_json, handset_json, inbox_json
from smsgw.web.waiting import InboxWaiters

MAX_WAIT = 300


def _msisdn(subscriber: Subscriber) -> str:
    return subscriber.msisdn


_STATES = ", ".join(s.value for s in HandsetState)


def no_handset(number: str, country_code: str) -> str:
    """Why no handset answers to ``number``: it is no phone number at all (a typo, a name), or
    a number this network does not provision (``provisioning = "strict"``)."""
    shown = number if len(number) <= 40 else f"{number[:20]}…({len(number)} characters)"
    if normalize_msisdn(number, country_code) is None:
        return (
            f"{shown!r} is not a phone number: write 6 to 15 digits, international "
            f"(+{country_code}13800000001) or national (13800000001)"
        )
    return f"{shown} is not a handset of this network; GET /api/handsets lists them"


class HandsetRoutes:
    """``/api/handsets`` and everything under it.

    :param handsets: the handsets, their boxes and what they send.
    :param ussd: their USSD keypad and screen.
    :param concat_timeout: seconds after which a concatenated message missing parts is shown
        incomplete.
    :param reads: where the boxes are read (:mod:`smsgw.server.reads`).
    :param timeline: where the actions on handsets it records are recorded (``http`` steps).
    """

    def __init__(
        self,
        handsets: Handsets,
        ussd: HandsetUssd,
        waiters: InboxWaiters,
        *,
        concat_timeout: float = 60.0,
        reads: Reads = inline_reads,
        timeline: Timeline | None = None,
    ) -> None:
        self.handsets = handsets
        self.timeline = timeline or Timeline()
        self.reads = reads
        self.handset_ussd = ussd
        self.waiters = waiters
        self.concat_timeout = concat_timeout
        #: In a cluster: where a phone's USSD is answered when not here, and how it gets there.
        self.placement: Placement | None = None
        self.forwarder: Forwarder | None = None

    def routes(self) -> list[Route]:
        """The routes, for :class:`~smsgw.web.api.Api`."""
        one = r"handsets/([^/]+)"
        # What a handset does (not what is read of it) goes on the timeline of one it records.
        act = partial(recorded, self.timeline, self._recorded)
        return [
            ("GET", r"handsets", self.list),
            ("POST", r"handsets", self.create),
            ("GET", one, self.get),
            ("PATCH", one, act(self.update)),
            ("DELETE", one, act(self.delete)),
            ("GET", one + "/inbox", self.inbox),
            ("DELETE", one + "/inbox", act(self.clear)),
            ("GET", one + "/sent", self.sent),
            ("POST", one + "/sms", act(self.send)),
            ("GET", one + "/ussd", self.ussd),
            ("POST", one + "/ussd", act(self.dial)),
            ("POST", one + "/ussd/reply", act(self.ussd_reply)),
            ("DELETE", one + "/ussd", act(self.ussd_cancel)),
        ]

    def _recorded(self, number: str) -> tuple[str, str] | None:
        """The namespace and MSISDN of the handset ``number`` names, if the timeline records it."""
        handset = self.handsets.find(number)
        if handset is None:
            return None
        namespace = self.timeline.namespace_for(handset.msisdn)
        return None if namespace is None else (namespace, handset.msisdn)

    # -- helpers ---------------------------------------------------------------------

    def _handset(self, msisdn: str) -> Subscriber:
        handset = self.handsets.find(msisdn)
        if handset is None:
            raise ApiError(404, "unknown_handset", no_handset(msisdn, self.handsets.country_code))
        return handset

    @staticmethod
    def _state(value: Any) -> HandsetState:
        try:
            return HandsetState(value)
        except ValueError:
            raise ApiError(400, "bad_field", f"state {value!r} is not one of {_STATES}") from None

    # -- handsets --------------------------------------------------------------------

    def list(self, request: server.Request) -> Any:
        """The configured and changed handsets, and the numbers that have messages; with
        ``?namespace=``, only that namespace's handsets."""
        namespace = query(request, "namespace")
        if namespace is not None:
            return {
                "handsets": [
                    handset_json(s) for s in sorted(self.handsets.in_namespace(namespace), key=_msisdn)
                ]
            }
        numbers = self.reads(self.handsets.messages.with_messages)
        return numbers.addCallback(
            lambda found: {"handsets": [handset_json(s) for s in self.handsets.listed(found)]}
        )

    def create(self, request: server.Request) -> tuple[int, dict[str, Any]]:
        """Provision a handset (the way to add one under strict provisioning); without an
        ``msisdn``, on a fresh number."""
        body = json_body(request, ("msisdn", "name", "state", "namespace"))
        msisdn, name, namespace = body.get("msisdn"), body.get("name", ""), body.get("namespace", "")
        if not isinstance(msisdn, str | None) or not isinstance(name, str):
            raise ApiError(
                400,
                "bad_field",
                "'msisdn' is a number as text (e.g. \"+8613800000009\"), or absent for a fresh one; 'name' is a string",
            )
        if not isinstance(namespace, str) or not NAMESPACE_PATTERN.fullmatch(namespace):
            raise ApiError(400, "bad_field", f"namespace {namespace!r}: {NAMESPACE_RULE}")
        state = self._state(body.get("state", "on"))
        if msisdn is not None and self.handsets.kept(msisdn) is not None:
            raise ApiError(409, "exists", f"{msisdn} already exists; PATCH /api/handsets/{msisdn} changes it")
        try:
            handset = self.handsets.create(msisdn, name, state, namespace)
        except UnknownSubscriber as refusal:
            raise ApiError(400, "bad_field", refusal.reason) from None
        except Rejected as refusal:
            raise ApiError(409, "exists", refusal.reason) from None
        except NoFreshNumber as refusal:
            raise ApiError(503, "no_fresh_number", str(refusal)) from None
        return 201, handset_json(handset)

    def get(self, request: server.Request, msisdn: str) -> dict[str, Any]:
        """One handset."""
        return handset_json(self._handset(msisdn))

    def update(self, request: server.Request, msisdn: str) -> dict[str, Any]:
        """Change a handset's name or state; a reachable state delivers what waited."""
        handset = self._handset(msisdn)
        body = json_body(request, ("name", "state"))
        # Check every field before changing anything: a bad request changes nothing.
        if "name" in body and not isinstance(body["name"], str):
            raise ApiError(400, "bad_field", "name must be a string")
        state = self._state(body["state"]) if "state" in body else None
        if "name" in body:
            handset = self.handsets.rename(handset.msisdn, body["name"])
        if state is not None:
            handset = self.handsets.set_state(handset.msisdn, state)
        return handset_json(handset)

    def delete(self, request: server.Request, msisdn: str) -> dict[str, Any]:
        """Forget a provisioned handset (its messages stay in the message log)."""
        handset = self._handset(msisdn)
        if self.handsets.kept(handset.msisdn) is None:
            raise ApiError(404, "unknown_handset", f"{handset.msisdn} was never provisioned or changed")
        self.handsets.delete(handset.msisdn)
        return {"msisdn": handset.msisdn, "deleted": True}

    # -- inbox and sent box ----------------------------------------------------------

    def inbox(self, request: server.Request, msisdn: str) -> Any:
        """The messages the phone shows, oldest first, a page at a time: without ``after`` the
        newest page, with ``after`` the first page after that cursor; ``wait`` makes it a long poll."""
        handset = self._handset(msisdn)
        after = int_query(request, "after", None)
        wait = int_query(request, "wait", 0, MAX_WAIT) or 0
        limit = int_query(request, "limit", 100, 1000, minimum=1) or 100
        sender = query(request, "from")
        pattern = query(request, "match")
        matcher = compile_pattern("match", pattern) if pattern is not None else None
        reader = self.handsets.box(handset, "MT", self.concat_timeout)
        read = self.reads(partial(reader.page, after or 0, newest=after is None))
        return read.addCallback(
            self._inbox_page, request, handset, reader, after, wait, limit, sender, matcher
        )

    def _inbox_page(
        self,
        page: Page,
        request: server.Request,
        handset: Subscriber,
        reader: BoxReader,
        after: int | None,
        wait: int,
        limit: int,
        sender: str | None,
        matcher: re.Pattern[str] | None,
    ) -> Any:
        """Answer the inbox from its first page read, or wait on it for what comes."""
        since = page.after

        def wanted(message: InboxMessage) -> bool:
            return (
                message.cursor > since
                and (sender is None or message.sender == sender)
                and (matcher is None or matcher.search(message.text) is not None)
            )

        def answer(found: list[InboxMessage], more: bool, end: int) -> dict[str, Any]:
            found, more, cursor = _limited(found, more, end, after, limit, reader.floor)
            return {
                "msisdn": handset.msisdn,
                "messages": [inbox_json(m) for m in found],
                "cursor": cursor,
                "more": more,
            }

        found = [m for m in page.messages if wanted(m)]
        if found or page.more or wait <= 0:
            return answer(found, page.more, page.end)
        feed = self.waiters.feed(handset.msisdn, lambda: InboxFeed(reader, page.end))
        feed.note(page)
        # The page was read before the waiter waits (off the reactor, maybe): what arrived in
        # between must be offered to it, so the feed reads again from the page's end.
        feed.rewind(page.end)

        def check(fresh: list[InboxMessage]) -> bytes | None:
            news = [m for m in fresh if wanted(m)]
            if not news:
                return None
            news.sort(key=lambda m: (m.cursor, m.id))
            # Waiters woken by the same messages give the same answer: encode it once.
            key = (tuple((m.id, m.cursor) for m in news), after, limit, reader.floor)
            encoded = feed.answers.get(key)
            if encoded is None:
                body = json.dumps(answer(news, False, page.end), ensure_ascii=False)
                encoded = feed.answers[key] = body.encode("utf-8") + b"\n"
            return encoded

        result = self.waiters.wait(handset.msisdn, check, wait, lambda: answer([], False, page.end), fed=True)
        self.waiters.poke(handset.msisdn)
        request.notifyFinish().addErrback(lambda _: result.cancel())
        return result

    def clear(self, request: server.Request, msisdn: str) -> dict[str, Any]:
        """Empty the inbox as the phone shows it."""
        handset = self._handset(msisdn)
        cursor = self.handsets.clear_inbox(handset.msisdn)
        return {"msisdn": handset.msisdn, "cleared": True, "cursor": cursor}

    def sent(self, request: server.Request, msisdn: str) -> Any:
        """The texts the phone sent (MO), each as one message, paged like the inbox."""
        handset = self._handset(msisdn)
        after = int_query(request, "after", None)
        limit = int_query(request, "limit", 100, 1000, minimum=1) or 100
        reader = self.handsets.box(handset, "MO", self.concat_timeout)

        def answer(page: Page) -> dict[str, Any]:
            messages, more, cursor = _limited(page.messages, page.more, page.end, after, limit, reader.floor)
            return {
                "msisdn": handset.msisdn,
                "messages": [inbox_json(m, "to") for m in messages],
                "cursor": cursor,
                "more": more,
            }

        return self.reads(partial(reader.page, after or 0, newest=after is None)).addCallback(answer)

    # -- USSD ------------------------------------------------------------------------

    def _ussd_answer(self, request: server.Request, handset: Subscriber, after: int, wait: int) -> Any:
        """The handset's dialogue; with ``wait``, once it shows a screen past ``after`` or ends."""

        def state() -> dict[str, Any]:
            dialogue = self.handset_ussd.screen(handset.msisdn)
            return dialogue_json(dialogue) if dialogue is not None else _idle()

        def check(_: Any = None) -> dict[str, Any] | None:
            now = state()
            return now if now["cursor"] > after else None

        now = check()
        if now is not None or wait <= 0:
            return now if now is not None else state()
        result = self.waiters.wait(handset.msisdn, check, wait, state)
        request.notifyFinish().addErrback(lambda _: result.cancel())
        return result

    def _here_or_there(
        self, request: server.Request, handset: Subscriber, dialled: str | None, here: Callable[[], Any]
    ) -> Any:
        """Answer here, or (in a cluster) pass the request, checked already, to the node
        holding the phone's dialogue, or bound for the application a dial reaches."""
        placement, forwarder = self.placement, self.forwarder
        if placement is None or forwarder is None or forwarded(request):
            return here()
        found = (
            placement.app_node(dialled) if dialled is not None else placement.dialogue_node(handset.msisdn)
        )
        return found.addCallback(lambda url: forwarder.forward(request, url) if url else here())

    def ussd(self, request: server.Request, msisdn: str) -> Any:
        """What the phone's USSD screen shows; ``wait`` and ``after`` make it a long poll."""
        handset = self._handset(msisdn)
        after = int_query(request, "after", 0) or 0
        wait = int_query(request, "wait", 0, MAX_WAIT) or 0
        return self._here_or_there(
            request, handset, None, lambda: self._ussd_answer(request, handset, after, wait)
        )

    def dial(self, request: server.Request, msisdn: str) -> Any:
        """The phone dials a USSD string (``?wait=S`` waits for the first screen)."""
        handset = self._handset(msisdn)
        wait = int_query(request, "wait", 0, MAX_WAIT) or 0
        body = json_body(request, ("dial",))
        dialled = body.get("dial")
        if not isinstance(dialled, str) or not dialled:
            raise ApiError(400, "bad_field", "'dial' (a USSD string like \"*126#\") is required")
        return self._here_or_there(
            request, handset, dialled, lambda: self._dial_here(request, handset, dialled, wait)
        )

    def _dial_here(self, request: server.Request, handset: Subscriber, dialled: str, wait: int) -> Any:
        try:
            dialogue = self.handset_ussd.dial(handset.msisdn, dialled)
        except UnknownSubscriber as refusal:
            raise ApiError(404, "unknown_handset", refusal.reason) from None
        except Rejected as refusal:
            raise ApiError(422, "ussd_refused", refusal.reason) from None
        return self._ussd_answer(request, handset, dialogue.opened_cursor, wait)

    def ussd_reply(self, request: server.Request, msisdn: str) -> Any:
        """The user answers the prompt (``?wait=S`` waits for the next screen)."""
        handset = self._handset(msisdn)
        wait = int_query(request, "wait", 0, MAX_WAIT) or 0
        body = json_body(request, ("text", "session"))
        text = body.get("text")
        if not isinstance(text, str):
            raise ApiError(400, "bad_field", "'text' (what the user types) is required")
        session = body.get("session")
        if session is not None and (type(session) is not int or session < 0):
            raise ApiError(400, "bad_field", "'session' is the number of the dialogue being answered")
        return self._here_or_there(
            request, handset, None, lambda: self._reply_here(request, handset, text, session, wait)
        )

    def _reply_here(
        self, request: server.Request, handset: Subscriber, text: str, session: int | None, wait: int
    ) -> Any:
        try:
            dialogue = self.handset_ussd.reply(handset.msisdn, text, session=session)
        except DialogueChanged as refusal:
            raise ApiError(409, "dialogue_changed", refusal.reason) from None
        except Rejected as refusal:
            raise ApiError(409, "no_prompt", refusal.reason) from None
        return self._ussd_answer(request, handset, dialogue.cursor, wait)

    def ussd_cancel(self, request: server.Request, msisdn: str) -> Any:
        """The user presses cancel (``?session=N``: only if N is still the dialogue shown)."""
        handset = self._handset(msisdn)
        session = int_query(request, "session", None)
        return self._here_or_there(request, handset, None, lambda: self._cancel_here(handset, session))

    def _cancel_here(self, handset: Subscriber, session: int | None) -> dict[str, Any]:
        try:
            dialogue = self.handset_ussd.cancel(handset.msisdn, session=session)
        except DialogueChanged as refusal:
            raise ApiError(409, "dialogue_changed", refusal.reason) from None
        except Rejected as refusal:
            raise ApiError(409, "no_dialogue", refusal.reason) from None
        return dialogue_json(dialogue)

    def send(self, request: server.Request, msisdn: str) -> tuple[int, dict[str, Any]]:
        """The phone sends a text: to a short code (MO to its account) or to another handset."""
        handset = self._handset(msisdn)
        body = json_body(request, ("to", "text"))
        to, text = body.get("to"), body.get("text")
        if to is None:
            raise ApiError(
                400, "bad_field", "'to' (a short code like \"12345\", or a phone number) is required"
            )
        if not isinstance(to, str) or not is_digits(to.removeprefix("+")):
            shown = repr(to) if len(repr(to)) <= 40 else f"{repr(to)[:20]}…"
            raise ApiError(
                400,
                "bad_field",
                f"'to' must be a short code (digits, like \"12345\") or a phone number "
                f'(like "+8613800000002"), not {shown}',
            )
        if not isinstance(text, str) or not text:
            raise ApiError(400, "bad_field", "'text' (a non-empty string) is required")
        if not handset.state.receives_sms:
            raise ApiError(
                422,
                "handset_off",
                f"{handset.msisdn} is {handset.state.value}: a phone that is not reachable cannot send; "
                f"PATCH its state to on first",
            )
        try:
            ids = self.handsets.send_sms(handset.msisdn, to, text)
        except Rejected as refusal:
            raise ApiError(422, "unroutable", refusal.reason) from None
        except ValueError as error:
            raise ApiError(422, "bad_text", str(error)) from None
        return 201, {"message_ids": ids}


def _limited(
    found: list[InboxMessage], more: bool, end: int, after: int | None, limit: int, floor: int
) -> tuple[list[InboxMessage], bool, int]:
    """A box page cut to ``limit`` messages: the newest ones when no ``after`` was given, else
    the first ones (then ``more``); with the cursor to go on from."""
    if after is None:
        found, more = found[-limit:], False
    elif len(found) > limit:
        found, more = found[:limit], True
        end = found[-1].cursor
    if more:
        return found, more, end
    # A cleared inbox starts after its cleared point: answer it, so pollers resume there.
    return found, more, max([after or 0, floor, *(m.cursor for m in found)])


def _idle() -> dict[str, Any]:
    """The USSD state of a handset that never had a dialogue."""
    return {
        "session": None,
        "service_code": None,
        "origin": None,
        "state": "idle",
        "screen": None,
        "expects_reply": False,
        "cursor": 0,
        "inputs": [],
        "end_reason": None,
        "end_code": None,
    }
