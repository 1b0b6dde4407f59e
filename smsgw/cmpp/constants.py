"""CMPP 2.0 and 3.0 numbers: command ids, versions, status and result codes, message formats.

China Mobile's SP interface (中国移动通信互联网短信网关接口协议), as docs/cmpp.md cites: the
V3.0.0 specification (QB-GF-028-2003) and, for 2.0, its copies and the clients that speak it.
"""

from __future__ import annotations

import enum

#: Total_Length, Command_Id, Sequence_Id: three big-endian 32-bit integers.
HEADER_SIZE = 12
#: The ISMG's long-connection port for SPs.
DEFAULT_PORT = 7890
#: The highest version this gateway speaks, as CONNECT_RESP says it.
HIGHEST_VERSION = 0x30
#: A response's Command_Id is its request's with this bit set.
RESPONSE_BIT = 0x80000000


class CommandId(enum.IntEnum):
    """Command_Id values (an ISMG facing SPs answers these; the ISMG-to-ISMG and route
    commands 0x09-0x17 are not for SPs)."""

    CONNECT = 0x00000001
    CONNECT_RESP = 0x80000001
    TERMINATE = 0x00000002
    TERMINATE_RESP = 0x80000002
    SUBMIT = 0x00000004
    SUBMIT_RESP = 0x80000004
    DELIVER = 0x00000005
    DELIVER_RESP = 0x80000005
    QUERY = 0x00000006
    QUERY_RESP = 0x80000006
    CANCEL = 0x00000007
    CANCEL_RESP = 0x80000007
    ACTIVE_TEST = 0x00000008
    ACTIVE_TEST_RESP = 0x80000008


class Version(enum.IntEnum):
    """The layouts a session speaks, chosen by CMPP_CONNECT's Version octet (high nibble the
    major version): 3.0 widens terminal ids and every response's status (docs/cmpp.md)."""

    V20 = 0x20
    V30 = 0x30

    @classmethod
    def of(cls, octet: int) -> Version:
        """The layouts for a CONNECT's Version: 3.0 for 0x30, 2.0 below it (0x20, 0x21, and the
        0x00/0x01 some 2.0 clients send).

        :raises ValueError: above 0x30, a version this gateway does not speak.
        """
        if octet > HIGHEST_VERSION:
            raise ValueError(f"version 0x{octet:02X} is above 0x{HIGHEST_VERSION:02X}")
        return cls.V30 if octet == cls.V30 else cls.V20


class ConnectStatus(enum.IntEnum):
    """CMPP_CONNECT_RESP Status."""

    OK = 0
    BAD_STRUCTURE = 1
    BAD_SOURCE_ADDR = 2
    AUTHENTICATION_FAILED = 3
    VERSION_TOO_HIGH = 4
    OTHER = 5


class SubmitResult(enum.IntEnum):
    """CMPP_SUBMIT_RESP Result (9-13 came with 2.1; a 2.0 client reads 9 and above as "other")."""

    OK = 0
    BAD_STRUCTURE = 1
    BAD_COMMAND = 2
    DUPLICATE_SEQUENCE = 3
    BAD_LENGTH = 4
    BAD_FEE_CODE = 5
    TOO_LONG = 6
    BAD_SERVICE_ID = 7
    FLOW_CONTROL = 8
    NOT_SERVED_HERE = 9
    BAD_SRC_ID = 10
    BAD_MSG_SRC = 11
    BAD_FEE_TERMINAL = 12
    BAD_DEST_TERMINAL = 13


class DeliverResult(enum.IntEnum):
    """CMPP_DELIVER_RESP Result, as an SP answers a DELIVER."""

    OK = 0
    BAD_STRUCTURE = 1
    BAD_COMMAND = 2
    DUPLICATE_SEQUENCE = 3
    BAD_LENGTH = 4
    BAD_FEE_CODE = 5
    TOO_LONG = 6
    BAD_SERVICE_ID = 7
    FLOW_CONTROL = 8
    OTHER = 9


class MsgFmt(enum.IntEnum):
    """Msg_Fmt: how Msg_Content is coded."""

    ASCII = 0
    WRITE_CARD = 3
    BINARY = 4
    UCS2 = 8
    GB = 15


class Stat(enum.StrEnum):
    """A status report's Stat (7 octets): the final states; an ISMG also sends codes such as
    ``MA:0054`` (no answer from the SMSC) or ``MB:0001`` (an error from it)."""

    DELIVRD = "DELIVRD"
    EXPIRED = "EXPIRED"
    DELETED = "DELETED"
    UNDELIV = "UNDELIV"
    ACCEPTD = "ACCEPTD"
    UNKNOWN = "UNKNOWN"
    REJECTD = "REJECTD"


def command_name(command_id: int) -> str:
    """``CMPP_SUBMIT`` for 0x00000004; the hex value for an id that is not one."""
    try:
        return f"CMPP_{CommandId(command_id).name}"
    except ValueError:
        return f"0x{command_id:08X}"
