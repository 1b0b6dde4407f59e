"""CMPP protocol errors, each carrying the code its answer needs.

A response's status field says what was wrong with its request (CONNECT_RESP Status,
SUBMIT_RESP Result, ...), so a decoding error carries that code; ``fatal`` says the byte
stream can no longer be split into PDUs, and the connection must end.
"""

from __future__ import annotations


class CmppError(Exception):
    """Base of every CMPP protocol error.

    :param message: what is wrong, naming the field.
    :param code: the Status or Result to answer the offending PDU with.
    :param fatal: whether the connection must be closed.
    """

    def __init__(self, message: str, code: int = 1, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.fatal = fatal

    def __str__(self) -> str:
        return f"{self.args[0]} (code {self.code})"


class LocalProtocolError(CmppError):
    """We asked to build something CMPP cannot carry (a bug in the caller, not the peer)."""


class RemoteProtocolError(CmppError):
    """The peer sent something CMPP forbids.

    :param command_id: the offending PDU's Command_Id, when it could be read.
    :param sequence_id: its Sequence_Id, when it could be read; the answer echoes it.
    """

    def __init__(
        self,
        message: str,
        code: int = 1,
        *,
        command_id: int | None = None,
        sequence_id: int | None = None,
        fatal: bool = False,
    ) -> None:
        super().__init__(message, code, fatal=fatal)
        self.command_id = command_id
        self.sequence_id = sequence_id
