"""The merchant's SMPP edge: binds to the carrier, feeds deliveries to the core, sends its actions.

:class:`MerchantEsme` is a thin adapter over :class:`~simulators.merchant.service.Merchant`
(the core decides, this module only translates), in the way :mod:`smsgw.server.esme` wraps
the sans-I/O ESME session:

- deliveries (deliver_sm) become core calls: an MO text to the short code is
  :meth:`~Merchant.sms_received`; a dialled ``*126#`` (``ussd_service_op`` 1), an answer (18)
  and an abort (0x81) drive the ``*126#`` menu or a pushed prompt;
- actions become submit_sm: :class:`SendSms` from the short code (split with a UDH when
  long), :class:`PushUssd` op 2, :class:`ShowUssd` op 2 (or 17 when it ends a dialled
  dialogue), :class:`EndUssd` op 3 with EOS; :class:`Webhook` goes to an injected poster.

Submits go out one at a time, in the order the core gave them, so a buyer never sees a
receipt before the screen that announced it. A USSD session is keyed ``"<msisdn>+<its_session_info>"``:
the key tells the edge which handset and which gateway session a screen belongs to.

Every push names its own session. The merchant chooses an its_session_info for each prompt it
pushes (the carrier keeps it for that dialogue's life, docs/ussd.md "A push names its own
session") and remembers it until the dialogue ends, however it ends. The core keys a push by
the bare MSISDN until the buyer's first answer; that key means the push's chosen session and
nothing else. Learning the session from the first deliver_sm instead would leave an
unanswered push with no name: ending it without one may close whatever dialogue the handset
is in by then, or show the last screen as a new notice once the prompt is gone. Where a
screen goes is settled when the core hands it over, in the core's order, not when it leaves
the queue, so a push that ends and the next one that begins cannot trade sessions.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from io import BytesIO
from typing import Any

import attrs
from twisted.internet import defer
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import FileBodyProducer
from twisted.web.http_headers import Headers

from simulators.merchant.actions import Action, EndUssd, PushUssd, SendSms, ShowUssd, Webhook
from simulators.merchant.orders import CANCELLED_BY_USER, HANDSET_BUSY, HANDSET_UNREACHABLE, NO_ANSWER
from simulators.merchant.retention import OrderRetention
from simulators.merchant.service import Merchant
from simulators.merchant.timeline import MerchantTimeline, Posted
from smsgw.cmpp import pdu as cmpp_pdu
from smsgw.cmpp.sp import SpConfig
from smsgw.companion import TimelineSink
from smsgw.server.esme import CMPP, EsmeClient, EsmeError
from smsgw.smpp.constants import BindType
from smsgw.smpp.esme import EsmeConfig
from smsgw.smpp.sm import SubmitSm
from smsgw.text.coding import DATA_CODING_IA5, decode_text, encode_text
from smsgw.text.errors import InvalidUdh
from smsgw.text.split import split_text
from smsgw.text.udh import split_udh
from smsgw.web.body import BodyTooLarge, read_body
from smsgw.web.render import iso

log = Logger(namespace="merchant.esme")

# ussd_service_op values (SMPP v3.4 §5.3.2.44, docs/ussd.md).
PSSR_INDICATION = 1
USSR_REQUEST = 2
USSN_REQUEST = 3
PSSR_RESPONSE = 17
USSR_CONFIRM = 18
ABORT = 0x81
#: its_session_info bit 0: end of session.
EOS = 0x01
#: The bits of its_session_info that name a dialogue.
SESSION_MASK = 0xFFFE
#: Handsets whose newest session is remembered (each an int); the oldest is forgotten first.
LATEST_LIMIT = 100_000
ESME_RSUBMITFAIL = 0x45
ESME_RDELIVERYFAILURE = 0xFE
RECEIPT = 0x04
UDHI = 0x40

#: Posts one webhook: (url, payload) -> a Deferred that fires when done (it must not fail), with
#: how it ended (:class:`~simulators.merchant.timeline.Posted`) when the poster says.
Poster = Callable[[str, Mapping[str, Any]], "defer.Deferred[Any]"]
#: Makes the core's changes durable, given the actions about to be carried out (webhooks among them).
Saver = Callable[[Sequence[Action]], "defer.Deferred[None]"]


class NotSaved(Exception):
    """The merchant's changes could not be made durable: nothing is acknowledged or sent."""


