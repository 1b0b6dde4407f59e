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
    #: Answers already encoded since the last read, shared by waiters that give the same one.
    answers: dict[Any, bytes] = attrs.Factory(dict)

    def note(self, page: Page) -> None:
        """A waiter read ``page`` to its end: what it saw hidden must be re-read once it shows."""
        if page.pending is not None and (self.pending is None or page.pending < self.pending):
            self.pending = page.pending

    def rewind(self, to: int) -> None:
        """A waiter read its page up to ``to`` earlier than this feed's last read (a read off
        the reactor): read again from there, so what arrived in between is offered to it."""
        self.read_to = min(self.read_to, to)

    def start(self, *, tick: bool) -> int | None:
        """Where the next read starts, or None when there is nothing to read.

        :param tick: the once-a-second check for messages that show with time only; it reads
            nothing unless some part was hidden.
        """
        if tick and self.pending is None:
            return None
        return self.read_to if self.pending is None else min(self.read_to, self.pending - 1)

    def read(self, start: int) -> tuple[list[InboxMessage], int, int | None]:
        """The messages shown after ``start``, where the read ended, and the lowest hidden
        part's position. It only reads: it may run off the reactor (see :meth:`took`)."""
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
        return fresh, start, min(pending) if pending else None

    def took(self, read: tuple[list[InboxMessage], int, int | None]) -> list[InboxMessage]:
        """Move on past what :meth:`read` found; return the messages for the waiters (some may
        be offered again: filters are deterministic, so a waiter that refused one refuses it
        again)."""
        fresh, end, pending = read
        self.answers.clear()
        self.read_to = max(self.read_to, end)
        self.pending = pending
        return fresh
