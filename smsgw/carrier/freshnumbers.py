"""The numbers of the fresh pool (``<country code> 1700 nnnnnnn``) a carrier gives to handsets
created without one.

They are given out upwards and never twice, from blocks the store reserves: a store one
process owns reserves a block by counting, and a node of several sharing one database reserves
it there, so no two nodes give out one number. The next block is asked for while half of the
current one is left, so a create never waits for the store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

#: Numbers of the pool: seven digits after its prefix.
POOL_SIZE = 10_000_000


class NumberReserver(Protocol):
    """The store's part (see :class:`~smsgw.store.interface.MessageStore`)."""

    def reserve_numbers(self, floor: int, count: int) -> int:
        """Reserve ``count`` numbers above ``floor`` and above every number reserved before;
        the last of them. A read: at start only."""

    def reserve_numbers_later(self, floor: int, count: int, then: Callable[[int | None], None]) -> None:
        """The same without waiting; ``then`` gets the last number, or None when it failed."""


class NoFreshNumber(Exception):
    """No fresh number can be given out now; the message says why."""


class FreshNumbers:
    """The pool's numbers this carrier gives out, in blocks of ``block``.

    :param reserver: the store.
    """

    def __init__(self, reserver: NumberReserver, block: int = 1000) -> None:
        self.reserver = reserver
        self.block = block
        #: Reserved and not given out: ``[next, last]`` ranges, in order.
        self._ranges: list[list[int]] = []
        self._asking = False
        self._highest = 0

    def start(self, used: int) -> None:
        """Reserve the first block above ``used``, the highest number known to be used."""
        self._add(self.reserver.reserve_numbers(used, self.block))

    def take(self) -> int:
        """The next number.

        :raises NoFreshNumber: when the pool is used up, or (at a burst faster than the store
            answers) the next block has not come yet.
        """
        while self._ranges and self._ranges[0][0] > self._ranges[0][1]:
            self._ranges.pop(0)
        if not self._ranges:
            self._ask()  # a store one process owns answers at once
        if not self._ranges:
            raise NoFreshNumber(
                "the pool of fresh numbers is used up" if self._highest >= POOL_SIZE - 1
                else "no fresh number is ready yet (the store is slow to reserve more); try again"
            )  # fmt: skip
        number = self._ranges[0][0]
        self._ranges[0][0] += 1
        if sum(last - first + 1 for first, last in self._ranges) < self.block // 2:
            self._ask()
        return number

    def _ask(self) -> None:
        if self._asking or self._highest >= POOL_SIZE - 1:
            return
        self._asking = True
        self.reserver.reserve_numbers_later(self._highest, self.block, self._reserved)

    def _reserved(self, last: int | None) -> None:
        self._asking = False  # a failed reservation is asked for again at the next need
        if last is not None:
            self._add(last)

    def _add(self, reserved_last: int) -> None:
        first = max(reserved_last - self.block + 1, self._highest + 1, 1)
        last = min(reserved_last, POOL_SIZE - 1)
        if first <= last:
            self._ranges.append([first, last])
        self._highest = max(self._highest, last)
