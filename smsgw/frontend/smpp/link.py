"""SMPP's front end: one ESME session joined to the carrier, without I/O.

The session (:class:`~smsgw.smpp.session.SmscSession`) turns bytes into PDUs and events; this
module turns those into the carrier's calls (a bind, a request, the answer to a delivery) and
the carrier's answers into SMPP responses. The Twisted adapter (:mod:`smsgw.server.smpp`)
only moves bytes and time; the carrier never sees a session.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable

from smsgw.carrier.answers import Accepted, AcceptedSome, Answer, Done, Dropped, Later, QueryAnswer
from smsgw.carrier.binding import Binding
from smsgw.carrier.carrier import Carrier
from smsgw.carrier.errors import BindRefused, Rejected
from smsgw.carrier.requests import Submit
from smsgw.carrier.timeline import Recorded
from smsgw.carrier.ussd_apps import UssdDelivery
from smsgw.frontend.later import ReadLater, read_now
from smsgw.frontend.sessionlink import SessionLink
from smsgw.frontend.smpp.pdulog import PduLog
from smsgw.frontend.smpp.requests import SmRequestPdu, decode_request
from smsgw.frontend.smpp.statuses import smpp_status
from smsgw.frontend.steps import Step, record_answer, record_exchange
from smsgw.smpp import codec
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.constants import command_name, status_name
from smsgw.smpp.pdu import Pdu
from smsgw.smpp.session import ANSWER_BUCKETS, BindRequested, ResponseReceived, ResponseTimedOut, SmscSession
from smsgw.smpp.sm import UnsuccessSme
from smsgw.smpp.smpptime import format_smpp_time
from smsgw.store.records import DeliveryRecord

#: Answers to a deliver_sm that refuse it for good: not retried.
_PERMANENT = frozenset({S.ESME_RX_P_APPN, S.ESME_RX_R_APPN})


class SessionTotals:
    """PDU counts and ESME answer times of bound sessions that have ended (live ones keep
    their own), for /metrics."""

    def __init__(self) -> None:
        self.pdus_in: Counter[int] = Counter()
        self.pdus_out: Counter[int] = Counter()
        self.answer_times = [0] * (len(ANSWER_BUCKETS) + 1)
        self.answer_seconds = 0.0

    def add(self, session: SmscSession[object]) -> None:
        """Count an ended session's PDUs and answer times."""
        self.pdus_in.update(session.pdus_in)
        self.pdus_out.update(session.pdus_out)
        for bucket, count in enumerate(session.answer_times):
            self.answer_times[bucket] += count
        self.answer_seconds += session.answer_seconds


