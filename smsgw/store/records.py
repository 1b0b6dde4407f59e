"""What the store keeps, as plain values: messages, pending deliveries to ESMEs, and the steps of payments."""

from __future__ import annotations

from typing import Any

import attrs

#: A value a row holds: what SQLite stores, and what a SQL driver binds.
SqlValue = int | float | str | bytes | None

#: Column order of a message row; the carrier builds rows as tuples in this order.
MESSAGE_COLUMNS = (
    "id",
    "message_id",
    "system_id",
    "direction",
    "msisdn",
    "service_type",
    "source_ton",
    "source_npi",
    "source_addr",
    "dest_ton",
    "dest_npi",
    "dest_addr",
    "esm_class",
    "protocol_id",
    "priority",
    "registered_delivery",
    "data_coding",
    "body",
    "sar_ref",
    "sar_total",
    "sar_seq",
    "submitted_at",
    "scheduled_at",
    "expires_at",
    "state",
    "done_at",
    "error",
    "report",
    "report_attempts",
    "report_next_at",
    "seen",
)


@attrs.define(slots=True)
class MessageRecord:
    """One short message, MT (an ESME to a handset) or MO (a handset to an ESME).

    :ivar id: the row id; the message_id string is formatted from it.
    :ivar system_id: the account that submitted it (MT) or receives it (MO).
    :ivar msisdn: the subscriber involved: recipient of an MT, sender of an MO.
    :ivar body: the user data (short_message, or message_payload), UDH included.
    :ivar state: a :class:`~smsgw.smpp.constants.MessageState` value.
    :ivar error: the network error code reported in receipts (0 = none).
    :ivar report: what the message still owes its ESME, or ``None``: for an MT, the state
        whose receipt is owed; for an MO, ENROUTE while the MO itself is owed.
    :ivar report_attempts: failed attempts to deliver what is owed.
    :ivar report_next_at: when the next attempt is due (0 = as soon as possible).
    :ivar seen: for an MT that reached its phone, the network-wide order of that arrival
        (what inbox cursors count), since messages reach phones in another order than they
        were submitted (scheduled, held while off, retried); ``None`` before.
    """

    id: int
    message_id: str
    system_id: str
    direction: str
    msisdn: str
    service_type: str
    source_ton: int
    source_npi: int
    source_addr: str
    dest_ton: int
    dest_npi: int
    dest_addr: str
    esm_class: int
    protocol_id: int
    priority: int
    registered_delivery: int
    data_coding: int
    body: bytes
    sar_ref: int | None
    sar_total: int | None
    sar_seq: int | None
    submitted_at: float
    scheduled_at: float | None
    expires_at: float
    state: int
    done_at: float | None
    error: int
    report: int | None = None
    report_attempts: int = 0
    report_next_at: float = 0.0
    seen: int | None = None
    #: The session that submitted it (in memory only): its receipts go back there while it is bound.
    via: int | None = None
    #: Its handset's namespace (in memory only, read again after a restart): whose clock its
    #: times are on, and which binds take its receipts and MO.
    namespace: str = ""

    def as_row(self) -> tuple[SqlValue, ...]:
        """The record as a row tuple in :data:`MESSAGE_COLUMNS` order."""
        # Spelled out: this runs once per accepted message, and attrs.astuple is 10x slower.
        return (
            self.id, self.message_id, self.system_id, self.direction, self.msisdn,
            self.service_type, self.source_ton, self.source_npi, self.source_addr,
            self.dest_ton, self.dest_npi, self.dest_addr, self.esm_class, self.protocol_id,
            self.priority, self.registered_delivery, self.data_coding, self.body,
            self.sar_ref, self.sar_total, self.sar_seq, self.submitted_at, self.scheduled_at,
            self.expires_at, self.state, self.done_at, self.error, self.report,
            self.report_attempts, self.report_next_at, self.seen,
        )  # fmt: skip


