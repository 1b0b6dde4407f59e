"""SMPP's table of refusals: every :class:`Refusal` is answered with a command_status, and the
ones about a message are answered with the failure status of the command that asked."""

from __future__ import annotations

import pytest

from smsgw.carrier.errors import Refusal, Rejected
from smsgw.frontend.smpp.statuses import BY_COMMAND, CARRY_STATUS, STATUSES, smpp_status
from smsgw.smpp.constants import CommandId as C
from smsgw.smpp.constants import CommandStatus as S


def test_every_refusal_has_an_smpp_status_one_way() -> None:
    """A refusal is in the table, answered by command, or carries its status: exactly one."""
    ways = [set(STATUSES), set(BY_COMMAND), set(CARRY_STATUS)]
    for refusal in Refusal:
        assert sum(refusal in way for way in ways) == 1, refusal
    assert all(status in S._value2member_map_ and status for status in STATUSES.values())


@pytest.mark.parametrize(
    ("refusal", "status"),
    [
        (Refusal.UNKNOWN_ACCOUNT, S.ESME_RINVSYSID),
        (Refusal.BAD_CREDENTIALS, S.ESME_RINVPASWD),
        (Refusal.LOCKED_OUT, S.ESME_RBINDFAIL),
        (Refusal.THROTTLED, S.ESME_RTHROTTLED),
        (Refusal.QUEUE_FULL, S.ESME_RMSGQFUL),
        (Refusal.UNKNOWN_DESTINATION, S.ESME_RINVDSTADR),
        (Refusal.USSD_REFUSED, S.ESME_RSUBMITFAIL),
        (Refusal.HANDSET_UNREACHABLE, S.ESME_RDELIVERYFAILURE),
    ],
)
def test_a_refusal_is_answered_with_its_status_whatever_the_command(refusal: Refusal, status: int) -> None:
    for command in (C.SUBMIT_SM, C.DATA_SM, C.BIND_TRANSCEIVER):
        assert smpp_status(Rejected(refusal, "why"), command) == status


@pytest.mark.parametrize("refusal", sorted(BY_COMMAND, key=lambda r: r.name))
def test_a_missing_or_final_message_is_answered_by_the_command_that_asked(refusal: Refusal) -> None:
    rejected = Rejected(refusal, "message 7 is already DELIVRD")
    assert smpp_status(rejected, C.QUERY_SM) == S.ESME_RQUERYFAIL
    assert smpp_status(rejected, C.CANCEL_SM) == S.ESME_RCANCELFAIL
    assert smpp_status(rejected, C.REPLACE_SM) == S.ESME_RREPLACEFAIL


def test_a_status_chosen_outside_the_table_is_answered_as_it_is() -> None:
    """A field check's status and a fault rule's (whatever its number) win over the table."""
    assert smpp_status(
        Rejected(Refusal.BAD_FIELD, "dest_addr_ton 9", status=S.ESME_RINVDSTTON), C.SUBMIT_SM
    ) == (S.ESME_RINVDSTTON)
    assert smpp_status(Rejected(Refusal.INJECTED, "injected fault 'x'", status=0x400), C.SUBMIT_SM) == 0x400


def test_the_reason_says_the_refusal_not_a_protocol_status() -> None:
    assert str(Rejected(Refusal.NOT_PENDING, "message 7 is already DELIVRD")) == (
        "message 7 is already DELIVRD (not_pending)"
    )
