"""A handset's actions over HTTP (send a text, dial, answer, cancel, switch off) as steps of
the timeline: ``http``, with the method, the path and the status answered.

A step goes before what the action did at once (the MO accepted, the USSD dialogue opened):
what the carrier records while the handler runs is held and added after it. An action that
waits (``?wait=``) is recorded when it is answered, after what it waited for. The request's
body is not recorded: an answer typed at a PIN prompt travels in it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.python.failure import Failure
from twisted.web import server

from smsgw.carrier.timeline import Timeline
from smsgw.web.api import ApiError

#: A route's handler: the request, then the path's parts (the handset's number first).
Handler = Callable[..., Any]
#: The namespace and MSISDN of the handset a number names, when the timeline records it.
Recorded = Callable[[str], tuple[str, str] | None]


def recorded(timeline: Timeline, handset: Recorded, handler: Handler) -> Handler:
    """``handler``, recording each call for a handset the timeline records."""

    @functools.wraps(handler)
    def handle(request: server.Request, number: str, *parts: str) -> Any:
        found = handset(number) if timeline.on else None
        if found is None:
            return handler(request, number, *parts)
        namespace, msisdn = found
        method = request.method.decode("ascii", "replace")
        path = request.path.decode("utf-8", "replace")

        def step(status: int) -> None:
            detail = {"method": method, "path": path, "status": status}
            timeline.record("http", namespace, msisdn, detail=detail)

        outer = timeline.hold()
        try:
            result = handler(request, number, *parts)
        except ApiError as error:
            held = timeline.release(outer)
            step(error.status)
            timeline.add(held)
            raise
        except BaseException:
            held = timeline.release(outer)
            step(500)
            timeline.add(held)
            raise
        held = timeline.release(outer)
        if isinstance(result, defer.Deferred):
            timeline.add(held)
            return result.addBoth(_then_record, step)
        step(_status(result))
        timeline.add(held)
        return result

    return handle


def _status(result: Any) -> int:
    """The status a handler's answer (a value, or ``(status, value)``) is sent with."""
    return int(result[0]) if isinstance(result, tuple) else 200


def _then_record(result: Any, step: Callable[[int], None]) -> Any:
    if isinstance(result, Failure):
        error = result.value
        if not isinstance(error, defer.CancelledError):  # the client left a long poll
            step(error.status if isinstance(error, ApiError) else 500)
    else:
        step(_status(result))
    return result
