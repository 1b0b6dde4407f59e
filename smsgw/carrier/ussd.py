"""The USSD gateway: dialogues between handsets and USSD applications.

A handset dials a service code (``*126#``, or a direct string such as ``*126*1*25#``). The
gateway opens a dialogue and routes it by the code's base (``*126#``) either to an ESME
account over SMPP (``ussd_service_op`` in deliver_sm and submit_sm, docs/ussd.md) or to
an HTTP application in the ``CON …`` / ``END …`` style (Africa's Talking). An ESME can also open a
dialogue itself (network-initiated): a USSR request (a prompt) or a USSN (a notice).

One handset has at most one dialogue. Each screen holds at most ``max_length`` characters.
A dialogue ends when the application ends it, the user cancels, the user takes longer
than ``user_timeout`` to answer, or the application takes longer than ``app_timeout``.

Dialogues live in memory only: a real network loses USSD sessions on a restart too.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import attrs

from smsgw.carrier.clock import Clocks
from smsgw.carrier.errors import DialogueChanged, Refusal, Rejected
from smsgw.carrier.subscribers import HandsetState, Subscriber
from smsgw.digits import is_digits
from smsgw.smpp.constants import UssdServiceOp

if TYPE_CHECKING:  # faults.py reads USSD service codes from this module
    from smsgw.carrier.faults import FaultBook
    from smsgw.carrier.timeline import Timeline

#: its_session_info bit 0: this message ends the dialogue (SMPP v3.4 §5.3.2.43).
EOS = 0x0001
#: The vendor op 6D and Mica gateways use for a dialogue the network ended (as Vumi's processors read it).
ABORT_OP = 0x81
NETWORK_ERROR_SCREEN = "Connection problem or invalid MMI code."
APP_TIMEOUT_REASON = "the application did not answer in time"
#: Endings the application chose itself: after them its session number is free for a new push.
#: After any other (a cancel, a timeout, a failure) a screen naming the session is late.
ENDED_BY_APP = frozenset({"app_ended", "notice"})
#: its_session_info without its end-of-session bit: what names a dialogue.
SESSION_MASK = 0xFFFE

#: A prompt asking for a secret (the merchant's "Enter PIN:", "请输入密码：", a bank's password):
#: what the user types at it is shown masked, as a phone's screen does. "PIN" only as a word
#: of its own, so "Shopping" does not count (\b would not do: CJK letters are word characters).
SECRET_PROMPT = re.compile(
    r"(?<![A-Za-z])PIN(?![A-Za-z])|password|passcode|passwort|mot de passe|contraseña|senha|密码|密碼|口令",
    re.IGNORECASE,
)


def shown_input(prompt: str | None, text: str) -> str:
    """What the screen shows of ``text`` typed at ``prompt``: ``****`` for a secret."""
    return "*" * len(text) if prompt is not None and SECRET_PROMPT.search(prompt) else text


class Phase(enum.Enum):
    """Where a dialogue is."""

    WAITING_APP = "waiting_app"  # the application has the next move
    WAITING_USER = "waiting_user"  # a prompt is on the screen
    CLOSED = "closed"


@attrs.frozen
class UssdRoute:
    """Where a service code's dialogues go: an ESME account or an HTTP application."""

    code: str
    system_id: str | None = None
    url: str | None = None


@attrs.frozen
class Screen:
    """One screen the handset showed."""

    text: str
    expects_reply: bool
    at: float
    cursor: int


