"""Why the carrier refuses something, as the SMPP status an ESME is answered with."""

from __future__ import annotations

from smsgw.smpp.constants import CommandStatus, status_name


class Rejected(Exception):
    """The carrier refuses a request; ``command_status`` is the answer's status.

    :param command_status: the SMPP status that says why.
    :param reason: a sentence for logs and the API, naming the offending value.
    """

    def __init__(self, command_status: int, reason: str) -> None:
        super().__init__(reason)
        self.command_status = command_status
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.reason} ({status_name(self.command_status)})"


class BindRefused(Rejected):
    """A bind is refused: unknown system_id, wrong password or a bind type not allowed."""


class Throttled(Rejected):
    """The account submits faster than its configured throughput."""

    def __init__(self, reason: str) -> None:
        super().__init__(CommandStatus.ESME_RTHROTTLED, reason)


class QueueFull(Rejected):
    """Too many of the account's messages are waiting; the ESME should slow down."""

    def __init__(self, reason: str) -> None:
        super().__init__(CommandStatus.ESME_RMSGQFUL, reason)


class UnknownSubscriber(Rejected):
    """The destination is not a subscriber of this network (strict provisioning)."""

    def __init__(self, reason: str) -> None:
        super().__init__(CommandStatus.ESME_RINVDSTADR, reason)


class DialogueChanged(Rejected):
    """An answer or a cancel named a USSD dialogue that is no longer the one on the screen."""

    def __init__(self, reason: str) -> None:
        super().__init__(CommandStatus.ESME_RSUBMITFAIL, reason)
