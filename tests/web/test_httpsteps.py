"""A handset's actions over HTTP as ``http`` steps: before what they did at once, with the
status answered (an error's too), and, for an answer that waits, when it is given."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet import defer

from smsgw.carrier.clock import Clocks, FakeClock
from smsgw.carrier.events import EventBus
from smsgw.carrier.timeline import Timeline
from smsgw.store.records import TimelineStep
from smsgw.web.api import ApiError
from smsgw.web.httpsteps import recorded

PHONE = "8613800000071"


class Request:
    """What the wrapper reads of a twisted.web request."""

    method = b"POST"
    path = b"/api/handsets/%2B8613800000071/sms"


class Steps:
    def __init__(self) -> None:
        self.added: list[TimelineStep] = []

    def add_step(self, step: TimelineStep) -> None:
        self.added.append(step)


def timeline() -> tuple[Timeline, Steps]:
    steps, recording = Steps(), Timeline("namespaces")
    recording.attach(steps, Clocks(FakeClock(), lambda msisdn: "ci"), EventBus())  # type: ignore[arg-type]
    return recording, steps


def handset(number: str) -> tuple[str, str] | None:
    return ("ci", PHONE) if number.endswith(PHONE) else None


def test_an_action_goes_before_what_it_did() -> None:
    """The MO a POST …/sms accepted was recorded during the handler: it follows the http step."""
    recording, steps = timeline()

    def send(request: Any, number: str) -> tuple[int, dict[str, Any]]:
        recording.record("message.accepted", "ci", PHONE)
        return 201, {"message_ids": ["7"]}

    assert recorded(recording, handset, send)(Request(), "+" + PHONE) == (201, {"message_ids": ["7"]})
    assert [(step.kind, step.msisdn) for step in steps.added] == [
        ("http", PHONE),
        ("message.accepted", PHONE),
    ]
    assert steps.added[0].detail == {
        "method": "POST",
        "path": "/api/handsets/%2B8613800000071/sms",
        "status": 201,
    }


def test_a_refused_action_is_recorded_with_its_status() -> None:
    """An ApiError leaves the handler: its status is recorded, and it goes on to the client."""
    recording, steps = timeline()

    def refuse(request: Any, number: str) -> None:
        raise ApiError(422, "handset_off", "off")

    with pytest.raises(ApiError):
        recorded(recording, handset, refuse)(Request(), PHONE)
    assert [step.detail["status"] for step in steps.added] == [422]


def test_an_answer_that_waits_is_recorded_when_given() -> None:
    """?wait= answers later: what the handler did at once is recorded now, the http step
    with the answer's status once it comes."""
    recording, steps = timeline()
    later: defer.Deferred[dict[str, Any]] = defer.Deferred()

    def dial(request: Any, number: str) -> defer.Deferred[dict[str, Any]]:
        recording.record("ussd.open", "ci", PHONE)
        return later

    answer = recorded(recording, handset, dial)(Request(), PHONE)
    assert [step.kind for step in steps.added] == ["ussd.open"]
    later.callback({"state": "waiting_user"})
    assert answer.result == {"state": "waiting_user"}
    assert [step.kind for step in steps.added] == ["ussd.open", "http"]
    assert steps.added[1].detail["status"] == 200


def test_a_handset_not_recorded_leaves_no_step() -> None:
    """A number the timeline does not record is served as it would be, with nothing recorded."""
    recording, steps = timeline()
    assert recorded(recording, handset, lambda request, number: {"ok": True})(Request(), "8613800000001") == {
        "ok": True
    }
    assert steps.added == []
