"""``/api/namespaces``: the test worlds sharing one carrier, and resetting one of them.

A namespace is a label on handsets (``POST /api/handsets`` with ``namespace``) and fault
rules (``POST /api/faults`` with ``namespace``: they strike that namespace's handsets only),
and it has a clock of its own (``POST /api/clock`` with ``namespace``).
Tests running at once each work in their own: they list their handsets and messages with
``?namespace=``, and ``DELETE /api/namespaces/{name}`` clears one test's world (its handsets,
fault rules and clock) and nobody else's. A namespace holds those named after it with a dot
(``run-1`` holds ``run-1.7``): a run gives each scenario its own and resets them all at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from twisted.web import server

from smsgw.carrier.clock import Clocks
from smsgw.carrier.faults import FaultBook, FaultRule
from smsgw.carrier.handsets import Handsets
from smsgw.carrier.subscribers import Subscriber, in_namespace
from smsgw.web.api import ApiError, Route
from smsgw.web.render import handset_json


class NamespaceRoutes:
    """``GET /api/namespaces``, ``GET`` and ``DELETE /api/namespaces/{name}``.

    :param forgotten: told the namespaces whose clocks a reset dropped (to drop their copies).
    """

    def __init__(
        self,
        handsets: Handsets,
        faults: FaultBook,
        clocks: Clocks,
        forgotten: Callable[[list[str]], None] = lambda namespaces: None,
    ) -> None:
        self.handsets = handsets
        self.faults = faults
        self.clocks = clocks
        self.forgotten = forgotten

    def routes(self) -> list[Route]:
        """The routes, for :class:`~smsgw.web.api.Api`."""
        one = r"namespaces/([^/]+)"
        return [("GET", r"namespaces", self.index), ("GET", one, self.get), ("DELETE", one, self.reset)]

    def index(self, request: server.Request) -> dict[str, Any]:
        """Every namespace in use, with how many handsets and fault rules it has, and how
        far its own clock runs ahead of the carrier's."""
        handsets = Counter(s.namespace for s in self.handsets.all_kept() if s.namespace)
        faults = Counter(r.namespace for r in self.faults.rules if r.namespace)
        clocks = self.clocks.advanced()
        return {
            "namespaces": [
                {
                    "name": name,
                    "handsets": handsets[name],
                    "faults": faults[name],
                    "ahead_of_carrier_seconds": round(self.clocks.offset(name), 3),
                }
                for name in sorted(handsets.keys() | faults.keys() | clocks.keys())
            ]
        }

    def _world(self, name: str) -> tuple[list[Subscriber], list[FaultRule], list[str]]:
        handsets = self.handsets.in_namespace(name)
        faults = [r for r in self.faults.rules if r.namespace and in_namespace(r.namespace, name)]
        clocks = [n for n in self.clocks.advanced() if in_namespace(n, name)]
        if not handsets and not faults and not clocks:
            raise ApiError(
                404,
                "unknown_namespace",
                f"no handset, fault rule or clock is in namespace {name!r}; GET /api/namespaces lists them",
            )
        return handsets, faults, clocks

    def get(self, request: server.Request, name: str) -> dict[str, Any]:
        """One namespace's handsets, the names of its fault rules, and its clock."""
        handsets, faults, _ = self._world(name)
        return {
            "name": name,
            "handsets": [handset_json(s) for s in handsets],
            "faults": [r.name for r in faults],
            "ahead_of_carrier_seconds": round(self.clocks.offset(name), 3),
        }

    def reset(self, request: server.Request, name: str) -> dict[str, Any]:
        """Forget the namespace's handsets (their numbers are not given out again), faults
        and clocks (the namespace's and those inside it)."""
        handsets, faults, _ = self._world(name)
        dropped = self.handsets.drop_owed({h.msisdn for h in handsets})
        for handset in handsets:
            self.handsets.delete(handset.msisdn)
        for rule in faults:
            self.faults.remove(rule.name)
        clocks = self.clocks.forget(name)
        self.forgotten(clocks)
        return {
            "name": name,
            "removed_handsets": [h.msisdn for h in handsets],
            "removed_faults": [r.name for r in faults],
            "removed_clocks": clocks,
            "dropped_deliveries": dropped,
        }
