"""Fresh handset numbers: upwards, never twice, in blocks the store reserves ahead of need."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smsgw.carrier.freshnumbers import POOL_SIZE, FreshNumbers, NoFreshNumber


class SharedCounter:
    """The database's row, as several nodes see it; answers later when told to."""

    def __init__(self) -> None:
        self.value = 0
        self.waiting: list[Callable[[], None]] = []

    def reserve_numbers(self, floor: int, count: int) -> int:
        self.value = max(self.value, floor) + count
        return self.value

    def reserve_numbers_later(self, floor: int, count: int, then: Callable[[int | None], None]) -> None:
        self.waiting.append(lambda: then(None if self.down else self.reserve_numbers(floor, count)))

    def answer(self) -> None:
        while self.waiting:
            self.waiting.pop(0)()

    down = False


def test_numbers_go_upwards_from_above_the_last_used() -> None:
    numbers = FreshNumbers(SharedCounter(), block=10)
    numbers.start(used=41)
    assert [numbers.take() for _ in range(5)] == [42, 43, 44, 45, 46]


def test_the_next_block_is_asked_for_at_half_and_used_when_it_comes() -> None:
    counter = SharedCounter()
    numbers = FreshNumbers(counter, block=10)
    numbers.start(used=0)
    taken = [numbers.take() for _ in range(5)]
    assert counter.waiting == []  # half of the block is left: not yet
    taken.append(numbers.take())
    assert len(counter.waiting) == 1
    counter.answer()
    taken += [numbers.take() for _ in range(14)]
    assert taken == list(range(1, 21))


def test_two_nodes_on_one_counter_never_give_out_one_number() -> None:
    counter = SharedCounter()
    a, b = FreshNumbers(counter, block=10), FreshNumbers(counter, block=10)
    a.start(used=0)
    b.start(used=0)
    given: list[int] = []
    for turn in range(200):
        given.append((a if turn % 3 else b).take())
        counter.answer()
    assert len(set(given)) == len(given)


def test_a_burst_faster_than_the_store_is_told_to_try_again() -> None:
    counter = SharedCounter()
    numbers = FreshNumbers(counter, block=4)
    numbers.start(used=0)
    assert [numbers.take() for _ in range(4)] == [1, 2, 3, 4]
    with pytest.raises(NoFreshNumber, match="try again"):
        numbers.take()
    counter.answer()
    assert numbers.take() == 5


def test_the_pool_ends() -> None:
    numbers = FreshNumbers(SharedCounter(), block=10)
    numbers.start(used=POOL_SIZE - 3)
    assert [numbers.take() for _ in range(2)] == [POOL_SIZE - 2, POOL_SIZE - 1]
    with pytest.raises(NoFreshNumber, match="used up"):
        numbers.take()


def test_a_failed_reservation_is_asked_for_again() -> None:
    counter = SharedCounter()
    numbers = FreshNumbers(counter, block=4)
    numbers.start(used=0)
    counter.down = True
    assert [numbers.take() for _ in range(4)] == [1, 2, 3, 4]
    counter.answer()  # the database refused the next block
    with pytest.raises(NoFreshNumber, match="try again"):
        numbers.take()
    counter.down = False
    counter.answer()
    assert numbers.take() == 5