@attrs.define
class Dialogue:
    """One USSD dialogue.

    :ivar session: the gateway's number for it (its_session_info carries ``session << 8``).
    :ivar chosen_session_info: the its_session_info an ESME chose when it pushed this
        dialogue: kept for the dialogue's life, in both directions (docs/ussd.md).
    :ivar inputs: what the user typed, in order (the HTTP style sends them ``*``-joined).
    :ivar shown_inputs: the same as the API and logs may show them: masked at a PIN prompt.
    """

    session: int
    msisdn: str
    code: str
    dialled: str
    route: UssdRoute
    origin: str
    started_at: float
    phase: Phase = Phase.WAITING_APP
    deadline: float = 0.0
    inputs: list[str] = attrs.Factory(list)
    shown_inputs: list[str] = attrs.Factory(list)
    screens: list[Screen] = attrs.Factory(list)
    end_reason: str | None = None
    #: Why it ended, for programs: app_ended, notice, user_cancelled, user_timeout,
    #: app_timeout, app_failed or app_unreachable.
    end_code: str | None = None
    ended_at: float | None = None
    #: Network-wide order of this dialogue's latest change (opened, a screen, closed): what
    #: ``after=`` long polls count, so a poller sees every change, an ending included.
    cursor: int = 0
    #: The cursor it opened with: a dial waits for changes past it.
    opened_cursor: int = 0
    chosen_session_info: int | None = None
    #: The session of the bind that showed its latest screen: its deliveries go back there.
    via: int | None = None

    @property
    def its_session_info(self) -> int:
        """The value the ESME must echo, EOS bit clear: the ESME's own for a push that named
        one; else the low 8 bits of the session number in octet 1 and its high 7 bits in
        octet 2's bits 7-1 (docs/ussd.md)."""
        if self.chosen_session_info is not None:
            return self.chosen_session_info
        return (self.session & 0xFF) << 8 | (self.session >> 8 & 0x7F) << 1

    @property
    def screen(self) -> Screen | None:
        """What the handset shows now."""
        return self.screens[-1] if self.screens else None


class UssdApps(Protocol):
    """How the gateway reaches applications (implemented at the edges)."""

    def send_to_esme(self, system_id: str, dialogue: Dialogue, op: int, text: str, end: bool) -> bool:
        """Deliver a deliver_sm with ussd_service_op to one of the account's receivers; False if none."""
        ...

    def post_to_http(self, dialogue: Dialogue, text: str) -> None:
        """Call the HTTP application; it answers through :meth:`UssdGateway.app_said`."""
        ...


@attrs.frozen
class UssdLimits:
    """Real-network limits: a USSD string is 160 octets, 182 GSM characters (GSM 04.80); operators
    give the user 20-60 s a screen and the application about 15 s (Africa's Talking)."""

    max_length: int = 182
    user_timeout: float = 30.0
    app_timeout: float = 15.0


def base_code(dialled: str) -> tuple[str, list[str]] | None:
    """Split a dialled string into its service code and direct inputs.

    ``*126*1*25#`` gives ``("*126#", ["1", "25"])``; anything that is not ``*…#`` gives None.
    """
    if not (dialled.startswith("*") and dialled.endswith("#")) or len(dialled) < 3:
        return None
    fields = dialled[1:-1].split("*")
    if not fields[0] or not all(is_digits(f) for f in fields if f):
        return None
    return f"*{fields[0]}#", [f for f in fields[1:] if f]


def _no_offset(msisdn: str) -> float:
    return 0.0


