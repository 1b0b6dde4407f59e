"""Retention: a carrier that runs for months keeps its final messages for a while, not forever.

Final messages that owe nothing (delivered, expired, undeliverable, deleted, an MO its ESME
took or refused; no receipt or MO still owed to anyone) are removed once there are more than
``keep_messages`` of them, or once they ended more than ``keep_days`` ago. Messages still owed
to someone (held for a phone that is off, scheduled, a receipt or an MO not yet taken) are
never removed, and neither are the newest message and the last one to reach a phone: a
restart numbers on from them, so no message_id is handed out twice.

Theory of operation. The work is done in small batches along the primary key (the next rows
above where the last batch stopped, :class:`~smsgw.store.records.PruneBatch`), one at a time,
from :meth:`Retention.tick` (every carrier tick, four times a second): no index of its own
costs the hot path anything, and a batch is sized to take about :data:`BATCH_SECONDS` of the
database's time, from how long the last one took. The count rule walks up to
``newest - keep_messages``, known in memory, each time that rises (under load, pass after
pass, and every :data:`COUNT_PASS` seconds); the age rule walks every row, every
:data:`AGE_PASS` seconds. Each pass starts from
the lowest row again: what was owed when the last pass went by (a receipt the ESME had not
taken yet) may be final and owe nothing now, and batches count rows, so the rows the last
passes removed cost nothing to walk over.

Which clock: a message's ``done_at`` is on its handset's namespace clock, which tests move
forward; the age rule compares it with the wall clock (``wall``), so no jump of a test's
clock makes messages old: a message is kept at least ``keep_days`` of real time.

The store gives the freed pages back to the disk a few at a time, at each tick after a batch
that removed rows (:meth:`~smsgw.store.interface.MessageStore.compact`), so the file shrinks
while a long pass goes on.

The timeline's steps (:mod:`smsgw.carrier.timeline`) are walked the same way, as rule
``steps``: beyond the newest ``[timeline] max_steps`` (a pass each time a tenth of that was
added), and, with ``keep_days``, those recorded longer ago (every :data:`AGE_PASS`). The
newest step stays, so a poller's ``after`` stays valid.

A pass can also be asked for by hand (:meth:`Retention.prune_before`: ``DELETE
/api/messages``, ``smsgw prune``), retention on or off: rule ``manual``, one at a time, in
the same batches, ahead of the automatic rules' (a person waits for it), over this node's
own ids (from :attr:`Retention.id_range`).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from smsgw.carrier.timeline import Timeline
from smsgw.store.interface import MessageStore, StoreError
from smsgw.store.records import PruneBatch, PruneDone

#: Seconds of the database's time a batch aims at: a few turns of the reactor, four times a second.
BATCH_SECONDS = 0.005
#: Rows a batch looks at: at first, and the bounds it adapts within.
FIRST_BATCH, SMALLEST_BATCH, LARGEST_BATCH = 1000, 100, 20_000
#: Seconds between two passes of the age rule.
AGE_PASS = 60.0
#: Seconds between two passes of the count rule when no new message raised its cut: what
#: was still owed when the last one went by (a receipt an ESME was answering) goes soon after.
COUNT_PASS = 1.0
#: Pages given back to the disk a tick, after a batch that removed messages.
COMPACT_PAGES = 200

_FOREVER = float("inf")
#: The rule of a pass asked for by hand.
MANUAL = "manual"
#: The rule of a pass over the timeline's steps.
STEPS = "steps"


class PruneRunning(Exception):
    """A manual pass is under way already: one runs at a time."""


@attrs.frozen
class Pruned:
    """A manual pass ended: how many messages it removed.

    :ivar error: what failed, when the store did (the pass stopped there).
    """

    deleted: int
    error: BaseException | None = None


@attrs.frozen
class Keep:
    """What the store keeps of final messages: ``days`` after they ended, ``messages`` of the
    newest at most (0: no limit)."""

    days: float = 0.0
    messages: int = 0


@attrs.define
class _Pass:
    """A walk of one rule up the ids: done up to ``after``, going up to ``upto``."""

    after: int
    upto: int
    ended_before: float


class Retention:
    """What the store keeps of final messages, and the batches that remove the rest.

    :param keep_days: days a final message is kept after it ended (0: no age limit).
    :param keep_messages: final messages kept at most, the newest (0: no count limit).
    :param newest: the id of the newest message (the message center's, in memory).
    :param last_arrival: the arrival number of the message that reached a phone last.
    :param wall: the wall clock (epoch seconds), which tests do not move.
    :param timeline: whose steps are kept to its ``max_steps``, and to ``keep_days``.
    :ivar on_error: told when a batch of the automatic rules failed (it is asked again at the
        next tick); the edge logs it, once per kind of failure. A manual pass's failure ends
        it, and is told to its asker instead.
    """

    def __init__(
        self,
        store: MessageStore,
        *,
        keep_days: float,
        keep_messages: int,
        newest: Callable[[], int],
        last_arrival: Callable[[], int],
        wall: Callable[[], float],
        timeline: Timeline | None = None,
    ) -> None:
        self.store = store
        self.keep_days = keep_days
        self.keep_messages = keep_messages
        self.newest = newest
        self.last_arrival = last_arrival
        self.wall = wall
        self.timeline = timeline
        #: Messages removed so far, by rule (``count``, ``age``, ``manual``), for /metrics.
        self.pruned = {"count": 0, "age": 0, MANUAL: 0}
        #: Messages the store held when the carrier started (set by it), for /metrics.
        self.stored_at_start = 0
        #: Steps of the timeline removed so far, for /metrics.
        self.steps_pruned = 0
        #: Rows the next batch looks at, by table: a step costs about twice a message.
        self.rows = {"messages": FIRST_BATCH, "timeline": FIRST_BATCH}
        #: The ids this carrier numbers, first and last (a cluster's node numbers in its own
        #: range; see smsgw.store.nodes): every pass over messages walks them only, so
        #: ``keep_messages`` is per node and no node removes another's.
        self.id_range = (0, 1 << 62)
        # The manual pass first: a person waits for it.
        self._passes: dict[str, _Pass | None] = {MANUAL: None, "count": None, "age": None, STEPS: None}
        self._manual: tuple[Callable[[Pruned], None], int] | None = None  # its then, pruned before
        self._again = {"count": 0.0, "age": 0.0, STEPS: 0.0}  # when a rule's next pass starts anyway
        self._last_cut = 0
        self._asked: tuple[str, PruneBatch] | None = None  # the batch under way, by rule
        self._compacting = False
        self.on_error: Callable[[BaseException], None] = lambda error: None
        self._failing: str | None = None

    @property
    def on(self) -> bool:
        """Whether anything is ever removed."""
        return bool(self.keep_days or self.keep_messages or (self.timeline and self.timeline.on))

    def prune_before(self, ended_before: float, then: Callable[[Pruned], None]) -> None:
        """Remove the final messages that owe nothing and ended before ``ended_before`` (as
        their ``done_at``), retention on or off: a batch a tick from the next one, then tell
        ``then`` how many went. The guards are retention's: the newest message and the last
        arrival stay. Freed pages go back to the disk afterwards, as after any pass.

        :raises PruneRunning: a manual pass is under way already.
        """
        if self._manual is not None:
            raise PruneRunning("a prune asked for by hand is under way; ask again once it has finished")
        walk = _Pass(self.id_range[0], self.newest() - 1, ended_before)
        if walk.after >= walk.upto:
            then(Pruned(0))
            return
        self._passes[MANUAL] = walk
        self._manual = (then, self.pruned[MANUAL])

    def _end_manual(self, error: BaseException | None = None) -> None:
        assert self._manual is not None
        then, before = self._manual
        self._manual = None
        self._passes[MANUAL] = None
        then(Pruned(self.pruned[MANUAL] - before, error))

    def tick(self) -> None:
        """Start the next batch, unless one is under way; then give freed pages back."""
        # A batch, and compaction, commit what is queued before them: never a write that gates
        # an answer. Had that commit failed, the answer would go with the next commit, of
        # nothing, as if its write were durable.
        if self.store.urgent:
            return
        if self._asked is None and (self.on or self._manual):
            asked = self._next_batch()
            if asked is not None:
                self._asked = asked
                self.store.prune_later(asked[1], self._done)
        # Beside the batches, not after the pass: a pass over a million rows takes minutes,
        # and under load one follows another. The log is cut back only once they are over.
        if self._compacting and self._asked is None:
            idle = not any(self._passes.values())
            try:
                free = self.store.compact(COMPACT_PAGES, last=idle)
            except StoreError as error:
                self._failed(error)  # asked again at the next tick
                return
            self._compacting = free > 0 or not idle

    def _next_batch(self) -> tuple[str, PruneBatch] | None:
        newest, now, passes = self.newest(), self.wall(), self._passes
        if self.keep_messages and passes["count"] is None:
            # The newest id is never in a batch: it stays, so a restart numbers on from it.
            cut = min(newest - self.keep_messages, newest - 1)
            if cut > self.id_range[0] and (cut > self._last_cut or now >= self._again["count"]):
                passes["count"] = _Pass(self.id_range[0], cut, _FOREVER)
                self._last_cut, self._again["count"] = cut, now + COUNT_PASS
        if self.keep_days and passes["age"] is None and now >= self._again["age"]:
            passes["age"] = _Pass(self.id_range[0], newest - 1, now - self.keep_days * 86400)
            self._again["age"] = now + AGE_PASS
        timeline = self.timeline
        if timeline is not None and timeline.on and passes[STEPS] is None:
            grown = timeline.added >= timeline.prune_every
            if grown or (self.keep_days and now >= self._again[STEPS]):
                # Ids are the store's; the walk ends where no step is left above it.
                ended_before = now - self.keep_days * 86400 if self.keep_days else -_FOREVER
                passes[STEPS] = _Pass(0, 1 << 62, ended_before)
                timeline.added, self._again[STEPS] = 0, now + AGE_PASS
        for rule, walk in passes.items():
            if walk is None:
                continue
            if walk.after >= walk.upto:
                passes[rule] = None
                continue
            if rule == STEPS:
                assert timeline is not None
                steps = PruneBatch(
                    walk.after, self.rows["timeline"], walk.upto, walk.ended_before,
                    table="timeline", keep=timeline.max_steps,
                )  # fmt: skip
                return rule, steps
            messages = PruneBatch(
                walk.after, self.rows["messages"], walk.upto, walk.ended_before, self.last_arrival(),
                self.id_range,
            )  # fmt: skip
            return rule, messages
        return None

    def _done(self, done: PruneDone) -> None:
        assert self._asked is not None
        rule, batch = self._asked
        self._asked = None
        if done.error is not None and rule == MANUAL:  # its asker waits: told now, not asked again
            self._end_manual(done.error)
            return
        if done.error is not None:
            self._failed(done.error)
            return
        self._failing = None
        walk = self._passes[rule]
        if walk is not None:
            # No row left to look at up to the batch's end: the walk is done up to there.
            walk.after = done.reached if done.reached > batch.after else batch.upto
        if rule == STEPS:
            self.steps_pruned += done.deleted
        else:
            self.pruned[rule] += done.deleted
        if done.deleted:
            self._compacting = True
        # About BATCH_SECONDS a batch, from how long this one took.
        scaled = batch.rows * BATCH_SECONDS / max(done.seconds, 1e-4)
        self.rows[batch.table] = int(min(max(scaled, SMALLEST_BATCH), LARGEST_BATCH))
        if rule == MANUAL and walk is not None and walk.after >= walk.upto:
            self._end_manual()

    def _failed(self, error: BaseException) -> None:
        said = f"{type(error).__name__}: {error}"
        if said != self._failing:  # a store that stays broken is said once, not every tick
            self._failing = said
            self.on_error(error)
