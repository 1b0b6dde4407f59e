"""The merchant's final orders follow the store's retention rule (issue 20).

Each merchant runs on a real SQLite file, started as the runner starts one (restored, taken
up, saved); a restart closes the file and starts a new merchant on it. The wall clock is a
number the test moves; the carrier's clock, which tests jump, is another.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.web.test.requesthelper import DummyRequest

from simulators.merchant.esme import MerchantEsme
from simulators.merchant.http import MerchantApi
from simulators.merchant.orders import OrderStateError, OrderStatus
from simulators.merchant.persist import ORDER, PAYMENT, STATE, MerchantRecords, RecordsError
from simulators.merchant.retention import PASS_SECONDS, OrderRetention
from simulators.merchant.runner import parse_args
from smsgw.store.sqlite import SqliteStore

from .helpers import EN, OTHER, ZH, code_from, make_merchant

T0 = 1_800_000_000.0
DAY = 86400.0


class Wall:
    """The wall clock, moved by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Shop:
    """A merchant with its records on ``path``, and its retention."""

    def __init__(self, path: Path, wall: Wall, **keep: Any) -> None:
        self.store = SqliteStore(str(path))
        self.merchant = make_merchant()
        self.records = MerchantRecords(self.merchant, self.store)
        self.records.restore()
        self.records.save(self.merchant.restored(T0))
        self.retention = OrderRetention(self.merchant.orders, self.records.forget, wall=wall, **keep)

    def order(self, msisdn: str = EN, method: str = "otp", at: float = T0, amount: int = 100) -> Any:
        order, actions = self.merchant.create_order(msisdn, amount, "CNY", method, None, at)
        self.records.save(actions)
        return order, actions

    def cancelled(self, at: float = T0, made: float | None = None) -> str:
        order, _ = self.order(at=at if made is None else made)
        self.records.save(self.merchant.cancel_order(order.id, at).actions)
        return str(order.id)

    def cancelled_by(self, msisdn: str, at: float) -> str:
        order, _ = self.order(msisdn, at=at)
        self.records.save(self.merchant.cancel_order(order.id, at).actions)
        return str(order.id)

    def tick(self) -> int:
        """A retention pass (when due), committed as the merchant's tick commits it."""
        forgotten = self.retention.tick()
        self.records.save()
        return forgotten

    def ids(self) -> list[str]:
        return [order.id for order in self.merchant.orders]

    def documents(self, kind: str) -> dict[str, Any]:
        return dict(self.store.documents(kind))

    def restart(self, wall: Wall, **keep: Any) -> Shop:
        self.store.close()
        return Shop(self.path, wall, **keep)

    @property
    def path(self) -> Path:
        return Path(self.store.path)


def test_ids_of_forgotten_orders_never_repeat_after_a_restart(tmp_path: Path) -> None:
    """Every final order forgotten, the newest too: the restart numbers on after the highest id."""
    wall = Wall()
    shop = Shop(tmp_path / "m.db", wall, keep_days=1)
    made = [shop.cancelled() for _ in range(4)]
    wall.now += 2 * DAY
    assert shop.tick() == 3 and shop.ids() == [made[-1]]  # the newest order stays
    shop.records.forget([made[-1]])  # and now it goes as well
    shop.records.save()
    assert shop.documents(ORDER) == {} and shop.documents(STATE)["orders"] == 4
    again = shop.restart(wall, keep_days=1)
    assert again.ids() == []
    order, _ = again.order()
    assert order.id == "ord_0005"


def test_a_restart_puts_back_the_orders_kept_between_gaps(tmp_path: Path) -> None:
    """Orders forgotten in the middle leave gaps; a restart loads the rest and numbers on."""
    wall = Wall()
    shop = Shop(tmp_path / "m.db", wall, keep_days=1)
    old = [shop.cancelled(at=T0 - 2 * DAY) for _ in range(2)]
    waiting, _ = shop.order(ZH, at=T0 - 2 * DAY)
    recent = shop.cancelled(made=T0 - 2 * DAY)  # made with the others, cancelled just now
    also_old = shop.cancelled(at=T0 - 2 * DAY)
    newest = shop.cancelled(at=T0 - 2 * DAY)
    assert shop.tick() == 3
    kept = [waiting.id, recent, newest]
    assert shop.ids() == kept and not {*old, also_old} & set(shop.documents(ORDER))
    again = shop.restart(wall)
    assert again.ids() == kept
    assert again.merchant.orders.get(waiting.id).status is OrderStatus.AWAITING_CONFIRMATION
    assert again.order()[0].id == "ord_0007"


