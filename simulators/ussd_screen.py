"""What a phone's USSD screen shows, and the error a USSD wait raises (see :class:`~simulators.handset.Phone`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class UssdScreen:
    """What a phone's USSD screen shows, with the state of the dialogue behind it.

    :ivar text: the screen's text; ``""`` while nothing shows (no dialogue yet, or the
        application has not answered the dial).
    :ivar expects_reply: whether it is a prompt waiting for :meth:`Phone.answer`.
    :ivar state: ``waiting_app`` (the application has the move), ``waiting_user`` (a prompt
        shows), ``closed`` (the dialogue ended) or ``idle`` (the phone never had one).
    :ivar session: the gateway's number for the dialogue, or ``None`` when idle.
    :ivar cursor: the network-wide order of the dialogue's latest change (it opened, showed a
        screen, or ended); 0 when idle. Waits look for changes past a cursor.
    :ivar origin: ``mobile`` (the phone dialled), ``network`` (an application pushed it) or ``None``.
    :ivar end_reason: why the dialogue ended (``ended by the application``, ``cancelled by the
        user``, ...), or ``None`` while it is open.
    :ivar end_code: the same for programs (``app_ended``, ``notice``, ``user_cancelled``,
        ``user_timeout``, ``app_timeout``, ``app_failed``, ``app_unreachable``).
    :ivar inputs: what the user typed in the dialogue, in order (direct-string inputs included).
    :ivar service_code: the code dialled (``*126#``), for a push the application's
        ``source_addr``; ``None`` when idle.
    """

    text: str
    expects_reply: bool
    state: str
    session: int | None
    cursor: int
    origin: str | None
    end_reason: str | None
    end_code: str | None
    inputs: tuple[str, ...]
    service_code: str | None = None

    @property
    def closed(self) -> bool:
        """Whether the dialogue has ended: nothing more shows in it."""
        return self.state == "closed"

    def __str__(self) -> str:
        if self.state == "idle":
            return "USSD idle: no dialogue yet"
        where = self.service_code or "dialogue"
        if self.origin == "network":
            where = f"push from {where}"
        if self.closed:
            status = f"closed: {self.end_reason}" if self.end_reason else "closed"
        elif self.expects_reply:
            status = "prompt"
        elif self.state == "waiting_app":
            status = "waiting for the application"
        else:
            status = self.state
        if self.inputs:
            status += "; typed " + ", ".join(repr(text) for text in self.inputs)
        shown = repr(self.text) if self.text else "nothing shown"
        return f"USSD {where} session {self.session} [{status}]: {shown}"

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> UssdScreen:
        """Build from the dialogue that ``.../ussd`` (any method) and ``.../ussd/reply`` answer."""
        session = item.get("session")
        return cls(
            text=str(item.get("screen") or ""),
            expects_reply=bool(item.get("expects_reply")),
            state=str(item.get("state") or "idle"),
            session=int(session) if session is not None else None,
            cursor=int(item.get("cursor") or 0),
            origin=item.get("origin") or None,
            end_reason=item.get("end_reason") or None,
            end_code=item.get("end_code") or None,
            inputs=tuple(str(text) for text in item.get("inputs") or ()),
            service_code=item.get("service_code") or None,
        )


class UssdTimeout(AssertionError):
    """No (matching) USSD screen came in time; the message says what the phone showed instead.

    Also raised when the network ended the dialogue because the application let its
    ``ussd_app_timeout`` pass (the phone then shows "Connection problem or invalid MMI code.").

    :ivar screen: what the phone showed when the wait ended.
    :ivar shown: for :meth:`Phone.wait_for_ussd`, the new screens that came and did not match,
        oldest first; empty otherwise.
    """

    def __init__(
        self, msisdn: str, problem: str, screen: UssdScreen, shown: Sequence[UssdScreen] | None = None
    ) -> None:
        self.screen = screen
        self.shown = tuple(shown or ())
        lines = [f"{msisdn} {problem}"]
        if shown is not None:
            lines.append("  new screens during the wait:" + ("".join(f"\n    {s}" for s in shown) or " none"))
        if not self.shown or self.shown[-1] != screen:
            lines.append(f"  the phone shows: {screen}")
        super().__init__("\n".join(lines))
