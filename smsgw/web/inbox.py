"""What is new in a handset's inbox, for the long polls waiting on it.

Per handset and per change the feed reads what is new once (through the carrier's
:class:`~smsgw.carrier.inbox.BoxReader`), and every waiter only filters that.
"""

from __future__ import annotations

from typing import Any

import attrs

from smsgw.carrier.inbox import BoxReader, Page
from smsgw.text.reassembly import InboxMessage


@attrs.define
class InboxFeed:
    """What is new in one handset's inbox, read once per change for every long poll on it.

    :ivar read_to: every message with a cursor up to here was offered to the waiters.
    :ivar pending: the lowest position of a part not shown yet (an incomplete concatenated
        message inside its window): re-read from there until it shows.
    """

    reader: BoxReader
    read_to: int
    pending: int | None = None
    #: Answers already encoded since the last update, shared by waiters that give the same one.
    answers: dict[Any, bytes] = attrs.Factory(dict)

    def note(self, page: Page) -> None:
        """A waiter read ``page`` to its end: what it saw hidden must be re-read once it shows."""
        if page.pending is not None and (self.pending is None or page.pending < self.pending):
            self.pending = page.pending

    def update(self, *, tick: bool) -> list[InboxMessage]:
        """The messages shown since the last update (some may be offered again: filters are
        deterministic, so a waiter that refused one refuses it again).

        :param tick: the once-a-second check for messages that show with time only; it reads
            nothing unless some part was hidden.
        """
        self.answers.clear()
        if tick and self.pending is None:
            return []
        start = self.read_to if self.pending is None else min(self.read_to, self.pending - 1)
        fresh: list[InboxMessage] = []
        pending: list[int] = []
        while True:
            page = self.reader.page(start)
            fresh += page.messages
            if page.pending is not None:
                pending.append(page.pending)
            start = page.end
            if not page.more:
                break
        self.read_to = max(self.read_to, start)
        self.pending = min(pending) if pending else None
        return fresh
