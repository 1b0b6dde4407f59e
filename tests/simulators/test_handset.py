"""simulators.handset.Phone against a real smsgw process, over real HTTP and SMPP.

An smpplib ESME (the e2e helpers) plays the system under test; every test uses a number of
its own, so the tests share one server without seeing each other's messages.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from simulators.handset import Phone, Sms, SmsgwError, SmsNotReceived, UnexpectedSms
from tests.e2e.conftest import SHORT_CODE, Esme, Smsgw, connect, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.e2e

_numbers = itertools.count(1)


def fresh_number() -> str:
    """A subscriber number no other test in this module uses (auto provisioning makes it a phone)."""
    return f"+86139{next(_numbers):08d}"


@pytest.fixture
def phone(server: Smsgw) -> Phone:  # noqa: F811
    """A phone of this test alone, talking to the module's server."""
    return Phone(fresh_number(), server.ports["http_url"])


@pytest.fixture
def esme(server: Smsgw, connect: Callable[..., Any]) -> Esme:  # noqa: F811
    """An smpplib ESME bound as transmitter: the system under test that texts the phones."""
    transmitter: Esme = connect(server)
    transmitter.bind("transmitter")
    return transmitter


def submit(esme: Esme, phone: Phone, text: str, **fields: Any) -> str:
    """submit_sm ``text`` to ``phone`` (no receipt, so none queue up for later tests); return its id."""
    return esme.submit_ok(phone.msisdn, text, registered_delivery=0, **fields)


def test_normalises_the_number(phone: Phone) -> None:
    """The phone's msisdn is the server's normalised form: E.164 digits without a plus."""
    assert re.fullmatch(r"86139\d{8}", phone.msisdn), phone.msisdn
    assert Phone(phone.msisdn[2:], phone.base_url).msisdn == phone.msisdn


def test_wait_returns_as_soon_as_the_message_lands(phone: Phone, esme: Esme) -> None:
    """A long-polling wait_for_sms returns within moments of a submit that happens while it waits."""

    def submit_later() -> str:
        # Submit only once the phone is already waiting, to prove the long poll is woken.
        time.sleep(0.3)
        return submit(esme, phone, "Your code is 482913, valid 5 minutes")

    with ThreadPoolExecutor(max_workers=1) as pool:
        started = time.monotonic()
        submitted = pool.submit(submit_later)
        sms = phone.wait_for_sms(r"code is (\d{6})", timeout=10)
        elapsed = time.monotonic() - started
        message_id = submitted.result(timeout=5)
    assert 0.3 <= elapsed < 3, elapsed
    match = re.search(r"code is (\d{6})", sms.text)
    assert match is not None and match.group(1) == "482913"
    assert sms.parts == (message_id,) and sms.sender == SHORT_CODE and sms.recipient == phone.msisdn
    assert sms.complete and not sms.flash and sms.data_coding == 0 and sms.received_at is not None
    assert str(sms).startswith(f"SMS from {SHORT_CODE} to {phone.msisdn} at ")


def test_consecutive_waits_return_consecutive_messages(phone: Phone, esme: Esme) -> None:
    """Two waits in a row return the two messages in arrival order, each once."""
    for text in ("first", "second", "third"):
        submit(esme, phone, text)
    first = phone.wait_for_sms()
    second = phone.wait_for_sms()
    assert (first.text, second.text) == ("first", "second")
    assert phone.cursor == second.cursor > first.cursor
    assert phone.wait_for_sms(after=first.cursor).text == "second"


def test_new_phone_waits_only_for_new_messages(phone: Phone, esme: Esme) -> None:
    """A Phone made after a message arrived does not return it, and a timeout of 0 looks once."""
    submit(esme, phone, "before")
    phone.wait_for_sms("before")
    late = Phone(phone.msisdn, phone.base_url)
    with pytest.raises(SmsNotReceived, match="nothing arrived"):
        late.wait_for_sms(timeout=0)
    assert [sms.text for sms in late.inbox()] == ["before"]


