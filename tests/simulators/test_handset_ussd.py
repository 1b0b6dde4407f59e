"""USSD on simulators.handset.Phone against a real smsgw process, over real HTTP and SMPP.

The default configuration routes ``*126#`` to the built-in account "smsgw", so an smpplib ESME
bound as transceiver plays the USSD application, as in ``tests/e2e/test_ussd.py``. Where the
phone waits while the application answers, the ESME runs in a thread of its own (smpplib is
blocking), reading its deliveries and submitting the screens.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import smpplib.command

from simulators.handset import Phone, SmsgwError, UssdScreen, UssdTimeout
from tests.e2e.conftest import Esme, Smsgw, connect, server, start_server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.e2e

# smpplib 2.2.4 cannot parse a deliver_sm carrying ussd_service_op (docs/ussd.md has the recipe).
if "ussd_service_op" not in smpplib.command.DeliverSM.params:
    smpplib.command.DeliverSM.params["ussd_service_op"] = smpplib.command.Param(type=int, size=1)
    smpplib.command.DeliverSM.params_order += ("ussd_service_op",)

PSSR_INDICATION, USSR_REQUEST, USSN_REQUEST, PSSR_RESPONSE, USSR_CONFIRM, ABORT = 1, 2, 3, 17, 18, 0x81
MENU = "1 Pay merchant\n2 My balance"
PUSH = "Pay 25.00 CNY to ShopX?\n1 Confirm\n2 Cancel"
NETWORK_ERROR = "Connection problem or invalid MMI code."

_numbers = itertools.count(1)


def fresh_number() -> str:
    """A subscriber number no other test in this module uses (auto provisioning makes it a phone)."""
    return f"+86137{next(_numbers):08d}"


@pytest.fixture
def phone(server: Smsgw) -> Phone:  # noqa: F811
    """A phone of this test alone, talking to the module's server."""
    return Phone(fresh_number(), server.ports["http_url"])


@pytest.fixture
def esme(server: Smsgw, connect: Callable[..., Any]) -> Esme:  # noqa: F811
    """An smpplib ESME of account "smsgw" bound as transceiver: the USSD application of *126#."""
    transceiver: Esme = connect(server)
    transceiver.bind("transceiver")
    return transceiver


def ussd_submit(esme: Esme, phone: Phone, text: str, op: int, session_info: int | None = None) -> None:
    """The application shows a screen on ``phone``; the gateway must accept it."""
    fields: dict[str, Any] = {"service_type": "USSD", "registered_delivery": 0, "ussd_service_op": op}
    if session_info is not None:
        fields["its_session_info"] = session_info
    response = esme.submit(phone.msisdn, text, source_addr="*126#", **fields)
    assert response.status == 0, f"submit_sm_resp status {response.status:#x} for {text!r}"


def next_ussd(esme: Esme, phone: Phone, count: int) -> Any:
    """The ``count``-th USSD deliver_sm from ``phone``, reading until it arrives."""

    def from_phone() -> list[Any]:
        return [
            d
            for d in esme.deliveries
            if d.ussd_service_op is not None and bytes(d.source_addr).decode() == phone.msisdn
        ]

    while len(from_phone()) < count:
        esme.wait_deliveries(len(esme.deliveries) + 1)
    return from_phone()[count - 1]


def test_menu_dialogue_with_dial_and_answer(phone: Phone, esme: Esme) -> None:
    """dial returns the application's menu and answer its last screen, while the ESME answers in a thread."""

    def application() -> list[tuple[int, bytes]]:
        indication = next_ussd(esme, phone, 1)
        ussd_submit(esme, phone, MENU, USSR_REQUEST, indication.its_session_info)
        confirm = next_ussd(esme, phone, 2)
        ussd_submit(esme, phone, "Balance: 120.00 CNY", PSSR_RESPONSE, confirm.its_session_info)
        return [(d.ussd_service_op, bytes(d.short_message)) for d in (indication, confirm)]

    assert phone.ussd_screen().state == "idle"
    with ThreadPoolExecutor(max_workers=1) as pool:
        received = pool.submit(application)
        menu = phone.dial("*126#", timeout=5)
        last = phone.answer("2", timeout=5)
        assert received.result(timeout=5) == [(PSSR_INDICATION, b"*126#"), (USSR_CONFIRM, b"2")]
    assert (menu.text, menu.state, menu.expects_reply, menu.closed) == (MENU, "waiting_user", True, False)
    assert (menu.origin, menu.service_code, menu.inputs) == ("mobile", "*126#", ())
    assert (last.text, last.closed, last.expects_reply) == ("Balance: 120.00 CNY", True, False)
    assert (last.end_reason, last.inputs, last.session) == ("ended by the application", ("2",), menu.session)
    assert phone.ussd_cursor == last.cursor > menu.cursor
    assert phone.ussd_screen() == last
    assert phone.ussd_screen(after=0, wait=1) == last


