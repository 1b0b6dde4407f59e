"""The *126# wallet menu: paying the shop, the balance, last payments, and every way out."""

from __future__ import annotations

from simulators.merchant.actions import ShowUssd
from simulators.merchant.orders import OrderStatus
from simulators.merchant.service import Merchant

from .helpers import EN, HOOK, ZH, hooks, make_merchant, of, texts

MAIN = "1 Pay merchant\n2 My balance\n3 Last payments"


def walk(merchant: Merchant, answers: list[str], msisdn: str = EN, key: str = "s1") -> list[ShowUssd]:
    """Answer the menu one step at a time (the CON/END style) and collect the screens."""
    shown = []
    for n in range(len(answers) + 1):
        actions = merchant.ussd_menu(key, msisdn, answers[:n], float(n))
        assert isinstance(actions[0], ShowUssd) and len(of(ShowUssd, actions)) == 1
        shown.append(actions[0])
    return shown


def test_main_menu() -> None:
    """Dialling *126# shows the main menu and waits."""
    assert make_merchant().ussd_menu("s1", EN, [], 0.0) == [ShowUssd("s1", MAIN, end=False)]


def test_pay_the_shop() -> None:
    """Merchant number, amount, PIN and 1 pay the shop: an end screen, a receipt SMS, a paid order."""
    merchant = make_merchant(callback_url=HOOK)
    screens = walk(merchant, ["1", "10086", "25", "1234"])
    assert [s.text for s in screens[1:]] == [
        "Enter merchant number:\n0 Back",
        "Enter amount (CNY):\n0 Back",
        "Enter PIN:\n0 Back",
        "Pay 25.00 CNY to ShopX (10086)?\n1 Yes\n2 No",
    ]
    actions = merchant.ussd_menu("s1", EN, ["1", "10086", "25", "1234", "1"], 9.0)
    order = merchant.orders.get("ord_0001")
    assert actions[0] == ShowUssd("s1", f"Paid 25.00 CNY to ShopX. Ref {order.reference}", end=True)
    assert texts(actions) == [f"Paid 25.00 CNY to ShopX. Ref {order.reference}. Balance 75.00 CNY."]
    assert hooks(actions) == [("paid", "confirmed")]
    assert (order.method, order.status, order.amount) == ("ussd_menu", OrderStatus.PAID, 2500)
    assert merchant.wallets.get(EN).balance == 7500


def test_a_repeated_last_request_does_not_pay_twice() -> None:
    """The same answers sent again get the same end screen and nothing else."""
    merchant = make_merchant()
    answers = ["1", "10086", "25", "1234", "1"]
    first = merchant.ussd_menu("s1", EN, answers, 1.0)
    assert merchant.ussd_menu("s1", EN, answers, 2.0) == [first[0]]
    assert merchant.wallets.get(EN).balance == 7500 and len(merchant.orders) == 1


def test_direct_dial_takes_all_answers_at_once() -> None:
    """*126*1*10086*25*1234# arrives as four answers in one request and shows the confirmation."""
    merchant = make_merchant()
    actions = merchant.ussd_menu("s1", EN, ["1", "10086", "25", "1234"], 0.0)
    assert actions == [ShowUssd("s1", "Pay 25.00 CNY to ShopX (10086)?\n1 Yes\n2 No")]


def test_menu_in_chinese() -> None:
    """A Chinese-speaking buyer gets every menu screen and the receipt in Chinese."""
    merchant = make_merchant()
    screens = walk(merchant, ["1", "10086", "12.5", "2345"], msisdn=ZH)
    assert [s.text for s in screens] == [
        "1 向商户付款\n2 我的余额\n3 最近付款",
        "请输入商户号：\n0 返回",
        "请输入金额（CNY）：\n0 返回",
        "请输入密码：\n0 返回",
        "向 ShopX（10086）支付 12.50 CNY？\n1 是\n2 否",
    ]
    actions = merchant.ussd_menu("s1", ZH, ["1", "10086", "12.5", "2345", "1"], 9.0)
    reference = merchant.orders.get("ord_0001").reference
    assert actions[0].text == f"已向 ShopX 支付 12.50 CNY。参考号 {reference}"  # type: ignore[union-attr]
    assert texts(actions) == [f"已向 ShopX 支付 12.50 CNY。参考号 {reference}。余额 87.50 CNY。"]
    assert merchant.ussd_menu("s2", ZH, ["2"], 10.0)[0].text == "余额：87.50 CNY"  # type: ignore[union-attr]


def test_unknown_merchant_and_invalid_amount_ask_again() -> None:
    """A wrong merchant number or amount repeats the question with a hint."""
    merchant = make_merchant()
    screens = walk(merchant, ["1", "99999", "10086", "abc", "1.234", "5"])
    assert [s.text for s in screens[2:]] == [
        "Unknown merchant number.\nEnter merchant number:\n0 Back",
        "Enter amount (CNY):\n0 Back",
        "Invalid amount.\nEnter amount (CNY):\n0 Back",
        "Invalid amount.\nEnter amount (CNY):\n0 Back",
        "Enter PIN:\n0 Back",
    ]
    assert not any(s.end for s in screens)


def test_invalid_main_choice() -> None:
    """An unknown main-menu choice shows the menu again with a hint."""
    assert walk(make_merchant(), ["7"])[-1] == ShowUssd("s1", "Invalid choice.\n" + MAIN)


