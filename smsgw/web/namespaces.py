"""``/api/namespaces``: the test worlds sharing one carrier, and resetting one of them.

A namespace is a label on handsets (``POST /api/handsets`` with ``namespace``) and fault
rules (``POST /api/faults`` with ``namespace``: they strike that namespace's handsets only).
Tests running at once each work in their own: they list their handsets and messages with
``?namespace=``, and ``DELETE /api/namespaces/{name}`` clears one test's world (its handsets
and fault rules) and nobody else's. A namespace holds those named after it with a dot
(``run-1`` holds ``run-1.7``): a run gives each scenario its own and resets them all at once.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from twisted.web import server

from smsgw.carrier.faults import FaultBook, FaultRule
from smsgw.carrier.handsets import Handsets
from smsgw.carrier.subscribers import Subscriber, in_namespace
from smsgw.web.api import ApiError, Route
from smsgw.web.render import handset_json


class NamespaceRoutes:
    """``GET /api/namespaces``, ``GET`` and ``DELETE /api/namespaces/{name}``."""

    def __init__(self, handsets: Handsets, faults: FaultBook) -> None:
        self.handsets = handsets
        self.faults = faults

    def routes(self) -> list[Route]:
        """The routes, for :class:`~smsgw.web.api.Api`."""
        one = r"namespaces/([^/]+)"
        return [("GET", r"namespaces", self.index), ("GET", one, self.get), ("DELETE", one, self.reset)]

    def index(self, request: server.Request) -> dict[str, Any]:
        """Every namespace in use, with how many handsets and fault rules it has."""
        handsets = Counter(s.namespace for s in self.handsets.all_kept() if s.namespace)
        faults = Counter(r.namespace for r in self.faults.rules if r.namespace)
        return {
            "namespaces": [
                {"name": name, "handsets": handsets[name], "faults": faults[name]}
                for name in sorted(handsets.keys() | faults.keys())
            ]
        }

    def _world(self, name: str) -> tuple[list[Subscriber], list[FaultRule]]:
        handsets = self.handsets.in_namespace(name)
        faults = [r for r in self.faults.rules if r.namespace and in_namespace(r.namespace, name)]
        if not handsets and not faults:
            raise ApiError(
                404,
                "unknown_namespace",
                f"no handset or fault rule is in namespace {name!r}; GET /api/namespaces lists them",
            )
        return handsets, faults

    def get(self, request: server.Request, name: str) -> dict[str, Any]:
        """One namespace's handsets and the names of its fault rules."""
        handsets, faults = self._world(name)
        return {
            "name": name,
            "handsets": [handset_json(s) for s in handsets],
            "faults": [r.name for r in faults],
        }

    def reset(self, request: server.Request, name: str) -> dict[str, Any]:
        """Forget the namespace's handsets (their numbers are not given out again) and faults."""
        handsets, faults = self._world(name)
        dropped = self.handsets.drop_owed({h.msisdn for h in handsets})
        for handset in handsets:
            self.handsets.delete(handset.msisdn)
        for rule in faults:
            self.faults.remove(rule.name)
        return {
            "name": name,
            "removed_handsets": [h.msisdn for h in handsets],
            "removed_faults": [r.name for r in faults],
            "dropped_deliveries": dropped,
        }
