"""The handset API over HTTP: blocking ``urllib`` calls and the values they return.

See ``docs/api.md`` for the routes. Errors come out as :class:`ApiError` (smsgw answered with
its error envelope) or :class:`Unreachable` (no HTTP answer at all).
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simulators.http import SmsgwError, call_api

DEFAULT_API = "http://127.0.0.1:8775"
#: Seconds to wait for an ordinary request (and on top of ``wait`` for a long poll).
REQUEST_TIMEOUT = 10.0


# -- HTTP: the handset API --------------------------------------------------------------


class ApiError(Exception):
    """smsgw answered with its error envelope.

    :ivar status: the HTTP status.
    :ivar code: the envelope's ``code`` (``unknown_handset``, ``unroutable``, ...).
    :ivar message: the server's explanation, fit to show to a person.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, code, message)
        self.status, self.code, self.message = status, code, message

    def __str__(self) -> str:
        return self.message


class Unreachable(Exception):
    """No HTTP answer came (connection refused, timeout, reset)."""


@dataclass(frozen=True)
class Handset:
    """A subscriber's phone as the network knows it."""

    msisdn: str
    name: str
    state: str

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> Handset:
        """From ``GET /api/handsets/{msisdn}``."""
        return cls(str(item["msisdn"]), str(item.get("name") or ""), str(item["state"]))


@dataclass(frozen=True)
class Message:
    """One message as the phone shows it (all parts of a long message joined).

    :ivar peer: the sender for the inbox, the recipient for the sent box.
    :ivar received_at: when its last part arrived, or None.
    """

    id: int
    cursor: int
    peer: str
    text: str
    complete: bool
    total_parts: int
    received_at: datetime | None

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> Message:
        """From one entry of ``.../inbox`` (``from``) or ``.../sent`` (``to``)."""
        received = item.get("received_at")
        return cls(
            id=int(item["id"]),
            cursor=int(item["cursor"]),
            peer=str(item["from"] if "from" in item else item.get("to", "")),
            text=str(item.get("text") or ""),
            complete=bool(item.get("complete", True)),
            total_parts=int(item.get("total_parts") or len(item.get("parts") or ()) or 1),
            received_at=datetime.fromisoformat(received) if received else None,
        )


@dataclass(frozen=True)
class InboxPage:
    """An inbox answer: its messages (oldest first) and the cursor to wait after."""

    messages: tuple[Message, ...]
    cursor: int


class HandsetApi:
    """Blocking calls to one handset's routes; safe to use from several threads.

    :param base_url: the HTTP API, e.g. ``http://127.0.0.1:8775``.
    :param msisdn: the number in any notation the server accepts.
    """

    def __init__(self, base_url: str, msisdn: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.msisdn = msisdn

    def _call(
        self, method: str, suffix: str, body: Any = None, query: Mapping[str, object] | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ) -> Any:  # fmt: skip
        path = f"/api/handsets/{urllib.parse.quote(self.msisdn, safe='')}{suffix}"
        try:
            return call_api(self.base_url, method, path, body=body, query=query, timeout=timeout)
        except SmsgwError as error:
            if error.status is None:
                raise Unreachable(f"{self.base_url}: {error.message}") from None
            raise ApiError(error.status, error.code, error.message) from None

    def handset(self) -> Handset:
        """The handset's name and state; also learns the number as the network writes it."""
        handset = Handset.from_json(self._call("GET", ""))
        self.msisdn = handset.msisdn
        return handset

    def inbox(self, after: int = 0, wait: int = 0) -> InboxPage:
        """Messages after ``after``; with ``wait``, a long poll answered when one lands."""
        query = {"after": after, "wait": wait, "limit": 1000}
        answer = self._call("GET", "/inbox", query=query, timeout=wait + REQUEST_TIMEOUT)
        messages = tuple(Message.from_json(m) for m in answer["messages"])
        return InboxPage(messages, int(answer["cursor"]))

    def sent(self) -> list[Message]:
        """The texts this phone sent, oldest first."""
        return [Message.from_json(m) for m in self._call("GET", "/sent")["messages"]]

    def send_sms(self, to: str, text: str) -> list[str]:
        """Send a text (MO); return one message id per part."""
        answer = self._call("POST", "/sms", {"to": to, "text": text})
        return [str(i) for i in answer["message_ids"]]

    def set_state(self, state: str) -> Handset:
        """Switch the phone ``on`` or ``off`` (or ``busy``, ``inbox_full``)."""
        return Handset.from_json(self._call("PATCH", "", {"state": state}))
