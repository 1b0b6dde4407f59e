"""The process's open-files limit, and connection limits that fit in it.

Every SMPP connection and every open HTTP request holds a descriptor. With the defaults (1,000
of each) and the common soft limit of 1,024, accept() starts failing long before either limit
is reached: new SMPP connections are reset and even /api/health cannot be answered. So at
start smsgw raises the soft limit to the hard one (allowed without privileges), and if the
two limits plus what smsgw needs for itself still do not fit, lowers them to fit and says
so, with what to change.
"""

from __future__ import annotations

import attrs

try:
    import resource
except ImportError:  # not on Windows: nothing to raise, nothing to check
    resource = None  # type: ignore[assignment]

#: Descriptors smsgw needs besides connections and requests: the store (database, WAL, shared
#: memory), listeners, stdio and logs, the merchant's own connections, HTTP USSD callbacks,
#: idle HTTP keep-alive connections and refused connections on their way out.
RESERVE = 100
#: What to ask for when the hard limit is "unlimited" (macOS refuses more than its OPEN_MAX).
_UNLIMITED_ASK = 10240


@attrs.frozen
class Fit:
    """The limits in force and what the banner says of them."""

    open_files: int | None
    max_connections: int
    max_open_requests: int
    #: Said at start: the limit (and whether it was raised).
    summary: str
    #: Set when the configured limits were lowered: what happened and what to change.
    warning: str | None = None


def raise_open_files() -> tuple[int | None, int | None]:
    """Raise the soft open-files limit to the hard one where allowed; (before, now), or
    (None, None) where the platform has no such limit."""
    if resource is None:
        return None, None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, _UNLIMITED_ASK)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, target


def fit(max_connections: int, max_open_requests: int, before: int | None, limit: int | None) -> Fit:
    """The two limits (0: none) fitted into ``limit`` descriptors beside :data:`RESERVE`."""
    if limit is None or limit == getattr(resource, "RLIM_INFINITY", -1):
        return Fit(None, max_connections, max_open_requests, "open files: no limit")
    raised = f" (raised from {before})" if before is not None and before < limit else ""
    summary = f"open files: {limit}{raised}"
    room = max(limit - RESERVE, 2)
    # A limit of 0 means none: it wants all the room there is.
    wanted = (max_connections or room, max_open_requests or room)
    if max_connections and max_open_requests and sum(wanted) <= room:
        return Fit(limit, max_connections, max_open_requests, summary)
    connections = max(1, room * wanted[0] // sum(wanted))
    requests = max(1, room - connections)
    asked = (
        f"[smpp] max_connections {max_connections or '0 (no limit)'} and "
        f"[http] max_open_requests {max_open_requests or '0 (no limit)'}"
    )
    if max_connections and max_open_requests:
        change = (
            f"raise the limit (ulimit -n {max_connections + max_open_requests + RESERVE}) or set both lower"
        )
    else:
        change = f"set both to numbers that add up to {room} at most, or raise the limit (ulimit -n)"
    warning = (
        f"{asked} do not fit in {limit} open files ({RESERVE} kept for smsgw itself): "
        f"lowered to {connections} and {requests}; {change}"
    )
    return Fit(limit, connections, requests, summary, warning)
