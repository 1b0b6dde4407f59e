"""API routes about the network as a whole: health, bound sessions, the message log."""

from __future__ import annotations

import struct
import time
from functools import partial
from typing import Any

from twisted.internet import defer
from twisted.web import server

from smsgw import __version__
from smsgw.carrier.binds import BindDesk
from smsgw.carrier.handsets import Handsets
from smsgw.carrier.messagelog import MessageLog
from smsgw.digits import ascii_int
from smsgw.frontend.smpp.pdulog import PduLog
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
    """

    def __init__(
        self,
        binds: BindDesk,
        messages: MessageLog,
        handsets: Handsets,
        info: dict[str, Any],
        pdu_log: PduLog,
        reads: Reads = inline_reads,
    ) -> None:
        self.binds = binds
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