def test_timeout_lists_what_arrived_instead(phone: Phone, esme: Esme) -> None:
    """When no message matches in time, the error states what was expected and lists what came."""
    submit(esme, phone, "Your parcel is on its way")
    started = time.monotonic()
    with pytest.raises(SmsNotReceived) as raised:
        phone.wait_for_sms(r"code is (\d{6})", sender=SHORT_CODE, timeout=1)
    assert 1 <= time.monotonic() - started < 3
    text = str(raised.value)
    assert "expected" in text and r"/code is (\d{6})/" in text and f"from {SHORT_CODE}" in text
    assert "within 1 s" in text and "Your parcel is on its way" in text
    assert [sms.text for sms in raised.value.arrived] == ["Your parcel is on its way"]


def test_filters_by_sender_and_compiled_pattern_flags(phone: Phone, esme: Esme) -> None:
    """sender= skips other senders, and a compiled pattern's flags reach the server's match."""
    submit(esme, phone, "CODE IS 111111", source_addr="54321")
    submit(esme, phone, "code is 222222")
    submit(esme, phone, "CODE IS 333333")
    assert phone.wait_for_sms(sender=SHORT_CODE).text == "code is 222222"
    assert phone.wait_for_sms(re.compile(r"code is \d+", re.IGNORECASE)).text == "CODE IS 333333"


def test_a_pattern_only_python_runs_is_matched_by_the_client(phone: Phone, esme: Esme) -> None:
    """The server matches with RE2 and refuses lookaround; the phone matches such a pattern
    itself, passing over what does not match as the server would."""
    submit(esme, phone, "code is 111111 (test)")
    submit(esme, phone, "code is 222222")
    assert phone.wait_for_sms(r"code is \d+(?! \(test\))$", timeout=5).text == "code is 222222"
    submit(esme, phone, "code is 333333 (test)")
    with pytest.raises(UnexpectedSms):
        phone.expect_no_sms(2, r"(\d)\1{5}")  # a backreference: six equal digits


def test_expect_no_sms_passes_when_nothing_comes(phone: Phone, esme: Esme) -> None:
    """expect_no_sms returns after its window when nothing matching arrives."""
    submit(esme, phone, "unrelated")
    started = time.monotonic()
    phone.expect_no_sms(within=1, matching="code")
    assert 1 <= time.monotonic() - started < 3


def test_expect_no_sms_raises_when_something_comes(phone: Phone, esme: Esme) -> None:
    """expect_no_sms raises UnexpectedSms at once, naming the message that arrived."""
    submit(esme, phone, "Surprise!")
    started = time.monotonic()
    with pytest.raises(UnexpectedSms, match="Surprise!") as raised:
        phone.expect_no_sms(within=10)
    assert time.monotonic() - started < 3
    assert [sms.text for sms in raised.value.arrived] == ["Surprise!"]


def test_switched_off_phone_gets_held_message_on_switch_on(server: Smsgw, phone: Phone, esme: Esme) -> None:  # noqa: F811
    """A message to a phone that is off is held by the network and lands once it is switched on."""
    phone.switch_off()
    assert phone.state == "off"
    message_id = submit(esme, phone, "held for you")
    phone.expect_no_sms(within=1)
    assert phone.inbox() == [] and server.message(message_id)["state"] == "ENROUTE"
    phone.switch_on()
    assert phone.state == "on"
    assert phone.wait_for_sms(timeout=5).parts == (message_id,)


def test_name_state_and_provisioning(server: Smsgw) -> None:  # noqa: F811
    """A provisioned handset has its name and state; PATCH renames it; provisioning twice is refused."""
    msisdn = fresh_number()
    phone = Phone.provision(msisdn, server.ports["http_url"], name="Test buyer", state="busy")
    assert (phone.name, phone.state) == ("Test buyer", "busy")
    phone.name = "Renamed"
    phone.set_state("inbox_full")
    assert (phone.name, phone.state) == ("Renamed", "inbox_full")
    with pytest.raises(SmsgwError) as raised:
        Phone.provision(msisdn, server.ports["http_url"])
    assert (raised.value.status, raised.value.code) == (409, "exists")
    phone.forget()
    assert (phone.name, phone.state) == ("", "on")