class SmppLink(SessionLink):
    """One ESME connection as the carrier's :class:`~smsgw.carrier.binding.AppLink`.

    :param output_ready: asks the edge to write the session's output at the end of the turn.
    :param pdu_log: where the requests that made messages are logged while someone follows
        the carrier's events (the deliveries' encoder logs what goes out).
    :param read_later: runs the store reads of :class:`~smsgw.carrier.answers.Later` answers.
    """

    def __init__(
        self,
        carrier: Carrier,
        session: SmscSession[object],
        session_id: int,
        peer: str,
        output_ready: Callable[[], None],
        totals: SessionTotals | None = None,
        pdu_log: PduLog | None = None,
        read_later: ReadLater = read_now,
    ) -> None:
        super().__init__(carrier, session, session_id, peer, output_ready, read_later)
        self.session: SmscSession[object] = session
        self.totals = totals
        self.pdu_log = pdu_log

    # -- binds -----------------------------------------------------------------------

    def bind(self, event: BindRequested) -> bool:
        """Authenticate a bind and answer it; return whether it was accepted."""
        pdu = event.pdu
        try:
            binding = self.carrier.binds.bind(
                self,
                self.session_id,
                self.peer,
                pdu.system_id,
                pdu.password,
                event.bind_type,
                pdu.address_range,
            )
        except BindRefused as refusal:
            self.refuse_bind(event, refusal)
            return False
        self.binding = binding
        # Made once per bind, not once per submit: the decoder asks it before reading fields.
        self._admit = functools.partial(self.carrier.smsc.admit, binding)
        self.session.accept_bind(pdu, binding.account.system_id)
        return True

    def refuse_bind(self, event: BindRequested, refusal: Rejected) -> None:
        """Refuse a bind, the carrier's refusal or the edge's (a connection over a limit),
        and announce it with its reason."""
        pdu = event.pdu
        status = smpp_status(refusal, pdu.command_id)
        command = command_name(pdu.command_id)
        self.carrier.binds.refused(self.session_id, pdu.system_id, command, refusal, status_name(status))
        self.session.reject_bind(pdu, status)

    def lost(self, contexts: Iterable[object], reason: str) -> None:
        """The connection is gone: what it had in flight goes back to the carrier."""
        self.gone = True
        if self.binding is None:
            return
        if self.totals is not None:
            self.totals.add(self.session)
        self.carrier.unbound(self.binding, contexts, reason)

    # -- requests and the answers to deliveries ---------------------------------------

    def request(self, pdu: SmRequestPdu) -> None:
        """Answer a submit_sm, data_sm, submit_multi, query_sm, cancel_sm or replace_sm.

        Requests that arrive behind one whose connection a fault dropped are never read, as
        on a real connection that broke: they stay unanswered, and nothing of them is stored.
        """
        session = self.session
        if session.dropped:
            return
        binding = self.binding
        assert binding is not None  # the session lets requests through only once bound
        carrier = self.carrier
        smsc = carrier.smsc
        try:
            now = carrier.clock.now()
            request = decode_request(pdu, binding.account, now, carrier.limits, self._admit)
            answer = smsc.request(binding, request, command_name(pdu.command_id), pdu.sequence_number, now)
        except Rejected as refusal:
            self._refuse(binding, pdu, refusal)
            return
        if type(answer) is Accepted:  # the common case first
            session.accept(pdu, answer.message_id)
            if type(request) is Submit and carrier.events.followed:
                self._log_received(binding, answer.message_id, pdu)
            if answer.recorded is not None:
                self._record(binding, pdu, answer.recorded, answer.message_id, 0)
        else:
            self._respond(binding, pdu, answer)

    def _respond(self, binding: Binding, pdu: SmRequestPdu, answer: Answer) -> None:
        session = self.session
        if isinstance(answer, AcceptedSome):
            unsuccess = tuple(
                UnsuccessSme(f.ton, f.npi, f.address, smpp_status(f.rejected, pdu.command_id))
                for f in answer.failed
            )
            session.respond(pdu, 0, message_id=answer.message_id, unsuccess_smes=unsuccess)
            if answer.message_id and self.carrier.events.followed:
                self._log_received(binding, answer.message_id, pdu)
            if answer.recorded is not None:
                self._record(binding, pdu, answer.recorded, answer.message_id, 0)
        elif isinstance(answer, QueryAnswer):
            session.respond(
                pdu,
                0,
                message_id=answer.message_id,
                final_date=format_smpp_time(answer.final_at) if answer.final_at is not None else "",
                message_state=answer.message_state,
                error_code=answer.error_code & 0xFF,  # one octet in query_sm_resp
            )
        elif isinstance(answer, Accepted):
            session.accept(pdu, answer.message_id)
            if answer.recorded is not None:
                self._record(binding, pdu, answer.recorded, answer.message_id, 0)
        elif isinstance(answer, Done):
            session.respond(pdu, 0)
        elif isinstance(answer, Dropped):
            if answer.recorded is not None:
                self._record(binding, pdu, answer.recorded, "", None)
            self.drop(answer.reason)
        elif isinstance(answer, Later):
            self.answer_later(
                answer,
                functools.partial(self._respond, binding, pdu),
                functools.partial(self._refuse, binding, pdu),
            )

    def _refuse(self, binding: Binding, pdu: SmRequestPdu, refusal: Rejected) -> None:
        """Answer a refused request with its SMPP status, and announce it with its reason."""
        status = smpp_status(refusal, pdu.command_id)
        self.session.respond(pdu, status)
        if refusal.recorded is not None:
            self._record(binding, pdu, refusal.recorded, "", status)
        self.carrier.smsc.refused(binding, command_name(pdu.command_id), refusal, status_name(status))

    def _record(
        self, binding: Binding, pdu: Pdu, recorded: Recorded, message_id: str, status: int | None
    ) -> None:
        """Put a request of a handset the timeline records on it, with the response just
        queued (``status``; None: it gets none, a fault dropped the connection), then what
        the carrier did meanwhile. The request is encoded again from what it decoded to
        (every field and TLV as it came; TLVs in the codec's order)."""
        name = command_name(pdu.command_id)
        where: dict[str, object] = {"sequence": pdu.sequence_number, "connection": self.session_id}
        request: Step = (f"smpp.{name}", codec.encode(pdu), where)
        response: Step | None = None
        if status is not None:
            said = {**where, "status": status_name(status)}
            response = (f"smpp.{name}_resp", self.session.last_queued, said)
        record_exchange(self.timeline, binding, recorded, request, response, message_id)

    def _log_received(self, binding: Binding, message_id: str, pdu: Pdu) -> None:
        """Keep the request that made a message, for the console (only while it looks: the
        log costs ~2 µs a message)."""
        if self.pdu_log is not None:
            self.pdu_log.received(binding.account.system_id, message_id, pdu, self.carrier.clock.now())

    def as_sent(self, pdu: bytes, sequence: object) -> tuple[str, bytes, dict[str, object]]:
        """A deliver_sm as it went out: its octets under the sequence number the session gave."""
        assert isinstance(sequence, int)
        command_id = int.from_bytes(pdu[4:8], "big")
        raw = pdu[:12] + sequence.to_bytes(4, "big") + pdu[16:]
        return f"smpp.{command_name(command_id)}", raw, {"sequence": sequence, "connection": self.session_id}

    def answered(self, event: ResponseReceived[object]) -> None:
        """The ESME answered a deliver_sm: ESME_ROK takes it, ESME_RX_P_APPN and ESME_RX_R_APPN
        refuse it for good (SMPP v3.4 §5.1.3), any other status for now."""
        status = event.response.command_status
        context = event.context
        timeline = self.timeline
        if type(context) is DeliveryRecord:  # attribute reads only, for a handset not recorded
            if (context.namespace or timeline.everyone) and timeline.on:
                namespace, msisdn = context.namespace, context.msisdn
                self._record_answer(event.response, namespace, msisdn, context.message_id, None)
        elif isinstance(context, UssdDelivery) and context.namespace is not None:
            self._record_answer(event.response, context.namespace, context.msisdn, "", context.session)
        if not status:
            self.carrier.delivery_accepted(event.context)
        else:
            detail = f"answered the deliver_sm with {status_name(status)}"
            self.carrier.delivery_refused(event.context, permanent=status in _PERMANENT, detail=detail)

    def _record_answer(
        self, response: Pdu, namespace: str, msisdn: str, message_id: str, session: int | None
    ) -> None:
        """Put the ESME's answer to a delivery of a recorded handset on the timeline."""
        detail: dict[str, object] = {
            "sequence": response.sequence_number,
            "connection": self.session_id,
            "status": status_name(response.command_status),
        }
        answer: Step = (f"smpp.{command_name(response.command_id)}", codec.encode(response), detail)
        record_answer(
            self.timeline, self.binding, namespace, msisdn, answer, message_id=message_id, session=session
        )

    def timed_out(self, event: ResponseTimedOut[object]) -> None:
        """The ESME did not answer a deliver_sm in time."""
        self.carrier.delivery_timed_out(event.context)
