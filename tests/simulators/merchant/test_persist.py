"""The merchant's records: what is saved comes back after a restart, and only what was committed.

The store is a plain object that keeps documents the way SqliteStore does: writes are queued
and applied at commit, so "the process died" is dropping the queue. A restart is a new
merchant (same seed, fresh demo wallets, as the runner makes it) restored from that store.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from twisted.internet import defer

from simulators.merchant.orders import OrderStatus
from simulators.merchant.persist import WEBHOOK, MerchantRecords, RecordsError
from simulators.merchant.service import Merchant

from .helpers import EN, HOOK, OTHER, ZH, code_from, hooks, make_merchant


class Documents:
    """Documents by (kind, key) in first-put order; writes wait for :meth:`commit`."""

    def __init__(self) -> None:
        self.committed: dict[tuple[str, str], str] = {}
        self.queue: list[tuple[str, str, str | None]] = []
        self.commits = 0
        self.puts: list[tuple[str, str]] = []

    def put_document(self, kind: str, key: str, value: Any) -> None:
        self.queue.append((kind, key, json.dumps(value)))
        self.puts.append((kind, key))

    def delete_document(self, kind: str, key: str) -> None:
        self.queue.append((kind, key, None))

    def documents(self, kind: str) -> list[tuple[str, Any]]:
        return [(key, json.loads(value)) for (k, key), value in self.committed.items() if k == kind]

    def commit(self) -> None:
        for kind, key, value in self.queue:
            if value is None:
                self.committed.pop((kind, key), None)
            else:
                self.committed[kind, key] = value
        self.queue = []
        self.commits += 1

    def commit_then(self, done: Callable[[BaseException | None], None]) -> None:
        self.commit()
        done(None)

    def crash(self) -> None:
        """The process died: what was not committed is gone."""
        self.queue = []


def started(store: Documents, seed: int = 7, **config: Any) -> tuple[Merchant, MerchantRecords, list[Any]]:
    """A merchant started on ``store`` as the runner starts one: restored, taken up, saved."""
    merchant = make_merchant(seed, callback_url=HOOK, **config)
    records = MerchantRecords(merchant, store)
    owed = records.restore()
    records.save(merchant.restored(1000.0))
    return merchant, records, owed


def test_orders_wallets_and_a_waiting_code_outlive_a_restart() -> None:
    store = Documents()
    merchant, records, _ = started(store)
    paid, actions = merchant.create_order(EN, 2500, "CNY", "otp", None, 1.0)
    records.save(actions)
    records.save(merchant.confirm_otp(paid.id, code_from(actions), 2.0).actions)
    waiting, actions = merchant.create_order(ZH, 700, "CNY", "otp", None, 3.0)
    records.save(actions)
    code = code_from(actions)
    wrong = merchant.confirm_otp(waiting.id, "000000" if code != "000000" else "111111", 4.0)
    records.save(wrong.actions)
    merchant.wallets.create("8613900000009", "4321", 5000, "CNY", "zh")
    records.save()
    before = {o.id: (o.status, o.reason, o.history, o.reference, o.expires_at) for o in merchant.orders}
    store.crash()

    again, _, _ = started(store)
    assert {o.id: (o.status, o.reason, o.history, o.reference, o.expires_at) for o in again.orders} == before
    assert (
        again.wallets.get(EN).balance == 7500
        and again.wallets.get(EN).payments == merchant.wallets.get(EN).payments
    )
    assert again.wallets.get("8613900000009").language == "zh"
    # The wrong guess still counts, and the buyer's code still pays.
    assert again.codes.attempts_left(waiting.id) == 2
    assert again.confirm_otp(waiting.id, code, 5.0).order.status is OrderStatus.PAID  # type: ignore[union-attr]
    assert again.orders.new(OTHER, 100, "CNY", "otp", "ShopX", 6.0).id == "ord_0003"


def test_what_was_not_saved_is_lost_and_nothing_else() -> None:
    """The edges save before they act; a change the merchant made but never saved is not kept."""
    store = Documents()
    merchant, records, _ = started(store)
    records.save(merchant.create_order(EN, 2500, "CNY", "otp", None, 1.0)[1])
    merchant.create_order(EN, 100, "CNY", "otp", None, 2.0)  # killed before it was saved
    store.crash()
    again, _, _ = started(store)
    assert [o.id for o in again.orders] == ["ord_0001"]


def test_a_paid_order_and_its_debit_are_one_commit() -> None:
    store = Documents()
    merchant, records, _ = started(store)
    order, _ = merchant.create_order(EN, 2500, "CNY", "ussd_push", None, 1.0)
    records.save()
    merchant.ussd_push_answer(EN, "1", 2.0)
    paid = merchant.ussd_push_answer(EN, "1234", 3.0)
    commits = store.commits
    records.save(paid.actions)
    assert store.commits == commits + 1
    again, _, _ = started(store)
    assert again.orders.get(order.id).status is OrderStatus.PAID
    assert again.wallets.get(EN).balance == 7500 and len(again.wallets.get(EN).payments) == 1


def test_a_push_in_flight_fails_at_restart_and_says_why() -> None:
    store = Documents()
    merchant, records, _ = started(store)
    order, actions = merchant.create_order(EN, 2500, "CNY", "ussd_push", None, 1.0)
    records.save(actions)
    merchant.ussd_push_answer(EN, "1", 2.0)  # the PIN prompt is up when the process dies
    again, records, _ = started(store)
    restarted = again.orders.get(order.id)
    assert (restarted.status, restarted.reason) == (OrderStatus.FAILED, "merchant_restarted")
    assert again.wallets.get(EN).balance == 10_000
    # The shop hears of it: the webhook is kept until posted.
    assert (WEBHOOK, f"{order.id}/failed") in store.committed
    third, _, _ = started(store)
    assert third.orders.get(order.id).history == restarted.history  # failed once, not again


def test_webhooks_are_kept_until_posted_and_posted_again_after_a_restart() -> None:
    store = Documents()
    merchant, records, _ = started(store)
    order, actions = merchant.create_order(EN, 2500, "CNY", "otp", None, 1.0)
    assert hooks(actions) == [("awaiting_confirmation", "code_sent")]
    records.save(actions)
    _, _, owed = started(store)
    assert [(url, payload["order_id"], payload["status"]) for url, payload in owed] == [
        (HOOK, order.id, "awaiting_confirmation")
    ]
    posted: list[defer.Deferred[None]] = []

    def poster(url: str, payload: Any) -> defer.Deferred[None]:
        posted.append(defer.Deferred())
        return posted[-1]

    durable = records.durable(poster)
    durable(*owed[0])
    records.save()
    assert owed and len(store.documents(WEBHOOK)) == 1  # still owed while the POST runs
    posted[0].callback(None)
    records.save()
    assert store.documents(WEBHOOK) == []


def test_a_save_writes_only_what_changed() -> None:
    """Final orders are not written again, however many there are: a save costs what changed."""
    store = Documents()
    merchant, records, _ = started(store)
    for n in range(50):
        order, actions = merchant.create_order(OTHER, 100 + n, "CNY", "otp", None, float(n))
        records.save(actions)
        records.save(merchant.cancel_order(order.id, float(n)).actions)
    store.puts.clear()
    records.save()
    assert store.puts == []
    merchant.wallets.top_up(ZH, 100)
    records.save()
    assert store.puts == [("merchant.wallet", ZH)]
    store.puts.clear()
    _, actions = merchant.create_order(EN, 100, "CNY", "otp", None, 60.0)
    records.save(actions)
    assert sorted(store.puts) == [
        ("merchant.order", "ord_0051"),
        ("merchant.state", "rng"),
        ("merchant.webhook", "ord_0051/awaiting_confirmation"),
    ]


def test_seeded_codes_carry_on_after_a_restart_instead_of_repeating() -> None:
    """A restart does not hand out the codes the seed gave before it."""
    straight = make_merchant(11)
    first = code_from(straight.create_order(EN, 100, "CNY", "otp", None, 0.0)[1])
    second = code_from(straight.create_order(EN, 100, "CNY", "otp", None, 0.0)[1])
    store = Documents()
    merchant, records, _ = started(store, seed=11)
    assert code_from(merchant.create_order(EN, 100, "CNY", "otp", None, 0.0)[1]) == first
    records.save()
    again, _, _ = started(store, seed=11)
    assert code_from(again.create_order(EN, 100, "CNY", "otp", None, 0.0)[1]) == second


def test_references_are_not_given_twice_across_a_restart() -> None:
    store = Documents()
    merchant, records, _ = started(store)
    order, actions = merchant.create_order(EN, 100, "CNY", "otp", None, 0.0)
    records.save(actions)
    records.save(merchant.confirm_otp(order.id, code_from(actions), 1.0).actions)
    again, _, _ = started(store)
    assert order.reference in again._references  # noqa: SLF001 - the set the core draws against


def test_a_record_that_cannot_be_read_is_named() -> None:
    store = Documents()
    store.committed["merchant.order", "ord_0001"] = json.dumps({"id": "ord_0001"})
    merchant = make_merchant()
    with pytest.raises(RecordsError, match="merchant.order ord_0001"):
        MerchantRecords(merchant, store).restore()