def test_orders_not_final_are_never_forgotten(tmp_path: Path) -> None:
    """However old, and whatever the count, an order still waiting stays (and its code with it)."""
    wall = Wall()
    shop = Shop(tmp_path / "m.db", wall, keep_days=1, keep_orders=1)
    code_wait, actions = shop.order(EN, at=T0 - 9 * DAY)
    push_wait, _ = shop.order(OTHER, "ussd_push", at=T0 - 9 * DAY)
    ended = [shop.cancelled(at=T0 - 9 * DAY) for _ in range(3)]
    wall.now += 30 * DAY
    assert shop.tick() == 2
    assert shop.ids() == [code_wait.id, push_wait.id, ended[-1]]
    # Its buyer's clock is nine days behind the wall's: the code it holds still pays.
    paid = shop.merchant.confirm_otp(code_wait.id, code_from(actions), T0 - 9 * DAY + 1)
    assert paid.order is not None and paid.order.status is OrderStatus.PAID
    with pytest.raises(OrderStateError):
        shop.merchant.forget([push_wait.id])
    assert shop.ids() == [code_wait.id, push_wait.id, ended[-1]]


def test_payments_and_codes_go_with_their_orders(tmp_path: Path) -> None:
    """A forgotten order's payment leaves its buyer's ledger (the balance stays) and the store,
    its code leaves the code book; payments made later are still saved."""
    wall = Wall()
    shop = Shop(tmp_path / "m.db", wall, keep_days=1)
    merchant = shop.merchant
    paid, actions = shop.order(EN, amount=2500)
    shop.records.save(merchant.confirm_otp(paid.id, code_from(actions), T0).actions)
    failed, _ = shop.order(EN)
    for _ in range(3):
        shop.records.save(merchant.confirm_otp(failed.id, "00000000", T0).actions)
    assert merchant.orders.get(failed.id).reason == "too_many_attempts"
    kept_paid, actions = shop.order(ZH, amount=300, at=T0 + 2 * DAY)
    shop.records.save(merchant.confirm_otp(kept_paid.id, code_from(actions), T0 + 2 * DAY).actions)
    newest = shop.cancelled(at=T0 + 2 * DAY)
    assert merchant.codes.export(failed.id) is not None and paid.reference in shop.documents(PAYMENT)
    wall.now += 1.5 * DAY
    assert shop.tick() == 2
    assert merchant.codes.export(paid.id) is None and merchant.codes.export(failed.id) is None
    assert merchant.wallets.get(EN).payments == [] and merchant.wallets.get(EN).balance == 7500
    assert set(shop.documents(PAYMENT)) == {kept_paid.reference}
    assert paid.reference not in merchant._references  # noqa: SLF001 - the set references are drawn against
    # A payment after the forgetting is saved as ever.
    later, actions = shop.order(EN, amount=1000, at=T0 + 2 * DAY)
    shop.records.save(merchant.confirm_otp(later.id, code_from(actions), T0 + 2 * DAY).actions)
    again = shop.restart(wall)
    ledger = again.merchant.wallets.get(EN)
    assert [p.order_id for p in ledger.payments] == [later.id] and ledger.balance == 6500
    assert [p.order_id for p in again.merchant.wallets.get(ZH).payments] == [kept_paid.id]
    assert again.ids() == [kept_paid.id, newest, later.id]


def test_the_count_rule_keeps_the_newest_final_orders_a_batch_at_a_time(tmp_path: Path) -> None:
    """keep_orders=3 forgets the oldest final orders beyond three, ``batch`` per tick, the next
    tick going on at once after a full batch and waiting a pass after the last."""
    wall = Wall()
    shop = Shop(tmp_path / "m.db", wall, keep_orders=3, batch=2)
    ended = [shop.cancelled() for _ in range(7)]
    waiting, _ = shop.order(OTHER)
    assert shop.tick() == 2 and shop.tick() == 2 and shop.tick() == 0
    assert shop.ids() == [*ended[-3:], waiting.id]
    made = [shop.cancelled() for _ in range(2)]
    assert shop.tick() == 0  # the next pass is not due yet
    wall.now += PASS_SECONDS
    assert shop.tick() == 2
    assert shop.ids() == [ended[-1], waiting.id, *made]


