"""CMPP's front end: one SP session joined to the carrier, without I/O.

The session (:class:`~smsgw.cmpp.session.IsmgSession`) turns bytes into PDUs and events; this
module turns those into the carrier's calls (a connect, a submit, the answer to a DELIVER) and
the carrier's answers into CMPP responses. The Twisted adapter (:mod:`smsgw.server.cmpp`)
only moves bytes and time. A CMPP connection is a transceiver: it submits and takes reports
and MO on the same connection.
"""

from __future__ import annotations

import calendar
import functools
import time
from collections.abc import Callable

from smsgw.carrier.answers import Accepted, AcceptedSome, Answer, Dropped, Later, TrafficAnswer
from smsgw.carrier.binding import Binding
from smsgw.carrier.carrier import Carrier
from smsgw.carrier.errors import BindRefused, Rejected
from smsgw.carrier.requests import Cancel, Traffic
from smsgw.carrier.timeline import Recorded
from smsgw.cmpp import auth, codec
from smsgw.cmpp import pdu as p
from smsgw.cmpp.constants import Version
from smsgw.cmpp.session import ConnectRequested, IsmgSession, ResponseReceived, ResponseTimedOut
from smsgw.frontend.cmpp.deliveries import relaid_for
from smsgw.frontend.cmpp.requests import decode_submit
from smsgw.frontend.cmpp.results import connect_status, result_name, status_name, submit_result
from smsgw.frontend.later import ReadLater, read_now
from smsgw.frontend.sessionlink import SessionLink
from smsgw.frontend.steps import Step, record_answer, record_exchange
from smsgw.smpp.constants import BindType
from smsgw.store.records import DeliveryRecord

#: A CMPP_CANCEL's answer: 0 cancelled, 1 not.
_CANCELLED, _NOT_CANCELLED = 0, 1
#: A CMPP_QUERY's answer for a day that is no date, or a count that could not be read.
_NOTHING_COUNTED = TrafficAnswer(0, 0, 0, 0, 0, 0, 0, 0)


