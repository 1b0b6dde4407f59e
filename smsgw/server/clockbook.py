"""Where the carrier's clocks are kept: how far the carrier's clock and each namespace's run
ahead, as store documents, so a restart (or another node of a cluster) resumes on the same
time its messages' deadlines were set on."""

from __future__ import annotations

from typing import Any

from smsgw.carrier.clock import AdvancingClock, Clocks
from smsgw.store.interface import DocumentStore

#: The document kind of the clocks: ``offset`` (the carrier's), ``ns:NAME`` (a namespace's own).
CLOCK = "carrier.clock"
_NAMESPACE = "ns:"


class ClockBook:
    """The clocks' advances as documents: written on each advance, read back at start.

    :param clock: the carrier's clock (the one :attr:`Clocks.clock` moves).
    """

    def __init__(self, store: DocumentStore, clocks: Clocks, clock: AdvancingClock) -> None:
        self.store = store
        self.clocks = clocks
        self.clock = clock

    def restore(self) -> bool:
        """Take the advances the store holds (before the carrier reads its deadlines back).

        :returns: whether any clock moved.
        """
        return self.follow(self.store.documents(CLOCK))

    def follow(self, documents: list[tuple[str, Any]]) -> bool:
        """Take advances written elsewhere: every clock only moves forward.

        :returns: whether any clock moved.
        """
        moved = False
        advanced: dict[str, float] = {}
        for key, value in documents:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if key == "offset":
                if value > self.clock.offset:
                    self.clock.advance(value - self.clock.offset)
                    moved = True
            elif key.startswith(_NAMESPACE):
                advanced[key[len(_NAMESPACE) :]] = float(value)
        return bool(self.clocks.follow(advanced)) or moved

    def advanced(self, namespace: str) -> None:
        """Keep a clock that was just advanced (the carrier's for ``""``)."""
        if namespace:
            seconds = self.clocks.advanced().get(namespace, 0.0)
            self.store.put_document(CLOCK, _NAMESPACE + namespace, seconds)
        else:
            self.store.put_document(CLOCK, "offset", self.clock.offset)

    def forgotten(self, namespaces: list[str]) -> None:
        """Drop the clocks of namespaces that were reset."""
        for namespace in namespaces:
            self.store.delete_document(CLOCK, _NAMESPACE + namespace)
