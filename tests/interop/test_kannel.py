"""Kannel 1.4.5 (the Debian ``kannel`` package) bound to a real smsgw as an ESME.

Starts ``python -m smsgw serve`` and Kannel's bearerbox + smsbox (through
``interop/kannel/run.py``) on free ports in a temp dir, then drives real traffic both ways:
MT through Kannel's sendsms HTTP interface with dlr-mask 31, and MO through smsgw's handset
API. The proof that Kannel matched a receipt is its dlr-url being called with type 1 and
%F (the SMSC's message id) equal to smsgw's message_id, plus bearerbox's own DLR log lines.
See docs/kannel.md. Skipped when Kannel is not installed.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

RUNNER = Path(__file__).resolve().parents[2] / "interop" / "kannel" / "run.py"


def _load_runner() -> Any:
    spec = importlib.util.spec_from_file_location("kannel_runner", RUNNER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


runner = _load_runner()

# shutil.which("bearerbox"), also looking in /usr/sbin (where Debian puts it; not on every PATH).
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        runner.find_program("bearerbox") is None,
        reason="Kannel is not installed (no bearerbox on PATH or in /usr/sbin); apt-get install kannel to run this test",
    ),
]

WAIT = 10.0  # seconds for any one thing to happen; everything normally takes well under 1 s
NOT_MATCHED = "got DLR but could not find message"  # Kannel's error when a receipt matches nothing


class Pair:
    """A running smsgw and a Kannel bound to it."""

    def __init__(self, smsgw: Any, kannel: Any) -> None:
        self.smsgw = smsgw
        self.kannel = kannel

    def sendsms(self, to: str, text: str, tag: str, **params: Any) -> None:
        """Send an MT through Kannel with dlr-mask 31 and a dlr-url tagged ``tag``."""
        status, body = self.kannel.sendsms(to, text, dlr_mask=31, dlr_url=self.kannel.dlr_url(tag), **params)
        assert status == 202 and "Accepted" in body, f"sendsms answered {status} {body!r}"

    def inbox(self, msisdn: str, text_pred: Any, count: int = 1) -> list[dict[str, Any]]:
        """Wait until ``count`` stored MT parts for ``msisdn`` satisfy ``text_pred``; return them oldest first."""

        def found() -> list[dict[str, Any]] | None:
            messages = self.smsgw.api("GET", f"/api/messages?msisdn={msisdn}&direction=MT")["messages"]
            hits = [m for m in messages if text_pred(m)]
            return sorted(hits, key=lambda m: int(m["message_id"])) if len(hits) >= count else None

        return runner.wait_until(found, WAIT, f"{count} MT message(s) in {msisdn}'s inbox")

    def dlr(self, tag: str, kind: str) -> Any:
        """The catcher's dlr-url hit of report type ``kind`` for ``tag``."""
        return self.kannel.catcher.wait_for(
            lambda h: h.path == "/dlr" and h.get("tag") == tag and h.get("type") == kind,
            WAIT,
            f"Kannel to call dlr-url {tag} with type={kind}",
        )

    def assert_matched_in_log(self, message_id: str, msisdn: str, tag: str) -> None:
        """bearerbox.log shows the receipt for ``message_id`` looked up and found, and nothing unmatched."""
        log = self.kannel.log("bearerbox")
        looked_up = f"DLR[internal]: Looking for DLR smsc=smsgw, ts={message_id}, dst={msisdn}, type=1"
        created = f"DLR[internal]: created DLR message for URL <{self.kannel.catcher.url}/dlr?tag={tag}&"
        assert looked_up in log, f"no {looked_up!r} in {self.kannel.workdir}/bearerbox.log"
        assert created in log, f"no {created!r} in {self.kannel.workdir}/bearerbox.log"
        assert NOT_MATCHED not in log, _lines_with(log, NOT_MATCHED)


def _lines_with(log: str, needle: str) -> str:
    return "\n".join(line for line in log.splitlines() if needle in line)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """smsgw and Kannel, started once for the module and stopped cleanly (Kannel unbinds first)."""
    workdir = tmp_path_factory.mktemp("kannel")
    smsgw = runner.SmsgwProcess(workdir, python=sys.executable)
    kannel = None
    try:
        endpoints = smsgw.start()
        kannel = runner.KannelRig(
            endpoints["smpp_host"],
            endpoints["smpp"],
            endpoints["system_id"],
            endpoints["password"],
            workdir=workdir / "kannel",
        )
        kannel.start()
        yield Pair(smsgw, kannel)
    finally:
        codes = kannel.stop() if kannel is not None else {}
        smsgw_code = smsgw.stop()
    assert codes == {"smsbox": 0, "bearerbox": 0}, f"Kannel exit codes {codes}; logs in {workdir}/kannel"
    assert smsgw_code == 0, f"smsgw exited with {smsgw_code}; see {workdir}/smsgw.log"
    log = (workdir / "kannel" / "bearerbox.log").read_text("utf-8", "replace")
    assert "type_name: unbind_resp" in log, "bearerbox did not get an unbind_resp from smsgw on shutdown"