def test_push_prompt_waited_for_then_answered(phone: Phone, esme: Esme) -> None:
    """wait_for_ussd returns a prompt pushed while it waits, answer gets the closing notice, and the closed dialogue is not returned again."""

    def application() -> bytes:
        time.sleep(0.3)  # push only once the phone is already waiting
        ussd_submit(esme, phone, PUSH, USSR_REQUEST)
        confirm = next_ussd(esme, phone, 1)
        assert confirm.ussd_service_op == USSR_CONFIRM
        ussd_submit(esme, phone, "Paid. Ref QK7", USSN_REQUEST, confirm.its_session_info)
        return bytes(confirm.short_message)

    with ThreadPoolExecutor(max_workers=1) as pool:
        started = time.monotonic()
        typed = pool.submit(application)
        prompt = phone.wait_for_ussd(r"Pay (\d+\.\d\d) CNY", timeout=5)
        elapsed = time.monotonic() - started
        notice = phone.answer("1", timeout=5)
        assert typed.result(timeout=5) == b"1"
    assert 0.3 <= elapsed < 2, elapsed
    assert (prompt.text, prompt.origin, prompt.expects_reply) == (PUSH, "network", True)
    assert prompt.service_code == "*126#"  # the pushing ESME's source_addr
    assert (notice.text, notice.closed, notice.inputs) == ("Paid. Ref QK7", True, ("1",))
    with pytest.raises(UssdTimeout, match="Paid. Ref QK7") as raised:
        phone.wait_for_ussd(timeout=0)
    assert raised.value.screen == notice and raised.value.shown == ()


def test_wait_times_out_listing_the_screens_that_did_not_match(phone: Phone, esme: Esme) -> None:
    """A wait for a screen that never shows raises UssdTimeout after its timeout, listing the notice that came instead."""
    ussd_submit(esme, phone, "Your balance is low", USSN_REQUEST)
    started = time.monotonic()
    with pytest.raises(UssdTimeout) as raised:
        phone.wait_for_ussd("PIN", timeout=1)
    assert 1 <= time.monotonic() - started < 2.5
    text = str(raised.value)
    assert "no USSD screen matching /PIN/ within 1 s" in text and "'Your balance is low'" in text
    assert [screen.text for screen in raised.value.shown] == ["Your balance is low"]
    assert raised.value.shown[0].closed and phone.ussd_cursor == raised.value.shown[0].cursor


def test_cancel_ends_the_dialogue_and_tells_the_application(phone: Phone, esme: Esme) -> None:
    """cancel_ussd closes a pushed prompt, the ESME gets an abort, a phone waiting on the prompt sees the end, and a second cancel is refused."""
    ussd_submit(esme, phone, PUSH, USSR_REQUEST)
    prompt = phone.wait_for_ussd(timeout=5)
    cancelled = Phone(phone.msisdn, phone.base_url).cancel_ussd()
    assert (cancelled.session, cancelled.text, cancelled.closed) == (prompt.session, PUSH, True)
    assert cancelled.end_reason is not None and "cancel" in cancelled.end_reason
    # The end shows no new screen, yet it moves the cursor: a wait returns the closed dialogue.
    assert cancelled.cursor > prompt.cursor and phone.wait_for_ussd(timeout=5) == cancelled
    abort = next_ussd(esme, phone, 1)
    assert abort.ussd_service_op == ABORT and abort.its_session_info & 1 == 1
    with pytest.raises(SmsgwError) as raised:
        phone.cancel_ussd()
    assert (raised.value.status, raised.value.code) == (409, "no_dialogue")
    with pytest.raises(SmsgwError) as raised:
        phone.answer("1")
    assert (raised.value.status, raised.value.code) == (409, "no_prompt")


