"""query_sm, cancel_sm and replace_sm: what an ESME may do with a message it submitted; and
an account's traffic (CMPP_QUERY).

Each names the message by its message_id, and SMPP v3.4 has the source address verify the id
(§4.8.1, §4.9.1, §4.10.1). An id names the messages it was given to: one submit_sm's, or every
destination of a submit_multi (they share it, and take consecutive rows from the first's).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from smsgw.carrier.accounts import Account
from smsgw.carrier.answers import DONE, Answer, Later, QueryAnswer, TrafficAnswer
from smsgw.carrier.center import MessageCenter, parse_message_id
from smsgw.carrier.errors import Refusal, Rejected
from smsgw.carrier.requests import Cancel, Query, Replace, Traffic
from smsgw.smpp.constants import MessageState
from smsgw.store.interface import MessageStore
from smsgw.store.records import MessageRecord

#: A submit_multi has at most 254 destinations, so its id names at most 254 rows.
MAX_GROUP = 254
#: Seconds a traffic count is answered again before the store is read anew.
TRAFFIC_REREAD = 1.0


class SubmittedMessages:
    """Finds an account's submitted messages by id and source, and queries, cancels and
    replaces them.

    A message no longer waiting is read from the store. A store whose reads wait on a
    database server (:attr:`~smsgw.store.interface.MessageStore.reads_anywhere`) is not read
    here: the answer is :class:`~smsgw.carrier.answers.Later`, and the front end reads where
    waiting holds up no connection.
    """

    def __init__(self, center: MessageCenter, store: MessageStore) -> None:
        self.center = center
        self.store = store
        #: The last traffic count of each (account, span, service type), and when it was made.
        self._traffic_counted: dict[tuple[str, float, float, str | None], tuple[float, TrafficAnswer]] = {}

    def _named(
        self,
        account: Account,
        message_id: str,
        source_addr: str | None,
        then: Callable[[list[MessageRecord]], Answer],
        *,
        source_may_be_empty: bool = False,
    ) -> Answer:
        """``then`` of the account's MT messages a message_id names, verified by source_addr.

        A message is found only when ``source_addr`` is the one it was submitted with;
        query_sm may leave it empty ("not known"), and None checks nothing (CMPP_CANCEL). TON and NPI are not compared: clients
        often send 0/0 here.

        :raises Rejected: NO_SUCH_MESSAGE, saying which check failed (now or, for a
            :class:`Later` answer, when it is given).
        """
        row_id = parse_message_id(message_id, account.message_id_format)
        system_id = account.system_id

        def verified(group: list[MessageRecord]) -> Answer:
            if not group:
                raise Rejected(
                    Refusal.NO_SUCH_MESSAGE, f"{system_id!r} has no message with message_id {message_id!r}"
                )
            source = group[0].source_addr
            if (
                source_addr is not None
                and source_addr != source
                and not (source_may_be_empty and not source_addr)
            ):
                raise Rejected(
                    Refusal.NO_SUCH_MESSAGE,
                    f"message {message_id} was submitted from source_addr {source!r}, not {source_addr!r}",
                )
            return then(group)

        if row_id is None:
            return verified([])
        center, store = self.center, self.store
        if not store.reads_anywhere:
            return verified(
                _group(
                    row_id, message_id, system_id, lambda row: center.pending(row) or store.get_message(row)
                )
            )

        read = partial(_group, row_id, message_id, system_id, store.get_message)

        def fresh(stored: list[MessageRecord], *, again: bool = True) -> Answer:
            # What still waits is as the carrier holds it now, not as the read found it; what
            # stopped waiting during the read is read once more (its end is durable by then).
            if again and any(not _final(r) and center.pending(r.id) is None for r in stored):
                return Later(read, partial(fresh, again=False))
            return verified([center.pending(record.id) or record for record in stored])

        return Later(read, fresh)

    def _pending(self, group: list[MessageRecord], message_id: str) -> list[MessageRecord]:
        """The members of a group still waiting for their handset.

        :raises Rejected: NOT_PENDING when none is.
        """
        pending = [r for r in group if self.center.pending(r.id) is not None]
        if not pending:
            states = sorted({MessageState(r.state).name for r in group})
            raise Rejected(Refusal.NOT_PENDING, f"message {message_id} is already {' and '.join(states)}")
        return pending

    def query(self, account: Account, query: Query) -> Answer:
        """query_sm: the message's state; for a submit_multi's id, the group's.

        A group is final only when every destination is: until then it answers the state of
        the first one still waiting; then DELIVRD when all were delivered, else the first
        failure's state and error, with the latest final date.
        """
        return self._named(
            account,
            query.message_id,
            query.source_addr,
            _query_answer,
            source_may_be_empty=True,
        )

    def cancel(self, account: Account, cancel: Cancel, now: float) -> Answer:
        """cancel_sm: by message_id (every waiting destination of it, or the one
        destination_addr names), or every waiting message from source_addr to
        destination_addr (with service_type, when given). They end DELETED.

        :raises Rejected: NO_SUCH_MESSAGE when nothing matches, NOT_PENDING when nothing waits.
        """
        if not cancel.message_id:
            source, destination = cancel.source_addr or "", cancel.destination_addr
            targets = [
                r
                for r in self.center.pending_between(source, destination, account.system_id)
                if not cancel.service_type or r.service_type == cancel.service_type
            ]
            if not targets:
                raise Rejected(
                    Refusal.NO_SUCH_MESSAGE, f"no pending message from {source!r} to {destination!r}"
                )
            return self._cancelled(targets, now)

        def by_id(group: list[MessageRecord]) -> Answer:
            # With an id the destination may be left empty; given, it verifies too (§4.9.1).
            if cancel.destination_addr:
                group = [r for r in group if r.dest_addr == cancel.destination_addr]
                if not group:
                    raise Rejected(
                        Refusal.NO_SUCH_MESSAGE,
                        f"message {cancel.message_id} was not submitted to destination_addr "
                        f"{cancel.destination_addr!r}",
                    )
            return self._cancelled(self._pending(group, cancel.message_id), now)

        return self._named(account, cancel.message_id, cancel.source_addr, by_id)

    def _cancelled(self, targets: list[MessageRecord], now: float) -> Answer:
        for record in targets:
            self.center.finish(record.id, MessageState.DELETED, now)
        return DONE

    def replace(self, account: Account, replace: Replace, now: float) -> Answer:
        """replace_sm: new text, registered_delivery and times for every waiting destination
        of the message; an empty time keeps the original (§4.10.1).

        :raises Rejected: NO_SUCH_MESSAGE when it is not found, NOT_PENDING when nothing
            waits, or the front end's refusal of a field that fails its check.
        """

        def replaced(group: list[MessageRecord]) -> Answer:
            targets = self._pending(group, replace.message_id)
            content = replace.content(targets[0].esm_class)
            for record in targets:
                # The request's times are the carrier's; the message keeps its handset's clock.
                offset = self.center.clocks.offset(record.namespace)
                if content.scheduled_at is not None:
                    record.scheduled_at = content.scheduled_at + offset
                if content.expires_at is not None:
                    record.expires_at = content.expires_at + offset
                record.body = content.body
                record.registered_delivery = content.registered_delivery
                self.store.replace_message(
                    record.id, record.body, record.scheduled_at, record.expires_at, record.registered_delivery
                )
                self.center.reschedule(record)
            return DONE

        return self._named(account, replace.message_id, replace.source_addr, replaced)

    def traffic(self, account: Account, traffic: Traffic, now: float) -> Answer:
        """CMPP_QUERY: the account's MT and MO of a span, counted by what became of them.

        A read of every message of the span, so off the serving thread where the store
        allows (a database server); SQLite answers it where it is asked. The same question
        within :data:`TRAFFIC_REREAD` seconds gets the last count: a client asking in a loop
        must not make the reads the carrier's main work.
        """
        key = (account.system_id, traffic.start, traffic.end, traffic.service_type)
        counted = self._traffic_counted.get(key)
        if counted is not None and now - counted[0] < TRAFFIC_REREAD:
            return counted[1]

        def answer(counts: tuple[list[tuple[str, int, int]], int]) -> Answer:
            if len(self._traffic_counted) >= 1000:  # bounded, whatever spans are asked
                self._traffic_counted.clear()
            fresh = _traffic_answer(counts)
            self._traffic_counted[key] = (now, fresh)
            return fresh

        store = self.store
        read = partial(store.traffic, *key)
        if not store.reads_anywhere:
            return answer(read())
        return Later(read, answer)


def _group(
    row_id: int, message_id: str, system_id: str, get: Callable[[int], MessageRecord | None]
) -> list[MessageRecord]:
    """The MT messages of ``system_id`` under ``message_id``: consecutive rows from ``row_id``."""
    group: list[MessageRecord] = []
    while len(group) < MAX_GROUP:
        record = get(row_id)
        if (
            record is None
            or record.message_id != message_id
            or record.system_id != system_id
            or record.direction != "MT"
        ):
            break
        group.append(record)
        row_id += 1
    return group


_WAITING = frozenset({MessageState.SCHEDULED, MessageState.ENROUTE, MessageState.ACCEPTD})


def _traffic_answer(counts: tuple[list[tuple[str, int, int]], int]) -> TrafficAnswer:
    by_state, users = counts
    totals = {"MT": [0, 0, 0], "MO": [0, 0, 0]}  # delivered, waiting, failed
    for direction, state, count in by_state:
        column = 0 if state == MessageState.DELIVRD else 1 if state in _WAITING else 2
        totals[direction][column] += count
    mt, mo = totals["MT"], totals["MO"]
    return TrafficAnswer(sum(mt), users, mt[0], mt[1], mt[2], mo[0], mo[1], mo[2])


def _final(record: MessageRecord) -> bool:
    return MessageState(record.state).is_final and record.done_at is not None


def _query_answer(group: list[MessageRecord]) -> QueryAnswer:
    waiting = [r for r in group if not _final(r)]
    if waiting:
        shown, final_at = waiting[0], None
    else:
        failed = [r for r in group if r.state != MessageState.DELIVRD]
        shown = failed[0] if failed else group[0]
        final_at = max(r.done_at for r in group if r.done_at is not None)
    return QueryAnswer(shown.message_id, final_at, shown.state, shown.error)
