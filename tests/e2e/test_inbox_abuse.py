"""What a caller sends to the inbox never stalls the carrier: RE2 patterns, paged reads, bounded long polls."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from smsgw.smpp.constants import CommandId
from smsgw.text.udh import build_concat_udh

from .conftest import Smsgw, raw_pdu, submit_sm_body

pytestmark = pytest.mark.e2e

PHONE = "8613800000007"


def submit_pipelined(smsgw: Smsgw, connect: Any, bodies: list[bytes]) -> None:
    """Submit every body on one session without waiting between them, then read every response."""
    session = connect(smsgw, raw=True)
    session.bind()
    first = session.next_sequence()
    session.send(b"".join(raw_pdu(CommandId.SUBMIT_SM, body, first + i) for i, body in enumerate(bodies)))
    for _ in bodies:
        assert session.read_pdu(timeout=20).command_status == 0


def single(text: str, phone: str = PHONE) -> bytes:
    return submit_sm_body(destination_addr=phone.encode(), short_message=text.encode("ascii"))


def concat(texts: list[str], reference: int, phone: str = PHONE) -> list[bytes]:
    return [
        submit_sm_body(
            destination_addr=phone.encode(),
            esm_class=0x40,
            short_message=build_concat_udh(reference, len(texts), seq) + text.encode("ascii"),
        )
        for seq, text in enumerate(texts, 1)
    ]


def all_pages(smsgw: Smsgw, phone: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Read the inbox page by page from its start; return the messages and how many pages."""
    messages: list[dict[str, Any]] = []
    after, pages = 0, 0
    while True:
        page = smsgw.get(f"/api/handsets/{phone}/inbox?after={after}&limit={limit}")
        pages += 1
        assert len(page["messages"]) <= limit
        messages += page["messages"]
        after = page["cursor"]
        if not page["more"]:
            return messages, pages


def test_a_catastrophic_pattern_answers_at_once_and_the_carrier_goes_on(server: Smsgw, connect) -> None:
    """`^(.|.)*Z` backtracks exponentially in Python's re; on RE2 it is linear, so other requests keep flowing."""
    phone = "8613800000017"
    submit_pipelined(server, connect, concat(["x" * 153] * 4, 77, phone))  # 612 characters, no Z
    pattern = urllib.parse.quote("^(.|.)*Z")
    started = time.monotonic()
    answer = server.get(f"/api/handsets/{phone}/inbox?match={pattern}")
    assert time.monotonic() - started < 1.0
    assert answer["messages"] == []
    assert server.get("/api/health")["status"] == "ok"
    submit_pipelined(server, connect, [single("still here", phone)])


def test_a_backreference_is_refused_naming_it(server: Smsgw) -> None:
    """RE2 cannot run backreferences: the 400 says which construct, and why."""
    for pattern, named in (
        ("(a)\\1", "backreferences"),
        ("(?<=a)b", "lookbehinds"),
        ("a(?=b)", "lookaheads"),
    ):
        status, body = server.api("GET", f"/api/handsets/{PHONE}/inbox?match={urllib.parse.quote(pattern)}")
        assert status == 400 and body["error"]["code"] == "bad_query", body
        assert named in body["error"]["message"] and "RE2" in body["error"]["message"], body
    named_group = urllib.parse.quote("(?P<code>[0-9]{3})")
    assert server.get(f"/api/handsets/{PHONE}/inbox?match={named_group}")["messages"] == []


def test_paging_reaches_every_message_of_a_big_inbox(start_server, connect) -> None:
    """2,100 singles and a 3-part message across a page boundary: every one, once, the long one whole."""
    smsgw = start_server()
    bodies = [single(f"m{i:04d}") for i in range(1000)]
    # The long message's parts straddle the first page's end (1000 messages with limit=1000).
    bodies[998:998] = concat(["AAA", "BBB", "CCC"], 5)[:2]
    bodies += concat(["AAA", "BBB", "CCC"], 5)[2:]
    bodies += [single(f"m{i:04d}") for i in range(1000, 2100)]
    submit_pipelined(smsgw, connect, bodies)
    messages, pages = all_pages(smsgw, PHONE, 1000)
    texts = [m["text"] for m in messages]
    assert pages >= 3
    assert sorted(t for t in texts if t.startswith("m")) == [f"m{i:04d}" for i in range(2100)]
    assert texts.count("AAABBBCCC") == 1 and len(texts) == 2101
    cursors = [m["cursor"] for m in messages]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    # Small pages cut the long message's parts apart too, and it still comes out whole once.
    small, _ = all_pages(smsgw, PHONE, 7)
    assert [m["text"] for m in small] == texts
    newest = smsgw.get(f"/api/handsets/{PHONE}/inbox?limit=2")
    assert [m["text"] for m in newest["messages"]] == ["m2098", "m2099"] and newest["more"] is False


def test_long_polls_are_bounded_and_still_wake(start_server, connect) -> None:
    """Past [http] max_waiters a long poll gets 429; one that waits is answered when its message lands."""
    smsgw = start_server("[http]\nmax_waiters = 3\n")
    inbox = f"{smsgw.ports['http_url']}/api/handsets/{PHONE}/inbox"
    cursor = smsgw.get(f"/api/handsets/{PHONE}/inbox")["cursor"]
    answers: list[Any] = []

    def poll() -> None:
        # Refused only while the probe below holds the third place: then wait again.
        while True:
            try:
                with urllib.request.urlopen(f"{inbox}?after={cursor}&wait=20", timeout=30) as response:
                    answers.append(json.loads(response.read()))
                    return
            except urllib.error.HTTPError as error:
                with error:  # its socket, else closed by whichever later test the collector runs in
                    if error.code != 429:
                        raise
                time.sleep(0.05)

    polls = [threading.Thread(target=poll) for _ in range(3)]
    for thread in polls:
        thread.start()
    deadline = time.monotonic() + 10
    while True:
        # wait=1: if the three are not all waiting yet, this one waits (a second) in their place.
        status, body = smsgw.api("GET", f"/api/handsets/{PHONE}/inbox?after={cursor}&wait=1")
        if status == 429:
            break
        assert time.monotonic() < deadline, "the fourth long poll was never refused"
        time.sleep(0.2)  # let a poll refused meanwhile take the place back first
    assert body["error"]["code"] == "too_many_requests" and "max_waiters" in body["error"]["message"]
    started = time.monotonic()
    submit_pipelined(smsgw, connect, [single("wake up")])
    for thread in polls:
        thread.join(timeout=10)
    assert time.monotonic() - started < 5
    assert [[m["text"] for m in a["messages"]] for a in answers] == [["wake up"]] * 3