def test_gsm_mt_arrives_and_its_receipt_is_matched(pair: Pair) -> None:
    """A GSM MT sent through sendsms reaches the handset intact, and Kannel matches smsgw's receipt to it."""
    text = "Kannel MT: your code is 482913 @ shop £5 (ok?)"
    pair.sendsms("8613800000001", text, "gsm")
    [message] = pair.inbox("8613800000001", lambda m: m["text"] == text)
    assert message["data_coding"] == 0
    assert message["registered_delivery"] == 0x11  # dlr-mask 31: final receipt + intermediate
    assert message["state"] == "DELIVRD"

    ack = pair.dlr("gsm", "8")  # 8 = accepted by the SMSC (submit_sm_resp)
    delivered = pair.dlr("gsm", "1")  # 1 = delivered: only sent when Kannel found its message
    assert ack.get("fid") == delivered.get("fid") == message["message_id"]
    assert delivered.get("answer").startswith(f"id:{message['message_id']} sub:001 dlvrd:001 ")
    assert "stat:DELIVRD err:000" in delivered.get("answer")
    assert delivered.get("to") == "8613800000001" and delivered.get("from") == "12345"
    pair.assert_matched_in_log(message["message_id"], "8613800000001", "gsm")


def test_ucs2_mt_arrives_decoded(pair: Pair) -> None:
    """A Chinese MT sent with coding=2&charset=utf-8 arrives as UCS-2 and reads back correctly; its receipt matches."""
    text = "你好，世界！您的验证码是 482913。"
    pair.sendsms("8613800000002", text, "ucs2", coding=2, charset="utf-8")
    [message] = pair.inbox("8613800000002", lambda m: m["text"] == text)
    assert message["data_coding"] == 8
    assert bytes.fromhex(message["body_hex"]) == text.encode("utf-16-be")
    delivered = pair.dlr("ucs2", "1")
    assert delivered.get("fid") == message["message_id"]
    pair.assert_matched_in_log(message["message_id"], "8613800000002", "ucs2")


def test_long_mt_arrives_in_three_parts_with_one_receipt(pair: Pair) -> None:
    """A 400-character GSM text becomes 3 UDH parts; only part 1 asks for a receipt, and Kannel matches it."""
    text = "".join(f"{n:03d}-long-message-test;" for n in range(40))[:400]
    assert len(text) == 400
    pair.sendsms("8613800000003", text, "long")
    parts = pair.inbox("8613800000003", lambda m: m["parts"] is not None and m["text"] in text, count=3)
    assert len(parts) == 3
    assert [p["parts"]["seq"] for p in parts] == [1, 2, 3]
    assert {p["parts"]["total"] for p in parts} == {3}
    assert len({p["parts"]["ref"] for p in parts}) == 1
    assert "".join(p["text"] for p in parts) == text
    inbox = pair.smsgw.api("GET", "/api/handsets/8613800000003/inbox")["messages"]
    assert [m["text"] for m in inbox if m["total_parts"] == 3] == [text]  # the phone shows one message
    assert [len(p["text"]) for p in parts] == [153, 153, 94]
    assert [p["esm_class"] for p in parts] == [0x43, 0x43, 0x43]  # UDHI + store-and-forward
    assert [p["registered_delivery"] for p in parts] == [0x11, 0, 0]  # only part 1 asks for a receipt
    assert all(p["state"] == "DELIVRD" for p in parts)

    first = parts[0]["message_id"]
    delivered = pair.dlr("long", "1")
    assert delivered.get("fid") == first
    assert delivered.get("answer").startswith(f"id:{first} ")
    assert delivered.get("answer").endswith("text:" + text[:20])  # the excerpt skips the UDH
    pair.dlr("long", "8")  # the SMSC ack comes once all parts are accepted
    pair.assert_matched_in_log(first, "8613800000003", "long")
    time.sleep(0.3)  # a stray receipt for part 2 or 3 would arrive right after part 1's
    reports = pair.kannel.catcher.matching(lambda h: h.path == "/dlr" and h.get("tag") == "long")
    assert sorted(h.get("type") for h in reports) == ["1", "8"], reports


