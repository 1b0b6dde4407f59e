"""API routes about the network as a whole: health, bound sessions, the message log."""

from __future__ import annotations

import time
from typing import Any

from twisted.web import server

from smsgw import __version__
from smsgw.carrier.carrier import Carrier
from smsgw.smpp.constants import MessageState
from smsgw.web.api import ApiError, Route, int_query, query
from smsgw.web.render import message_json


class NetworkRoutes:
    """``/api/health``, ``/api/sessions``, ``/api/messages``.

    :param info: what health reports about the listeners.
    """

    def __init__(self, carrier: Carrier, info: dict[str, Any]) -> None:
        self.carrier = carrier
        self.info = info
        self.started_at = time.time()

    def routes(self) -> list[Route]:
        """The routes, for :class:`~smsgw.web.api.Api`."""
        return [
            ("GET", r"health", self.health),
            ("GET", r"sessions", self.sessions),
            ("GET", r"messages", self.messages),
            ("GET", r"messages/([^/]+)", self.message),
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
        for session_id, link in sorted(self.carrier.links.items()):
            session = link.session
            result.append(
                {
                    "id": session_id,
                    "system_id": link.account.system_id,
                    "bind_type": session.bind_type.value if session.bind_type else None,
                    "peer": link.peer,
                    "state": session.state.value,
                    "window": {"size": session.config.window, "in_flight": session.deliveries_in_flight},
                    "queued_deliveries": self.carrier.outbox.queued(link.account.system_id, session_id),
                }
            )
        return {"sessions": result}

    def messages(self, request: server.Request) -> dict[str, Any]:
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
            handset = self.carrier.subscribers.find(msisdn)
            if handset is None:
                raise ApiError(404, "unknown_handset", f"{msisdn} is not a handset of this network")
            msisdn = handset.msisdn
        namespace = query(request, "namespace")
        among = None if namespace is None else [s.msisdn for s in self.carrier.handsets_in(namespace)]
        limit = int_query(request, "limit", 100, 1000, minimum=1) or 100
        records = self.carrier.store.find_messages(
            among=among,
            msisdn=msisdn,
            system_id=query(request, "account"),
            state=state,
            direction=direction.upper() if direction else None,
            before=int_query(request, "before", None),
            limit=limit,
        )
        return {
            "messages": [message_json(r, self.carrier.text_coding(r)) for r in records],
            "next_before": records[-1].id if len(records) == limit else None,
        }

    def message(self, request: server.Request, message_id: str) -> dict[str, Any]:
        """One stored message by its message_id."""
        for base in (10, 16):
            try:
                row_id = int(message_id, base)
            except ValueError:
                continue
            record = self.carrier.store.get_message(row_id)
            if record is not None and record.message_id == message_id:
                return message_json(record, self.carrier.text_coding(record))
        raise ApiError(404, "unknown_message", f"no message with message_id {message_id!r}")
