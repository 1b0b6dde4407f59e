"""SMPP protocol errors.

Each error carries the command_status the peer should be answered with, and whether the
connection can carry on (``fatal``). A framing error is fatal because the byte stream can no
longer be split into PDUs; a bad body is not: the PDU is answered and the next one is read.
"""

from __future__ import annotations

from smsgw.smpp.constants import CommandStatus, status_name


class SmppError(Exception):
    """Base of every SMPP protocol error.

    :param message: what is wrong, naming the field.
    :param command_status: the status to answer the offending PDU with.
    :param fatal: whether the connection must be closed after answering.
    """

    def __init__(
        self,
        message: str,
        command_status: int = CommandStatus.ESME_RUNKNOWNERR,
        *,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.command_status = command_status
        self.fatal = fatal

    def __str__(self) -> str:
        return f"{self.args[0]} ({status_name(self.command_status)})"


class LocalProtocolError(SmppError):
    """We asked to build or send something SMPP forbids (a bug in the caller, not the peer)."""


class RemoteProtocolError(SmppError):
    """The peer sent something SMPP forbids.

    :param command_id: the offending PDU's command_id, when it could be read.
    :param sequence_number: the offending PDU's sequence_number, when it could be read;
        the answer echoes it.
    """

    def __init__(
        self,
        message: str,
        command_status: int,
        *,
        command_id: int | None = None,
        sequence_number: int | None = None,
        fatal: bool = False,
    ) -> None:
        super().__init__(message, command_status, fatal=fatal)
        self.command_id = command_id
        self.sequence_number = sequence_number


class FramingError(RemoteProtocolError):
    """The byte stream cannot be split into PDUs any more (bad command_length)."""

    def __init__(self, message: str, *, sequence_number: int | None = None) -> None:
        super().__init__(
            message,
            CommandStatus.ESME_RINVCMDLEN,
            sequence_number=sequence_number,
            fatal=True,
        )