def test_the_age_rule_goes_by_the_wall_clock_not_the_carriers(tmp_path: Path) -> None:
    """The carrier's clock jumps 30 days: the merchant's tick forgets nothing by age; a day of
    wall time later, the orders that ended go."""
    wall = Wall()
    shop = Shop(tmp_path / "m.db", wall, keep_days=1)
    carrier = [T0]
    esme = MerchantEsme(
        shop.merchant,
        Clock(),
        lambda factory: defer.Deferred(),
        system_id="m",
        password="p",
        clock=lambda: carrier[0],
        save=shop.records.save,
        retention=shop.retention,
    )
    ended = [shop.cancelled() for _ in range(3)]
    carrier[0] += 30 * DAY
    wall.now += 1
    esme.tick()
    assert shop.ids() == ended
    wall.now += DAY
    esme.tick()
    assert shop.ids() == ended[-1:] and set(shop.documents(ORDER)) == {ended[-1]}


def test_off_forgets_nothing(tmp_path: Path) -> None:
    """Without keep_days and keep_orders (the default), every order is kept."""
    wall = Wall()
    shop = Shop(tmp_path / "m.db", wall)
    ended = [shop.cancelled(at=T0 - 900 * DAY) for _ in range(3)]
    wall.now += 900 * DAY
    assert not shop.retention.on and shop.tick() == 0 and shop.ids() == ended


def _get(api: MerchantApi, query: dict[bytes, list[bytes]]) -> Any:
    request = DummyRequest([b"orders"])
    request.args = query
    body = api.render(request)  # type: ignore[arg-type]
    assert request.responseCode in (None, 200), body
    return json.loads(body)


def test_get_orders_pages_across_gaps(tmp_path: Path) -> None:
    """GET /orders gives ``limit`` kept orders a page, and next_before leads to the oldest kept."""
    wall = Wall()
    shop = Shop(tmp_path / "m.db", wall, keep_days=1)
    ids = [shop.cancelled(at=T0 if n % 3 == 2 else T0 - 2 * DAY, made=T0 - 2 * DAY) for n in range(10)]
    waiting, _ = shop.order(OTHER, at=T0 - 2 * DAY)
    shop.tick()
    kept = [*ids[2::3], waiting.id]  # ord_0001 is gone: no page may end in an empty one
    assert shop.ids() == kept
    api = MerchantApi(shop.merchant, lambda actions: defer.succeed(None), lambda msisdn: T0)
    seen, before = [], None
    while True:
        page = _get(api, {b"limit": [b"2"], **({b"before": [before.encode()]} if before else {})})
        seen += [order["id"] for order in page["orders"]]
        assert page["orders"] and (len(page["orders"]) == 2 or page["next_before"] is None), page
        before = page["next_before"]
        if before is None:
            break
    assert seen == kept[::-1]
    assert _get(api, {b"before": [b"ord_0005"]})["orders"][0]["id"] == "ord_0003"


def test_a_counter_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    """A malformed order counter stops the start, saying which record."""
    store = SqliteStore(str(tmp_path / "m.db"))
    store.put_document(STATE, "orders", "four")
    store.commit()
    with pytest.raises(RecordsError, match="merchant.state orders"):
        MerchantRecords(make_merchant(), store).restore()
    store.close()


@pytest.mark.parametrize(
    "option",
    [["--keep-orders", "10"], ["--keep-orders", "-1"], ["--keep-days", "-1"], ["--keep-days", "nan"]],
)
def test_smsgw_merchant_refuses_a_rule_that_is_a_typo(
    option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """``--keep-orders`` is 0 or at least 1000 (as ``keep_messages``), ``--keep-days`` 0 or more."""
    with pytest.raises(SystemExit):
        parse_args(option)
    assert option[0] in capsys.readouterr().err


def test_smsgw_merchant_takes_a_fraction_of_a_day() -> None:
    """``--keep-days 0.00001`` is under a second, as in ``[store] keep_days``."""
    args = parse_args(["--keep-days", "0.00001", "--keep-orders", "1000"])
    assert (args.keep_days, args.keep_orders) == (0.00001, 1000)


def test_an_order_on_a_clock_run_ahead_does_not_keep_the_older_ones_behind_it(tmp_path: Path) -> None:
    """A pass stops at the first order made after the cut, by the wall clock: that of a buyer
    whose clock runs 3 days ahead is read back to the wall clock, so the order made after it
    (by the wall clock, at the same moment) that ended 2 days ago still goes."""
    wall = Wall()
    shop = Shop(tmp_path / "m.db", wall, keep_days=1)
    shop.retention.clock_for = lambda msisdn: wall.now + (3 * DAY if msisdn == ZH else 0.0)
    ahead = shop.cancelled_by(ZH, at=T0 + DAY)  # 2 days ago by the wall clock, on a clock 3 days ahead
    behind = shop.cancelled(at=T0 - 2 * DAY)
    shop.cancelled()  # the newest, kept anyway
    assert shop.tick() == 1
    assert behind not in shop.ids() and ahead in shop.ids()
