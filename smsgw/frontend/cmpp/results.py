"""The carrier's refusals as CMPP answers: CONNECT_RESP Status and SUBMIT_RESP Result.

CMPP's vocabulary is small: a throttled SP and a full queue both hear 8 (flow control), a
number that is no subscriber 13, and most else 9 ("other"; in 2.0, where 9 and above are not
defined, an SP reads them all so). A field check of the CMPP front end chose its Result
already; a fault rule's ``refuse_submit`` status is an SMPP name (what users write in the
config), mapped here to the CMPP Result that means the same.
"""

from __future__ import annotations

from smsgw.carrier.errors import Refusal, Rejected
from smsgw.cmpp.constants import ConnectStatus
from smsgw.cmpp.constants import SubmitResult as R
from smsgw.smpp.constants import CommandStatus as S

#: 9: "other" in 2.0; 2.1 and 3.0 gave it a meaning (a charged number this gateway does not
#: serve), but gateways still answer it for what no code names, and SPs read it so.
OTHER_RESULT = 9
_CONNECT = {
    Refusal.UNKNOWN_ACCOUNT: ConnectStatus.BAD_SOURCE_ADDR,
    Refusal.BAD_CREDENTIALS: ConnectStatus.AUTHENTICATION_FAILED,
}
_SUBMIT = {
    Refusal.THROTTLED: R.FLOW_CONTROL,
    Refusal.QUEUE_FULL: R.FLOW_CONTROL,
    Refusal.UNKNOWN_DESTINATION: R.BAD_DEST_TERMINAL,
}
#: A refuse_submit rule's SMPP status, as the CMPP Result that says the same.
_FROM_SMPP: dict[int, int] = {
    S.ESME_RTHROTTLED: R.FLOW_CONTROL,
    S.ESME_RMSGQFUL: R.FLOW_CONTROL,
    S.ESME_RINVDSTADR: R.BAD_DEST_TERMINAL,
    S.ESME_RINVSRCADR: R.BAD_SRC_ID,
    S.ESME_RINVSERTYP: R.BAD_SERVICE_ID,
    S.ESME_RINVMSGLEN: R.BAD_LENGTH,
    S.ESME_RINVCMDID: R.BAD_COMMAND,
}


def connect_status(rejected: Rejected) -> int:
    """The CONNECT_RESP Status of a refused CMPP_CONNECT."""
    return _CONNECT.get(rejected.refusal, ConnectStatus.OTHER)


def submit_result(rejected: Rejected) -> int:
    """The SUBMIT_RESP Result of a refused CMPP_SUBMIT."""
    if rejected.refusal is Refusal.BAD_FIELD and rejected.status is not None:
        return rejected.status
    if rejected.refusal is Refusal.INJECTED and rejected.status is not None:
        return _FROM_SMPP.get(rejected.status, OTHER_RESULT)
    return _SUBMIT.get(rejected.refusal, OTHER_RESULT)


def result_name(result: int) -> str:
    """``Result 8 (FLOW_CONTROL)``, for the refusal log and events."""
    try:
        return f"Result {result} ({R(result).name})"
    except ValueError:
        return f"Result {result}"


def status_name(status: int) -> str:
    """``Status 3 (AUTHENTICATION_FAILED)``, for the refusal log and events."""
    try:
        return f"Status {status} ({ConnectStatus(status).name})"
    except ValueError:
        return f"Status {status}"
