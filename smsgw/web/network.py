"""API routes about the network as a whole: health, bound sessions, the message log."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from twisted.internet import defer
from twisted.web import server

from smsgw import __version__
from smsgw.carrier.binds import BindDesk
from smsgw.carrier.handsets import Handsets
from smsgw.carrier.messagelog import MessageLog
from smsgw.carrier.retention import Pruned, PruneRunning, Retention
from smsgw.digits import ascii_int
from smsgw.frontend.smpp.pdulog import PduLog
from smsgw.moments import FORMS, NotAMoment, RowIdLike, parse_moment
from smsgw.server.reads import Reads, inline_reads
from smsgw.smpp.constants import MessageState, command_name
from smsgw.store.records import MessageRecord
from smsgw.web.api import ApiError, Route, int_query, query
from smsgw.web.handsets import no_handset
from smsgw.web.render import iso, message_json


class NetworkRoutes:
    """``/api/health``, ``/api/sessions``, ``/api/messages``.

    :param binds: who is bound.
    :param messages: the message log.
    :param handsets: the handsets (a filter names one, or a namespace of them).
    :param info: what health reports about the listeners.
    :param pdu_log: the SMPP front end's log of recent messages' PDUs.
    :param reads: where reads of the store run (:mod:`smsgw.server.reads`): answers that read it
        are Deferreds.
    :param retention: what removes old messages (``DELETE /api/messages`` asks it for a pass).
    :param now: the carrier's clock, which ``?before=now`` names.
    """

    def __init__(
        self,
        binds: BindDesk,
        messages: MessageLog,
        handsets: Handsets,
        info: dict[str, Any],
        pdu_log: PduLog,
        reads: Reads = inline_reads,
        *,
        retention: Retention | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.binds = binds
        self.retention = retention
        self.now = now
        self.reads = reads
        self.message_log = messages
        self.handsets = handsets
        self.pdu_log = pdu_log
        self.info = info
        self.started_at = time.time()

    def routes(self) -> list[Route]:
        """The routes, for :class:`~smsgw.web.api.Api`."""
        return [
            ("GET", r"health", self.health),
            ("GET", r"sessions", self.sessions),
            ("DELETE", r"sessions/([^/]+)", self.drop_session),
            ("GET", r"messages", self.messages),
            ("DELETE", r"messages", self.prune),
            ("GET", r"messages/([^/]+)", self.message),
            ("GET", r"messages/([^/]+)/pdus", self.message_pdus),
        ]

    def health(self, request: server.Request) -> dict[str, Any]:
        """Liveness and endpoints."""
        return {
            "status": "ok",
            "version": __version__,
            "uptime_seconds": round(time.time() - self.started_at, 3),
            **self.info,
        }

    def sessions(self, request: server.Request) -> dict[str, Any]:
        """Bound ESME sessions."""
        result = []
        for session_id, binding in sorted(self.binds.bound.items()):
            described = binding.link.describe()
            result.append(
                {
                    "id": session_id,
                    "system_id": binding.account.system_id,
                    "protocol": binding.account.protocol,
                    "bind_type": binding.mode,
                    "peer": binding.peer,
                    "namespace": binding.namespace or None,
                    "since": iso(binding.bound_at),
                    "state": described["state"],
                    "window": described["window"],
                    "queued_deliveries": self.binds.waiting_for(binding),
                }
            )
        return {"sessions": result}

    def drop_session(self, request: server.Request, session_id: str) -> dict[str, Any]:
        """Cut one ESME's connection as if the network broke (fault testing by hand).

        What was already answered still goes out first; the ESME must bind again, and what it
        had not been answered for it must send again.
        """
        number = ascii_int(session_id)
        binding = self.binds.bound.get(number) if number is not None else None
        if binding is None:
            raise ApiError(
                404, "unknown_session", f"no bound session {session_id!r}; GET /api/sessions lists them"
            )
        binding.link.drop("dropped through the API")
        return {"id": number, "system_id": binding.account.system_id, "dropped": True}

    def messages(self, request: server.Request) -> defer.Deferred[dict[str, Any]]:
        """Stored messages (parts), newest first, filtered by msisdn, namespace, account, state
        and direction."""
        state_name = query(request, "state")
        state = None
        if state_name is not None:
            try:
                state = MessageState[state_name.upper()].value
            except KeyError:
                names = ", ".join(s.name for s in MessageState)
                raise ApiError(400, "bad_query", f"?state={state_name!r} is not one of {names}") from None
        direction = query(request, "direction")
        if direction is not None and direction.upper() not in ("MT", "MO"):
            raise ApiError(400, "bad_query", f"?direction={direction!r} is not MT or MO")
        msisdn = query(request, "msisdn")
        if msisdn is not None:
            handset = self.handsets.find(msisdn)
            if handset is None:
                raise ApiError(404, "unknown_handset", no_handset(msisdn, self.handsets.country_code))
            msisdn = handset.msisdn
        namespace = query(request, "namespace")
        among = None if namespace is None else [s.msisdn for s in self.handsets.in_namespace(namespace)]
        limit = int_query(request, "limit", 100, 1000, minimum=1) or 100
        search = partial(
            self.message_log.search,
            among=among,
            msisdn=msisdn,
            system_id=query(request, "account"),
            state=state,
            direction=direction.upper() if direction else None,
            before=int_query(request, "before", None),
            limit=limit,
        )

        def answer(records: list[MessageRecord]) -> dict[str, Any]:
            return {
                "messages": [message_json(r, self.message_log.text_coding(r)) for r in records],
                "next_before": records[-1].id if len(records) == limit else None,
            }

        return self.reads(search).addCallback(answer)

    def prune(self, request: server.Request) -> defer.Deferred[dict[str, Any]]:
        """Remove now the final messages that owe nothing and ended before ``?before=`` (a
        time), whether retention is on or not; answered once that is done. What is owed, the
        newest message and the last to reach a phone stay, as retention keeps them."""
        raw = query(request, "before")
        if raw is None:
            raise ApiError(
                400,
                "bad_query",
                f"?before= is missing: give the time final messages ended before to go ({FORMS}); "
                "without it nothing is removed",
            )
        try:
            before = parse_moment(raw, self.now)
        except RowIdLike:
            raise ApiError(
                400,
                "bad_query",
                f"?before={raw} looks like a row id (GET's cursor); DELETE takes a time: ISO 8601 "
                "or epoch seconds (or now)",
            ) from None
        except NotAMoment as error:
            raise ApiError(400, "bad_query", f"?before= {error}") from None
        assert self.retention is not None, "NetworkRoutes was built without retention"
        done: defer.Deferred[Pruned] = defer.Deferred()
        try:
            self.retention.prune_before(before, done.callback)
        except PruneRunning as running:
            raise ApiError(409, "prune_running", str(running)) from None
        return done.addCallback(self._pruned, before)

    def _pruned(self, pruned: Pruned, before: float) -> defer.Deferred[dict[str, Any]]:
        if pruned.error is not None:  # the store failed: 500, and the log says how
            raise pruned.error
        assert self.retention is not None
        store = self.retention.store

        def answer(stored: int) -> dict[str, Any]:
            size, free = store.store_size()
            return {
                "before": iso(before),
                "deleted": {"messages": pruned.deleted},
                "store": {"messages": stored, "bytes": size, "free_bytes": free},
            }

        return self.reads(store.count_messages).addCallback(answer)

    def message_pdus(self, request: server.Request, message_id: str) -> defer.Deferred[dict[str, Any]]:
        """The PDUs of a recent message as they crossed the wire, in hex."""
        found = self._find(message_id, query(request, "account"), query(request, "direction"))
        return found.addCallback(lambda record: self._pdus_of(record, message_id))

    def _pdus_of(self, record: MessageRecord, message_id: str) -> dict[str, Any]:
        pdus = []
        for logged in self.pdu_log.of(record.system_id, message_id):
            raw = logged.raw
            command_id, _, sequence = struct.unpack_from(">III", raw, 4)
            pdus.append(
                {
                    "direction": logged.direction,
                    "command": command_name(command_id),
                    "sequence_number": sequence or None,
                    "at": iso(logged.at),
                    "length": len(raw),
                    "hex": raw.hex(),
                }
            )
        return {"message_id": message_id, "pdus": pdus}

    def message(self, request: server.Request, message_id: str) -> defer.Deferred[dict[str, Any]]:
        """One stored message by its message_id (and account or direction when it repeats)."""
        found = self._find(message_id, query(request, "account"), query(request, "direction"))
        return found.addCallback(lambda record: message_json(record, self.message_log.text_coding(record)))

    def _find(
        self, message_id: str, account: str | None, direction: str | None
    ) -> defer.Deferred[MessageRecord]:
        """The one message with that message_id among those of ``account`` and ``direction``."""
        if direction is not None and direction.upper() not in ("MT", "MO"):
            raise ApiError(400, "bad_query", f"?direction={direction!r} is not MT or MO")
        direction = direction.upper() if direction is not None else None
        read = partial(self.message_log.by_message_id, message_id, account, direction)
        return self.reads(read).addCallback(self._one, message_id, account, direction)

    @staticmethod
    def _one(
        found: list[MessageRecord], message_id: str, account: str | None, direction: str | None
    ) -> MessageRecord:
        if not found:
            among = "" if account is None else f" of account {account!r}"
            among += "" if direction is None else f" in direction {direction}"
            raise ApiError(404, "unknown_message", f"no message with message_id {message_id!r}{among}")
        if len(found) > 1:
            listed = "; ".join(f"account {r.system_id!r} {r.direction} (row {r.id})" for r in found)
            raise ApiError(
                409,
                "ambiguous_message",
                f"message_id {message_id!r} names {len(found)} messages: {listed}; "
                "add ?account=<system_id> (or ?direction=MT|MO) to choose one",
            )
        return found[0]
