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


#: How a dialogue's answers follow each other at one screen: the prompt, the answer sent, the end.
_PHASE_ORDER = {"idle": 0, "waiting_user": 0, "waiting_app": 1, "closed": 2}


@dataclass(frozen=True)
class UssdDialogue:
    """The handset's USSD dialogue as ``.../ussd`` answers it (``state`` ``idle``: none ever).

    :ivar origin: ``mobile`` (the phone dialled), ``network`` (an application pushed), or None.
    :ivar cursor: the network-wide number of the screen shown (0 before the first one).
    """

    session: int | None
    service_code: str | None
    origin: str | None
    state: str
    screen: str | None
    expects_reply: bool
    cursor: int
    end_reason: str | None

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> UssdDialogue:
        """From ``GET``/``POST .../ussd`` or ``.../ussd/reply``."""
        session = item.get("session")
        return cls(
            session=int(session) if session is not None else None,
            service_code=item.get("service_code") or None,
            origin=item.get("origin") or None,
            state=str(item.get("state") or "idle"),
            screen=item.get("screen"),
            expects_reply=bool(item.get("expects_reply")),
            cursor=int(item.get("cursor") or 0),
            end_reason=item.get("end_reason") or None,
        )

    @property
    def order(self) -> tuple[int, int]:
        """Sorts the answers about one dialogue: a later screen, then the answer sent, then the end."""
        return self.cursor, _PHASE_ORDER.get(self.state, 0)


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

    def inbox(self, after: int | None = None, wait: int = 0) -> InboxPage:
        """The newest 1000 messages; with ``after``, every message after it, page by page; with
        ``wait``, a long poll answered when one lands."""
        messages: list[Message] = []
        while True:
            query = (
                {"wait": wait, "limit": 1000}
                if after is None
                else {"after": after, "wait": wait, "limit": 1000}
            )
            answer = self._call("GET", "/inbox", query=query, timeout=wait + REQUEST_TIMEOUT)
            messages += (Message.from_json(m) for m in answer["messages"])
            after = int(answer["cursor"])
            if not answer.get("more"):
                return InboxPage(tuple(messages), after)
            wait = 0  # there is more already: no need to wait for it

    def sent(self) -> list[Message]:
        """The texts this phone sent, oldest first (the newest 1000)."""
        return [Message.from_json(m) for m in self._call("GET", "/sent", query={"limit": 1000})["messages"]]

    def send_sms(self, to: str, text: str) -> list[str]:
        """Send a text (MO); return one message id per part."""
        answer = self._call("POST", "/sms", {"to": to, "text": text})
        return [str(i) for i in answer["message_ids"]]

    def set_state(self, state: str) -> Handset:
        """Switch the phone ``on`` or ``off`` (or ``busy``, ``inbox_full``)."""
        return Handset.from_json(self._call("PATCH", "", {"state": state}))

    def ussd(self, after: int = 0, wait: int = 0) -> UssdDialogue:
        """The USSD dialogue; with ``wait``, a long poll for a screen past ``after`` (or the end)."""
        answer = self._call(
            "GET", "/ussd", query={"after": after, "wait": wait}, timeout=wait + REQUEST_TIMEOUT
        )
        return UssdDialogue.from_json(answer)

    def dial_ussd(self, dialled: str, wait: int = 0) -> UssdDialogue:
        """Dial a USSD string such as ``*126#``; with ``wait``, answered at its first screen."""
        answer = self._call(
            "POST", "/ussd", {"dial": dialled}, {"wait": wait}, timeout=wait + REQUEST_TIMEOUT
        )
        return UssdDialogue.from_json(answer)

    def reply_ussd(self, text: str, wait: int = 0) -> UssdDialogue:
        """Answer the prompt on the screen; with ``wait``, answered at the next screen."""
        answer = self._call(
            "POST", "/ussd/reply", {"text": text}, {"wait": wait}, timeout=wait + REQUEST_TIMEOUT
        )
        return UssdDialogue.from_json(answer)

    def cancel_ussd(self) -> UssdDialogue:
        """Press cancel: end the dialogue (the application hears an abort)."""
        return UssdDialogue.from_json(self._call("DELETE", "/ussd"))