class UssdGateway:
    """All dialogues of the network.

    Its methods take the carrier's time; a dialogue's times (screens, deadlines) are on the
    clock of its handset's namespace.

    :param on_change: called with each dialogue after it changed (for waiters and events).
    :param clocks: the namespaces' clocks (none run ahead of the carrier's without them).
    :param timeline: where the dialogues of handsets it records are recorded: opened, each
        screen, each input as the screen shows it (masked at a PIN prompt), the end.
    """

    def __init__(
        self,
        routes: list[UssdRoute],
        limits: UssdLimits,
        apps: UssdApps | None = None,
        on_change: Callable[[Dialogue], None] | None = None,
        faults: FaultBook | None = None,
        clocks: Clocks | None = None,
        timeline: Timeline | None = None,
    ) -> None:
        self.routes = {r.code: r for r in routes}
        self.timeline = timeline
        self._offset_for: Callable[[str], float] = clocks.offset_for if clocks is not None else _no_offset
        self.faults = faults
        self.limits = limits
        self.apps = apps
        self.on_change = on_change
        self._by_msisdn: dict[str, Dialogue] = {}
        self._by_session: dict[int, Dialogue] = {}
        self._last: dict[str, Dialogue] = {}
        self._next_session = 1
        #: Dialogues opened by origin (mobile, network) and ended by end code, for /metrics.
        self.opened: Counter[str] = Counter()
        self.ended: Counter[str] = Counter()
        self._cursor = 0

    # -- reading ---------------------------------------------------------------------

    @property
    def open_dialogues(self) -> int:
        """Dialogues in progress."""
        return len(self._by_msisdn)

    def current(self, msisdn: str) -> Dialogue | None:
        """The handset's open dialogue, or else its last one."""
        return self._by_msisdn.get(msisdn) or self._last.get(msisdn)

    def forget(self, msisdn: str) -> None:
        """Forget the last dialogue of a number that now belongs to another handset."""
        self._last.pop(msisdn, None)

    def busy(self, msisdn: str) -> bool:
        """Whether the handset is in a dialogue."""
        return msisdn in self._by_msisdn

    # -- the handset's side ----------------------------------------------------------

    def dial(self, subscriber: Subscriber, dialled: str, now: float) -> Dialogue:
        """The handset dials a USSD string.

        :raises Rejected: not a USSD string, no route for its code, phone off, or already in a dialogue.
        """
        parsed = base_code(dialled.strip())
        if parsed is None:
            raise Rejected(
                Refusal.UNKNOWN_DESTINATION, f"{dialled!r} is not a USSD string like *126# or *126*1#"
            )
        code, direct = parsed
        route = self.routes.get(code)
        if route is None:
            known = ", ".join(sorted(self.routes)) or "none configured"
            raise Rejected(
                Refusal.UNKNOWN_DESTINATION,
                f"no USSD application answers {code} (service codes: {known})",
            )
        if subscriber.state is not HandsetState.ON and subscriber.state is not HandsetState.INBOX_FULL:
            raise Rejected(Refusal.USSD_REFUSED, f"{subscriber.msisdn} is {subscriber.state.value}")
        if self.busy(subscriber.msisdn):
            raise Rejected(Refusal.USSD_REFUSED, f"{subscriber.msisdn} is already in a USSD dialogue")
        now += self._offset_for(subscriber.msisdn)
        dialogue = self._open(subscriber.msisdn, code, dialled, route, "mobile", now)
        dialogue.inputs.extend(direct)
        dialogue.shown_inputs.extend(direct)
        dialogue.deadline = now + self.limits.app_timeout
        self._to_app(dialogue, UssdServiceOp.PSSR_INDICATION, dialled, now)
        return dialogue

    def _same_dialogue(self, msisdn: str, session: int | None) -> None:
        """Refuse an answer or a cancel meant for a dialogue that is no longer the one on the
        screen: typed at a survey that timed out, it would land in the next push (a PIN
        prompt, say).

        :raises DialogueChanged: when ``session`` is given and is not the open dialogue's.
        """
        if session is None:
            return
        dialogue = self.current(msisdn)
        if dialogue is not None and dialogue.session == session and dialogue.phase is not Phase.CLOSED:
            return
        now = "no dialogue" if dialogue is None else f"dialogue {dialogue.session} ({dialogue.phase.value})"
        raise DialogueChanged(
            f"{msisdn}'s USSD dialogue {session} is over; the screen now shows {now}. "
            "Read the screen again (GET …/ussd) before answering"
        )

    def reply(self, msisdn: str, text: str, now: float, *, session: int | None = None) -> Dialogue:
        """The user answers the prompt on the screen.

        :param session: the dialogue the answer is meant for (None: whichever shows).
        :raises DialogueChanged: when ``session`` is no longer the dialogue shown.
        :raises Rejected: when no prompt waits for an answer.
        """
        self._same_dialogue(msisdn, session)
        dialogue = self._by_msisdn.get(msisdn)
        if dialogue is None or dialogue.phase is not Phase.WAITING_USER:
            raise Rejected(Refusal.USSD_REFUSED, f"{msisdn} has no USSD prompt waiting for an answer")
        dialogue.inputs.append(text)
        screen = dialogue.screen
        shown = shown_input(screen.text if screen is not None else None, text)
        dialogue.shown_inputs.append(shown)
        dialogue.phase = Phase.WAITING_APP
        dialogue.cursor = self._tick_cursor()
        now += self._offset_for(msisdn)
        self._record(dialogue, "ussd.input", {"text": shown}, now)
        dialogue.deadline = now + self.limits.app_timeout
        self._to_app(dialogue, UssdServiceOp.USSR_CONFIRM, text, now)
        self._changed(dialogue)
        return dialogue

    def cancel(self, msisdn: str, now: float, *, session: int | None = None) -> Dialogue:
        """The user presses cancel.

        :param session: the dialogue meant (None: whichever shows).
        :raises DialogueChanged: when ``session`` is no longer the dialogue shown.
        :raises Rejected: when there is no dialogue.
        """
        self._same_dialogue(msisdn, session)
        dialogue = self._by_msisdn.get(msisdn)
        if dialogue is None:
            raise Rejected(Refusal.USSD_REFUSED, f"{msisdn} is not in a USSD dialogue")
        now += self._offset_for(msisdn)
        self._abort(dialogue, "cancelled by the user", now, code="user_cancelled", show=None)
        return dialogue

    # -- the application's side ------------------------------------------------------

    def app_said(self, session: int, text: str, *, expects_reply: bool, now: float) -> Dialogue | None:
        """An HTTP application answered (``CON`` expects a reply, ``END`` ends)."""
        dialogue = self._by_session.get(session)
        if dialogue is None or dialogue.phase is Phase.CLOSED:
            return None
        now += self._offset_for(dialogue.msisdn)
        if dialogue.phase is Phase.WAITING_APP and self._late_by_fault(dialogue, now):
            return dialogue
        self._show(dialogue, text, expects_reply, now)
        if not expects_reply:
            self._close(dialogue, "ended by the application", now, "app_ended")
        return dialogue

    def app_failed(self, session: int, reason: str, now: float, *, cursor: int | None = None) -> None:
        """An HTTP application could not be reached or answered badly, or an ESME refused what
        the gateway sent it: end the dialogue at once instead of waiting for the app timeout.

        Only while the application has the move, and with ``cursor`` (the dialogue's when the
        refused deliver_sm went out) only while the dialogue is still there: once the
        application has shown the next screen, its answer to an earlier deliver_sm changes
        nothing.
        """
        dialogue = self._by_session.get(session)
        if (
            dialogue is not None
            and dialogue.phase is Phase.WAITING_APP
            and (cursor is None or cursor == dialogue.cursor)
        ):
            now += self._offset_for(dialogue.msisdn)
            self._abort(dialogue, reason, now, code="app_failed", show=NETWORK_ERROR_SCREEN, tell_app=False)

    def from_esme(
        self,
        system_id: str,
        subscriber: Subscriber,
        op: int | None,
        session_info: int | None,
        text: str,
        now: float,
        source: str = "",
    ) -> Dialogue:
        """A submit_sm with ussd_service_op from an ESME: a screen of an open dialogue, or a push.

        :param source: the submit's source_addr (what ``code`` of an ``unreachable`` rule
            matches for a push).
        :raises Rejected: an error the ESME can act on (handset busy or off, no such dialogue,
            a screen for a dialogue that already ended, or an answer an injected
            ``ussd_timeout`` took as too late).
        """
        end = op in (UssdServiceOp.PSSR_RESPONSE, UssdServiceOp.USSN_REQUEST, 0x17) or bool(
            session_info is not None and session_info & EOS
        )
        now += self._offset_for(subscriber.msisdn)
        dialogue = self._by_msisdn.get(subscriber.msisdn)
        # A screen belongs to the open dialogue when the application has the move, or when it
        # ends its own dialogue (releases it while a prompt waits); otherwise, while a prompt
        # waits for the user, another USSR request is a second push.
        if (
            dialogue is not None
            and (dialogue.phase is Phase.WAITING_APP or end)
            and dialogue.route.system_id == system_id
            and self._matches(dialogue, session_info)
        ):
            if dialogue.phase is Phase.WAITING_APP and self._late_by_fault(dialogue, now):
                raise Rejected(
                    Refusal.USSD_REFUSED,
                    f"{subscriber.msisdn}'s USSD dialogue {dialogue.session} already ended: "
                    f"{APP_TIMEOUT_REASON} (injected fault)",
                )
            self._show(dialogue, text, not end and op != UssdServiceOp.USSN_REQUEST, now)
            if end:
                self._close(dialogue, "ended by the application", now, "app_ended")
            return dialogue
        if session_info is not None:
            self._refuse_late(system_id, subscriber.msisdn, session_info)
        if op not in (UssdServiceOp.USSR_REQUEST, UssdServiceOp.USSN_REQUEST):
            raise Rejected(
                Refusal.USSD_REFUSED,
                f"{subscriber.msisdn} has no USSD dialogue with {system_id!r} for its_session_info {session_info}",
            )
        # Busy (in a call or another dialogue) and unreachable are different refusals, so the
        # application can tell "try later" from "the phone is off" (docs/ussd.md).
        if subscriber.state is HandsetState.OFF:
            raise Rejected(Refusal.HANDSET_UNREACHABLE, f"{subscriber.msisdn} is off: cannot push USSD")
        if self.faults is not None:
            rule = self.faults.refuses_push(system_id, subscriber.msisdn, source)
            if rule is not None:
                raise Rejected(
                    Refusal.HANDSET_UNREACHABLE,
                    f"{subscriber.msisdn} is out of reach (injected fault {rule.name!r}): cannot push USSD",
                )
        if dialogue is not None or subscriber.state is HandsetState.BUSY:
            raise Rejected(
                Refusal.USSD_REFUSED,
                f"{subscriber.msisdn} is busy (in a call or another USSD dialogue)",
            )
        route = UssdRoute(code="", system_id=system_id)
        pushed = self._open(subscriber.msisdn, "", "", route, "network", now)
        if session_info is not None:
            pushed.chosen_session_info = session_info & SESSION_MASK
        notice = op == UssdServiceOp.USSN_REQUEST or end
        self._show(pushed, text, not notice, now)
        if notice:
            self._close(pushed, "notice shown", now, "notice")
        return pushed

    def _refuse_late(self, system_id: str, msisdn: str, session_info: int) -> None:
        """Refuse a screen naming the handset's last dialogue with this account when the
        network ended it (cancel, timeout, failure): the application answers too late, and a
        late screen is never shown, not even as a new push (docs/ussd.md)."""
        ended = self._last.get(msisdn)
        if (
            ended is None
            or ended.route.system_id != system_id
            or ended.end_code in ENDED_BY_APP
            or ended.its_session_info != session_info & SESSION_MASK
        ):
            return
        raise Rejected(
            Refusal.USSD_REFUSED,
            f"{msisdn}'s USSD dialogue {ended.session} (its_session_info 0x{ended.its_session_info:04X}) "
            f"already ended: {ended.end_reason} ({ended.end_code}); a late screen is never shown "
            "(to push a new prompt, send no its_session_info or a new one)",
        )

    # -- time ------------------------------------------------------------------------

    def tick(self, clock_now: float) -> None:
        """End dialogues whose user or application took too long."""
        offset_for = self._offset_for
        for dialogue in list(self._by_msisdn.values()):
            now = clock_now + offset_for(dialogue.msisdn)
            if dialogue.deadline and now >= dialogue.deadline:
                if dialogue.phase is Phase.WAITING_USER:
                    self._abort(
                        dialogue, "the user did not answer in time", now, code="user_timeout", show=None
                    )
                else:
                    self._app_timed_out(dialogue, now)

    def _app_timed_out(self, dialogue: Dialogue, now: float) -> None:
        self._abort(dialogue, APP_TIMEOUT_REASON, now, code="app_timeout", show=NETWORK_ERROR_SCREEN)

    def _late_by_fault(self, dialogue: Dialogue, now: float) -> bool:
        """End the dialogue as the application timeout does when a ``ussd_timeout`` fault takes
        this answer as too late; the answer itself is never shown."""
        if self.faults is None:
            return False
        system_id = dialogue.route.system_id or ""
        if not self.faults.answer_too_late(system_id, dialogue.msisdn, dialogue.code, dialogue.session):
            return False
        self._app_timed_out(dialogue, now)
        return True

    # -- inside ----------------------------------------------------------------------

    def _open(
        self, msisdn: str, code: str, dialled: str, route: UssdRoute, origin: str, now: float
    ) -> Dialogue:
        session = self._next_session
        self._next_session = self._next_session % 0x7FFF + 1
        dialogue = Dialogue(session, msisdn, code, dialled, route, origin, now)
        self.opened[origin] += 1
        dialogue.cursor = dialogue.opened_cursor = self._tick_cursor()
        self._by_msisdn[msisdn] = dialogue
        self._by_session[session] = dialogue
        detail: dict[str, object] = {"origin": origin, "code": code or None, "dialled": dialled or None}
        self._record(dialogue, "ussd.open", detail, now)
        return dialogue

    @staticmethod
    def _matches(dialogue: Dialogue, session_info: int | None) -> bool:
        # Gateways differ on whether the ESME echoes its_session_info (docs/ussd.md): absent, it is
        # the handset's only dialogue; present, it must name this one (EOS bit aside).
        return session_info is None or session_info & SESSION_MASK == dialogue.its_session_info

    def _show(self, dialogue: Dialogue, text: str, expects_reply: bool, now: float) -> None:
        text = text[: self.limits.max_length]
        dialogue.cursor = self._tick_cursor()
        dialogue.screens.append(Screen(text, expects_reply, now, dialogue.cursor))
        dialogue.phase = Phase.WAITING_USER if expects_reply else Phase.WAITING_APP
        dialogue.deadline = now + self.limits.user_timeout if expects_reply else 0.0
        self._record(dialogue, "ussd.screen", {"text": text, "expects_reply": expects_reply}, now)
        self._changed(dialogue)

    def _to_app(self, dialogue: Dialogue, op: int, text: str, now: float) -> None:
        route = dialogue.route
        if self.apps is None:
            self._abort(
                dialogue,
                "no USSD application is reachable",
                now,
                code="app_unreachable",
                show=NETWORK_ERROR_SCREEN,
                tell_app=False,
            )
        elif route.system_id is not None:
            if not self.apps.send_to_esme(route.system_id, dialogue, op, text, False):
                reason = f"no receiver of {route.system_id!r} is bound"
                self._abort(
                    dialogue, reason, now, code="app_unreachable", show=NETWORK_ERROR_SCREEN, tell_app=False
                )
        else:
            self.apps.post_to_http(dialogue, "*".join(dialogue.inputs))

    def _abort(
        self,
        dialogue: Dialogue,
        reason: str,
        now: float,
        *,
        code: str,
        show: str | None,
        tell_app: bool = True,
    ) -> None:
        if show is not None:
            self._show(dialogue, show, False, now)
        if tell_app and self.apps is not None and dialogue.route.system_id is not None:
            # The text says why (user_cancelled, user_timeout, app_timeout): over SMPP a cancel
            # and a timeout otherwise look the same, and a shop must tell them apart.
            self.apps.send_to_esme(dialogue.route.system_id, dialogue, ABORT_OP, code, True)
        self._close(dialogue, reason, now, code)

    def _close(self, dialogue: Dialogue, reason: str, now: float, code: str) -> None:
        dialogue.phase = Phase.CLOSED
        dialogue.cursor = self._tick_cursor()
        dialogue.end_code = code
        self.ended[code] += 1
        dialogue.end_reason = reason
        dialogue.ended_at = now
        dialogue.deadline = 0.0
        self._by_msisdn.pop(dialogue.msisdn, None)
        self._by_session.pop(dialogue.session, None)
        self._last[dialogue.msisdn] = dialogue
        self._record(dialogue, "ussd.end", {"end_code": code, "reason": reason}, now)
        self._changed(dialogue)

    def _record(self, dialogue: Dialogue, kind: str, detail: dict[str, object], now: float) -> None:
        """Record a step of the dialogue when the timeline records its handset.

        :param now: on the handset's clock.
        """
        timeline = self.timeline
        if timeline is None or not timeline.on:
            return
        namespace = timeline.namespace_for(dialogue.msisdn)
        if namespace is not None:
            system_id = dialogue.route.system_id or ""
            timeline.record(
                kind, namespace, dialogue.msisdn, system_id=system_id, session=dialogue.session,
                detail=detail, at=now,
            )  # fmt: skip

    def _tick_cursor(self) -> int:
        self._cursor += 1
        return self._cursor

    def _changed(self, dialogue: Dialogue) -> None:
        if self.on_change is not None:
            self.on_change(dialogue)