def test_send_sms_reaches_the_receiver_and_the_sent_box(
    server: Smsgw,  # noqa: F811
    phone: Phone,
    connect: Callable[..., Any],  # noqa: F811
) -> None:
    """send_sms arrives at a bound receiver as deliver_sm from the phone, and shows in sent()."""
    receiver: Esme = connect(server)
    receiver.bind("receiver")
    (short_id,) = phone.send_sms("YES 123456", to=SHORT_CODE)
    long_text = "Please deliver to the back door. " * 6
    long_ids = phone.send_sms(long_text, to=SHORT_CODE)
    assert len(long_ids) == 2

    def from_phone() -> list[Any]:
        return [d for d in receiver.deliveries if bytes(d.source_addr).decode() == phone.msisdn]

    count = 0
    while len(from_phone()) < 3:  # deliver_sm queued by other tests may come first
        count += 1
        receiver.wait_deliveries(count)
    first = from_phone()[0]
    assert bytes(first.short_message) == b"YES 123456"
    assert bytes(first.destination_addr).decode() == SHORT_CODE
    sent = phone.sent()
    assert [(s.text, s.parts) for s in sent] == [("YES 123456", (short_id,)), (long_text, tuple(long_ids))]
    assert sent[0].sender == phone.msisdn and sent[0].recipient == SHORT_CODE


def test_api_errors_raise_smsgw_error(server: Smsgw, phone: Phone) -> None:  # noqa: F811
    """An invalid number or state raises SmsgwError with the server's status, code and message."""
    with pytest.raises(SmsgwError) as raised:
        Phone("not-a-number", server.ports["http_url"])
    error = raised.value
    assert (error.status, error.code) == (404, "unknown_handset")
    assert "not-a-number" in error.message and str(error).startswith("404 unknown_handset: ")
    with pytest.raises(SmsgwError, match="bad_field") as raised:
        phone.set_state("flying")
    assert raised.value.status == 400


def test_unreachable_server_raises_smsgw_error() -> None:
    """A server that does not listen gives SmsgwError 'unreachable', not a urllib exception."""
    with pytest.raises(SmsgwError) as raised:
        Phone("8613800000001", "http://127.0.0.1:9", timeout=2)
    assert raised.value.status is None and raised.value.code == "unreachable"


def test_scheduled_message_after_a_later_one_is_still_waited_for(phone: Phone, esme: Esme) -> None:
    """A message scheduled 1 s ahead is returned by the wait after the one submitted later."""
    submit(esme, phone, "later", schedule_delivery_time="000000000001000R")
    submit(esme, phone, "now")
    assert phone.wait_for_sms().text == "now"
    assert phone.wait_for_sms(timeout=3).text == "later"


def test_sms_is_a_readable_frozen_value() -> None:
    """Sms is immutable and its str shows sender, recipient, time, text and flags."""
    sms = Sms.from_json(
        {"id": 5, "cursor": 7, "from": "12345", "text": "Hi […]", "complete": False,
         "data_coding": 0, "flash": True, "received_at": "2026-11-25T15:01:02.121Z",
         "parts": [{"seq": 1, "message_id": "5", "received_at": "2026-11-25T15:01:02.117Z"}]},
        "8613800000001",
    )  # fmt: skip
    assert (
        str(sms) == "SMS from 12345 to 8613800000001 at 2026-11-25 15:01:02Z: 'Hi […]' [incomplete] [flash]"
    )
    with pytest.raises(AttributeError):
        sms.text = "changed"  # type: ignore[misc]
