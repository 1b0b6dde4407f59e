"""CMPP Msg_Id: 64 bits of month, day, hour, minute and second, the gateway's code and a
sequence, in that order from the most significant bit (the specification's layout).

| bits  | 63-60 | 59-55 | 54-50 | 49-44  | 43-38  | 37-16          | 15-0     |
| field | month | day   | hour  | minute | second | gateway (22 b) | sequence |

Within one second a gateway gives out at most 65,536 ids: the generator refuses the next
(OverflowError) rather than repeat one, and its caller tries again in the next second.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs

GATEWAY_MAX = (1 << 22) - 1


@attrs.frozen
class MsgIdParts:
    """A Msg_Id's fields."""

    month: int
    day: int
    hour: int
    minute: int
    second: int
    gateway: int
    sequence: int


def pack(parts: MsgIdParts) -> int:
    """The 64-bit Msg_Id of its fields."""
    return (
        parts.month << 60
        | parts.day << 55
        | parts.hour << 50
        | parts.minute << 44
        | parts.second << 38
        | parts.gateway << 16
        | parts.sequence
    )


def unpack(msg_id: int) -> MsgIdParts:
    """A Msg_Id's fields."""
    return MsgIdParts(
        msg_id >> 60 & 0xF,
        msg_id >> 55 & 0x1F,
        msg_id >> 50 & 0x1F,
        msg_id >> 44 & 0x3F,
        msg_id >> 38 & 0x3F,
        msg_id >> 16 & GATEWAY_MAX,
        msg_id & 0xFFFF,
    )


class MsgIds:
    """Unique Msg_Ids of one gateway, on a clock.

    :param gateway: the gateway's code (0 to 4,194,303).
    :param clock: seconds since the epoch (the carrier's clock); ids use its local time.
    """

    def __init__(self, gateway: int, clock: Callable[[], float] = time.time) -> None:
        if not 0 <= gateway <= GATEWAY_MAX:
            raise ValueError(f"gateway code {gateway} is outside 0..{GATEWAY_MAX}")
        self.gateway = gateway
        self.clock = clock
        self._second = -1
        self._sequence = 0

    def next(self, count: int = 1) -> int:
        """The first of ``count`` consecutive ids (a SUBMIT to ``count`` numbers takes
        Msg_Id, Msg_Id + 1, ...: their sequences never wrap inside the block).

        :raises OverflowError: when this second's 65,536 ids are used up; try in the next.
        """
        now = int(self.clock())
        if now != self._second:
            self._second, self._sequence = now, 0
        if self._sequence + count > 0x10000:
            raise OverflowError(f"{self._sequence} Msg_Ids given out this second; at most 65,536")
        first = self._sequence
        self._sequence += count
        moment = time.localtime(now)
        return pack(
            MsgIdParts(
                moment.tm_mon,
                moment.tm_mday,
                moment.tm_hour,
                moment.tm_min,
                min(moment.tm_sec, 59),
                self.gateway,
                first,
            )
        )
