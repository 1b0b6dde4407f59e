"""The seam to the application ``smsgw serve`` runs beside the carrier: the mock merchant.

smsgw knows it only through these Protocols. Its ``[merchant]`` section is read and checked
by its own code (:class:`ReadCompanion`, handed to :func:`smsgw.config.load_config` by the
``smsgw`` command), which gives back a :class:`Companion`: the account and codes the carrier
gives it, its API's address, and how to start it once the carrier listens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.web.resource import Resource

    from smsgw.store.interface import DocumentStore


class TimelineSink(Protocol):
    """Where the companion records its steps of a payment on the carrier's timeline
    (``merchant.order``, ``merchant.sms``, ...), each about one handset; the carrier keeps
    those of the handsets it records and drops the others."""

    def __call__(
        self,
        kind: str,
        msisdn: str,
        detail: dict[str, Any],
        *,
        order_id: str = "",
        message_id: str = "",
        system_id: str = "",
    ) -> None: ...


class RunningCompanion(Protocol):
    """A started companion, bound (or binding) to the carrier over SMPP."""

    @property
    def url(self) -> str:
        """Its HTTP API's base URL."""

    @property
    def http_port(self) -> int:
        """The port its API listens on (the chosen one when asked for 0)."""

    @property
    def api(self) -> Resource:
        """Its API as a resource, which the carrier's site serves under ``/merchant`` too."""

    def tick(self) -> None:
        """Catch up with the carrier's clock, which has just jumped."""

    def when_bound(self) -> Deferred[Any]:
        """Fires once its SMPP bind is up."""

    def stop(self) -> Deferred[Any]:
        """Unbind and stop listening."""


class Companion(Protocol):
    """The ``[merchant]`` section, as the carrier reads it.

    :ivar password: its account's; None: smsgw makes one up at start.
    """

    @property
    def enabled(self) -> bool: ...
    @property
    def system_id(self) -> str: ...
    @property
    def password(self) -> str | None: ...
    @property
    def short_code(self) -> str: ...
    @property
    def ussd_code(self) -> str: ...
    @property
    def http_host(self) -> str: ...
    @property
    def http_port(self) -> int: ...
    @property
    def shop_name(self) -> str: ...
    @property
    def protocol(self) -> str:
        """``smpp``, or ``cmpp``: its SMS go over CMPP as the SP :attr:`sp_id` (its USSD stays
        on its SMPP bind: CMPP has none)."""

    @property
    def sp_id(self) -> str: ...

    def evolve(self, **changes: Any) -> Companion:
        """A copy with ``changes`` made (``enabled``, ``password``, ``http_port``)."""

    def start(
        self,
        reactor: Any,
        *,
        carrier: tuple[str, int],
        country_code: str,
        clock: Callable[[], float],
        token: str | None,
        store: DocumentStore,
        cmpp: tuple[str, int] | None = None,
        ahead: Callable[[str], float] | None = None,
        timeline: TimelineSink | None = None,
        keep_days: float = 0.0,
        keep_orders: int = 0,
    ) -> Deferred[Any]:
        """Listen on HTTP and start binding to the carrier's SMPP address ``carrier`` (and,
        with protocol ``cmpp``, connecting to its CMPP address ``cmpp``); fire with the
        :class:`RunningCompanion`.

        :param clock: the carrier's, so that advancing it moves the companion's time too.
        :param ahead: how far the clock of a handset's namespace runs ahead of ``clock``, so
            that advancing a namespace's clock moves the companion's time for its handsets.
        :param token: wanted on every request to its API, if any.
        :param store: the carrier's own (a SQLite file is locked to one connection), where it
            keeps its records across restarts.
        :param timeline: where it records its steps of payments (None: it records none).
        :param keep_days: the store's retention (``[store] keep_days``): days it keeps what
            has ended (final orders), by the wall clock; 0 keeps it however old.
        :param keep_orders: the store's ``[store] keep_messages``, as a count of what has
            ended (final orders) kept at most, the newest; 0 keeps it all.
        """


#: Reads and checks the ``[merchant]`` table (``{}`` for the defaults), raising
#: :class:`~smsgw.configcheck.ConfigError` with every mistake, each named ``merchant.KEY``.
ReadCompanion = Callable[[Any], Companion]
