"""What a front end puts on the timeline, whatever its protocol: a request of a handset the
timeline records and its response, then what the carrier did meanwhile.

The carrier says a request concerned such a handset by a
:class:`~smsgw.carrier.timeline.Recorded` on its answer (or its refusal); the front end
passes its PDUs here, in its protocol's words, each as ``(kind, octets, detail)``.
"""

from __future__ import annotations

from smsgw.carrier.binding import Binding
from smsgw.carrier.timeline import Recorded, Timeline

#: A PDU as the timeline records it: its kind (``smpp.submit_sm``), octets, and detail.
Step = tuple[str, bytes, dict[str, object]]


def record_exchange(
    timeline: Timeline,
    binding: Binding,
    recorded: Recorded,
    request: Step,
    response: Step | None,
    message_id: str,
) -> None:
    """Record ``request`` and its ``response`` (None: it got none, its connection was
    dropped) for each recorded handset it concerned, then the steps the carrier held."""
    system_id = binding.account.system_id
    for namespace, msisdn in recorded.handsets:
        for kind, raw, detail in (request, response) if response is not None else (request,):
            timeline.record(
                kind, namespace, msisdn, system_id=system_id, message_id=message_id,
                session=recorded.session, detail=dict(detail), pdu=raw,
            )  # fmt: skip
    timeline.add(recorded.steps)


def record_answer(
    timeline: Timeline,
    binding: Binding | None,
    namespace: str,
    msisdn: str,
    answer: Step,
    *,
    message_id: str = "",
    session: int | None = None,
) -> None:
    """Record an application's answer to a delivery of a recorded handset (a deliver_sm_resp)."""
    kind, raw, detail = answer
    timeline.record(
        kind, namespace, msisdn, system_id=binding.account.system_id if binding is not None else "",
        message_id=message_id, session=session, detail=detail, pdu=raw,
    )  # fmt: skip
