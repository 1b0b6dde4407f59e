"""The abuses, each run in a process of its own so that it never shares the probe's
interpreter: ``python -m benchmarks.abuse.abusers NAME CONTEXT_JSON``.

The process prints one JSON line ``{"ready": {...}}`` once its abuse is in force (the
numbers it set up), keeps it up until SIGTERM, undoes it (closes every socket) and prints
``{"done": {...}}`` with what it counted, or ``{"error": "..."}``. Every abuse talks to
loopback only and every wait in it is bounded, so SIGTERM ends it within a few seconds.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks import wire
from benchmarks.abuse.wirekit import (
    Closed,
    PduReader,
    bind,
    deliver_sm_resp,
    drain,
    http_call,
    http_head,
    raise_nofile,
    smpp_bind,
    smpp_connect,
    submit_sm,
)

#: The handset whose inbox the HTTP abuses go after, and the one that writes to it.
VICTIM = "8613800000001"
WRITER = "8613800000002"

Ready = Callable[..., None]


@dataclass(frozen=True)
class Abuse:
    """One abuse: what it does (for the README and the table) and the function that does it."""

    name: str
    description: str
    run: Callable[..., dict[str, Any]]
    options: dict[str, Any] = field(default_factory=dict)


def _smpp(context: dict[str, Any]) -> tuple[str, int]:
    return context["smpp_host"], context["smpp_port"]


# -- SMPP abuses -----------------------------------------------------------------------


def none(context: dict[str, Any], stop: threading.Event, ready: Ready) -> dict[str, Any]:
    """Nothing: the baseline."""
    ready()
    stop.wait()
    return {}


def failed_binds(
    context: dict[str, Any], stop: threading.Event, ready: Ready, same_id: bool
) -> dict[str, Any]:
    """Binds with a wrong password in a loop, one connection after another, from 127.0.0.1:
    as the probe's own system_id (``same_id``), or as other ones (the merchant's among them)."""
    if same_id:
        system_ids = [context["system_id"]]
    else:
        system_ids = ["shop", "billing", context["merchant_system_id"]]
    answers: Counter[str] = Counter()
    attempts = 0
    while not stop.is_set():
        system_id = system_ids[attempts % len(system_ids)]
        attempts += 1
        try:
            sock = smpp_connect(_smpp(context), 2.0)
        except OSError as error:
            answers[f"connect: {error.strerror or error}"] += 1
            stop.wait(0.1)
            continue
        try:
            sock.sendall(bind(wire.BIND_TRANSCEIVER, system_id, "wrong!!"))
            answer = PduReader(sock).until(wire.BIND_TRANSCEIVER_RESP, time.perf_counter() + 2.0)
            answers["no answer" if answer is None else f"status 0x{answer[1]:08x}"] += 1
        except (OSError, Closed):
            answers["closed"] += 1
        finally:
            drain(sock)
        if attempts == 20:  # past the old lock-out threshold (10 a minute)
            ready(system_ids=system_ids)
    return {"attempts": attempts, "answers": dict(answers)}


def connections(
    context: dict[str, Any], stop: threading.Event, ready: Ready, count: int, bound: int
) -> dict[str, Any]:
    """``count`` connections from 127.0.0.1 held open, as a load test's: ``bound`` of them bound
    as transmitters of the probe's account (fewer than its max_binds, a limit of its own), the
    others connected and not bound yet (reopened when the carrier closes them)."""
    raise_nofile(count + 64)
    held: list[socket.socket] = []
    refused: Counter[str] = Counter()
    for _ in range(bound):
        try:
            sock, _reader = smpp_bind(
                _smpp(context), wire.BIND_TRANSMITTER, context["system_id"], context["password"], 2.0
            )
            held.append(sock)
        except (OSError, RuntimeError) as error:
            refused[str(error)] += 1

    def open_one() -> socket.socket:
        return smpp_connect(_smpp(context), 1.0)

    try:
        return _hold(open_one, count - bound, stop, ready, bound=len(held), refused=dict(refused))
    finally:
        for sock in held:
            drain(sock)


def enquire_link_storm(context: dict[str, Any], stop: threading.Event, ready: Ready) -> dict[str, Any]:
    """One bound client writing enquire_link as fast as the carrier takes them (answers drained)."""
    sock, _reader = smpp_bind(
        _smpp(context), wire.BIND_TRANSMITTER, context["system_id"], context["password"]
    )
    sock.settimeout(2.0)
    burst = b"".join(wire.header_only(wire.ENQUIRE_LINK, s) for s in range(1, 1001))
    received = [0]

    def read_answers() -> None:
        while not stop.is_set():
            try:
                chunk = sock.recv(1 << 18)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            received[0] += len(chunk)

    reader = threading.Thread(target=read_answers, daemon=True)
    reader.start()
    ready()
    sent, why = 0, "stopped"
    started = time.perf_counter()
    while not stop.is_set():
        try:
            sock.sendall(burst)
        except TimeoutError:
            why = "the carrier stopped reading for 2 s"
            break
        except OSError as error:
            why = f"connection lost: {error}"
            break
        sent += 1000
    elapsed = time.perf_counter() - started
    stop.set()
    reader.join(3.0)
    drain(sock)
    return {"sent": sent, "answered": received[0] // 16, "per_second": round(sent / elapsed), "ended": why}


def idle(context: dict[str, Any], stop: threading.Event, ready: Ready, count: int) -> dict[str, Any]:
    """``count`` TCP connections to the SMPP port that never send a byte (reopened when closed)."""

    def open_one() -> socket.socket:
        return smpp_connect(_smpp(context), 1.0)

    return _hold(open_one, count, stop, ready)


def never_reading_smpp(
    context: dict[str, Any], stop: threading.Event, ready: Ready, rate: int
) -> dict[str, Any]:
    """A receiver bound as the probe's account that never reads, while a transmitter submits
    ``rate`` messages/s with receipts and a handset sends MO: its deliveries pile up."""
    address, system_id, password = _smpp(context), context["system_id"], context["password"]
    deaf, _ = smpp_bind(address, wire.BIND_RECEIVER, system_id, password, rcvbuf=4096)
    feeder, reader = smpp_bind(address, wire.BIND_TRANSMITTER, system_id, password)
    mo = _Repeater(stop, 0.05, lambda i: _post_sms(context, VICTIM, "12345", f"MO {i} to a deaf receiver"))
    ready(rate=rate)
    burst_size = 10
    burst = b"".join(
        submit_sm(b"86138000%05d" % s, b"receipt for a deaf receiver", s) for s in range(1, burst_size + 1)
    )
    submitted, why = 0, "stopped"
    started = time.perf_counter()
    while not stop.is_set():
        try:
            feeder.sendall(burst)
            for _ in range(burst_size):
                if reader.until(wire.SUBMIT_SM_RESP, time.perf_counter() + 5.0) is None:
                    raise Closed("no submit_sm_resp within 5 s")
        except (OSError, Closed) as error:
            why = f"feeder: {error}"
            break
        submitted += burst_size
        pause = started + submitted / rate - time.perf_counter()
        if pause > 0:
            stop.wait(pause)
    mo.finish()
    drain(feeder)
    drain(deaf)
    return {"submitted": submitted, "mo": mo.counts, "ended": why}


# -- HTTP abuses -----------------------------------------------------------------------


def regex(context: dict[str, Any], stop: threading.Event, ready: Ready) -> dict[str, Any]:
    """A long text in an inbox, then GET ?match=^(.|.)*Z on it every 100 ms (2 s timeout each)."""
    text = "x" * 160
    _post_sms(context, WRITER, "+" + VICTIM, text)
    _wait_inbox(context, lambda body: any(m.get("text") == text for m in body.get("messages", ())))
    ready(text_length=len(text))
    answers: Counter[str] = Counter()
    target = f"/api/handsets/{VICTIM}/inbox?match=%5E(.%7C.)*Z"
    while not stop.is_set():
        try:
            answers[str(http_call(context, "GET", target, timeout=2.0)[0])] += 1
        except OSError:
            answers["no answer in 2 s"] += 1
        stop.wait(0.1)
    return {"answers": dict(answers)}


def longpolls(
    context: dict[str, Any], stop: threading.Event, ready: Ready, waiters: int, parts: int
) -> dict[str, Any]:
    """``parts`` messages in one inbox, ``waiters`` long polls (wait=30, a match nothing sends)
    on it, and a handset writing to it every 100 ms; an answered poll is sent again."""
    raise_nofile(waiters + 64)
    _fill_inbox(context, VICTIM, parts)
    status, body = http_call(context, "GET", f"/api/handsets/{VICTIM}/inbox?limit=1", timeout=10.0)
    if status != 200:
        raise RuntimeError(f"GET inbox answered {status}: {body}")
    target = f"/api/handsets/{VICTIM}/inbox?after={body['cursor']}&wait=30&match=never%20sent"
    request = http_head(context, "GET", target) + b"\r\n"

    def open_one() -> socket.socket:
        # A carrier slow to accept lets the listen backlog overflow: wait for SYN retries.
        sock = socket.create_connection((context["http_host"], context["http_port"]), timeout=5.0)
        sock.sendall(request)
        return sock

    changes = _Repeater(
        stop, 0.1, lambda i: _post_sms(context, WRITER, "+" + VICTIM, f"change {i}"), start=False
    )
    info = _hold(open_one, waiters, stop, ready, before_ready=changes.start, parts=parts)
    changes.finish()
    return {**info, "changes": changes.counts}


def event_stream(
    context: dict[str, Any], stop: threading.Event, ready: Ready, window: int, streams: int = 1
) -> dict[str, Any]:
    """``streams`` GET /api/events opened and never read, while a transceiver pipelines
    submit_sm with receipts (``window`` at a time) and answers its receipts (``streams=0``: the
    load alone)."""
    events = []
    for _ in range(streams):
        stream = smpp_connect((context["http_host"], context["http_port"]), 5.0, rcvbuf=4096)
        stream.sendall(http_head(context, "GET", "/api/events") + b"\r\n")
        events.append(stream)
    sock, reader = smpp_bind(_smpp(context), wire.BIND_TRANSCEIVER, context["system_id"], context["password"])
    # Two half windows with sequence numbers of their own, one sent as the other is answered.
    half = window // 2
    bursts = [
        b"".join(
            submit_sm(b"86138000%05d" % s, b"Hello from the abuse harness", s)
            for s in range(first, first + half)
        )
        for first in (1, half + 1)
    ]
    ready(window=window, streams=streams)
    submitted, answered, receipts, why = 0, 0, 0, "stopped"
    answers = bytearray()
    started = time.perf_counter()
    try:
        while not stop.is_set():
            if submitted - answered <= half:
                sock.sendall(bursts[(submitted // half) % 2])
                submitted += half
            pdu = reader.next(time.perf_counter() + 5.0)
            if pdu is None:
                raise Closed("no answer within 5 s")
            if pdu[0] == wire.SUBMIT_SM_RESP:
                answered += 1
            elif pdu[0] == wire.DELIVER_SM:
                receipts += 1
                answers += deliver_sm_resp(pdu[2])
            elif pdu[0] == wire.ENQUIRE_LINK:
                answers += wire.header_only(wire.ENQUIRE_LINK_RESP, pdu[2])
            if answers and reader.offset >= len(reader.buffer):  # all read so far is handled
                sock.sendall(answers)
                answers.clear()
    except (OSError, Closed) as error:
        why = f"load: {error}"
    elapsed = time.perf_counter() - started
    drain(sock)
    for stream in events:
        drain(stream)
    return {
        "submitted": answered,
        "per_second": round(answered / elapsed),
        "receipts": receipts,
        "ended": why,
    }


def half_sent(context: dict[str, Any], stop: threading.Event, ready: Ready, count: int) -> dict[str, Any]:
    """``count`` HTTP requests whose headers never end, held open (reopened when closed)."""
    head = http_head(context, "GET", "/api/health")

    def open_one() -> socket.socket:
        sock = socket.create_connection((context["http_host"], context["http_port"]), timeout=1.0)
        sock.sendall(head)
        return sock

    return _hold(open_one, count, stop, ready)


# -- shared pieces ---------------------------------------------------------------------


def _hold(
    open_one: Callable[[], socket.socket],
    count: int,
    stop: threading.Event,
    ready: Ready,
    before_ready: Callable[[], None] | None = None,
    **info: Any,
) -> dict[str, Any]:
    """Open ``count`` connections (as many as this process's descriptors allow, within 20 s,
    giving up after 5 failures in a row), keep them open, and reopen any the carrier answers
    or closes (at most 500/s)."""
    nofile = raise_nofile(count + 64)
    wanted = min(count, nofile - 64)
    selector = selectors.DefaultSelector()
    failures: Counter[str] = Counter()

    def add() -> bool:
        try:
            sock = open_one()
        except OSError as error:
            failures[type(error).__name__] += 1
            return False
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        return True

    deadline = time.monotonic() + 20.0
    misses = 0
    while (
        len(selector.get_map()) < wanted and time.monotonic() < deadline and misses < 5 and not stop.is_set()
    ):
        misses = 0 if add() else misses + 1
        if len(selector.get_map()) % 40 == 0:
            stop.wait(0.02)  # a listen backlog (Twisted's is 50) overflowing would drop connections
    if before_ready is not None:
        before_ready()
    ready(held=len(selector.get_map()), wanted=count, nofile=nofile, open_failures=dict(failures), **info)
    answered = reopened = 0
    while not stop.is_set():
        for key, _ in selector.select(0.02):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            with contextlib.suppress(OSError):  # a reset says the same as an answer: it is over
                sock.recv(65536)
            answered += 1
            selector.unregister(sock)
            drain(sock)
        for _ in range(min(10, wanted - len(selector.get_map()))):
            reopened += add()
    for key in list(selector.get_map().values()):
        drain(key.fileobj)  # type: ignore[arg-type]
    selector.close()
    return {"answered_or_closed": answered, "reopened": reopened, "open_failures": dict(failures)}


class _Repeater:
    """Calls ``action(i)`` every ``every`` s on a thread until ``stop``; counts what it got."""

    def __init__(
        self, stop: threading.Event, every: float, action: Callable[[int], Any], start: bool = True
    ) -> None:
        self.counts: Counter[str] = Counter()
        self._stop = stop
        self._every = every
        self._action = action
        self._thread = threading.Thread(target=self._loop, daemon=True)
        if start:
            self.start()

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        i = 0
        while not self._stop.wait(self._every):
            i += 1
            try:
                self._action(i)
                self.counts["ok"] += 1
            except (OSError, RuntimeError) as error:
                self.counts[type(error).__name__] += 1

    def finish(self) -> None:
        if self._thread.is_alive():
            self._thread.join(10.0)


def _post_sms(context: dict[str, Any], sender: str, to: str, text: str) -> None:
    status, body = http_call(
        context, "POST", f"/api/handsets/{sender}/sms", {"to": to, "text": text}, timeout=5.0
    )
    if status != 201:
        raise RuntimeError(f"POST /api/handsets/{sender}/sms answered {status}: {body}")


def _wait_inbox(
    context: dict[str, Any], predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status, body = http_call(context, "GET", f"/api/handsets/{VICTIM}/inbox", timeout=timeout)
        if status == 200 and predicate(body):
            return
        if time.monotonic() >= deadline:
            raise RuntimeError(f"the inbox of {VICTIM} did not show what was sent within {timeout:g} s")
        time.sleep(0.05)


def _fill_inbox(context: dict[str, Any], msisdn: str, parts: int) -> None:
    """``parts`` one-part messages to ``msisdn`` over SMPP (no receipts), 100 in flight."""
    sock, reader = smpp_bind(_smpp(context), wire.BIND_TRANSMITTER, context["system_id"], context["password"])
    try:
        sent = 0
        while sent < parts:
            batch = min(100, parts - sent)
            sock.sendall(
                b"".join(
                    submit_sm(msisdn.encode(), b"filler %d" % (sent + k), sent + k + 1, registered_delivery=0)
                    for k in range(batch)
                )
            )
            for _ in range(batch):
                answer = reader.until(wire.SUBMIT_SM_RESP, time.perf_counter() + 10.0)
                if answer is None or answer[1] != 0:
                    raise RuntimeError(f"filling the inbox: submit_sm answered {answer}")
            sent += batch
    finally:
        drain(sock)


ABUSES: dict[str, Abuse] = {
    abuse.name: abuse
    for abuse in (
        Abuse("none", "nothing (the baseline)", none),
        Abuse(
            "regex",
            "a 160-character text in an inbox, then GET ?match=%5E(.%7C.)*Z on it every 100 ms",
            regex,
        ),
        Abuse(
            "longpolls",
            "2,000 messages in one inbox, 200 long polls (wait=30) on it, a new message every 100 ms",
            longpolls,
            {"waiters": 200, "parts": 2000},
        ),
        Abuse(
            "longpolls_500",
            "as longpolls, with 500 long polls",
            longpolls,
            {"waiters": 500, "parts": 2000},
        ),
        Abuse(
            "failed_binds",
            "binds with a wrong password in a loop from 127.0.0.1, as shop, billing and the merchant's system_id",
            failed_binds,
            {"same_id": False},
        ),
        Abuse(
            "failed_binds_same_id",
            "binds with a wrong password in a loop from 127.0.0.1, as the probe's own system_id (smsgw)",
            failed_binds,
            {"same_id": True},
        ),
        Abuse(
            "connections",
            "250 connections from 127.0.0.1 held open (the per-address cap was 200): 50 bound, 200 not yet",
            connections,
            {"count": 250, "bound": 50},
        ),
        Abuse(
            "event_stream",
            "2 GET /api/events never read, while a transceiver pipelines submits with receipts (100 in flight)",
            event_stream,
            {"window": 100, "streams": 2},
        ),
        Abuse(
            "pipelined",
            "event_stream without the stream: the load alone, to compare",
            event_stream,
            {"window": 100, "streams": 0},
        ),
        Abuse(
            "half_sent",
            "3,000 HTTP requests whose headers never end, held open",
            half_sent,
            {"count": 3000},
        ),
        Abuse(
            "enquire_link_storm",
            "one bound client writing enquire_link as fast as it can",
            enquire_link_storm,
        ),
        Abuse("idle", "1,000 TCP connections to the SMPP port that send nothing", idle, {"count": 1000}),
        Abuse(
            "never_reading_smpp",
            "a receiver of the probe's account that never reads, while 500 receipts/s and 20 MO/s pile up for it",
            never_reading_smpp,
            {"rate": 500},
        ),
    )
}


def main(argv: list[str]) -> int:
    """Run the abuse named by ``argv[0]`` against the carrier described by ``argv[1]`` (JSON)."""
    abuse = ABUSES[argv[0]]
    context = json.loads(argv[1])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def ready(**info: Any) -> None:
        print(json.dumps({"ready": info}), flush=True)

    try:
        done = abuse.run(context, stop, ready, **abuse.options)
    except Exception as error:  # the harness reports it beside the figures
        traceback.print_exc()
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}), flush=True)
        return 1
    print(json.dumps({"done": done}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
