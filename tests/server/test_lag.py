"""Reactor lag on a fake clock: the histogram, and the warning that names a slow request."""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.web.test.requesthelper import DummyRequest

from smsgw.server import lag
from smsgw.server.lag import LAG_BUCKETS, LagMonitor
from smsgw.server.smpp import SmppServerFactory
from smsgw.smpp import codec
from smsgw.smpp.pdu import BindTransceiver
from smsgw.smpp.session import SessionConfig
from smsgw.web.api import Api
from tests.carrier.helpers import make_carrier
from tests.server.test_adapter import connect


@pytest.fixture
def reactor(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A fake reactor whose time is also the lag module's clock."""
    clock = Clock()
    monkeypatch.setattr(lag, "clock", clock.seconds)
    monkeypatch.setattr(lag, "_last_named", float("-inf"))  # no other test's slow call
    return clock


def _warnings(captured: list) -> list[str]:
    return [formatEvent(e) for e in captured if e.get("log_namespace") == "smsgw.reactor"]


def test_lateness_of_the_periodic_call_fills_the_histogram(reactor: Clock) -> None:
    monitor = LagMonitor(reactor, interval=0.05)
    monitor.start()
    with capturedLogs() as captured:
        for _ in range(10):
            reactor.advance(0.05)  # on time
        reactor.advance(0.05 + 0.3)  # one turn held the reactor 300 ms
    buckets = dict(monitor.buckets())
    assert buckets[str(LAG_BUCKETS[0])] == 10
    assert buckets["0.25"] == 10 and buckets["0.5"] == 11 and buckets["+Inf"] == 11
    assert monitor.sum == pytest.approx(0.3)
    (warning,) = _warnings(captured)  # nothing named the stall
    assert "the reactor was held 300 ms outside any API request or SMPP input" in warning
    monitor.stop()
    assert not reactor.getDelayedCalls()


def test_a_slow_api_request_is_named_and_the_monitor_does_not_warn_again(reactor: Clock) -> None:
    def slow_inbox(request: object) -> dict:
        reactor.rightNow += 0.23  # the handler holds the reactor for 230 ms: no call runs meanwhile
        return {"messages": []}

    api = Api([("GET", r"handsets/(\d+)/inbox", lambda request, msisdn: slow_inbox(request))])
    monitor = LagMonitor(reactor, interval=0.05)
    monitor.start()
    request = DummyRequest([b"handsets", b"8613800000001", b"inbox"])
    request.uri = b"/api/handsets/8613800000001/inbox?match=x&token=secret-token"
    with capturedLogs() as captured:
        reactor.advance(0.01)
        api.render(request)
        reactor.advance(0)  # the overdue tick, 190 ms late: the request above explains it
    assert monitor.counts[LAG_BUCKETS.index(0.25)] == 1
    warnings = _warnings(captured)
    assert warnings == ["GET /api/handsets/8613800000001/inbox?match=x&token=… took 230 ms on the reactor"]


def test_a_fast_request_is_not_logged(reactor: Clock) -> None:
    api = Api([("GET", r"health", lambda request: {"status": "ok"})])
    with capturedLogs() as captured:
        api.render(DummyRequest([b"health"]))
    assert _warnings(captured) == []


def test_slow_smpp_input_is_named_by_system_id_and_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lag, "_last_named", float("-inf"))
    reactor = Clock()
    carrier = make_carrier()
    factory = SmppServerFactory(carrier, SessionConfig(), reactor)
    protocol, _ = connect(factory)
    bind = carrier.binds.bind

    def slow_bind(*args: object) -> object:
        reactor.rightNow += 0.14  # the bind holds the reactor for 140 ms
        return bind(*args)  # type: ignore[arg-type]

    carrier.binds.bind = slow_bind  # type: ignore[method-assign]
    with capturedLogs() as captured:
        protocol.dataReceived(codec.encode(BindTransceiver(1, system_id="shop", password="pw")))
    (warning,) = _warnings(captured)
    assert warning.startswith("SMPP system_id=shop (session 1) from ")
    assert warning.endswith(" took 140 ms on the reactor")
