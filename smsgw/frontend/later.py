"""How a front end has the store read where waiting on it holds up no connection (the answer
of a request that needs a read: :class:`~smsgw.carrier.answers.Later`), whatever its protocol."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Runs ``read`` where waiting on it holds up no connection, then ``then(result)`` or
#: ``failed(error)`` back on the thread serving the connections.
ReadLater = Callable[[Callable[[], Any], Callable[[Any], None], Callable[[BaseException], None]], None]


def read_now(
    read: Callable[[], Any], then: Callable[[Any], None], failed: Callable[[BaseException], None]
) -> None:
    """Run ``read`` here and now (a store that answers in microseconds)."""
    try:
        result = read()
    except Exception as error:
        failed(error)
        return
    then(result)
