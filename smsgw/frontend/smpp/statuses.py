"""The SMPP status a refusal is answered with: the carrier's :class:`Refusal` mapped to a
command_status (SMPP v3.4 §5.1.3), in one table.

A refusal that carries its own status (a field check's, a ``refuse_submit`` fault rule's)
is answered with that; a message that cannot be found or is no longer pending, with the
failure status of the command that asked (query_sm, cancel_sm, replace_sm).
"""

from __future__ import annotations

from smsgw.carrier.errors import Refusal, Rejected
from smsgw.smpp.constants import CommandId as C
from smsgw.smpp.constants import CommandStatus as S

#: Each refusal's status where it does not depend on the command.
STATUSES: dict[Refusal, int] = {
    Refusal.UNKNOWN_ACCOUNT: S.ESME_RINVSYSID,
    Refusal.BAD_CREDENTIALS: S.ESME_RINVPASWD,
    Refusal.BIND_NOT_ALLOWED: S.ESME_RBINDFAIL,
    Refusal.TOO_MANY_BINDS: S.ESME_RBINDFAIL,
    Refusal.LOCKED_OUT: S.ESME_RBINDFAIL,
    Refusal.BAD_NAMESPACE: S.ESME_RBINDFAIL,
    Refusal.WRONG_PROTOCOL: S.ESME_RBINDFAIL,
    Refusal.TOO_MANY_CONNECTIONS: S.ESME_RTHROTTLED,
    Refusal.THROTTLED: S.ESME_RTHROTTLED,
    Refusal.QUEUE_FULL: S.ESME_RMSGQFUL,
    Refusal.UNKNOWN_DESTINATION: S.ESME_RINVDSTADR,
    Refusal.HANDSET_EXISTS: S.ESME_RINVDSTADR,
    # Busy and unreachable differ, so an application can tell "try later" from "phone off".
    Refusal.USSD_REFUSED: S.ESME_RSUBMITFAIL,
    Refusal.DIALOGUE_CHANGED: S.ESME_RSUBMITFAIL,
    Refusal.HANDSET_UNREACHABLE: S.ESME_RDELIVERYFAILURE,
    Refusal.SYSTEM_ERROR: S.ESME_RSYSERR,
}
#: Refusals answered with the failure status of the command that asked.
BY_COMMAND = frozenset({Refusal.NO_SUCH_MESSAGE, Refusal.NOT_PENDING})
#: Each command's failure status for :data:`BY_COMMAND` refusals.
COMMAND_FAILURES: dict[int, int] = {
    C.QUERY_SM: S.ESME_RQUERYFAIL,
    C.CANCEL_SM: S.ESME_RCANCELFAIL,
    C.REPLACE_SM: S.ESME_RREPLACEFAIL,
}
#: Refusals raised with their status (:attr:`Rejected.status`): a field check's, chosen by
#: this front end, and a ``refuse_submit`` rule's, which users write as SMPP names.
CARRY_STATUS = frozenset({Refusal.BAD_FIELD, Refusal.INJECTED})


def smpp_status(rejected: Rejected, command_id: int) -> int:
    """The command_status that answers ``rejected`` to a request of ``command_id``.

    Only refusals call this: an accepted request costs nothing here.
    """
    if rejected.status is not None:
        return rejected.status
    refusal = rejected.refusal
    if refusal in BY_COMMAND:
        return COMMAND_FAILURES.get(command_id, S.ESME_RSYSERR)
    # A CARRY_STATUS refusal raised without its status is a bug: the ESME hears a system error.
    return STATUSES.get(refusal, S.ESME_RSYSERR)
