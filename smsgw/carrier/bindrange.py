"""A bind's namespace, carried in its address_range as ``ns:NAME``.

SMPP v3.4 §5.2.7 has address_range say which addresses an ESME serves, for the SMSC to route
MO by; a namespace is such a set of handsets. Other address_range values are ignored.
"""

from __future__ import annotations

from smsgw.carrier.errors import BindRefused, Refusal
from smsgw.carrier.subscribers import NAMESPACE_PATTERN, NAMESPACE_RULE

PREFIX = "ns:"
#: address_range is a C-string of 41 octets: 40 characters, less the prefix.
MAX_BIND_NAMESPACE = 40 - len(PREFIX)


def address_range(namespace: str) -> str:
    """What a bind sends to declare ``namespace`` ("" for none)."""
    return f"{PREFIX}{namespace}" if namespace else ""


def bind_namespace(address_range: str) -> str:
    """The namespace a bind declares in its address_range ("" for none).

    :raises BindRefused: BAD_NAMESPACE for ``ns:`` followed by no valid namespace name.
    """
    if not address_range.startswith(PREFIX):
        return ""
    namespace = address_range[len(PREFIX) :]
    if not namespace or not NAMESPACE_PATTERN.fullmatch(namespace):
        raise BindRefused(
            Refusal.BAD_NAMESPACE,
            f"address_range {address_range!r} names no namespace: after {PREFIX!r} give {NAMESPACE_RULE}",
        )
    return namespace
