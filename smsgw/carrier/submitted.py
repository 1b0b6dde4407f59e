"""query_sm, cancel_sm and replace_sm: what an ESME may do with a message it submitted.

Each names the message by its message_id, and SMPP v3.4 has the source address verify the id
(§4.8.1, §4.9.1, §4.10.1). An id names the messages it was given to: one submit_sm's, or every
destination of a submit_multi (they share it, and take consecutive rows from the first's).
"""

from __future__ import annotations

from smsgw.carrier.accounts import Account
from smsgw.carrier.answers import QueryAnswer
from smsgw.carrier.center import MessageCenter, parse_message_id
from smsgw.carrier.errors import Rejected
from smsgw.carrier.requests import Cancel, Query, Replace
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.constants import MessageState
from smsgw.store.interface import MessageStore
from smsgw.store.records import MessageRecord

#: A submit_multi has at most 254 destinations, so its id names at most 254 rows.
MAX_GROUP = 254


class SubmittedMessages:
    """Finds an account's submitted messages by id and source, and queries, cancels and
    replaces them."""

    def __init__(self, center: MessageCenter, store: MessageStore) -> None:
        self.center = center
        self.store = store

    def named(
        self,
        account: Account,
        message_id: str,
        source_addr: str,
        status: int,
        *,
        source_may_be_empty: bool = False,
    ) -> list[MessageRecord]:
        """The account's MT messages a message_id names, verified by source_addr.

        A message is found only when ``source_addr`` is the one it was submitted with;
        query_sm may leave it empty ("not known"). TON and NPI are not compared: clients
        often send 0/0 here.

        :raises Rejected: with ``status``, saying which check failed.
        """
        row_id = parse_message_id(message_id, account.message_id_format)
        group: list[MessageRecord] = []
        while row_id is not None and len(group) < MAX_GROUP:
            record = self.center.pending(row_id) or self.store.get_message(row_id)
            if (
                record is None
                or record.message_id != message_id
                or record.system_id != account.system_id
                or record.direction != "MT"
            ):
                break
            group.append(record)
            row_id += 1
        if not group:
            raise Rejected(status, f"{account.system_id!r} has no message with message_id {message_id!r}")
        source = group[0].source_addr
        if source_addr != source and not (source_may_be_empty and not source_addr):
            raise Rejected(
                status,
                f"message {message_id} was submitted from source_addr {source!r}, not {source_addr!r}",
            )
        return group

    def _pending(self, group: list[MessageRecord], status: int, message_id: str) -> list[MessageRecord]:
        """The members of a group still waiting for their handset.

        :raises Rejected: when none is.
        """
        pending = [r for r in group if self.center.pending(r.id) is not None]
        if not pending:
            states = sorted({MessageState(r.state).name for r in group})
            raise Rejected(status, f"message {message_id} is already {' and '.join(states)}")
        return pending

    def query(self, account: Account, query: Query) -> QueryAnswer:
        """query_sm: the message's state; for a submit_multi's id, the group's.

        A group is final only when every destination is: until then it answers the state of
        the first one still waiting; then DELIVRD when all were delivered, else the first
        failure's state and error, with the latest final date.
        """
        group = self.named(
            account, query.message_id, query.source_addr, S.ESME_RQUERYFAIL, source_may_be_empty=True
        )
        waiting = [r for r in group if not MessageState(r.state).is_final or r.done_at is None]
        if waiting:
            shown, final_at = waiting[0], None
        else:
            failed = [r for r in group if r.state != MessageState.DELIVRD]
            shown = failed[0] if failed else group[0]
            final_at = max(r.done_at for r in group if r.done_at is not None)
        return QueryAnswer(shown.message_id, final_at, shown.state, shown.error & 0xFF)

    def cancel(self, account: Account, cancel: Cancel, now: float) -> None:
        """cancel_sm: by message_id (every waiting destination of it, or the one
        destination_addr names), or every waiting message from source_addr to
        destination_addr (with service_type, when given). They end DELETED.

        :raises Rejected: ESME_RCANCELFAIL when nothing matches or nothing waits.
        """
        if cancel.message_id:
            group = self.named(account, cancel.message_id, cancel.source_addr, S.ESME_RCANCELFAIL)
            # With an id the destination may be left empty; given, it verifies too (§4.9.1).
            if cancel.destination_addr:
                group = [r for r in group if r.dest_addr == cancel.destination_addr]
                if not group:
                    raise Rejected(
                        S.ESME_RCANCELFAIL,
                        f"message {cancel.message_id} was not submitted to destination_addr "
                        f"{cancel.destination_addr!r}",
                    )
            targets = self._pending(group, S.ESME_RCANCELFAIL, cancel.message_id)
        else:
            source, destination = cancel.source_addr, cancel.destination_addr
            targets = [
                r
                for r in self.center.pending_between(source, destination, account.system_id)
                if not cancel.service_type or r.service_type == cancel.service_type
            ]
            if not targets:
                raise Rejected(S.ESME_RCANCELFAIL, f"no pending message from {source!r} to {destination!r}")
        for record in targets:
            self.center.finish(record.id, MessageState.DELETED, now)

    def replace(self, account: Account, replace: Replace, now: float) -> None:
        """replace_sm: new text, registered_delivery and times for every waiting destination
        of the message; an empty time keeps the original (§4.10.1).

        :raises Rejected: ESME_RREPLACEFAIL when it is not found or nothing waits, or the
            status of a field that fails its check.
        """
        group = self.named(account, replace.message_id, replace.source_addr, S.ESME_RREPLACEFAIL)
        targets = self._pending(group, S.ESME_RREPLACEFAIL, replace.message_id)
        content = replace.content(targets[0].esm_class)
        for record in targets:
            if content.scheduled_at is not None:
                record.scheduled_at = content.scheduled_at
            if content.expires_at is not None:
                record.expires_at = content.expires_at
            record.body = content.body
            record.registered_delivery = content.registered_delivery
            self.store.replace_message(
                record.id, record.body, record.scheduled_at, record.expires_at, record.registered_delivery
            )
            self.center.reschedule(record)
