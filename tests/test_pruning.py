"""``smsgw prune --store FILE`` on a file itself: what a carrier started on it afterwards sees."""

from __future__ import annotations

from pathlib import Path

from smsgw.carrier.freshnumbers import FreshNumbers
from smsgw.pruning import prune_file
from smsgw.store.queries import NUMBERS_KIND
from smsgw.store.sqlite import SqliteStore
from tests.store.test_stores import row

DELIVRD = 2


def test_an_offline_prune_of_an_old_file_never_lets_a_fresh_number_be_given_out_again(tmp_path: Path) -> None:
    """A file from before retention notes no fresh number; the messages to the numbers given
    out go, yet the next carrier gives out the number after them, as it would have."""
    path = str(tmp_path / "smsgw.db")
    store = SqliteStore(path)
    for n in range(1, 6):  # fresh numbers 1..5 of the pool of country code 86
        store.insert_message(row(n, f"86170000000{n:02d}", state=DELIVRD, done_at=1000.0, seen=n))
    store.insert_message(row(6, "8613800000001", state=DELIVRD, done_at=1000.0, seen=6))
    store.commit()
    assert store.documents(NUMBERS_KIND) == []  # as an smsgw before retention left it
    store.close()

    said = prune_file(path, None, days=0, compact=False)
    assert said.startswith("removed 5 messages")  # all but the newest

    store = SqliteStore(path)
    assert store.last_msisdn("861700") is None  # no message shows which numbers went out
    fresh = FreshNumbers(store)
    fresh.start(0)  # what Handsets.restore finds: no number with messages
    assert fresh.take() == 6
    store.close()
