"""Binds: who may bind, how often a wrong password may be tried, and who is bound now."""

from __future__ import annotations

from collections import Counter

from smsgw.carrier.accounts import Account, AccountRegistry, Credential
from smsgw.carrier.bindguard import UNKNOWN, FailedBinds
from smsgw.carrier.binding import AppLink, Binding
from smsgw.carrier.bindrange import bind_namespace
from smsgw.carrier.clock import Clock
from smsgw.carrier.errors import BindRefused, Refusal, Rejected
from smsgw.carrier.events import Bound, EventBus, Refused, Unbound
from smsgw.carrier.outbox import Outbox
from smsgw.smpp.constants import BindType

#: Bind refusals that count against FailedBinds: what a password guesser gets.
_GUESSES = frozenset({Refusal.UNKNOWN_ACCOUNT, Refusal.BAD_CREDENTIALS})


class BindDesk:
    """Authenticates binds and keeps the bound sessions."""

    def __init__(
        self,
        accounts: AccountRegistry,
        outbox: Outbox,
        events: EventBus,
        clock: Clock,
        failed_binds: FailedBinds | None = None,
    ) -> None:
        self.accounts = accounts
        self.outbox = outbox
        self.events = events
        self.clock = clock
        self.failed_binds = failed_binds if failed_binds is not None else FailedBinds()
        #: Bound sessions by session id.
        self.bound: dict[int, Binding] = {}
        #: Binds accepted since start, by (system_id, mode), for /metrics.
        self.binds_total: Counter[tuple[str, str]] = Counter()

    def bind(
        self,
        link: AppLink,
        session_id: int,
        peer: str,
        system_id: str,
        credential: Credential,
        bind_type: BindType,
        address_range: str,
        *,
        protocol: str = "smpp",
    ) -> Binding:
        """Authenticate a bind; on success the link is bound (and receives, if its mode does).

        :param peer: ``host:port`` of the connection (failed binds are counted per host).
        :param credential: the password, or a check of the account's secret.
        :param protocol: the front end it binds through; an account binds through its own.
        :raises BindRefused: saying why; the front end answers it in its protocol and
            announces it with :meth:`refused`.
        """
        host = peer.rpartition(":")[0] or peer
        now = self.clock.now()
        guard = self.failed_binds
        # Names of no account share one count per address, so inventing names buys nothing.
        guarded = system_id if self.accounts.get(system_id) is not None else UNKNOWN
        wait = guard.blocked(host, guarded, now)
        try:
            if wait:
                name = "unknown system_ids" if guarded is UNKNOWN else f"system_id {system_id!r}"
                raise BindRefused(
                    Refusal.LOCKED_OUT,
                    f"{guard.limit} failed binds for {name} from {host} within "
                    f"{guard.window:g} s; the next is heard in {wait:.0f} s",
                )
            account = self.accounts.authenticate(system_id, credential, bind_type, protocol)
            namespace = bind_namespace(address_range)
            self._check_bind_count(account)
        except BindRefused as rejected:
            # Only a wrong name or password counts: a right one over max_binds is no guess.
            if not wait and rejected.refusal in _GUESSES:
                guard.failed(host, guarded, now)
            raise
        guard.succeeded(host, guarded)
        binding = Binding(
            session_id, account, bind_type.value, bind_type.can_receive, peer, namespace, now, link
        )
        self.bound[session_id] = binding
        if binding.receives:
            self.outbox.attach(binding)
        self.binds_total[account.system_id, binding.mode] += 1
        if self.events.wants(Bound):
            self.events.emit(Bound(session_id, account.system_id, binding.mode, peer, namespace or None))
        return binding

    def _check_bind_count(self, account: Account) -> None:
        if not account.max_binds:
            return
        bound = sum(1 for b in self.bound.values() if b.account.system_id == account.system_id)
        if bound >= account.max_binds:
            raise BindRefused(
                Refusal.TOO_MANY_BINDS,
                f"{account.system_id!r} has {bound} sessions bound (max_binds {account.max_binds})",
            )

    def refused(
        self, session_id: int | None, system_id: str, command: str, rejected: Rejected, status: str
    ) -> None:
        """Announce a refused request or bind, with its reason.

        :param command: the request's name in the front end's protocol (``bind_transmitter``).
        :param status: the status it was answered with, as the front end's protocol names it
            (``ESME_RINVPASWD``).
        """
        if self.events.wants(Refused):
            self.events.emit(Refused(session_id, system_id, command, status, rejected.reason))

    def unbound(self, binding: Binding, reason: str) -> None:
        """A bound session ended: it receives no more."""
        self.outbox.detach(binding)
        if self.bound.pop(binding.session_id, None) is not None and self.events.wants(Unbound):
            self.events.emit(Unbound(binding.session_id, binding.account.system_id, reason))

    def waiting_for(self, binding: Binding) -> int:
        """The deliveries this bind could be sent: its account's shared ones and its own."""
        return self.outbox.queued(binding.account.system_id, binding.session_id)