@attrs.define(slots=True)
class DeliveryRecord:
    """A deliver_sm waiting to be accepted by an ESME: a receipt or an MO (in memory only).

    What is owed is recorded durably on the message row itself (:attr:`MessageRecord.report`),
    in the same write that stores the message or its new state, so a receipt costs no row
    of its own.

    :ivar message: the row id of the message it reports on (receipt) or carries (MO).
    :ivar state: the message state a receipt reports (ENROUTE for an MO).
    :ivar pdu: the encoded deliver_sm, sequence number 0 (patched when sent).
    :ivar via: the session it goes to while that session is bound and receives (a receipt
        returns to the transceiver that submitted its message); None for any of the account's.
    :ivar namespace: the handset's namespace when it became owed: which of the account's
        binds take it (not stored: read again from the handset after a restart).
    """

    message: int
    message_id: str
    msisdn: str
    system_id: str
    kind: str
    state: int
    pdu: bytes
    expires_at: float
    attempts: int = 0
    next_attempt_at: float = 0.0
    via: int | None = None
    namespace: str = ""


#: Column order of a timeline row as read back; a step is written without its ``id``, which
#: the store assigns.
TIMELINE_COLUMNS = (
    "id",
    "at",
    "namespace",
    "msisdn",
    "kind",
    "system_id",
    "message_id",
    "session",
    "order_id",
    "detail",
    "pdu",
)


@attrs.frozen
class TimelineStep:
    """One step of a payment as the carrier saw it, for ``GET /api/timeline``: a PDU in or
    out, a message's new state, a USSD screen, an HTTP call, a mock merchant's order change.

    A step is a fact once recorded, so it is frozen; only what names it is empty when it names
    nothing (``''``, or ``None`` for a number or bytes).

    :ivar at: epoch seconds on the clock of the step's namespace (which a test may have moved).
    :ivar namespace: the handset's namespace (``''``: none); ``run-1.7`` sits inside ``run-1``.
    :ivar msisdn: the handset involved (``''``: none, an ESME's enquire_link say).
    :ivar kind: what happened: ``smpp.submit_sm``, ``smpp.deliver_sm``, ``message.state``,
        ``ussd.screen``, ``http``, ``merchant.order``, ...
    :ivar system_id: the ESME account involved (``''``: none).
    :ivar message_id: the message_id the step concerns, as its ESME was given it (``''``: none).
    :ivar session: the USSD dialogue it belongs to (``None``: none).
    :ivar order_id: the mock merchant's order it concerns (``''``: none).
    :ivar detail: what else there is to say, as JSON-able values (stored as JSON text).
    :ivar pdu: the raw PDU, when the step is one (``None``: none).
    :ivar id: the store's number of the step, in insertion order (0 until it is stored).
    """

    at: float
    namespace: str
    msisdn: str
    kind: str
    system_id: str = ""
    message_id: str = ""
    session: int | None = None
    order_id: str = ""
    detail: dict[str, Any] = attrs.field(factory=dict)
    pdu: bytes | None = None
    id: int = 0


@attrs.frozen
class PruneBatch:
    """Final messages that owe nothing, among the next ``rows`` messages with ids above
    ``after`` and up to ``upto``, that ended before ``ended_before`` (epoch seconds, as their
    ``done_at``), to remove. The batch counts rows, not ids, so it walks over the gaps between
    id ranges (a cluster's nodes number apart). The newest message and the one that reached a
    phone last (``last_arrival``) always stay: a restart resumes message ids and arrival
    numbers from them, so neither is ever handed out again. ``id_range`` is the ids the
    carrier numbers (a node of a cluster: its own): the newest is the newest in it, and a
    message that reached a phone stays unless its arrival was numbered in it too (one that
    another node delivered after a takeover counts for that node's numbering).

    With ``table`` ``"timeline"``, the batch removes steps of payments instead: those recorded
    before ``ended_before`` (their ``at``), and those beyond the newest ``keep``. The newest
    step always stays, so step ids keep growing and a poller's ``after`` stays valid.
    """

    after: int
    rows: int
    upto: int
    ended_before: float
    last_arrival: int = 0
    id_range: tuple[int, int] = (0, 1 << 62)
    table: str = attrs.field(default="messages", validator=attrs.validators.in_(("messages", "timeline")))
    keep: int = 0


@attrs.frozen
class PruneDone:
    """A batch done: how many messages went, the highest id it looked at (``after`` when no
    message was left to look at), and how long the database took.

    :ivar error: what failed instead (the batch removed nothing).
    """

    deleted: int
    reached: int
    seconds: float
    error: BaseException | None = None
