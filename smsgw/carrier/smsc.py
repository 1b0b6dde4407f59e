"""The SMSC's requests: messages submitted to one or many handsets, queried, cancelled,
replaced, and USSD screens.

:meth:`Smsc.request` takes the bind a request came on and the request, in no protocol's
encoding, and returns an :class:`~smsgw.carrier.answers.Answer` or raises
:class:`~smsgw.carrier.errors.Rejected`; the front end encodes the answer, and answers a
refusal with its own protocol's status. A refusal is announced here, with its reason.
"""

from __future__ import annotations

from collections.abc import Callable

from smsgw.carrier.accounts import AccountRegistry
from smsgw.carrier.answers import Accepted, AcceptedSome, Answer, Dropped, FailedDestination
from smsgw.carrier.binding import Binding
from smsgw.carrier.binds import BindDesk
from smsgw.carrier.center import MessageCenter
from smsgw.carrier.errors import Rejected
from smsgw.carrier.faults import FaultBook
from smsgw.carrier.requests import Cancel, Query, Replace, Request, Submit, SubmitMany, Traffic, UssdScreenIn
from smsgw.carrier.submitted import SubmittedMessages
from smsgw.carrier.subscribers import Subscriber, SubscriberRegistry
from smsgw.carrier.timeline import Recorded, Timeline


