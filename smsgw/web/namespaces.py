"""``/api/namespaces``: the test worlds sharing one carrier, and resetting one of them.

A namespace is a label on handsets (``POST /api/handsets`` with ``namespace``) and fault
rules. Tests running at once each work in their own: they list their handsets and messages
with ``?namespace=``, and ``DELETE /api/namespaces/{name}`` clears one test's world (its
handsets and faults) and nobody else's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from twisted.web import server

from smsgw.carrier.carrier import Carrier
from smsgw.web.api import ApiError, Route
from smsgw.web.render import handset_json


class NamespaceRoutes:
    """``GET /api/namespaces``, ``GET`` and ``DELETE /api/namespaces/{name}``.

    :param after_change: commits a change before it is answered.
    """

    def __init__(self, carrier: Carrier, after_change: Callable[[], None]) -> None:
        self.carrier = carrier
        self.after_change = after_change

    def routes(self) -> list[Route]:
        """The routes, for :class:`~smsgw.web.api.Api`."""
        one = r"namespaces/([^/]+)"
        return [("GET", r"namespaces", self.index), ("GET", one, self.get), ("DELETE", one, self.reset)]

    def index(self, request: server.Request) -> dict[str, Any]:
        """Every namespace in use, with how many handsets it has."""
        counts = Counter(s.namespace for s in self.carrier.subscribers if s.namespace)
        return {"namespaces": [{"name": name, "handsets": counts[name]} for name in sorted(counts)]}

    def _handsets(self, name: str) -> list[Any]:
        handsets = self.carrier.handsets_in(name)
        if not handsets:
            raise ApiError(
                404,
                "unknown_namespace",
                f"no handset is in namespace {name!r}; GET /api/namespaces lists them",
            )
        return handsets

    def get(self, request: server.Request, name: str) -> dict[str, Any]:
        """One namespace's handsets."""
        return {"name": name, "handsets": [handset_json(s) for s in self._handsets(name)]}

    def reset(self, request: server.Request, name: str) -> dict[str, Any]:
        """Forget the namespace's handsets (their numbers are not given out again)."""
        removed = [s.msisdn for s in self._handsets(name)]
        for msisdn in removed:
            self.carrier.delete_handset(msisdn)
        self.after_change()
        return {"name": name, "removed_handsets": removed}
