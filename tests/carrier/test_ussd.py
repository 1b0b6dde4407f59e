"""The USSD gateway without I/O: dial strings, turns, limits and timeouts, with a fake application side."""

from __future__ import annotations

import pytest

from simulators.merchant.texts import say
from smsgw.carrier.errors import DialogueChanged, Refusal, Rejected
from smsgw.carrier.subscribers import HandsetState, Subscriber
from smsgw.carrier.ussd import (
    ABORT_OP,
    Dialogue,
    Phase,
    UssdGateway,
    UssdLimits,
    UssdRoute,
    base_code,
    shown_input,
)


class FakeApps:
    """Records what the gateway sends to applications."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int, str, bool]] = []
        self.posted: list[str] = []
        self.bound = True

    def send_to_esme(self, system_id: str, dialogue: Dialogue, op: int, text: str, end: bool) -> bool:
        self.sent.append((system_id, op, text, end))
        return self.bound

    def post_to_http(self, dialogue: Dialogue, text: str) -> None:
        self.posted.append(text)


def gateway(**limits: float) -> tuple[UssdGateway, FakeApps]:
    apps = FakeApps()
    routes = [UssdRoute("*126#", system_id="shop"), UssdRoute("*384#", url="http://app")]
    return UssdGateway(routes, UssdLimits(**limits), apps), apps  # type: ignore[arg-type]


PHONE = Subscriber("8613800000001")


@pytest.mark.parametrize(
    ("dialled", "parsed"),
    [
        ("*126#", ("*126#", [])),
        ("*126*1*25#", ("*126#", ["1", "25"])),
        ("126#", None),
        ("*12a#", None),
        ("*#", None),
        ("*\u0661\u0662\u0666#", None),  # Arabic-Indic digits: no keypad sends them
    ],
)
def test_dial_strings(dialled: str, parsed: object) -> None:
    """*126*1*25# routes by *126# and carries 1 and 25 as direct inputs; non-USSD strings are refused."""
    assert base_code(dialled) == parsed


def test_turns_and_one_dialogue_per_handset() -> None:
    """The app's screen waits for the user; a second dial or push to a busy phone is refused."""
    ussd, apps = gateway()
    dialogue = ussd.dial(PHONE, "*126#", 0.0)
    assert apps.sent == [("shop", 1, "*126#", False)] and dialogue.phase is Phase.WAITING_APP
    ussd.from_esme("shop", PHONE, 2, dialogue.its_session_info, "1 Pay", 1.0)
    assert dialogue.phase is Phase.WAITING_USER and dialogue.screen.expects_reply  # type: ignore[union-attr]
    with pytest.raises(Rejected, match="already in a USSD dialogue"):
        ussd.dial(PHONE, "*126#", 1.0)
    with pytest.raises(Rejected, match="busy"):
        ussd.from_esme("shop", PHONE, 2, None, "push", 1.0)
    ussd.reply(PHONE.msisdn, "1", 2.0)
    assert apps.sent[-1] == ("shop", 18, "1", False)
    ussd.from_esme("shop", PHONE, 17, dialogue.its_session_info, "Done", 3.0)
    assert dialogue.phase is Phase.CLOSED and not ussd.busy(PHONE.msisdn)


def test_screens_are_cut_at_the_limit() -> None:
    """A screen longer than max_length shows its first max_length characters."""
    ussd, _ = gateway(max_length=10)
    pushed = ussd.from_esme("shop", PHONE, 2, None, "x" * 30, 0.0)
    assert pushed.screen.text == "x" * 10  # type: ignore[union-attr]


def test_timeouts_end_both_sides() -> None:
    """No app answer shows a network error; no user answer aborts the app with op 0x81 and EOS."""
    ussd, apps = gateway(user_timeout=5, app_timeout=2)
    slow = ussd.dial(PHONE, "*126#", 0.0)
    ussd.tick(1.9)
    assert slow.phase is Phase.WAITING_APP
    ussd.tick(2.0)
    assert slow.phase is Phase.CLOSED and "Connection problem" in slow.screen.text  # type: ignore[union-attr]
    idle = ussd.from_esme("shop", PHONE, 2, None, "PIN?", 10.0)
    ussd.tick(15.0)
    assert idle.phase is Phase.CLOSED and apps.sent[-1] == ("shop", ABORT_OP, "user_timeout", True)