class Smsc:
    """Answers an application's requests about short messages and USSD screens.

    :param timeline: where submits to handsets it records are recorded: their answer carries
        :class:`~smsgw.carrier.timeline.Recorded` (a refusal too), so the front end records
        the request and its response, then what the carrier did meanwhile.
    """

    def __init__(
        self,
        accounts: AccountRegistry,
        subscribers: SubscriberRegistry,
        center: MessageCenter,
        submitted: SubmittedMessages,
        binds: BindDesk,
        faults: FaultBook,
        ussd_screen: Callable[[Binding, UssdScreenIn, float], Answer],
        timeline: Timeline | None = None,
    ) -> None:
        self.accounts = accounts
        self.subscribers = subscribers
        self.center = center
        self.submitted = submitted
        self.binds = binds
        self.faults = faults
        self._ussd_screen = ussd_screen
        self.timeline = timeline or Timeline()

    def request(self, binding: Binding, request: Request, command: str, sequence: int, now: float) -> Answer:
        """Answer one request of a bound session.

        A submit is admitted (:meth:`admit`) by the front end while it decodes it, before
        its fields are checked, as an SMSC throttles before it reads a message.

        :param command: the request's name in its protocol (``submit_sm``), for reports.
        :param sequence: its sequence number, for reports.
        :param now: the carrier's time when the request arrived.
        :raises Rejected: saying why; the front end answers it and reports it with
            :meth:`refused`.
        """
        if type(request) is Submit:  # the common case first
            return self._submit(binding, request, command, sequence, now)
        if isinstance(request, UssdScreenIn):
            return self._ussd_screen(binding, request, now)
        if isinstance(request, SubmitMany):
            return self._submit_many(binding, request, now)
        if isinstance(request, Query):
            return self.submitted.query(binding.account, request)
        if isinstance(request, Cancel):
            return self.submitted.cancel(binding.account, request, now)
        if isinstance(request, Replace):
            return self.submitted.replace(binding.account, request, now)
        if isinstance(request, Traffic):
            return self.submitted.traffic(binding.account, request, now)
        raise AssertionError(f"not a request: {request!r}")

    def refused(self, binding: Binding, command: str, rejected: Rejected, status: str) -> None:
        """Announce a request refused, in decoding it or in answering it, with its reason.

        :param status: the status it was answered with, as the front end's protocol names it.
        """
        self.binds.refused(binding.session_id, binding.account.system_id, command, rejected, status)

    def admit(self, binding: Binding, now: float) -> None:
        """The account may submit now: under its throughput, and its queue not full.

        :raises Rejected: THROTTLED or QUEUE_FULL.
        """
        account = binding.account
        self.accounts.check_throughput(account, now)
        self.center.check_queue(account)

    def _submit(
        self,
        binding: Binding,
        request: Submit,
        command: str,
        sequence: int,
        now: float,
        recording: bool = False,
    ) -> Answer:
        """Accept a message to its one destination.

        :param recording: set by :meth:`_recorded_submit`, which holds the timeline's steps
            around this call.
        """
        account = binding.account
        message, destination = request.message, request.destination
        subscriber = self.subscribers.resolve(destination.address)
        timeline = self.timeline
        # Attribute reads only: a handset in no namespace costs no call (the default mode).
        if (subscriber.namespace or timeline.everyone) and timeline.on and not recording:
            return self._recorded_submit(subscriber, binding, request, command, sequence, now)
        may_fault = self.faults.may_strike(subscriber.msisdn)
        if may_fault:
            dropped = self._dropped_by_fault(
                binding, message.source_addr, subscriber.msisdn, command, sequence
            )
            if dropped is not None:
                return dropped
            self.faults.check_submit(account.system_id, subscriber.msisdn, message.source_addr)
        return Accepted(
            self.center.accept_mt(
                account, message, destination, subscriber, now, via=binding.session_id, may_fault=may_fault
            )
        )

    def _recorded_submit(
        self,
        subscriber: Subscriber,
        binding: Binding,
        request: Submit,
        command: str,
        sequence: int,
        now: float,
    ) -> Answer:
        """:meth:`_submit` to a handset the timeline records: what the carrier records while
        it accepts the message (or refuses it) is held, and handed to the front end with
        the answer, to record after the submit and its response."""
        handsets = ((subscriber.namespace, subscriber.msisdn),)
        outer = self.timeline.hold()
        try:
            answer = self._submit(binding, request, command, sequence, now, recording=True)
        except Rejected as refusal:
            refusal.recorded = Recorded(handsets, self.timeline.release(outer))
            raise
        except BaseException:
            self.timeline.add(self.timeline.release(outer))
            raise
        recorded = Recorded(handsets, self.timeline.release(outer))
        if isinstance(answer, Accepted):
            answer.recorded = recorded
            return answer
        if isinstance(answer, Dropped):
            return Dropped(answer.reason, recorded)
        self.timeline.add(recorded.steps)
        return answer

    def _submit_many(self, binding: Binding, request: SubmitMany, now: float) -> Answer:
        """Accept a message to each destination that passes; one message_id names them all,
        or each has its own and the first is answered."""
        account = binding.account
        message = request.message
        message_id: str | None = None
        first: str | None = None
        failed = []
        timeline = self.timeline
        recorded: list[tuple[str, str]] = []
        outer = timeline.hold()
        try:
            for destination, rejected in request.destinations:
                if rejected is None:
                    try:
                        subscriber = self.subscribers.resolve(destination.address)
                        if timeline.wants(subscriber.namespace):
                            recorded.append((subscriber.namespace, subscriber.msisdn))
                        if self.faults.may_strike(subscriber.msisdn):
                            self.faults.check_submit(
                                account.system_id, subscriber.msisdn, message.source_addr
                            )
                    except Rejected as refusal:
                        rejected = refusal
                if rejected is not None:
                    failed.append(
                        FailedDestination(destination.ton, destination.npi, destination.address, rejected)
                    )
                    continue
                accepted = self.center.accept_mt(
                    account, message, destination, subscriber, now,
                    message_id=message_id, via=binding.session_id,
                )  # fmt: skip
                if request.shared_id:
                    message_id = accepted
                first = first or accepted
        except BaseException:
            timeline.add(timeline.release(outer))
            raise
        steps = timeline.release(outer)
        if not recorded:
            timeline.add(steps)  # none were a recorded handset's: nothing was held
            return AcceptedSome(first or "", tuple(failed))
        return AcceptedSome(first or "", tuple(failed), Recorded(tuple(recorded), steps))

    def _dropped_by_fault(
        self, binding: Binding, source_addr: str, msisdn: str, command: str, sequence: int
    ) -> Dropped | None:
        """Close the connection without answering when a ``drop_connection`` rule fires.

        The submit is not accepted, so nothing is lost: the ESME must bind again and resend.
        """
        detail = f"session {binding.session_id} closed at {command} sequence {sequence}"
        rule = self.faults.drops_connection(binding.account.system_id, msisdn, source_addr, detail)
        if rule is None:
            return None
        return Dropped(f"injected fault {rule.name!r}: connection dropped at {command} to {msisdn}")
