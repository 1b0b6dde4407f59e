"""``GET /api/timeline``: the steps of a payment, in the order they happened (docs/api.md,
"Timeline").

One filter says whose steps: ``order`` (a mock merchant's order), ``msisdn``, ``message_id``
(``account`` narrows it to one account's) or ``namespace`` (and the namespaces inside it);
``after`` (the last ``id`` seen) and ``limit`` page through them. An order's steps are its
own, its buyer's from the order's first step until its last (and a grace, or as long as it
is open), and those of the messages its steps name: the one-time code's submit_sm and
receipt, the buyer's reply, the USSD screens in between.

Steps are written lazily (they ride the store's next commit), so a read first asks for the
commit of what is queued: it sees every step recorded before the request.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from twisted.internet import defer
from twisted.web import server

from smsgw.carrier.subscribers import NAMESPACE_PATTERN, NAMESPACE_RULE, normalize_msisdn
from smsgw.server.reads import Reads, inline_reads
from smsgw.store.interface import MessageStore
from smsgw.store.records import TimelineStep
from smsgw.web.api import ApiError, Route, int_query, query
from smsgw.web.pdus import pdu_json
from smsgw.web.render import iso

#: Steps a read answers at most (``limit``), and by default.
MAX_STEPS, DEFAULT_STEPS = 10_000, 1000
#: After an order's last step, how long its buyer's steps still belong to it (seconds): the
#: receipt of its last text, the deliver_sm_resp of the buyer's reply.
ORDER_GRACE = 60.0


class TimelineRoutes:
    """``/api/timeline``.

    :param store: where the steps are (read through ``reads``).
    :param country_code: for numbers given without it (``?msisdn=13800000001``).
    :param reads: where reads of the store run (:mod:`smsgw.server.reads`).
    :param fresh: asks for the commit of the steps queued so far, before a read (steps
        are lazy writes: without it a read off the reactor would not see the newest).
    """

    def __init__(
        self,
        store: MessageStore,
        country_code: str,
        reads: Reads = inline_reads,
        fresh: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.country_code = country_code
        self.reads = reads
        self.fresh = fresh

    def routes(self) -> list[Route]:
        """The routes, for :class:`~smsgw.web.api.Api`."""
        return [("GET", r"timeline", self.timeline)]

    def timeline(self, request: server.Request) -> defer.Deferred[dict[str, Any]]:
        """The steps one filter names, oldest first, after ``after``, at most ``limit``."""
        filters = (
            ("order", query(request, "order")),
            ("msisdn", query(request, "msisdn")),
            ("message_id", query(request, "message_id")),
            ("namespace", query(request, "namespace")),
        )
        given = {name: value for name, value in filters if value is not None}
        if len(given) != 1:
            said = f"{' and '.join(f'?{name}=' for name in given)} together" if given else "none"
            raise ApiError(
                400,
                "bad_query",
                "give exactly one of ?order=ORDER_ID, ?msisdn=NUMBER, ?message_id=ID "
                f"(with &account=SYSTEM_ID to pick one account's), ?namespace=NAME; got {said}",
            )
        account = query(request, "account")
        if account is not None and "message_id" not in given:
            raise ApiError(400, "bad_query", "?account= picks whose ?message_id= is meant; give it with one")
        after = int_query(request, "after", 0) or 0
        limit = int_query(request, "limit", DEFAULT_STEPS, MAX_STEPS, minimum=1) or DEFAULT_STEPS
        ((name, value),) = given.items()
        read = self._read(name, value, account, after, limit)
        self.fresh()
        return self.reads(read).addCallback(_answer, after)

    def _read(self, name: str, value: str, account: str | None, after: int, limit: int) -> Callable[[], Any]:
        """The store read a filter asks for (checked here, on the reactor, before it runs).

        :raises ApiError: 400 for a value that cannot name anything.
        """
        store = self.store
        if not value:
            raise ApiError(400, "bad_query", f"?{name}= is empty")
        if name == "msisdn":
            msisdn = normalize_msisdn(value, self.country_code)
            if msisdn is None:
                raise ApiError(
                    400,
                    "bad_query",
                    f"?msisdn={value!r} is not a phone number: write 6 to 15 digits, international "
                    f"(+{self.country_code}13800000001) or national (13800000001)",
                )
            return partial(store.timeline, msisdn=msisdn, after=after, limit=limit)
        if name == "namespace":
            if not NAMESPACE_PATTERN.fullmatch(value):
                raise ApiError(400, "bad_query", f"?namespace={value!r}: {NAMESPACE_RULE}")
            return partial(store.timeline, namespace=value, after=after, limit=limit)
        if name == "message_id":
            return partial(_message_steps, store, value, account, after, limit)
        return partial(order_steps, store, value, after, limit)


def _message_steps(
    store: MessageStore, message_id: str, account: str | None, after: int, limit: int
) -> list[TimelineStep]:
    """A message's steps (its receipt's name it too), of one account's when given."""
    steps = store.timeline(message_ids=[message_id], after=after, limit=limit)
    return [s for s in steps if account is None or s.system_id == account]


def order_steps(store: MessageStore, order_id: str, after: int, limit: int) -> list[TimelineStep]:
    """An order's steps: its own; its buyer's from its first step until its last plus
    :data:`ORDER_GRACE` (all newer ones while it is open); and those of the messages its
    steps name (by account and message_id), wherever they fall. Oldest first."""
    own = store.timeline(order_id=order_id, limit=MAX_STEPS)
    if not own:
        return []
    since = own[0].at
    closed = any(s.kind == "merchant.order" and s.detail.get("final") for s in own)
    until = max(s.at for s in own) + ORDER_GRACE if closed else None
    found = {s.id: s for s in own if s.id > after}
    for msisdn in {s.msisdn for s in own if s.msisdn}:
        for step in store.timeline(msisdn=msisdn, since=since, until=until, after=after, limit=limit):
            found[step.id] = step
    named = {(s.system_id, s.message_id) for s in own if s.message_id}
    if named:
        ids = sorted({message_id for _, message_id in named})
        for step in store.timeline(message_ids=ids, after=after, limit=limit):
            if (step.system_id, step.message_id) in named:
                found[step.id] = step
    return [found[key] for key in sorted(found)][:limit]


def _answer(steps: list[TimelineStep], after: int) -> dict[str, Any]:
    return {
        "steps": [step_json(step) for step in steps],
        # Where a poller goes on from: the last step answered, or where it was.
        "next_after": steps[-1].id if steps else after,
    }


def step_json(step: TimelineStep) -> dict[str, Any]:
    """A step as the API shows it: what names nothing is null; a PDU's step adds its
    ``protocol``, its octets in ``hex`` and the ``pdu`` they decode to."""
    shown: dict[str, Any] = {
        "id": step.id,
        "at": iso(step.at),
        "epoch": step.at,
        "kind": step.kind,
        "namespace": step.namespace or None,
        "msisdn": step.msisdn or None,
        "system_id": step.system_id or None,
        "message_id": step.message_id or None,
        "session": step.session,
        "order_id": step.order_id or None,
        "detail": step.detail,
    }
    if step.pdu is not None:
        protocol = step.kind.partition(".")[0]
        shown["protocol"] = protocol
        shown["hex"] = step.pdu.hex()
        shown["pdu"] = pdu_json(protocol, step.pdu, step.detail.get("version"))
    return shown