def test_http_route_sends_joined_inputs_and_off_phone_cannot_dial() -> None:
    """An HTTP route gets the *-joined inputs (direct string first); a phone that is off cannot dial."""
    ussd, apps = gateway()
    dialogue = ussd.dial(PHONE, "*384*1#", 0.0)
    ussd.app_said(dialogue.session, "Amount?", expects_reply=True, now=0.5)
    ussd.reply(PHONE.msisdn, "25", 1.0)
    assert apps.posted == ["1", "1*25"]
    off = Subscriber("8613800000002", state=HandsetState.OFF)
    with pytest.raises(Rejected, match="off"):
        ussd.dial(off, "*126#", 0.0)


def test_unbound_application_fails_the_dial_at_once() -> None:
    """With no receiver of the account bound, the handset sees the network error at once."""
    ussd, apps = gateway()
    apps.bound = False
    dialogue = ussd.dial(PHONE, "*126#", 0.0)
    assert dialogue.phase is Phase.CLOSED and "no receiver" in (dialogue.end_reason or "")


def test_busy_and_off_handsets_refuse_pushes_differently() -> None:
    """A busy phone refuses a push as USSD_REFUSED, an off one as HANDSET_UNREACHABLE (SMPP answers ESME_RSUBMITFAIL and ESME_RDELIVERYFAILURE); the app may end its own dialogue while a prompt waits."""
    ussd, _ = gateway()
    busy = Subscriber("8613800000003", state=HandsetState.BUSY)
    off = Subscriber("8613800000004", state=HandsetState.OFF)
    with pytest.raises(Rejected) as refused:
        ussd.from_esme("shop", busy, 2, None, "Pay?", 0.0)
    assert refused.value.refusal is Refusal.USSD_REFUSED
    with pytest.raises(Rejected) as refused:
        ussd.from_esme("shop", off, 2, None, "Pay?", 0.0)
    assert refused.value.refusal is Refusal.HANDSET_UNREACHABLE
    prompt = ussd.from_esme("shop", PHONE, 2, None, "PIN?", 0.0)
    ussd.from_esme("shop", PHONE, 3, prompt.its_session_info | 1, "Payment cancelled.", 1.0)
    assert prompt.phase is Phase.CLOSED and prompt.screen.text == "Payment cancelled."  # type: ignore[union-attr]


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("key", ["push_pin", "wrong_pin_retry", "menu_pin"])
def test_what_is_typed_at_every_pin_prompt_of_the_merchant_is_shown_masked(language: str, key: str) -> None:
    prompt = say(language, key, money="2.00 CNY", shop="ShopX", tries=2)  # type: ignore[arg-type]
    assert shown_input(prompt, "3456") == "****"


@pytest.mark.parametrize(
    "prompt",
    [
        "Pay 2.00 CNY to Shopping Mall?\n1 Confirm\n2 Cancel",
        "1 Pay merchant\n2 My balance",
        "Enter amount (CNY):",
    ],
)
def test_other_answers_are_shown_as_typed(prompt: str) -> None:
    assert shown_input(prompt, "1") == "1"


def test_a_pin_reaches_the_application_and_is_kept_masked() -> None:
    """The app gets the PIN as typed (ESME and HTTP styles); the dialogue shows it as ****."""
    ussd, apps = gateway()
    pushed = ussd.from_esme("shop", PHONE, 2, None, "Pay 2.00 CNY to ShopX?\n1 Confirm\n2 Cancel", 0.0)
    ussd.reply(PHONE.msisdn, "1", 1.0)
    ussd.from_esme("shop", PHONE, 2, pushed.its_session_info, "Enter PIN to pay 2.00 CNY to ShopX:", 2.0)
    ussd.reply(PHONE.msisdn, "3456", 3.0)
    assert apps.sent[-1] == ("shop", 18, "3456", False)
    assert (pushed.inputs, pushed.shown_inputs) == (["1", "3456"], ["1", "****"])
    http = ussd.dial(Subscriber("8613800000003"), "*384*1#", 4.0)
    ussd.app_said(http.session, "请输入密码：", expects_reply=True, now=4.5)
    ussd.reply("8613800000003", "918273", 5.0)
    assert apps.posted[-1] == "1*918273" and http.shown_inputs == ["1", "******"]