def test_zero_goes_back_and_exits() -> None:
    """0 goes back one step at a time; at the main menu it says goodbye and ends."""
    merchant = make_merchant()
    screens = walk(merchant, ["1", "10086", "25", "0", "0", "0", "0"])
    assert [s.text for s in screens[4:]] == [
        "Enter amount (CNY):\n0 Back",
        "Enter merchant number:\n0 Back",
        MAIN,
        "Goodbye.",
    ]
    assert screens[-1].end and not screens[-2].end


def test_zero_at_confirmation_asks_for_the_amount_and_pin_again() -> None:
    """Going back from the confirmation returns to the amount, so the PIN is asked again."""
    merchant = make_merchant()
    screens = walk(merchant, ["1", "10086", "25", "1234", "0", "30", "1234", "1"])
    assert screens[5].text == "Enter amount (CNY):\n0 Back"
    assert screens[7].text == "Pay 30.00 CNY to ShopX (10086)?\n1 Yes\n2 No"
    assert screens[8].end and merchant.wallets.get(EN).balance == 7000


def test_no_at_confirmation_cancels() -> None:
    """2 at the confirmation ends with 'Payment cancelled.' and moves no money."""
    merchant = make_merchant()
    screens = walk(merchant, ["1", "10086", "25", "1234", "2"])
    assert screens[-1] == ShowUssd("s1", "Payment cancelled.", end=True)
    assert merchant.wallets.get(EN).balance == 10_000 and len(merchant.orders) == 0


def test_confirmation_wants_1_or_2() -> None:
    """Any other answer at the confirmation repeats it with a hint."""
    screens = walk(make_merchant(), ["1", "10086", "25", "1234", "5"])
    assert screens[-1].text == "Answer 1 or 2.\nPay 25.00 CNY to ShopX (10086)?\n1 Yes\n2 No"


def test_wrong_pin_in_the_menu() -> None:
    """Wrong PINs ask again with the tries left; the last locks the wallet and ends the dialogue."""
    merchant = make_merchant()
    screens = walk(merchant, ["1", "10086", "25", "1111", "2222", "3333"])
    assert [s.text for s in screens[4:]] == [
        "Wrong PIN. Tries left: 2.\nEnter PIN:",
        "Wrong PIN. Tries left: 1.\nEnter PIN:",
        "Wrong PIN. Your wallet is locked.",
    ]
    assert screens[-1].end and merchant.wallets.get(EN).locked
    again = walk(merchant, ["1", "10086", "25", "1234"], key="s2")
    assert again[-1] == ShowUssd("s2", "Your wallet is locked.", end=True)


def test_insufficient_balance_in_the_menu() -> None:
    """Paying more than the balance ends with the balance, fails the menu order and texts the buyer."""
    merchant = make_merchant(callback_url=HOOK)
    actions = merchant.ussd_menu("s1", EN, ["1", "10086", "100.01", "1234", "1"], 0.0)
    assert actions[0] == ShowUssd("s1", "Insufficient balance (100.00 CNY). Payment failed.", end=True)
    assert hooks(actions) == [("failed", "insufficient_balance")]
    assert texts(actions) == ["Payment of 100.01 CNY to ShopX failed: insufficient balance (100.00 CNY)."]
    assert merchant.wallets.get(EN).balance == 10_000


def test_balance() -> None:
    """2 shows the balance and ends."""
    assert make_merchant().ussd_menu("s1", EN, ["2"], 0.0) == [
        ShowUssd("s1", "Balance: 100.00 CNY", end=True)
    ]


def test_last_payments() -> None:
    """3 lists up to three payments, newest first; with none it says so."""
    merchant = make_merchant()
    assert merchant.ussd_menu("s0", EN, ["3"], 0.0)[0].text == "No payments yet."  # type: ignore[union-attr]
    for n, amount in enumerate(["1", "2", "3", "4"]):
        merchant.ussd_menu(f"p{n}", EN, ["1", "10086", amount, "1234", "1"], float(n))
    shown = merchant.ussd_menu("s1", EN, ["3"], 9.0)
    assert shown == [ShowUssd("s1", "Last payments (CNY):\n4.00 ShopX\n3.00 ShopX\n2.00 ShopX", end=True)]
    zh = make_merchant()
    assert zh.ussd_menu("s1", ZH, ["3"], 0.0)[0].text == "暂无付款记录。"  # type: ignore[union-attr]


def test_no_wallet() -> None:
    """A handset without a wallet is told so and the dialogue ends."""
    actions = make_merchant().ussd_menu("s1", "8613999999999", [], 0.0)
    assert actions == [ShowUssd("s1", "You have no wallet. Visit a shop to open one.", end=True)]


def test_sessions_are_separate_and_restart_on_new_inputs() -> None:
    """Two session keys keep their own place; a key reused with other answers starts a new dialogue."""
    merchant = make_merchant()
    merchant.ussd_menu("a", EN, ["1"], 0.0)
    assert merchant.ussd_menu("b", EN, [], 0.0)[0].text == MAIN  # type: ignore[union-attr]
    assert merchant.ussd_menu("a", EN, ["1", "10086"], 1.0)[0].text == "Enter amount (CNY):\n0 Back"  # type: ignore[union-attr]
    assert merchant.ussd_menu("a", EN, ["2"], 2.0) == [ShowUssd("a", "Balance: 100.00 CNY", end=True)]


def test_idle_menus_are_forgotten() -> None:
    """tick() drops menu dialogues idle for menu_timeout, without any action."""
    merchant = make_merchant(menu_timeout=180.0)
    merchant.ussd_menu("s1", EN, ["1"], 0.0)
    assert merchant.tick(179.0) == [] and "s1" in merchant._menus
    assert merchant.tick(180.0) == [] and "s1" not in merchant._menus
