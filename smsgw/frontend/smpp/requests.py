"""An SMPP request decoded into the carrier's protocol-neutral request, its fields checked.

Each check raises :class:`~smsgw.carrier.errors.Rejected` (``BAD_FIELD``) with the status
SMPP v3.4 gives, before the carrier hears of the request. A USSD screen (a submit_sm with
ussd_service_op) is read in the account's dialect: the data_coding 0 alphabet, and which field
names the dialogue.
"""

from __future__ import annotations

from collections.abc import Callable

from smsgw.carrier.accounts import Account
from smsgw.carrier.errors import Rejected
from smsgw.carrier.limits import Limits
from smsgw.carrier.requests import (
    Cancel,
    Destination,
    Query,
    Replace,
    ReplacedContent,
    Request,
    Submit,
    SubmitMany,
    UssdScreenIn,
)
from smsgw.carrier.ussd import EOS
from smsgw.frontend.smpp.checks import (
    RESERVED_DELIVERY_BITS,
    bad_default_msg_id,
    bad_field,
    bad_registered_delivery,
    check_addresses,
    check_body,
    check_data_sm,
    check_source,
    check_submit,
    check_times,
)
from smsgw.smpp.constants import CommandStatus as S
from smsgw.smpp.pdu import CancelSm, QuerySm, ReplaceSm
from smsgw.smpp.sm import DataSm, DistributionList, SmeAddress, SubmitMulti, SubmitSm
from smsgw.text.coding import decode_text

#: A submit_multi names 1 to 254 destinations (v3.4 §4.5.1).
MAX_DESTINATIONS = 254


#: The requests an SMSC answers for a bound ESME.
SmRequestPdu = SubmitSm | DataSm | SubmitMulti | QuerySm | CancelSm | ReplaceSm


def decode_request(
    pdu: SmRequestPdu, account: Account, now: float, limits: Limits, admit: Callable[[float], None]
) -> Request:
    """The carrier's request for a submit_sm, data_sm, submit_multi, query_sm, cancel_sm or
    replace_sm.

    :param admit: the carrier's admission of a submit at ``now`` (throughput, queue): asked
        before the message's fields are checked, so a throttled ESME hears it is throttled.
    :raises Rejected: for the first field that fails its check, or the admission.
    """
    if type(pdu) is SubmitSm:
        if pdu.ussd_service_op is not None:
            return _ussd_screen(pdu, pdu.ussd_service_op, account)
        admit(now)
        check_addresses(pdu)
        return Submit(check_submit(pdu, now, limits), _destination(pdu))
    if type(pdu) is DataSm:
        admit(now)
        check_addresses(pdu)
        return Submit(check_data_sm(pdu, now, limits), _destination(pdu))
    if type(pdu) is SubmitMulti:
        return _submit_multi(pdu, now, limits, admit)
    if type(pdu) is QuerySm:
        return Query(pdu.message_id, pdu.source_addr)
    if type(pdu) is CancelSm:
        return Cancel(pdu.message_id, pdu.service_type, pdu.source_addr, pdu.destination_addr)
    if type(pdu) is ReplaceSm:
        replace_sm = pdu
        return Replace(
            pdu.message_id, pdu.source_addr, lambda esm_class: _replaced(replace_sm, esm_class, now, limits)
        )
    raise AssertionError(f"not a request the carrier answers: {type(pdu).__name__}")


def _destination(pdu: SubmitSm | DataSm) -> Destination:
    return Destination(pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr)


def _submit_multi(pdu: SubmitMulti, now: float, limits: Limits, admit: Callable[[float], None]) -> SubmitMany:
    count = len(pdu.dest_addresses)
    if not 1 <= count <= MAX_DESTINATIONS:
        raise bad_field(S.ESME_RINVNUMDESTS, f"number_of_dests {count} is not 1-{MAX_DESTINATIONS}")
    admit(now)
    check_source(pdu)
    message = check_submit(pdu, now, limits)
    destinations: list[tuple[Destination, Rejected | None]] = []
    for dest in pdu.dest_addresses:
        if isinstance(dest, DistributionList):  # this SMSC keeps no lists
            unknown = bad_field(S.ESME_RINVDLNAME, f"dl_name {dest.dl_name!r}: this SMSC keeps no lists")
            destinations.append((Destination(0, 0, dest.dl_name), unknown))
            continue
        destination = Destination(dest.dest_addr_ton, dest.dest_addr_npi, dest.destination_addr)
        try:
            check_addresses(_DestView(pdu, dest))
        except Rejected as refusal:
            destinations.append((destination, refusal))
            continue
        destinations.append((destination, None))
    return SubmitMany(message, destinations)


def _ussd_screen(pdu: SubmitSm, op: int, account: Account) -> UssdScreenIn:
    check_addresses(pdu)
    body = pdu.message_payload if pdu.message_payload is not None else pdu.short_message
    # 0x0F (the CBS DCS some gateways pass on) always means GSM; 0 as the account reads it.
    text = decode_text(body, pdu.data_coding, default_alphabet=account.data_coding_0)
    session_info = pdu.its_session_info
    if account.ussd_session == "user_message_reference" and pdu.user_message_reference is not None:
        # The reference names the dialogue only; its low bit is no end-of-session flag.
        session_info = pdu.user_message_reference & ~EOS
    return UssdScreenIn(_destination(pdu), pdu.source_addr, op, session_info, text)


def _replaced(pdu: ReplaceSm, esm_class: int, now: float, limits: Limits) -> ReplacedContent:
    """replace_sm's new fields, checked against the message it replaces; an empty time keeps
    the message's own (v3.4 §4.10.1)."""
    if pdu.sm_default_msg_id:
        raise bad_default_msg_id(pdu.sm_default_msg_id)
    if pdu.registered_delivery & RESERVED_DELIVERY_BITS:
        raise bad_registered_delivery(pdu.registered_delivery)
    body = check_body(pdu.short_message, None, esm_class, limits)
    scheduled_at, expires_at = check_times(pdu.schedule_delivery_time, pdu.validity_period, now, limits)
    return ReplacedContent(
        body,
        pdu.registered_delivery,
        scheduled_at if pdu.schedule_delivery_time else None,
        expires_at if pdu.validity_period else None,
    )


class _DestView:
    """A submit_multi destination seen with the submit's source, for the address checks."""

    def __init__(self, pdu: SubmitMulti, dest: SmeAddress) -> None:
        self.source_addr_ton = pdu.source_addr_ton
        self.source_addr_npi = pdu.source_addr_npi
        self.dest_addr_ton = dest.dest_addr_ton
        self.dest_addr_npi = dest.dest_addr_npi
        self.destination_addr = dest.destination_addr