def test_a_screen_for_a_dialogue_the_network_ended_is_late_not_a_push() -> None:
    """After an app timeout, any screen naming the ended session is refused and shown nowhere;
    after the application's own end, the number is free for a new push."""
    ussd, apps = gateway(app_timeout=5.0)
    timed_out = ussd.dial(PHONE, "*126#", 0.0)
    ussd.tick(5.0)
    assert timed_out.end_code == "app_timeout"
    for op in (2, 3, 17):
        with pytest.raises(Rejected, match="already ended: the application did not answer in time"):
            ussd.from_esme("shop", PHONE, op, timed_out.its_session_info | (op == 17), "late", 6.0)
    assert ussd.current(PHONE.msisdn) is timed_out and not ussd.busy(PHONE.msisdn)
    # Another account's push with the same number is its own business.
    assert ussd.from_esme("bank", PHONE, 2, timed_out.its_session_info, "Bank?", 7.0).origin == "network"
    ussd.cancel(PHONE.msisdn, 8.0)
    ended = ussd.from_esme("shop", PHONE, 3, 0x2A00, "Paid", 9.0)
    assert ended.end_code == "notice"
    assert ussd.from_esme("shop", PHONE, 2, 0x2A00, "Pay again?", 10.0).phase is Phase.WAITING_USER


def test_a_push_keeps_the_session_its_application_chose() -> None:
    """The its_session_info of a push names its dialogue both ways until it ends."""
    ussd, apps = gateway()
    pushed = ussd.from_esme("shop", PHONE, 2, 0x2A00, "Pay 5.00?", 0.0)
    assert pushed.its_session_info == 0x2A00
    ussd.reply(PHONE.msisdn, "1", 1.0)
    with pytest.raises(Rejected):
        ussd.from_esme("shop", PHONE, 17, 0x0100 | 1, "wrong session", 2.0)
    ussd.from_esme("shop", PHONE, 17, 0x2A00 | 1, "Paid", 2.0)
    assert (pushed.phase, pushed.screen.text) == (Phase.CLOSED, "Paid")  # type: ignore[union-attr]


def test_an_error_answer_ends_the_dialogue_only_while_it_stands_where_it_was() -> None:
    """An ESME's error answer to a deliver_sm ends the dialogue when nothing moved since it was
    sent; an answer to an earlier step, after the app showed the next screen, changes nothing."""
    ussd, apps = gateway()
    dialogue = ussd.dial(PHONE, "*126#", 0.0)
    sent_at = dialogue.cursor
    ussd.from_esme("shop", PHONE, 2, dialogue.its_session_info, "1 Pay", 1.0)
    ussd.reply(PHONE.msisdn, "1", 2.0)
    ussd.app_failed(dialogue.session, "refused with ESME_RSYSERR", 3.0, cursor=sent_at)
    assert dialogue.phase is Phase.WAITING_APP
    ussd.app_failed(dialogue.session, "refused with ESME_RSYSERR", 3.0, cursor=dialogue.cursor)
    assert (dialogue.phase, dialogue.end_code) == (Phase.CLOSED, "app_failed")
    assert dialogue.screen.text == "Connection problem or invalid MMI code."  # type: ignore[union-attr]
    assert apps.sent[-1][1] != ABORT_OP  # the application refused: no abort is sent to it


def test_an_answer_naming_a_dialogue_that_is_over_is_refused() -> None:
    """reply and cancel with ``session`` act only on that dialogue while it shows."""
    ussd, apps = gateway(user_timeout=5.0)
    survey = ussd.from_esme("shop", PHONE, 2, None, "Rate us 1-5", 0.0)
    ussd.tick(5.0)
    pin = ussd.from_esme("shop", PHONE, 2, None, "Enter PIN", 6.0)
    with pytest.raises(DialogueChanged, match=f"dialogue {survey.session} is over"):
        ussd.reply(PHONE.msisdn, "4321", 7.0, session=survey.session)
    with pytest.raises(DialogueChanged):
        ussd.cancel(PHONE.msisdn, 7.0, session=survey.session)
    assert pin.inputs == []
    assert ussd.reply(PHONE.msisdn, "4321", 7.0, session=pin.session).inputs == ["4321"]
