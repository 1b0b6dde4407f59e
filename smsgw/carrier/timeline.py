"""The timeline: every step of a payment as the carrier saw it, kept for ``GET /api/timeline``.

A step is a PDU in or out, a message's new state, a delivery's end, a USSD screen, an HTTP
call on a handset, an injected fault, the mock merchant's order changing. Steps are recorded
for the handsets the ``[timeline] record`` mode wants: ``namespaces`` (the default: handsets
in a namespace, as tests make them), ``all`` or ``off``. Each step's ``at`` is on the clock of
its handset's namespace, as every other time of that handset's messages is.

Theory of operation. The hot paths (a submit, a receipt, a deliver_sm_resp) test the gate
themselves, as attribute reads, never a call: ``(record.namespace or timeline.everyone) and
timeline.on``. A load test's handsets are in no namespace, so with the default mode they pay
nothing (``tests/test_work_budget.py`` holds them to it). Past the gate, :meth:`Timeline.record`
builds a :class:`~smsgw.store.records.TimelineStep` and queues it lazily in the store: it rides
the next commit, or the periodic one. Retention (:mod:`smsgw.carrier.retention`) walks the
table once a tenth of ``max_steps`` were added (:attr:`Timeline.added`), in small batches, so
it stays bounded, oldest steps first.

Steps the carrier records while it answers a request (the message accepted, delivered, a
fault struck) are *held* (:meth:`Timeline.hold`) and handed to the front end with its answer
(:class:`Recorded`), which records the request and its response first, then them: the
timeline then reads in the order things crossed the wire, a submit_sm and its response before
what the message did.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from smsgw.carrier.clock import Clocks
from smsgw.carrier.events import EventBus, FaultInjected, HandsetChanged
from smsgw.smpp.constants import EsmClass, MessageState
from smsgw.store.interface import MessageStore
from smsgw.store.records import DeliveryRecord, MessageRecord, TimelineStep
from smsgw.text.coding import decode_text
from smsgw.text.errors import InvalidUdh
from smsgw.text.udh import split_udh

#: Whose steps are recorded: handsets in a namespace, everyone's, nobody's.
RECORD_MODES = ("namespaces", "all", "off")


@attrs.frozen
class Recorded:
    """A request that concerned handsets the timeline records, as the carrier answers it: the
    front end records the request and its response for each handset, then :attr:`steps`.

    :ivar handsets: ``(namespace, msisdn)`` of each recorded handset the request concerned.
    :ivar steps: what the carrier recorded while it answered (held, see :meth:`Timeline.hold`).
    :ivar session: the USSD dialogue a screen belonged to, if it was one.
    """

    handsets: tuple[tuple[str, str], ...]
    steps: tuple[TimelineStep, ...]
    session: int | None = None


class Timeline:
    """Where the carrier records the steps of payments (see the module).

    :param record: whose steps: ``namespaces``, ``all`` or ``off``.
    :param max_steps: the steps kept; the oldest beyond them are pruned.
    :raises ValueError: an unknown mode, or ``max_steps`` below 1.

    :ivar on: whether anything is recorded: a gate read as an attribute on hot paths.
    :ivar everyone: whether handsets in no namespace are recorded too (mode ``all``).
    """

    def __init__(self, record: str = "off", max_steps: int = 100_000) -> None:
        if record not in RECORD_MODES:
            raise ValueError(f"record {record!r} is not one of {', '.join(RECORD_MODES)}")
        if max_steps < 1:
            raise ValueError(f"max_steps {max_steps}: keep at least 1 step, or record nothing (off)")
        self.on = record != "off"
        self.everyone = record == "all"
        self.max_steps = max_steps
        #: Prune once this many steps were added since the last prune: the table holds at most
        #: ``max_steps`` plus a tenth between two prunes.
        self.prune_every = max(1, max_steps // 10)
        #: Steps added since the last prune started (retention resets it).
        self.added = 0
        self._held: list[TimelineStep] | None = None
        self._store: MessageStore | None = None
        self._clocks: Clocks | None = None

    def attach(self, store: MessageStore, clocks: Clocks, events: EventBus) -> None:
        """Record into ``store`` on ``clocks`` (each step on its namespace's clock), and
        follow the rare events that are steps (faults struck, handsets changed); the
        carrier calls this once, before anything is recorded."""
        self._store = store
        self._clocks = clocks
        if self.on:
            events.subscribe(self._fault_struck, FaultInjected)
            events.subscribe(self._handset_changed, HandsetChanged)

    # -- who is recorded -------------------------------------------------------------

    def wants(self, namespace: str) -> bool:
        """Whether the steps of a handset of ``namespace`` ("" for none) are recorded."""
        return self.everyone or (self.on and bool(namespace))

    def namespace_for(self, msisdn: str) -> str | None:
        """The namespace of a handset whose steps are recorded ("" for none, in mode ``all``),
        or None when its steps are not."""
        if not self.on:
            return None
        namespace = self.clocks.namespace_of(msisdn)
        return namespace if namespace or self.everyone else None

    @property
    def clocks(self) -> Clocks:
        """The clocks steps are stamped on (set by :meth:`attach`)."""
        if self._clocks is None:
            raise RuntimeError("the timeline records nothing before Timeline.attach")
        return self._clocks

    # -- recording -------------------------------------------------------------------

    def record(
        self,
        kind: str,
        namespace: str,
        msisdn: str,
        *,
        system_id: str = "",
        message_id: str = "",
        session: int | None = None,
        order_id: str = "",
        detail: dict[str, Any] | None = None,
        pdu: bytes | None = None,
        at: float | None = None,
    ) -> None:
        """Record one step of a handset the caller found the timeline wants.

        :param at: when, on the namespace's clock (None: now on it).
        :raises TypeError: ``detail`` is not JSON-serialisable.
        """
        if at is None:
            at = self.clocks.now_in(namespace)
        step = TimelineStep(
            at, namespace, msisdn, kind, system_id, message_id, session, order_id, detail or {}, pdu
        )
        if self._held is not None:
            self._held.append(step)
        else:
            self._add(step)

    def add(self, steps: Iterable[TimelineStep]) -> None:
        """Record steps held earlier (:attr:`Recorded.steps`), after what the caller recorded
        before them."""
        for step in steps:
            if self._held is not None:
                self._held.append(step)
            else:
                self._add(step)

    def _add(self, step: TimelineStep) -> None:
        if self._store is None:
            raise RuntimeError("the timeline records nothing before Timeline.attach")
        self._store.add_step(step)
        self.added += 1

    def hold(self) -> list[TimelineStep] | None:
        """Hold the steps recorded from now on, until :meth:`release`; return what to give
        :meth:`release` (the holding this one is inside, if any)."""
        outer, self._held = self._held, []
        return outer

    def release(self, outer: list[TimelineStep] | None) -> tuple[TimelineStep, ...]:
        """Stop holding; return the steps held since the matching :meth:`hold`, for the
        caller to :meth:`add` once it recorded what goes before them."""
        held = self._held or []
        self._held = outer
        return tuple(held)

    def note(
        self,
        kind: str,
        msisdn: str,
        detail: dict[str, Any],
        *,
        order_id: str = "",
        message_id: str = "",
        system_id: str = "",
    ) -> None:
        """Record a step of a component beside the carrier (the mock merchant), when the
        handset's steps are recorded at all (:class:`smsgw.companion.TimelineSink`)."""
        namespace = self.namespace_for(msisdn)
        if namespace is not None:
            self.record(
                kind,
                namespace,
                msisdn,
                system_id=system_id,
                message_id=message_id,
                order_id=order_id,
                detail=detail,
            )

    # -- the carrier's own steps -----------------------------------------------------

    def message_accepted(self, record: MessageRecord) -> None:
        """A message was accepted (an MT from an application, an MO from a handset)."""
        self.record(
            "message.accepted",
            record.namespace,
            record.msisdn,
            system_id=record.system_id,
            message_id=record.message_id,
            detail={
                "direction": record.direction,
                "from": record.source_addr,
                "to": record.dest_addr,
                "text": text_of(record),
            },
            at=record.submitted_at,
        )

    def message_state(
        self,
        namespace: str,
        msisdn: str,
        system_id: str,
        message_id: str,
        direction: str,
        state: int,
        error: int = 0,
    ) -> None:
        """A message reached a new state."""
        self.record(
            "message.state",
            namespace,
            msisdn,
            system_id=system_id,
            message_id=message_id,
            detail={"state": MessageState(state).name, "error": error, "direction": direction},
        )

    def delivery_done(self, delivery: DeliveryRecord, outcome: str, state: int) -> None:
        """A receipt or an MO owed to an application ended: ``outcome`` accepted, refused,
        expired or dropped; ``state`` the message's (a receipt reports it, an MO reached it)."""
        self.record(
            "delivery.done",
            delivery.namespace,
            delivery.msisdn,
            system_id=delivery.system_id,
            message_id=delivery.message_id,
            detail={"delivery": delivery.kind, "outcome": outcome, "state": MessageState(state).name},
        )

    def delivery_retry(self, delivery: DeliveryRecord, why: str) -> None:
        """A receipt or an MO is sent again later (:attr:`DeliveryRecord.next_attempt_at`)."""
        self.record(
            "delivery.retry",
            delivery.namespace,
            delivery.msisdn,
            system_id=delivery.system_id,
            message_id=delivery.message_id,
            detail={
                "delivery": delivery.kind,
                "why": why,
                "attempts": delivery.attempts,
                "next_attempt_at": delivery.next_attempt_at,
            },
        )

    def clock_advanced(self, namespace: str, seconds: float) -> None:
        """A namespace's clock was moved forward (by a test)."""
        if self.wants(namespace):
            ahead = self.clocks.offset(namespace)
            self.record("clock.advance", namespace, "", detail={"seconds": seconds, "ahead": ahead})

    # -- events that are steps ---------------------------------------------------------

    def _fault_struck(self, event: FaultInjected) -> None:
        namespace = self.namespace_for(event.msisdn) if event.msisdn else None
        if namespace is not None:
            self.record(
                "fault",
                namespace,
                event.msisdn,
                system_id=event.system_id,
                message_id=event.message_id,
                detail={"rule": event.rule, "effect": event.effect, "detail": event.detail},
            )

    def _handset_changed(self, event: HandsetChanged) -> None:
        namespace = self.namespace_for(event.msisdn)
        if namespace is not None:
            detail = {"state": event.state, "name": event.name, "removed": event.removed}
            self.record("handset.state", namespace, event.msisdn, detail=detail)


def text_of(record: MessageRecord) -> str:
    """A message part's text as the handset reads it: its UDH left out, decoded by its
    data_coding (0 as GSM 03.38; binary as hex)."""
    body = record.body
    if record.esm_class & EsmClass.UDHI:
        try:
            body = split_udh(body)[1]
        except InvalidUdh:
            pass  # refused on submit; a stored one shows whole
    return decode_text(body, record.data_coding)
