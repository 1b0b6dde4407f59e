"""What applications ask of the carrier, in no protocol's encoding.

A front end decodes its protocol's request, checks its fields, and hands the carrier one of
these; the carrier answers with an :mod:`~smsgw.carrier.answers` value or raises
:class:`~smsgw.carrier.errors.Rejected`. Fields are the GSM short message's (3GPP TS 23.040:
TP-PID, TP-DCS, the UDH indicator) as SMPP v3.4 names them, because the network keeps
messages that way whatever protocol submitted them. A refusal names why
(:class:`~smsgw.carrier.errors.Refusal`), and each front end maps it to its own status.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from smsgw.carrier.errors import Rejected


@attrs.define
class ShortMessage:
    """A message as submitted, to one or many destinations.

    :ivar registered_delivery: which receipts are asked for, as SMPP's bits (v3.4 §5.2.17).
    :ivar body: the user data, UDH included when ``esm_class`` has UDHI.
    :ivar sar: (reference, total, sequence) of a part that SAR TLVs number, or None.
    :ivar scheduled_at: when to deliver (carrier time), None for now.
    :ivar expires_at: when to give up (carrier time).
    :ivar replace_if_present: replace the account's pending messages to the same handset
        from the same source and service type (v3.4 §5.2.18).
    """

    service_type: str
    source_ton: int
    source_npi: int
    source_addr: str
    esm_class: int
    protocol_id: int
    priority: int
    registered_delivery: int
    data_coding: int
    body: bytes
    sar: tuple[int, int, int] | None
    scheduled_at: float | None
    expires_at: float
    replace_if_present: bool = False


@attrs.define
class Destination:
    """A destination address as submitted."""

    ton: int
    npi: int
    address: str


@attrs.define
class Submit:
    """A message to one destination (SMPP submit_sm, data_sm)."""

    message: ShortMessage
    destination: Destination


@attrs.define
class SubmitMany:
    """A message to several destinations (SMPP submit_multi); each refused one is reported.

    :ivar destinations: in the order given, each with the front end's refusal of it already
        (a distribution list it does not keep, a bad address), or None.
    :ivar shared_id: one message_id names every destination (SMPP submit_multi), or each
        gets its own, the first answered (CMPP: Msg_Id, Msg_Id + 1, ...).
    """

    message: ShortMessage
    destinations: list[tuple[Destination, Rejected | None]]
    shared_id: bool = True


@attrs.define
class UssdScreenIn:
    """A USSD screen an application sends: an answer in a dialogue, or a push.

    :ivar op: the USSD operation (SMPP's ussd_service_op values).
    :ivar session_info: the dialogue it names (its_session_info without the EOS bit, or what
        the account's dialect carries instead), None when it names none.
    """

    destination: Destination
    source_addr: str
    op: int
    session_info: int | None
    text: str


@attrs.define
class Query:
    """The state of a submitted message (SMPP query_sm)."""

    message_id: str
    source_addr: str


@attrs.define
class Cancel:
    """Cancel submitted messages: by id (and destination), or all from one address to another.

    :ivar source_addr: what the message was submitted from, which must match; None where the
        protocol names the message by its id alone (CMPP_CANCEL).
    """

    message_id: str
    service_type: str
    source_addr: str | None
    destination_addr: str


@attrs.define
class ReplacedContent:
    """A replacement's new fields, checked.

    :ivar scheduled_at: None keeps the message's schedule.
    :ivar expires_at: None keeps the message's validity.
    """

    body: bytes
    registered_delivery: int
    scheduled_at: float | None
    expires_at: float | None


@attrs.define
class Replace:
    """Replace a pending message's text, receipt request and times (SMPP replace_sm).

    :ivar content: checks the new fields against the message found (its esm_class: a UDH
        stays a UDH) and returns them, or raises Rejected; called only once the message is
        found, so "no such message" is answered before a bad field.
    """

    message_id: str
    source_addr: str
    content: Callable[[int], ReplacedContent]


@attrs.define
class Traffic:
    """How many messages the account sent and took in a time span (CMPP_QUERY): all of
    them, or those of one service type (Service_Id).

    :ivar start: from (carrier time, included).
    :ivar end: to (excluded).
    """

    start: float
    end: float
    service_type: str | None = None


Request = Submit | SubmitMany | UssdScreenIn | Query | Cancel | Replace | Traffic