def test_receipt_text_reaches_the_dlr_url_as_printable_text(pair: Pair) -> None:
    """The receipt text Kannel passes to the dlr-url (%A) holds no NUL or control bytes, whatever the MT said."""
    text = "@home: £5, $3 & a_b"
    pair.sendsms("8613800000001", text, "excerpt")
    delivered = pair.dlr("excerpt", "1")
    answer = delivered.get("answer")
    assert answer.startswith("id:") and "stat:DELIVRD" in answer  # matched, as always
    assert answer.isprintable(), repr(answer)


def test_phone_off_gives_a_buffered_report_then_delivered(pair: Pair) -> None:
    """With the phone off Kannel matches smsgw's intermediate ENROUTE notification (type 4), then DELIVRD (type 1)."""
    msisdn = "8613800000002"
    pair.smsgw.api("PATCH", f"/api/handsets/{msisdn}", {"state": "off"})
    try:
        text = "Kannel MT while the phone is off"
        pair.sendsms(msisdn, text, "off")
        buffered = pair.dlr("off", "4")  # esm_class 0x20, message_state 1 (ENROUTE) -> Kannel "buffered"
        [message] = pair.inbox(msisdn, lambda m: m["text"] == text)
        assert message["state"] == "ENROUTE"
        assert buffered.get("fid") == message["message_id"]
        assert "stat:ENROUTE" in buffered.get("answer")
        assert not pair.kannel.catcher.matching(lambda h: h.get("tag") == "off" and h.get("type") == "1")
    finally:
        pair.smsgw.api("PATCH", f"/api/handsets/{msisdn}", {"state": "on"})
    delivered = pair.dlr("off", "1")
    assert delivered.get("fid") == message["message_id"]
    assert "stat:DELIVRD" in delivered.get("answer")
    assert NOT_MATCHED not in pair.kannel.log("bearerbox")


def _mo(pair: Pair, msisdn: str, text: str) -> Any:
    ids = pair.smsgw.api("POST", f"/api/handsets/{msisdn}/sms", {"to": "12345", "text": text})["message_ids"]
    assert len(ids) == 1
    hit = pair.kannel.catcher.wait_for(
        lambda h: h.path == "/mo" and h.get("from") == f"+{msisdn}",
        WAIT,
        f"Kannel's get-url call for {msisdn}'s MO",
    )

    def settled() -> bool:
        return pair.smsgw.api("GET", f"/api/messages/{ids[0]}")["state"] == "DELIVRD"

    runner.wait_until(settled, WAIT, f"MO {ids[0]} to be DELIVRD (deliver_sm_resp 0 from Kannel)")
    return hit


def test_gsm_mo_reaches_the_sms_service(pair: Pair) -> None:
    """An MO from a handset reaches Kannel's sms-service get-url with sender (+E.164), short code and text."""
    text = "Hi shop, order #42 & more? 5€ @home"
    hit = _mo(pair, "8613800000004", text)
    assert hit.get("to") == "12345"
    assert hit.get("smsc") == "smsgw"
    assert hit.get("coding") == "0"
    assert hit.text() == text
    assert hit.raw("bin").decode("utf-8") == text  # %b: the text as received (Kannel converted GSM to UTF-8)


def kannel_words(raw: bytes) -> bytes:
    """What Kannel's %a makes of a message body: words split on C isspace() bytes, re-joined by one space.

    Kannel does this to the raw octets, also for UCS-2, so a UTF-16BE code unit with a
    0x09-0x0D or 0x20 octet (the full-width comma U+FF0C is FF 0C) is altered: use %b for
    UCS-2 (see docs/kannel.md).
    """
    return b" ".join(word for word in re.split(rb"[ \t\n\v\f\r]+", raw) if word)


def test_ucs2_mo_reaches_the_sms_service(pair: Pair) -> None:
    """A Chinese MO reaches the get-url as UCS-2 (%c=2, %C=UTF-16BE); %b carries it exactly, %a word-squeezed."""
    text = "我要买两本书，谢谢"
    raw = text.encode("utf-16-be")
    hit = _mo(pair, "8613800000005", text)
    assert hit.get("to") == "12345"
    assert hit.get("coding") == "2"
    assert hit.get("charset") == "UTF-16BE"
    assert hit.raw("bin") == raw
    assert hit.raw("bin").decode(hit.get("charset")) == text
    # Kannel's %a, not smsgw: FF 0C (the comma) loses its 0C, a space joins the words -> FF 20 ('＠').
    assert hit.raw("text") == kannel_words(raw) != raw
    assert hit.text() == "我要买两本书＠谢谢"
    assert kannel_words("我要买两本书".encode("utf-16-be")) == "我要买两本书".encode("utf-16-be")