def _not_saved(failure: Failure) -> None:
    """Let a failed save (logged where it failed) end here; any other failure goes on."""
    failure.trap(NotSaved)  # type: ignore[no-untyped-call]


def direct_inputs(dialled: str) -> list[str]:
    """The answers a direct string carries: ``"*126*1*10086#"`` gives ``["1", "10086"]``."""
    body = dialled.strip().rstrip("#").lstrip("*")
    return [part for part in body.split("*")[1:] if part]


def session_key(msisdn: str, session_info: int | None) -> str:
    """The key of a USSD dialogue: the MSISDN and the gateway's session (EOS bit cleared)."""
    return msisdn if session_info is None else f"{msisdn}+{session_info & ~EOS}"


def _hex(session: int | None) -> str:
    """An its_session_info as the carrier's logs write it (``0x0102``), or ``none``."""
    return "none" if session is None else f"0x{session:04X}"


def parse_key(key: str) -> tuple[str, int | None]:
    """``"<msisdn>+<session>"`` (or a bare MSISDN) back to its parts."""
    msisdn, _, session = key.partition("+")
    return msisdn, int(session) if session.isdecimal() else None


class MerchantEsme:
    """The merchant bound to the carrier as a transceiver.

    :param merchant: the core.
    :param reactor: the clock (``seconds``) and the scheduler.
    :param connect: makes one connection (an endpoint's ``connect``), as for :class:`EsmeClient`.
    :param poster: sends webhooks; None logs and drops them.
    :param short_code: the number SMS come from (and buyers text).
    :param clock: the core's time in epoch seconds; in ``smsgw serve`` the carrier's clock, so
        advancing the carrier (``POST /api/clock``) expires codes and orders too.
    :param ahead: how far a buyer's clock runs ahead of ``clock`` (in ``smsgw serve``, the
        clock of the buyer's handset's namespace), so advancing one test's namespace expires
        that test's codes and orders and nobody else's.
    :param save: makes the core's changes durable before they are acted on (see
        :mod:`simulators.merchant.persist`); None keeps them in memory only.
    :param timeline: the carrier's timeline, where its orders, texts, webhooks and debits
        are recorded (:mod:`simulators.merchant.timeline`); None records nothing.
    :param retention: forgets final orders past the store's rule, from :meth:`tick`
        (:mod:`simulators.merchant.retention`); None keeps every order.
    """

    def __init__(
        self,
        merchant: Merchant,
        reactor: Any,
        connect: Callable[[Any], defer.Deferred[Any]],
        *,
        system_id: str,
        password: str,
        poster: Poster | None = None,
        short_code: str = "12345",
        retry_delay: float = 1.0,
        clock: Callable[[], float] | None = None,
        ahead: Callable[[str], float] | None = None,
        save: Saver | None = None,
        cmpp: tuple[str, Callable[[Any], defer.Deferred[Any]]] | None = None,
        timeline: TimelineSink | None = None,
        retention: OrderRetention | None = None,
    ) -> None:
        self.merchant = merchant
        self.retention = retention
        self.save = save
        self.timeline = MerchantTimeline(merchant, timeline) if timeline is not None else None
        self._clock = clock if clock is not None else reactor.seconds
        self._ahead = ahead
        self.reactor = reactor
        self.short_code = short_code
        self.poster = poster
        self.client = EsmeClient(
            EsmeConfig(system_id, password, bind_type=BindType.TRANSCEIVER),
            reactor,
            connect,
            self.on_delivery,
            retry_delay=retry_delay,
        )
        #: With ``cmpp`` (SP_Id, connect), SMS go over an SP connection of their own.
        self.cmpp_client: EsmeClient | None = None
        if cmpp is not None:
            sp_id, connect_cmpp = cmpp
            self.cmpp_client = EsmeClient(
                SpConfig(sp_id, password), reactor, connect_cmpp, self.on_cmpp_delivery,
                retry_delay=retry_delay, dialect=CMPP,
            )  # fmt: skip
        # The session this merchant chose for the push dialogue it holds open, per handset.
        self._pushed: dict[str, int] = {}
        # The newest session that named a dialogue of each handset (seen or chosen): never the
        # next push's, which a carrier would take for that dialogue (a late screen, 0x45).
        self._latest: OrderedDict[str, int] = OrderedDict()
        # Sessions for pushes are chosen from here; starting from the clock keeps a restarted
        # merchant off the sessions it used before, which the carrier may still hold ended.
        self._next_session = (int(self._clock()) << 1) & SESSION_MASK
        # Dialled (*126#) dialogues by key, with every answer so far; other dialogues are pushes.
        self._menus: dict[str, list[str]] = {}
        # Parts of concatenated MO texts: (msisdn, reference) -> {seq: payload}.
        self._parts: dict[tuple[str, int], dict[int, bytes]] = {}
        self._tail: defer.Deferred[Any] = defer.succeed(None)
        self._ref = 0
        self._ticker = LoopingCall(self.tick)
        self._ticker.clock = reactor

    # -- lifecycle -------------------------------------------------------------------

    @property
    def sms_client(self) -> EsmeClient:
        """Where SMS go: the SP connection over CMPP, else the SMPP bind."""
        return self.cmpp_client if self.cmpp_client is not None else self.client

    def start(self) -> None:
        """Bind (and keep bound) and start the core's clock."""
        self.client.start()
        if self.cmpp_client is not None:
            self.cmpp_client.start()
        self._ticker.start(1.0, now=False)

    def stop(self) -> None:
        """Unbind and stop the clock."""
        if self._ticker.running:
            self._ticker.stop()
        self.client.stop()
        if self.cmpp_client is not None:
            self.cmpp_client.stop()

    @property
    def bound(self) -> bool:
        """Whether a bind is up now (both, when SMS go over CMPP)."""
        return self.client.connection is not None and self.sms_client.connection is not None

    def when_bound(self) -> defer.Deferred[Any]:
        """Fires once every bind is up."""
        return defer.gatherResults([self.client.when_bound(), self.sms_client.when_bound()])

    def now(self) -> float:
        """The core's clock."""
        return float(self._clock())

    def now_for(self, msisdn: str) -> float:
        """The time of a buyer: the clock of its handset's namespace, in ``smsgw serve``."""
        return self.now() + self._ahead(msisdn) if self._ahead is not None else self.now()

    def tick(self) -> None:
        """Let the core's time pass: expire codes, time out pushes (every second, and at once
        when the carrier's clock jumps, in ``smsgw serve``: see :class:`~smsgw.web.clock.ClockRoutes`);
        forget the final orders retention lets go (committed with the tick's save)."""
        if self.retention is not None:
            try:
                self.retention.tick()
            except Exception:
                # Never out of the LoopingCall, which would stop the merchant's clock.
                log.failure("the merchant's retention failed; it tries again at its next pass")
        # Logged where it failed; the loop keeps ticking, so a store that recovers is written again.
        self._carry_out_later(self.merchant.tick(self.now(), self._ahead))

    # -- deliveries -> core ------------------------------------------------------------

    def on_delivery(self, pdu: Any) -> defer.Deferred[int]:
        """Hand one deliver_sm to the core and accept it (0) once what it changed is durable.

        Fails with :class:`NotSaved` when the change could not be saved: the deliver_sm is
        answered with an error (ESME_RX_T_APPN), so the carrier delivers it again later.
        """

        def failed(failure: Failure) -> Any:
            if failure.check(NotSaved):
                return failure
            log.failure("delivery from {source} failed in the merchant", failure, source=pdu.source_addr)
            return 0

        return defer.maybeDeferred(self._delivered, pdu).addCallbacks(lambda _: 0, failed)

    def on_cmpp_delivery(self, deliver: Any) -> defer.Deferred[int]:
        """A CMPP_DELIVER on the SP connection: a report is taken as it is; an MO is handed to
        the core as an SMPP one is (0 once it is durable; else Result 9, sent again later)."""
        if deliver.registered_delivery:
            return defer.succeed(0)
        return self.on_delivery(_CmppMo.of(deliver)).addCallbacks(lambda status: status, lambda _: 9)

    def _delivered(self, pdu: Any) -> defer.Deferred[None] | None:
        if pdu.esm_class & RECEIPT:
            return None
        msisdn = pdu.source_addr
        now = self.now_for(msisdn)
        op = getattr(pdu, "ussd_service_op", None)
        if op is None:
            text = self._mo_text(pdu)
            if text is None:
                return None
            return self.carry_out(self.merchant.sms_received(msisdn, text, now).actions)
        info = getattr(pdu, "its_session_info", None)
        session = None if info is None else info & SESSION_MASK
        key = session_key(msisdn, info)
        coding = 0 if pdu.data_coding == 0x0F else pdu.data_coding  # the CBS DCS some gateways pass on
        text = decode_text(pdu.short_message or pdu.message_payload or b"", coding)
        if op != PSSR_INDICATION and key not in self._menus and self._over(msisdn, session):
            log.info(
                "ignoring ussd_service_op {op} from {msisdn} for its_session_info {session}: "
                "the merchant already ended that dialogue",
                op=op,
                msisdn=msisdn,
                session=_hex(session),
            )
            return None
        if session is not None:
            self._remember(msisdn, session)
        # The end comes first: "Tata" gateways end a dialogue with op 18 and the EOS bit.
        if op == ABORT or (info is not None and info & EOS):
            if self._menus.pop(key, None) is None:
                self._forget_push(msisdn, self._pushed.get(msisdn) if session is None else session)
                # smsgw's abort names the cause (docs/ussd.md); other gateways send nothing.
                reason = CANCELLED_BY_USER if text.strip() == "user_cancelled" else NO_ANSWER
                return self.carry_out(self.merchant.ussd_push_failed(msisdn, reason, now).actions)
        elif op == PSSR_INDICATION:
            inputs = direct_inputs(text)
            self._menus[key] = list(inputs)
            return self.carry_out(self.merchant.ussd_menu(key, msisdn, inputs, now))
        elif op == USSR_CONFIRM:
            inputs_so_far = self._menus.get(key)
            if inputs_so_far is None:
                outcome = self.merchant.ussd_push_answer(msisdn, text, now, session_key=key)
                return self.carry_out(outcome.actions)
            inputs_so_far.append(text)
            return self.carry_out(self.merchant.ussd_menu(key, msisdn, list(inputs_so_far), now))
        else:
            log.warn("ignoring ussd_service_op {op} from {msisdn}", op=op, msisdn=msisdn)
        return None

    def _over(self, msisdn: str, session: int | None) -> bool:
        """Whether an answer or an abort names a push dialogue this merchant already ended.

        It crossed the merchant's own end (a cancel, a timeout): the order it belonged to is
        settled, and taking it for the handset's next push would answer or fail the wrong order.
        """
        if session is None:
            return False  # a gateway without sessions: the handset's one dialogue
        pushed = self._pushed.get(msisdn)
        return session != pushed and (pushed is not None or session == self._latest.get(msisdn))

    def _remember(self, msisdn: str, session: int) -> None:
        self._latest.pop(msisdn, None)
        self._latest[msisdn] = session
        if len(self._latest) > LATEST_LIMIT:
            self._latest.popitem(last=False)

    def _forget_push(self, msisdn: str, session: int | None) -> None:
        if session is not None and self._pushed.get(msisdn) == session:
            del self._pushed[msisdn]

    def _choose(self, msisdn: str) -> int:
        """A session for a new push to ``msisdn``: not 0, not the handset's newest."""
        newest = self._latest.get(msisdn)
        while True:
            self._next_session = (self._next_session + 2) & SESSION_MASK
            if self._next_session and self._next_session != newest:
                break
        self._remember(msisdn, self._next_session)
        self._pushed[msisdn] = self._next_session
        return self._next_session

    def _mo_text(self, pdu: Any) -> str | None:
        """The text of an MO message, or None while parts of a long one are missing."""
        data = pdu.message_payload or pdu.short_message or b""
        if not pdu.esm_class & UDHI:
            return decode_text(data, pdu.data_coding)
        try:
            udh, payload = split_udh(data)
        except InvalidUdh:
            log.warn("dropping an MO text with a bad UDH from {msisdn}", msisdn=pdu.source_addr)
            return None
        concat = udh.concat
        if concat is None or concat.total == 1:
            return decode_text(payload, pdu.data_coding)
        parts = self._parts.setdefault((pdu.source_addr, concat.reference), {})
        parts[concat.seqnum] = payload
        if len(parts) < concat.total:
            return None
        del self._parts[(pdu.source_addr, concat.reference)]
        return decode_text(b"".join(parts[seq] for seq in sorted(parts)), pdu.data_coding)

    # -- actions -> network ------------------------------------------------------------

    def carry_out(self, actions: Iterable[Action]) -> defer.Deferred[None]:
        """Save what the core changed, then carry out its actions in order (submits one after
        another); fires once they are under way.

        Every path out of the core comes through here, an empty list included, so nothing the
        merchant answers, acknowledges or sends can be lost by a crash right after. The save
        does not hold up the reactor; saves land, and their actions go, in the order made.

        Fails with :class:`NotSaved` when the save failed: nothing was carried out.
        """
        actions = list(actions)
        if self.timeline is not None:
            self.timeline.changed()
        if self.save is None:
            self._act(actions)
            return defer.succeed(None)

        def failed(failure: Failure) -> None:
            log.failure("the merchant's changes were not saved; nothing is sent for them", failure)
            raise NotSaved(failure.getErrorMessage())

        return defer.maybeDeferred(self.save, actions).addCallbacks(lambda _: self._act(actions), failed)

    def _act(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Webhook):
                self._post(action)
            elif isinstance(action, SendSms):
                self._tail.addBoth(lambda _, action=action: self._send_sms(action))
            else:
                # Addressed now, in the core's order: see the module's notes on sessions.
                pdu = self._address(action)
                self._tail.addBoth(lambda _, action=action, pdu=pdu: self._send_ussd(action, pdu))

    def _carry_out_later(self, actions: Iterable[Action]) -> None:
        """:meth:`carry_out` where nobody waits for it (a failed save is logged there)."""
        self.carry_out(actions).addErrback(_not_saved)

    def _post(self, webhook: Webhook) -> None:
        if self.poster is None:
            log.info("webhook to {url} dropped (no poster): {p}", url=webhook.url, p=webhook.payload)
            return
        timeline = self.timeline
        if timeline is not None:
            timeline.webhook_posted(webhook.url, webhook.payload)
        posted = self.poster(webhook.url, dict(webhook.payload))
        if timeline is not None:
            posted.addCallback(timeline.webhook_done, webhook.url, webhook.payload)

    def _address(self, action: PushUssd | ShowUssd | EndUssd) -> SubmitSm:
        """The submit_sm for a USSD action, with the session it belongs to."""
        if isinstance(action, PushUssd):
            return self._ussd(action.msisdn, self._choose(action.msisdn), action.text, USSR_REQUEST)
        msisdn, session = self._where(action.session_key)
        if isinstance(action, ShowUssd) and not action.end:
            return self._ussd(msisdn, session, action.text, USSR_REQUEST)
        # The merchant ends this dialogue: nothing of it is remembered past this screen.
        self._menus.pop(action.session_key, None)
        self._forget_push(msisdn, session)
        if isinstance(action, ShowUssd):
            return self._ussd(msisdn, session, action.text, PSSR_RESPONSE)
        end = None if session is None else session | EOS
        return self._ussd(msisdn, end, action.text, USSN_REQUEST)

    def _where(self, key: str) -> tuple[str, int | None]:
        msisdn, session = parse_key(key)
        if session is None and key not in self._menus:
            # A push the buyer has not answered yet: the core keys it by the MSISDN.
            session = self._pushed.get(msisdn)
        return msisdn, session

    def _send_ussd(self, action: PushUssd | ShowUssd | EndUssd, pdu: SubmitSm) -> defer.Deferred[Any]:
        if isinstance(action, PushUssd):
            return self.client.submit(pdu).addErrback(self._push_refused, action, pdu)
        return self.client.submit(pdu).addErrback(self._screen_refused, action, pdu)

    def _send_sms(self, action: SendSms) -> defer.Deferred[Any]:
        self._ref = (self._ref + 1) % 256
        sent: defer.Deferred[Any] = defer.succeed(None)
        if self.cmpp_client is not None:
            submits = self._cmpp_submits(action)
            for number, pdu in enumerate(submits, 1):
                sent.addCallback(lambda _, pdu=pdu, n=number: self._submit(pdu, action, n, len(submits)))
            return sent
        parts = split_text(action.text, ref=self._ref)
        for number, part in enumerate(parts, 1):
            pdu = SubmitSm(
                source_addr_ton=3 if len(self.short_code) < 8 else 1,
                source_addr_npi=0 if len(self.short_code) < 8 else 1,
                source_addr=self.short_code,
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr=action.msisdn,
                esm_class=UDHI if part.esm_class_udhi else 0,
                data_coding=part.data_coding,
                short_message=part.short_message,
            )
            sent.addCallback(lambda _, pdu=pdu, n=number: self._submit(pdu, action, n, len(parts)))
        return sent

    def _cmpp_submits(self, action: SendSms) -> list[cmpp_pdu.Submit]:
        """The CMPP_SUBMITs of a text: ASCII when it is (Msg_Fmt 0), else UCS2 (8), long ones in
        UDH parts numbered by Pk_total and Pk_number."""
        sp_id = self.sms_client.config.system_id
        parts = split_text(action.text, ref=self._ref, alphabet="ascii")
        return [
            cmpp_pdu.Submit(
                0,
                pk_total=len(parts),
                pk_number=number,
                msg_src=sp_id,
                src_id=self.short_code,
                dest_terminal_ids=(action.msisdn,),
                tp_udhi=1 if part.esm_class_udhi else 0,
                msg_fmt=0 if part.data_coding == DATA_CODING_IA5 else 8,
                msg_content=part.short_message,
            )
            for number, part in enumerate(parts, 1)
        ]

    def _ussd(self, msisdn: str, info: int | None, text: str, op: int) -> SubmitSm:
        data_coding, encoded = encode_text(text)
        return SubmitSm(
            service_type="USSD",
            source_addr=self.short_code,
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr=msisdn,
            data_coding=data_coding,
            short_message=encoded,
            registered_delivery=0,
            ussd_service_op=op,
            its_session_info=info,
        )

    def _submit(self, pdu: Any, action: SendSms, part: int, parts: int) -> defer.Deferred[Any]:
        client = self.sms_client
        timeline = self.timeline

        def sent(response: Any) -> None:
            if timeline is not None:
                # SMPP's submit_sm_resp names it message_id; CMPP's SUBMIT_RESP, Msg_Id.
                message_id = getattr(response, "message_id", None) or str(getattr(response, "msg_id", ""))
                timeline.sms(action, part, parts, client.config.system_id, message_id, None)

        def failed(failure: Failure) -> None:
            # Best effort: the bind may be down. Never the text: an SMS may carry a one-time code.
            log.warn(
                "SMS to {msisdn} ({length} characters) not sent: {why}",
                msisdn=action.msisdn,
                length=len(action.text),
                why=failure.getErrorMessage(),
            )
            if timeline is not None:
                timeline.sms(action, part, parts, client.config.system_id, "", failure.getErrorMessage())

        return client.submit(pdu).addCallbacks(sent, failed)

    def _push_refused(self, failure: Failure, action: PushUssd, pdu: SubmitSm) -> None:
        error = failure.value
        session = pdu.its_session_info
        self._forget_push(action.msisdn, session)
        if not isinstance(error, EsmeError):
            log.failure("USSD push to {msisdn} failed", failure, msisdn=action.msisdn)
        if isinstance(error, EsmeError) and error.command_status == ESME_RSUBMITFAIL:
            reason = self._refusal(action.msisdn, str(error))
        elif isinstance(error, EsmeError) and error.command_status == ESME_RDELIVERYFAILURE:
            reason = HANDSET_UNREACHABLE  # smsgw: the phone is off
        else:
            # Not bound, or no answer: for the buyer the push never arrived.
            reason = HANDSET_UNREACHABLE
        log.info(
            "USSD push to {msisdn} for order {order} (its_session_info {session}) refused: {reason}",
            msisdn=action.msisdn,
            order=action.order_id,
            session=_hex(session),
            reason=reason,
        )
        outcome = self.merchant.ussd_push_failed(
            action.msisdn, reason, self.now_for(action.msisdn), order_id=action.order_id
        )
        self._carry_out_later(outcome.actions)

    def _screen_refused(self, failure: Failure, action: ShowUssd | EndUssd, pdu: SubmitSm) -> None:
        """A screen the network did not show: logged; a push's prompt that can never be
        answered fails its order now rather than at ``push_timeout``."""
        error = failure.value
        msisdn, info = pdu.destination_addr, pdu.its_session_info
        session = None if info is None else info & SESSION_MASK
        log.warn(
            "USSD screen for {msisdn} (order {order}, its_session_info {session}) not shown: {why}",
            msisdn=msisdn,
            order=action.order_id,
            session=_hex(session),
            why=failure.getErrorMessage(),
        )
        late = isinstance(error, EsmeError) and error.command_status == ESME_RSUBMITFAIL
        if not late or action.order_id is None or not isinstance(action, ShowUssd) or action.end:
            # A last screen: its order has already ended, as it says; the bind being down
            # leaves the prompt to the carrier's timeout and then push_timeout.
            return
        # 0x45: the network ended the dialogue (its abort usually came first and settled the
        # order; then this changes nothing).
        self._forget_push(msisdn, session)
        outcome = self.merchant.ussd_push_failed(
            msisdn, NO_ANSWER, self.now_for(msisdn), order_id=action.order_id
        )
        self._carry_out_later(outcome.actions)

    def _refusal(self, msisdn: str, message: str) -> str:
        """``handset_busy`` or ``handset_unreachable`` for an ESME_RSUBMITFAIL to a push.

        submit_sm_resp carries no text; the words are used when an SMSC adds them, otherwise
        a handset in one of this merchant's own dialogues is busy, and any other refusal is
        taken as off or absent.
        """
        if re.search(r"\bbusy\b|dialogue", message):
            return HANDSET_BUSY
        if re.search(r"\boff\b|absent", message):
            return HANDSET_UNREACHABLE
        # smsgw answers ESME_RSUBMITFAIL only for a busy handset (an off one gets
        # ESME_RDELIVERYFAILURE); other SMSCs may use it for both.
        return HANDSET_BUSY