def test_dial_of_an_unknown_code_is_refused(phone: Phone) -> None:
    """Dialling a code no application answers raises SmsgwError ussd_refused, and the phone stays idle."""
    with pytest.raises(SmsgwError) as raised:
        phone.dial("*999#")
    assert (raised.value.status, raised.value.code) == (422, "ussd_refused")
    assert "*999#" in raised.value.message
    assert phone.ussd_screen().state == "idle"


def test_dial_times_out_while_the_application_has_the_move(phone: Phone, esme: Esme) -> None:
    """A dial the application leaves unanswered past the phone's timeout raises UssdTimeout saying the phone waits for it."""
    started = time.monotonic()
    with pytest.raises(UssdTimeout) as raised:
        phone.dial("*126#", timeout=1)
    assert 1 <= time.monotonic() - started < 2.5
    assert raised.value.screen.state == "waiting_app"
    text = str(raised.value)
    assert "got no first screen of *126# within 1 s" in text and "waiting for the application" in text
    assert next_ussd(esme, phone, 1).ussd_service_op == PSSR_INDICATION
    assert phone.cancel_ussd().closed


def test_application_timeout_of_the_network_raises_ussd_timeout(
    start_server: Callable[..., Smsgw],  # noqa: F811
    connect: Callable[..., Any],  # noqa: F811
) -> None:
    """When the gateway ends a dial the ESME never answers, dial raises UssdTimeout showing "Connection problem"."""
    smsgw = start_server("[network]\nussd_app_timeout = 1\n")
    silent: Esme = connect(smsgw)
    silent.bind("transceiver")
    phone = Phone(fresh_number(), smsgw.ports["http_url"])
    started = time.monotonic()
    with pytest.raises(UssdTimeout) as raised:
        phone.dial("*126#", timeout=5)
    assert 1 <= time.monotonic() - started < 3
    screen = raised.value.screen
    assert (screen.text, screen.closed) == (NETWORK_ERROR, True)
    text = str(raised.value)
    assert NETWORK_ERROR in text and "application did not answer in time" in text and "*126#" in text


def test_ussd_screen_is_a_readable_frozen_value() -> None:
    """UssdScreen is immutable, reads the dialogue JSON, and its str shows code, state, inputs and text."""
    screen = UssdScreen.from_json(
        {"session": 7, "service_code": "*126#", "origin": "mobile", "state": "closed",
         "screen": "Balance: 120.00 CNY", "expects_reply": False, "cursor": 12, "inputs": ["2"],
         "end_reason": "ended by the application"}
    )  # fmt: skip
    assert screen.closed and screen.inputs == ("2",) and screen.cursor == 12
    assert str(screen) == (
        "USSD *126# session 7 [closed: ended by the application; typed '2']: 'Balance: 120.00 CNY'"
    )
    idle = UssdScreen.from_json({"state": "idle", "cursor": 0, "inputs": []})
    assert (idle.text, idle.session, idle.closed, str(idle)) == (
        "",
        None,
        False,
        "USSD idle: no dialogue yet",
    )
    with pytest.raises(AttributeError):
        screen.text = "changed"  # type: ignore[misc]


def test_an_answer_to_a_prompt_that_timed_out_does_not_reach_the_next_push(
    start_server: Callable[..., Smsgw],  # noqa: F811
    connect: Callable[..., Any],  # noqa: F811
) -> None:
    """Phone.answer is meant for the prompt it saw: when that one timed out and a newer push
    shows, it raises dialogue_changed instead of typing into the newer prompt."""
    smsgw = start_server("[network]\nussd_user_timeout = 1\n")
    app: Esme = connect(smsgw)
    app.bind("transceiver")
    phone = Phone(fresh_number(), smsgw.ports["http_url"])
    ussd_submit(app, phone, "Survey: rate us 1-5", USSR_REQUEST)
    assert phone.wait_for_ussd("Survey", timeout=5).expects_reply
    assert next_ussd(app, phone, 1).ussd_service_op == ABORT  # the user took too long
    ussd_submit(app, phone, "Bank: enter PIN", USSR_REQUEST)
    with pytest.raises(SmsgwError) as raised:
        phone.answer("4321", timeout=2)
    assert raised.value.code == "dialogue_changed"
    assert phone.wait_for_ussd("PIN", timeout=5).inputs == ()
    with pytest.raises(UssdTimeout) as waited:  # typed into the PIN prompt; the app stays silent
        phone.answer("4321", timeout=0.5)
    assert waited.value.screen.inputs == ("****",)
