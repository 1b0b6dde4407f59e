"""The SMSC's requests: submit_sm, data_sm, submit_multi, query_sm, cancel_sm, replace_sm.

Each handler takes the bind it came on and the request, and returns an
:class:`~smsgw.carrier.answers.Answer` or raises :class:`~smsgw.carrier.errors.Rejected`;
the front end encodes the answer. A refusal is announced here, with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smsgw.carrier.accounts import Account, AccountRegistry
from smsgw.carrier.answers import DONE, Accepted, AcceptedSome, Answer, Dropped, FailedDestination
from smsgw.carrier.binding import Binding
from smsgw.carrier.binds import BindDesk
from smsgw.carrier.center import MessageCenter
from smsgw.carrier.clock import Clock
from smsgw.carrier.errors import Rejected
from smsgw.carrier.faults import FaultBook, FaultRule
from smsgw.carrier.submitted import SubmittedMessages
from smsgw.carrier.subscribers import SubscriberRegistry
from smsgw.carrier.validation import Checked, Limits, check_addresses, check_data_sm, check_submit
from smsgw.smpp.constants import CommandId, command_name
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.sm import DistributionList

#: Announces a fault rule that struck, returning it; None when none did.
FaultCheck = Callable[..., "FaultRule | None"]


class Smsc:
    """Answers an application's requests about short messages."""

    def __init__(
        self,
        accounts: AccountRegistry,
        subscribers: SubscriberRegistry,
        center: MessageCenter,
        submitted: SubmittedMessages,
        binds: BindDesk,
        clock: Clock,
        limits: Limits,
        faults: FaultBook,
        fault: FaultCheck,
        ussd_submit: Callable[[Binding, Any, float], Answer],
    ) -> None:
        self.accounts = accounts
        self.subscribers = subscribers
        self.center = center
        self.submitted = submitted
        self.binds = binds
        self.clock = clock
        self.limits = limits
        self.faults = faults
        self._fault = fault
        self._ussd_submit = ussd_submit
        self._handlers: dict[int, Callable[[Binding, Any, float], Answer]] = {
            CommandId.SUBMIT_SM: self._submit_sm,
            CommandId.DATA_SM: self._data_sm,
            CommandId.SUBMIT_MULTI: self._submit_multi,
            CommandId.QUERY_SM: self._query_sm,
            CommandId.CANCEL_SM: self._cancel_sm,
            CommandId.REPLACE_SM: self._replace_sm,
        }

    def request(self, binding: Binding, pdu: Any) -> Answer:
        """Answer one request of a bound session.

        :raises Rejected: with the status to answer; the refusal is announced.
        """
        try:
            return self._handlers[pdu.command_id](binding, pdu, self.clock.now())
        except Rejected as refusal:
            self.binds.refused(
                binding.session_id, binding.account.system_id, command_name(pdu.command_id), refusal
            )
            raise

    # -- submits ---------------------------------------------------------------------

    def _submit_sm(self, binding: Binding, pdu: Any, now: float) -> Answer:
        if pdu.ussd_service_op is not None:
            return self._ussd_submit(binding, pdu, now)
        self._admit(binding.account, now)
        check_addresses(pdu)
        return self._accept(binding, pdu, check_submit(pdu, now, self.limits), now)

    def _data_sm(self, binding: Binding, pdu: Any, now: float) -> Answer:
        self._admit(binding.account, now)
        check_addresses(pdu)
        return self._accept(binding, pdu, check_data_sm(pdu, now, self.limits), now)

    def _refuse_by_fault(self, account: Account, msisdn: str, code: str) -> None:
        """Answer a submit with an injected status when a ``refuse_submit`` rule fires."""
        rule = self._fault("refuse_submit", account.system_id, msisdn, code)
        if rule is not None:
            raise Rejected(rule.status, f"injected fault {rule.name!r}: {rule.detail} for {msisdn}")

    def _dropped_by_fault(self, binding: Binding, pdu: Any, msisdn: str) -> Dropped | None:
        """Close the connection without answering when a ``drop_connection`` rule fires.

        The submit is not accepted, so nothing is lost: the ESME must bind again and resend.
        """
        command = command_name(pdu.command_id)
        detail = f"session {binding.session_id} closed at {command} sequence {pdu.sequence_number}"
        rule = self._fault("drop_connection", binding.account.system_id, msisdn, pdu.source_addr, detail)
        if rule is None:
            return None
        return Dropped(f"injected fault {rule.name!r}: connection dropped at {command} to {msisdn}")

    def _admit(self, account: Account, now: float) -> None:
        """The account may submit now: under its throughput, and its queue not full."""
        self.accounts.check_throughput(account, now)
        self.center.check_queue(account)

    def _accept(self, binding: Binding, pdu: Any, checked: Checked, now: float) -> Answer:
        """Accept a checked submit_sm or data_sm to its one destination."""
        subscriber = self.subscribers.resolve(pdu.destination_addr)
        if self.faults.may_strike(subscriber.msisdn):
            dropped = self._dropped_by_fault(binding, pdu, subscriber.msisdn)
            if dropped is not None:
                return dropped
            self._refuse_by_fault(binding.account, subscriber.msisdn, pdu.source_addr)
        return Accepted(
            self.center.accept_mt(
                binding.account,
                pdu,
                checked,
                subscriber,
                now,
                dest_addr_ton=pdu.dest_addr_ton,
                dest_addr_npi=pdu.dest_addr_npi,
                destination_addr=pdu.destination_addr,
                via=binding.session_id,
            )
        )

    def _submit_multi(self, binding: Binding, pdu: Any, now: float) -> Answer:
        account = binding.account
        if not 1 <= len(pdu.dest_addresses) <= 254:
            raise Rejected(S.ESME_RINVNUMDESTS, f"number_of_dests {len(pdu.dest_addresses)} is not 1-254")
        self._admit(account, now)
        check_addresses(pdu, with_destination=False)
        checked = check_submit(pdu, now, self.limits)
        message_id: str | None = None
        failed = []
        for dest in pdu.dest_addresses:
            if isinstance(dest, DistributionList):
                failed.append(FailedDestination(0, 0, dest.dl_name, S.ESME_RINVDLNAME))
                continue
            try:
                check_addresses(_DestView(pdu, dest))
                subscriber = self.subscribers.resolve(dest.destination_addr)
                if self.faults.may_strike(subscriber.msisdn):
                    self._refuse_by_fault(account, subscriber.msisdn, pdu.source_addr)
            except Rejected as refusal:
                failed.append(
                    FailedDestination(
                        dest.dest_addr_ton, dest.dest_addr_npi, dest.destination_addr, refusal.command_status
                    )
                )
                continue
            message_id = self.center.accept_mt(
                account,
                pdu,
                checked,
                subscriber,
                now,
                dest_addr_ton=dest.dest_addr_ton,
                dest_addr_npi=dest.dest_addr_npi,
                destination_addr=dest.destination_addr,
                message_id=message_id,
                via=binding.session_id,
            )
        return AcceptedSome(message_id or "", tuple(failed))

    # -- query, cancel, replace ------------------------------------------------------

    def _query_sm(self, binding: Binding, pdu: Any, now: float) -> Answer:
        return self.submitted.query(binding.account, pdu)

    def _cancel_sm(self, binding: Binding, pdu: Any, now: float) -> Answer:
        self.submitted.cancel(binding.account, pdu, now)
        return DONE

    def _replace_sm(self, binding: Binding, pdu: Any, now: float) -> Answer:
        self.submitted.replace(binding.account, pdu, now)
        return DONE


class _DestView:
    """A submit_multi destination seen with the submit's source, for the address checks."""

    def __init__(self, pdu: Any, dest: Any) -> None:
        self.source_addr_ton = pdu.source_addr_ton
        self.source_addr_npi = pdu.source_addr_npi
        self.dest_addr_ton = dest.dest_addr_ton
        self.dest_addr_npi = dest.dest_addr_npi
        self.destination_addr = dest.destination_addr