@attrs.frozen
class _CmppMo:
    """A CMPP MO seen as a deliver_sm, so one path takes both: its text as stored by the
    data_coding CMPP's Msg_Fmt means (GBK, which has none, as UCS2)."""

    source_addr: str
    esm_class: int
    data_coding: int
    short_message: bytes
    message_payload: bytes | None = None

    @classmethod
    def of(cls, deliver: Any) -> _CmppMo:
        content, fmt = deliver.msg_content, deliver.msg_fmt
        esm_class = UDHI if deliver.tp_udhi else 0
        if fmt == 15:
            text_at = 1 + content[0] if esm_class and content else 0
            text = content[text_at:].decode("gbk", "replace")
            content, fmt = content[:text_at] + text.encode("utf-16-be", "surrogatepass"), 8
        coding = {0: DATA_CODING_IA5, 8: 8}.get(fmt, 4)
        return cls(deliver.src_terminal_id, esm_class, coding, content)


# -- webhooks ----------------------------------------------------------------------------


class WebhookPoster:
    """POSTs webhook payloads as JSON with retries; best effort, every outcome logged.

    :param agent: a :class:`twisted.web.client.Agent` (or anything with its ``request``).
    :param delays: seconds to wait before each retry; a 2xx answer stops.
    """

    def __init__(self, reactor: Any, agent: Any, delays: tuple[float, ...] = (1.0, 2.0, 4.0)) -> None:
        self.reactor = reactor
        self.agent = agent
        self.delays = delays

    def __call__(self, url: str, payload: Mapping[str, Any]) -> defer.Deferred[Posted]:
        """Post ``payload``, retrying; fires with how it ended (it never fails)."""
        posted = dict(payload)
        # The core (and the store) keep epoch seconds; the shop reads ISO 8601, as the API shows.
        if isinstance(posted.get("at"), (int, float)):
            posted["at"] = iso(posted["at"])
        return defer.ensureDeferred(self._post(url, posted))

    async def _post(self, url: str, payload: dict[str, Any]) -> Posted:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = Headers({b"content-type": [b"application/json; charset=utf-8"]})
        code: int | None = None
        attempts = 0
        for attempt, delay in enumerate((0.0, *self.delays)):
            attempts = attempt + 1
            if delay:
                await _sleep(self.reactor, delay)
            try:
                response = await self.agent.request(
                    b"POST", url.encode("utf-8"), headers, FileBodyProducer(BytesIO(body))
                )
                # Only the status counts; a shop that answers without end costs 64 KiB at most.
                with contextlib.suppress(BodyTooLarge):
                    await read_body(response, 64 * 1024)
            except Exception as error:
                log.warn("webhook {url} attempt {n} failed: {error}", url=url, n=attempt + 1, error=error)
                continue
            code = response.code
            if 200 <= response.code < 300:
                log.info(
                    "webhook {url} for {order} answered {code}",
                    url=url,
                    order=payload.get("order_id"),
                    code=response.code,
                )
                return Posted(code, attempts, True)
            log.warn("webhook {url} attempt {n} answered {code}", url=url, n=attempt + 1, code=response.code)
        log.error("webhook {url} for {order} given up", url=url, order=payload.get("order_id"))
        return Posted(code, attempts, False)


def _sleep(reactor: Any, seconds: float) -> defer.Deferred[None]:
    return deferLater(reactor, seconds, lambda: None)