class CmppLink(SessionLink):
    """One SP connection as the carrier's :class:`~smsgw.carrier.binding.AppLink`.

    :param output_ready: asks the edge to write the session's output at the end of the turn.
    :param read_later: runs the store reads of :class:`~smsgw.carrier.answers.Later` answers.
    """

    def __init__(
        self,
        carrier: Carrier,
        session: IsmgSession[object],
        session_id: int,
        peer: str,
        output_ready: Callable[[], None],
        read_later: ReadLater = read_now,
    ) -> None:
        super().__init__(carrier, session, session_id, peer, output_ready, read_later)
        self.session: IsmgSession[object] = session  # a 2.0 session relays 3.0's layout (connect)

    # -- connect -------------------------------------------------------------------------

    def connect(self, event: ConnectRequested) -> bool:
        """Authenticate a CMPP_CONNECT and answer it; return whether it was accepted."""
        pdu = event.pdu
        credential = functools.partial(
            auth.is_authentic, pdu.authenticator_source, pdu.source_addr, stamp=pdu.timestamp
        )
        try:
            binding = self.carrier.binds.bind(
                self,
                self.session_id,
                self.peer,
                pdu.source_addr,
                credential,
                BindType.TRANSCEIVER,
                "",
                protocol="cmpp",
            )
        except BindRefused as refused:
            status = connect_status(refused)
            self.session.refuse(pdu, status)
            self.carrier.binds.refused(
                self.session_id, pdu.source_addr, "CMPP_CONNECT", refused, status_name(status)
            )
            return False
        self.binding = binding
        self._admit = functools.partial(self.carrier.smsc.admit, binding)
        if event.version is not Version.V30:
            self.deliver = self._deliver_relaid
        self.session.accept(pdu, binding.account.password)
        return True

    def refuse_connect(self, event: ConnectRequested, refused: Rejected) -> None:
        """Refuse a connect, the carrier's refusal or the edge's (a connection over a limit),
        and announce it with its reason; the connection then ends."""
        status = connect_status(refused)
        self.carrier.binds.refused(
            self.session_id, event.pdu.source_addr, "CMPP_CONNECT", refused, status_name(status)
        )
        self.session.refuse(event.pdu, status)

    def _deliver_relaid(self, raw: bytes, now: float, context: object) -> object:
        return self.session.send_encoded(relaid_for(raw, self.session.version), now, context)

    def lost(self, contexts: tuple[object, ...], reason: str) -> None:
        """The connection is gone: what it had in flight goes back to the carrier."""
        self.gone = True
        if self.binding is not None:
            self.carrier.unbound(self.binding, contexts, reason)

    # -- requests --------------------------------------------------------------------------

    def submit(self, pdu: p.Submit) -> None:
        """Answer a CMPP_SUBMIT: SUBMIT_RESP with the Msg_Id, or the Result that says why not."""
        session = self.session
        if session.dropped:
            return
        binding = self.binding
        assert binding is not None  # the session lets requests through only once connected
        carrier = self.carrier
        try:
            now = carrier.clock.now()
            request = decode_submit(pdu, binding.account, now, carrier.limits, self._admit)
            answer = carrier.smsc.request(binding, request, "CMPP_SUBMIT", pdu.sequence_id, now)
        except Rejected as rejected:
            self._refuse(binding, pdu, rejected)
            return
        self._answer(binding, pdu, answer)

    def _answer(self, binding: Binding, pdu: p.Submit, answer: Answer) -> None:
        if type(answer) is Accepted:
            self.session.answer_submit(pdu, int(answer.message_id))
            if answer.recorded is not None:
                self._record(binding, pdu, answer.recorded, answer.message_id, 0)
        elif isinstance(answer, AcceptedSome):
            if answer.message_id:
                self.session.answer_submit(pdu, int(answer.message_id))
                if answer.recorded is not None:
                    self._record(binding, pdu, answer.recorded, answer.message_id, 0)
            else:  # every number refused: the first one's reason answers
                refusal = answer.failed[0].rejected
                refusal.recorded = answer.recorded  # the handsets it concerned, for the timeline
                self._refuse(binding, pdu, refusal)
        elif isinstance(answer, Dropped):
            if answer.recorded is not None:
                self._record(binding, pdu, answer.recorded, "", None)
            self.drop(answer.reason)
        elif isinstance(answer, Later):
            self.answer_later(
                answer,
                functools.partial(self._answer, binding, pdu),
                functools.partial(self._refuse, binding, pdu),
            )
        else:
            raise AssertionError(f"a CMPP_SUBMIT cannot be answered with {answer!r}")

    def _refuse(self, binding: Binding, pdu: p.Submit, rejected: Rejected) -> None:
        result = submit_result(rejected)
        self.session.answer_submit(pdu, 0, result)
        if rejected.recorded is not None:
            self._record(binding, pdu, rejected.recorded, "", result)
        self.carrier.smsc.refused(binding, "CMPP_SUBMIT", rejected, result_name(result))

    def _record(
        self, binding: Binding, pdu: p.Submit, recorded: Recorded, message_id: str, result: int | None
    ) -> None:
        """Put a SUBMIT of a handset the timeline records on it, with the SUBMIT_RESP just
        queued (``result``; None: none, a fault dropped the connection), then what the
        carrier did meanwhile. The SUBMIT is encoded again, in the session's version, from
        what it decoded to."""
        version = self.session.version
        where: dict[str, object] = {
            "sequence": pdu.sequence_id,
            "connection": self.session_id,
            "version": int(version),
        }
        request: Step = ("cmpp.submit", codec.encode(pdu, version), where)
        response: Step | None = None
        if result is not None:
            response = ("cmpp.submit_resp", self.session.last_queued, {**where, "result": result})
        record_exchange(self.timeline, binding, recorded, request, response, message_id)

    def as_sent(self, pdu: bytes, sequence: object) -> tuple[str, bytes, dict[str, object]]:
        """A DELIVER as it went out: laid out in the session's version, under the Sequence_Id
        the session gave."""
        assert isinstance(sequence, int)
        version = self.session.version
        raw = relaid_for(pdu, version)
        raw = raw[:8] + sequence.to_bytes(4, "big") + raw[12:]
        where: dict[str, object] = {"sequence": sequence, "connection": self.session_id}
        return "cmpp.deliver", raw, {**where, "version": int(version)}

    def cancel(self, pdu: p.Cancel) -> None:
        """CMPP_CANCEL: every number of the Msg_Id's message that still waits ends DELETED
        (with its report, when one was asked for); Success_Id 0, or 1 when nothing waited."""
        binding = self.binding
        assert binding is not None
        carrier = self.carrier
        request = Cancel(str(pdu.msg_id), "", None, "")
        try:
            answer = carrier.smsc.request(
                binding, request, "CMPP_CANCEL", pdu.sequence_id, carrier.clock.now()
            )
        except Rejected as rejected:
            self._cancel_refused(binding, pdu, rejected)
            return
        self._cancel_answer(binding, pdu, answer)

    def _cancel_answer(self, binding: Binding, pdu: p.Cancel, answer: Answer) -> None:
        if isinstance(answer, Later):
            self.answer_later(
                answer,
                functools.partial(self._cancel_answer, binding, pdu),
                functools.partial(self._cancel_refused, binding, pdu),
            )
        else:
            self.session.respond(pdu, success_id=_CANCELLED)

    def _cancel_refused(self, binding: Binding, pdu: p.Cancel, rejected: Rejected) -> None:
        self.session.respond(pdu, success_id=_NOT_CANCELLED)
        self.carrier.smsc.refused(binding, "CMPP_CANCEL", rejected, f"Success_Id {_NOT_CANCELLED}")

    def query(self, pdu: p.Query) -> None:
        """CMPP_QUERY: the SP's traffic of a day (Time, YYYYMMDD in UTC), in all (Query_Type 0)
        or of one service (1, Query_Code its Service_Id). A day that is no date counts nothing."""
        binding = self.binding
        assert binding is not None
        carrier = self.carrier
        try:
            start = calendar.timegm(time.strptime(pdu.time, "%Y%m%d"))
        except ValueError:
            self._query_answer(pdu, _NOTHING_COUNTED)
            return
        service = pdu.query_code if pdu.query_type == 1 else None
        request = Traffic(start, start + 86400.0, service)
        answer = carrier.smsc.request(binding, request, "CMPP_QUERY", pdu.sequence_id, carrier.clock.now())
        if isinstance(answer, Later):
            # A read that failed counted nothing it can tell, and CMPP has no error to say so.
            self.answer_later(
                answer,
                functools.partial(self._query_answer, pdu),
                lambda rejected: self._query_answer(pdu, _NOTHING_COUNTED),
            )
        else:
            self._query_answer(pdu, answer)

    def _query_answer(self, pdu: p.Query, answer: Answer) -> None:
        assert isinstance(answer, TrafficAnswer)
        self.session.respond(
            pdu,
            time=pdu.time,
            query_type=pdu.query_type,
            query_code=pdu.query_code,
            mt_tl_msg=answer.mt_messages,
            mt_tl_usr=answer.mt_users,
            mt_scs=answer.mt_delivered,
            mt_wt=answer.mt_waiting,
            mt_fl=answer.mt_failed,
            mo_scs=answer.mo_delivered,
            mo_wt=answer.mo_waiting,
            mo_fl=answer.mo_failed,
        )

    # -- the answers to our DELIVERs -------------------------------------------------------

    def answered(self, event: ResponseReceived[object]) -> None:
        """The SP answered a DELIVER: Result 0 takes it; any other is retried, since CMPP has
        no code that refuses a delivery for good."""
        response = event.pdu
        assert isinstance(response, p.DeliverResp)
        context = event.context
        timeline = self.timeline
        if type(context) is DeliveryRecord and (context.namespace or timeline.everyone) and timeline.on:
            version = self.session.version
            said: dict[str, object] = {
                "sequence": response.sequence_id,
                "connection": self.session_id,
                "version": int(version),
                "result": response.result,
            }
            answer: Step = ("cmpp.deliver_resp", codec.encode(response, version), said)
            namespace, msisdn = context.namespace, context.msisdn
            record_answer(timeline, self.binding, namespace, msisdn, answer, message_id=context.message_id)
        if not response.result:
            self.carrier.delivery_accepted(event.context)
        else:
            detail = f"answered the CMPP_DELIVER with Result {response.result}"
            self.carrier.delivery_refused(event.context, permanent=False, detail=detail)

    def timed_out(self, event: ResponseTimedOut[object]) -> None:
        """A DELIVER got no answer within T: the carrier retries it."""
        self.carrier.delivery_timed_out(event.context)
