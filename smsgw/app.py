"""Wires the carrier, the store and the listeners together: the one place that does."""

from __future__ import annotations

import gc
import os
import random
import secrets
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from twisted.internet import defer, endpoints
from twisted.logger import Logger

from smsgw import __version__
from smsgw.carrier.bindguard import FailedBinds
from smsgw.carrier.carrier import Carrier
from smsgw.carrier.clock import Clock, SystemClock
from smsgw.carrier.events import EventBus
from smsgw.carrier.faults import MAGIC_NUMBERS, FaultBook
from smsgw.carrier.limits import Limits
from smsgw.carrier.outbox import RetryPolicy
from smsgw.carrier.retention import Keep
from smsgw.carrier.subscribers import SubscriberRegistry
from smsgw.carrier.timeline import Timeline
from smsgw.carrier.ussd import UssdLimits
from smsgw.companion import RunningCompanion
from smsgw.config import DEFAULT_SP_ID, DEFAULT_SP_SECRET, Config
from smsgw.frontend.cmpp.deliveries import CmppDeliveries
from smsgw.frontend.smpp.deliveries import SmppDeliveries
from smsgw.server.clockbook import ClockBook
from smsgw.server.cmpp import CmppServerFactory
from smsgw.server.descriptors import Fit, fit, raise_open_files
from smsgw.server.eventlog import RefusalLog
from smsgw.server.lag import LagMonitor
from smsgw.server.smpp import SmppServerFactory
from smsgw.store.interface import MessageStore, Store
from smsgw.store.opening import describe as describe_store
from smsgw.store.opening import is_postgres_url, open_store
from smsgw.web.api import Api, Root
from smsgw.web.clock import ClockRoutes
from smsgw.web.events import EventStream
from smsgw.web.faults import FaultRoutes
from smsgw.web.forward import Forwarder
from smsgw.web.guard import LOOPBACK_NAMES, GuardedSite
from smsgw.web.handsets import HandsetRoutes
from smsgw.web.metrics import MetricsResource
from smsgw.web.namespaces import NamespaceRoutes
from smsgw.web.network import NetworkRoutes
from smsgw.web.openapi import OpenApiRoutes
from smsgw.web.timeline import TimelineRoutes
from smsgw.web.ussd_http import HttpUssdApps
from smsgw.web.waiting import InboxWaiters

if TYPE_CHECKING:
    from smsgw.server.cluster import ClusterNode

log = Logger(namespace="smsgw")


@attrs.define
class Running:
    """A started smsgw: its parts and the ports it listens on."""

    config: Config
    carrier: Carrier
    store: Store
    smpp_factory: SmppServerFactory
    smpp_port: Any
    http_port: Any
    #: The mock merchant, when it runs (see :mod:`smsgw.companion`).
    merchant: RunningCompanion | None = None
    #: The CMPP server and its listener.
    cmpp_factory: CmppServerFactory | None = None
    cmpp_port: Any = None
    #: The SMPP-over-TLS listener, when a certificate is configured.
    tls_port: Any = None
    #: The token the HTTP API wants, if any.
    http_token: str | None = None
    #: The token the merchant's HTTP API wants, if any (the same one, when both want one).
    merchant_token: str | None = None
    #: Whether smsgw made the merchant's password up (then it is printed; a configured one is not).
    merchant_password_made_up: bool = False
    #: The open-files limit and the connection limits fitted into it.
    descriptors: Fit | None = None
    lag: LagMonitor | None = None
    #: This node's part in a cluster on one database, when it is one of several.
    cluster: ClusterNode | None = None

    @property
    def endpoints(self) -> dict[str, Any]:
        """The chosen ports and the built-in account's credentials, for tools."""
        account = self.config.accounts[0]
        smpp, http = self.smpp_port.getHost(), self.http_port.getHost()
        merchant = self.config.active_merchant
        return {
            "smpp": smpp.port,
            "smpp_host": smpp.host,
            "http": http.port,
            "http_url": f"http://{http.host}:{http.port}",
            "system_id": account.system_id,
            "password": account.password,
            "store": describe_store(self.config.store.location),
            **({"smpp_tls": self.tls_port.getHost().port} if self.tls_port is not None else {}),
            **(
                {"cmpp": self.cmpp_port.getHost().port, "cmpp_host": self.cmpp_port.getHost().host}
                if self.cmpp_port is not None
                else {}
            ),
            **({"http_token": token} if (token := self.http_token or self.merchant_token) else {}),
            **(
                {
                    "merchant_http": self.merchant.http_port,
                    "merchant_url": self.merchant.url,
                    "merchant_system_id": merchant.system_id,
                    "merchant_password": merchant.password,
                }
                if self.merchant is not None and merchant is not None
                else {}
            ),
        }

    @defer.inlineCallbacks
    def stop(self, reactor: Any, grace: float = 1.0) -> Any:
        """Unbind every session, stop listening, flush and close the store.

        ESMEs get ``grace`` seconds to answer the unbind; then what is left is closed.
        """
        if self.merchant is not None:
            yield defer.maybeDeferred(self.merchant.stop)
        if self.lag is not None:
            self.lag.stop()
        if self.cluster is not None:
            self.cluster.stop()
        factory, cmpp = self.smpp_factory, self.cmpp_factory
        factory.unbind_all()
        if cmpp is not None:
            cmpp.terminate_all()
        yield factory.flusher.settle()
        yield defer.maybeDeferred(self.smpp_port.stopListening)
        if self.cmpp_port is not None:
            yield defer.maybeDeferred(self.cmpp_port.stopListening)
        if self.tls_port is not None:
            yield defer.maybeDeferred(self.tls_port.stopListening)
        yield defer.maybeDeferred(self.http_port.stopListening)
        factories: list[Any] = [factory, *([cmpp] if cmpp is not None else [])]
        # Its own Deferred: a timeout cancels it alone, not the connections' waiters.
        idle: defer.Deferred[None] = defer.Deferred()
        defer.gatherResults([f.when_idle() for f in factories]).addCallback(
            lambda _: None if idle.called else idle.callback(None)
        )
        idle.addTimeout(grace, reactor)
        try:
            yield idle
        except defer.TimeoutError:
            for each in factories:
                for connection in list(each.connections.values()):
                    connection.abort("no unbind_resp or CMPP_TERMINATE_RESP at shutdown")
            yield defer.gatherResults([f.when_idle() for f in factories])
        yield factory.flusher.settle()
        self.store.close()


def http_tokens(config: Config) -> tuple[str | None, str | None]:
    """The tokens the carrier's HTTP API and the merchant's want, in that order.

    One token for both, so a client needs to know only one: ``$SMSGW_TOKEN``, else
    ``[http] token`` (wanted by both), else a fresh one when either listens beyond loopback
    (printed at start-up; wanted by the one(s) beyond loopback) unless ``[http]
    require_token = false``, else none.
    """
    given = os.environ.get("SMSGW_TOKEN") or config.http.token
    companion = config.active_merchant
    hosts = (config.http.host, companion.http_host if companion is not None else "127.0.0.1")
    if given is not None:
        return given, given
    if all(host in LOOPBACK_NAMES for host in hosts) or not config.http.require_token:
        return None, None
    made_up = secrets.token_urlsafe(24)
    carrier, merchant = (None if host in LOOPBACK_NAMES else made_up for host in hosts)
    return carrier, merchant


def with_merchant_password(config: Config) -> tuple[Config, bool]:
    """The config with the merchant's password made up when none is set, and whether it was.

    Made up at every start (never a documented constant), so that no other local process can
    bind as the merchant and take the USSD dialogues meant for it.
    """
    merchant = config.active_merchant
    if merchant is None or merchant.password is not None:
        return config, False
    # An [[accounts]] entry with the merchant's system_id is the account it binds to.
    configured = [a.password for a in config.accounts if a.system_id == merchant.system_id]
    # 8 characters: the most an SMPP password holds.
    password = configured[0] if configured else secrets.token_urlsafe(6)
    return attrs.evolve(config, merchant=merchant.evolve(password=password)), not configured


def _tls_options(certificate: str, key: str | None) -> Any:
    """TLS server options from PEM files (the key may be in the certificate's file)."""
    from twisted.internet import ssl

    pem = Path(certificate).read_bytes()
    if key is not None:
        pem += b"\n" + Path(key).read_bytes()
    return ssl.PrivateCertificate.loadPEM(pem).options()


def _endpoint(host: str, port: int) -> str:
    return f"tcp:{port}:interface={host.replace(':', chr(92) + ':')}"


def _reachable_url(host: str, port: int) -> str:
    """Where the other nodes reach this node's HTTP API: its host, or this machine's name
    when it listens on every interface."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.getfqdn()
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _cluster_job_failed(what: str, error: BaseException) -> None:
    log.error("cluster: {what} failed ({error})", what=what, error=error)


def _dropped_write(write: str, error: BaseException) -> None:
    log.error(
        "store: could not store the {write} ({error}); the rest of its commit went in",
        write=write,
        error=error,
    )


def build_carrier(
    config: Config, store: MessageStore, clock: Clock, link_clock: Callable[[], float] | None = None
) -> tuple[Carrier, SmppDeliveries]:
    """The carrier ``config`` describes, on ``store`` and ``clock``, with the SMPP front end's
    encoder of its deliveries; not started (:meth:`Carrier.start`) and listening nowhere.

    :param link_clock: the time the front ends' sessions keep (the reactor's).
    """
    merchant = config.active_merchant
    network = config.network
    subscribers = SubscriberRegistry(
        (attrs.evolve(s) for s in config.subscribers),
        country_code=network.country_code,
        auto_provision=network.provisioning == "auto",
    )
    events = EventBus()
    deliveries = SmppDeliveries(events)
    carrier = Carrier(
        store,
        config.all_accounts,
        subscribers,
        clock,
        encoders={"smpp": deliveries, "cmpp": CmppDeliveries()},
        events=events,
        limits=Limits(network.default_validity, network.max_validity, network.max_payload),
        retry=RetryPolicy(network.delivery_retry_base, network.delivery_retry_max, network.delivery_validity),
        default_system_id=network.default_account or None,
        ussd_routes=config.ussd_routes,
        ussd_limits=UssdLimits(network.ussd_max_length, network.ussd_user_timeout, network.ussd_app_timeout),
        # A fixed seed: a probability rule strikes the same events on every run.
        faults=FaultBook(config.faults + (MAGIC_NUMBERS if network.magic_numbers else ()), random.Random(0)),
        # The merchant binds with a password made up at start; nothing else may lock it out.
        failed_binds=FailedBinds(
            config.smpp.max_failed_binds,
            exempt=[merchant.system_id, merchant.sp_id] if merchant is not None else [],
        ),
        link_clock=link_clock,
        timeline=Timeline(config.timeline.record, config.timeline.max_steps),
        keep=Keep(config.store.keep_days, config.store.keep_messages),
    )
    return carrier, deliveries


@defer.inlineCallbacks
def start(config: Config, reactor: Any) -> Any:
    """Open the store, build the carrier, and listen for SMPP and HTTP.

    :returns: a Deferred firing with :class:`Running`.
    """
    config, password_made_up = with_merchant_password(config)
    config, descriptors = _fit_descriptors(config)
    merchant = config.active_merchant
    network = config.network
    store = open_store(
        config.store.location,
        synchronous=config.store.synchronous.upper(),
        on_dropped=_dropped_write,
        call_soon=reactor.callFromThread,
        node=config.store.node,
        lease=config.store.lease,
        on_error=_cluster_job_failed,
    )
    clock = SystemClock()
    carrier, deliveries = build_carrier(config, store, clock, reactor.seconds)
    smpp = config.smpp
    factory = SmppServerFactory(carrier, smpp.session, reactor, pdu_log=deliveries.pdu_log)
    factory.noisy = False
    cmpp = config.cmpp
    cmpp_factory = CmppServerFactory(
        carrier,
        cmpp.session,
        reactor,
        flusher=factory.flusher,
        read_later=factory.read_later,
        session_ids=factory.session_ids,
        max_connections=cmpp.max_connections,
    )
    cmpp_factory.noisy = False
    RefusalLog(carrier.events, reactor.seconds, call_later=reactor.callLater)
    carrier.retention.on_error = lambda error: log.warn(
        "retention: removing old messages from the store failed ({error}); trying again", error=error
    )
    # The clocks first: the deadlines the carrier reads back were set on them.
    clock_book = ClockBook(store, carrier.clocks, clock)
    clock_book.restore()
    carrier.start()
    cluster = None
    if config.store.node is not None:
        from smsgw.server.cluster import ClusterNode  # psycopg: only with the postgres extra
        from smsgw.store.nodes import PostgresNodeStore

        assert isinstance(store, PostgresNodeStore)
        carrier.retention.id_range = store.id_range  # retention walks this node's ids only
        cluster = ClusterNode(store, carrier, factory.flusher, reactor, clock_book)
        cluster.start()
    try:
        smpp_port = yield endpoints.serverFromString(reactor, _endpoint(smpp.host, smpp.port)).listen(factory)
        cmpp_port = yield endpoints.serverFromString(reactor, _endpoint(cmpp.host, cmpp.port)).listen(
            cmpp_factory
        )
        info: dict[str, Any] = {
            "smpp": {"host": smpp.host},
            "cmpp": {"host": cmpp.host, "port": cmpp_port.getHost().port},
            "store": {
                "kind": "postgresql" if is_postgres_url(config.store.location) else "sqlite",
                "location": describe_store(config.store.location),
            },
        }
        tls_port = None
        if smpp.tls_certificate is not None:
            tls = endpoints.SSL4ServerEndpoint(
                reactor, smpp.tls_port, _tls_options(smpp.tls_certificate, smpp.tls_key), interface=smpp.host
            )
            tls_port = yield tls.listen(factory)
            info["smpp"]["tls_port"] = tls_port.getHost().port
        # A change is answered once it is durable (an MO's message_id): Api waits for settle.
        waiters = InboxWaiters(reactor, carrier.events, config.http.max_waiters, factory.reads)
        clock_routes = ClockRoutes(carrier.advance, carrier.clocks, clock)
        clock_routes.on_advance.append(clock_book.advanced)
        carrier.ussd_apps.post_to_http_app = HttpUssdApps(
            carrier.ussd, carrier.clock, reactor, factory.flusher.mark
        ).post
        handset_routes = HandsetRoutes(
            carrier.handsets,
            carrier.handset_ussd,
            waiters,
            concat_timeout=network.concat_timeout,
            reads=factory.reads,
            timeline=carrier.timeline,
        )
        routes = (
            NetworkRoutes(
                carrier.binds,
                carrier.messages,
                carrier.handsets,
                info,
                deliveries.pdu_log,
                factory.reads,
                retention=carrier.retention,
                now=clock.now,
            ).routes()
            + handset_routes.routes()
            + clock_routes.routes()
            + NamespaceRoutes(carrier.handsets, carrier.faults, carrier.clocks, clock_book.forgotten).routes()
            + FaultRoutes(carrier.faults, carrier.accounts, carrier.subscribers.country_code).routes()
            # Steps are lazy writes: a read asks for their commit first, so it sees them all.
            + TimelineRoutes(
                store, network.country_code, factory.reads, lambda: factory.flusher.mark(lazy=True)
            ).routes()
            + OpenApiRoutes().routes()
        )
        events = EventStream(
            carrier.events,
            reactor,
            now=clock.now,
            limit=config.http.stream_buffer,
            stall=config.http.idle_timeout,
        )
        api = Api(routes, streams={"events": events}, settle=factory.flusher.settle)
        if cluster is not None:
            cluster.on_arrived = waiters.poke
            cluster.on_event = events.relay
            events.on_watching = cluster.watching
            clock_routes.on_advance.append(cluster.clock_advanced)
        root = Root(api)
        lag = LagMonitor(reactor)
        root.mount(b"metrics", MetricsResource(carrier, factory.totals, lag))
        token, merchant_token = http_tokens(config)
        site = GuardedSite(
            root,
            token=token,
            loopback=config.http.host in LOOPBACK_NAMES,
            max_open=config.http.max_open_requests,
            request_timeout=config.http.request_timeout,
            idle_timeout=config.http.idle_timeout,
        )
        site.displayTracebacks = False
        site.noisy = False
        http_port = yield endpoints.serverFromString(
            reactor, _endpoint(config.http.host, config.http.port)
        ).listen(site)
        if cluster is not None:
            cluster.publish(_reachable_url(config.http.host, http_port.getHost().port))
            handset_routes.placement = cluster
            handset_routes.forwarder = Forwarder(reactor, cluster.store.node, token)
    except Exception:
        store.close()
        raise
    info["smpp"]["port"] = smpp_port.getHost().port
    running = Running(
        config,
        carrier,
        store,
        factory,
        smpp_port,
        http_port,
        cmpp_factory=cmpp_factory,
        cmpp_port=cmpp_port,
        tls_port=tls_port,
        http_token=token,
        merchant_token=merchant_token,
        merchant_password_made_up=password_made_up,
        descriptors=descriptors,
        lag=lag,
        cluster=cluster,
    )
    lag.start()
    if merchant is not None and cluster is not None and not cluster.store.hold("merchant"):
        # Its orders and wallets live in its memory: two would hand out the same order ids.
        log.info(
            "the mock merchant runs on another node of the cluster; node {node} passes its USSD there",
            node=cluster.store.node,
        )
        merchant = None
    if merchant is not None:
        address = smpp_port.getHost()
        running.merchant = companion = yield merchant.start(
            reactor,
            carrier=(address.host, address.port),
            country_code=network.country_code,
            clock=clock.now,
            token=merchant_token,
            store=store,
            cmpp=(cmpp_port.getHost().host, cmpp_port.getHost().port),
            ahead=carrier.clocks.offset_for,
            timeline=carrier.timeline.note,
            # Its final orders follow the messages' retention (keep_messages counts orders).
            keep_days=config.store.keep_days,
            keep_orders=config.store.keep_messages,
        )
        info["merchant"] = {"url": companion.url}
        root.mount(b"merchant", companion.api)
        # It keeps the carrier's time: a jump settles its orders before the jump is answered.
        clock_routes.on_advance.append(lambda namespace: companion.tick())
        # Announce the carrier only once its merchant is bound, so a first *126# finds it.
        bound = companion.when_bound()
        bound.addTimeout(5.0, reactor)
        try:
            yield bound
        except defer.TimeoutError:
            log.warn("the mock merchant did not bind within 5 s; it keeps trying")
    # Start-up objects live for the whole run: keep the collector from rescanning them.
    gc.collect()
    gc.freeze()
    return running


def _fit_descriptors(config: Config) -> tuple[Config, Fit]:
    """Raise the open-files limit, and lower the connection limits if they still do not fit."""
    before, limit = raise_open_files()
    smpp, http = config.smpp, config.http
    fitted = fit(smpp.session.max_connections, http.max_open_requests, before, limit)
    if fitted.warning is None:
        return config, fitted
    log.warn("{warning}", warning=fitted.warning)
    session = attrs.evolve(smpp.session, max_connections=fitted.max_connections)
    return attrs.evolve(
        config,
        smpp=attrs.evolve(smpp, session=session),
        http=attrs.evolve(http, max_open_requests=fitted.max_open_requests),
    ), fitted


def _shown_password(config: Config) -> str:
    """The built-in demo password is printed; a configured one never is."""
    account = config.accounts[0]
    default = Config().accounts[0]
    same = (account.system_id, account.password) == (default.system_id, default.password)
    return account.password if same else "(as in your config)"


def _cmpp_lines(running: Running) -> list[str]:
    """The CMPP listener and the SP accounts that connect to it."""
    e = running.endpoints
    if "cmpp" not in e:
        return []
    config = running.config
    merchant = config.active_merchant
    # The merchant's SP is shown on its own line.
    own = merchant.sp_id if merchant is not None and merchant.protocol == "cmpp" else None
    shown = [
        f"SP_Id={a.system_id}"
        + ("  secret=smsgw" if (a.system_id, a.password) == (DEFAULT_SP_ID, DEFAULT_SP_SECRET) else "")
        for a in config.all_accounts
        if a.protocol == "cmpp" and a.system_id != own
    ]
    listed = ", ".join(shown[:3]) or 'no SP account ([[accounts]] protocol = "cmpp")'
    return [f"  CMPP      {e['cmpp_host']}:{e['cmpp']}   {listed}   (CMPP 2.0 and 3.0)"]


def banner(running: Running) -> str:
    """What a developer needs to connect, printed at start-up."""
    e = running.endpoints
    config = running.config
    lines = [
        f"smsgw {__version__}: the fake carrier is up",
        f"  SMPP      {e['smpp_host']}:{e['smpp']}   system_id={e['system_id']}  password={_shown_password(config)}",
        *([f"  SMPP TLS  {e['smpp_host']}:{e['smpp_tls']}"] if "smpp_tls" in e else []),
        *_cmpp_lines(running),
        f"  Console   {e['http_url']}/" + (f"?token={running.http_token}" if running.http_token else ""),
        f"  HTTP API  {e['http_url']}/api/health",
        f"  store     {e['store']}{_keeps(config)}",
        *(_limits_line(running.descriptors, config) if running.descriptors is not None else []),
        "  short codes: "
        + ", ".join(f"{c} -> {a.system_id}" for a in config.all_accounts for c in a.short_codes),
        "  USSD:     " + _ussd_line(config),
    ]
    if running.merchant is not None and (m := config.active_merchant) is not None:
        lines.append(
            f"  Merchant  {e['merchant_url']}/orders   {m.shop_name}: SMS from {m.short_code}, USSD {m.ussd_code}"
            " (smsgw serve --no-merchant to bind your own app instead)"
        )
        password = m.password if running.merchant_password_made_up else "(as in your config)"
        lines.append(f"            binds as system_id={m.system_id}  password={password}")
        if m.protocol == "cmpp":
            lines.append(f"            its SMS over CMPP as SP_Id={m.sp_id} (that password is its secret)")
        if running.merchant_token is not None and running.http_token is None:
            lines.append(f"            its API wants Authorization: Bearer {running.merchant_token}")
    subscribers = list(running.carrier.subscribers)
    shown = ", ".join(f"+{s.msisdn} ({s.name})" if s.name else f"+{s.msisdn}" for s in subscribers[:5])
    more = f" and {len(subscribers) - 5} more (GET /api/handsets)" if len(subscribers) > 5 else ""
    lines.append(f"  handsets: {shown}{more}")
    for host in {config.smpp.host, config.http.host}:
        if host not in LOOPBACK_NAMES:
            lines.append(f"  WARNING: listening on {host}, reachable beyond this machine")
    if running.http_token is None and config.http.host not in LOOPBACK_NAMES:
        lines.append("  WARNING: the HTTP API takes requests without a token ([http] require_token = false)")
    merchant_host = config.active_merchant.http_host if config.active_merchant is not None else "127.0.0.1"
    if (
        running.merchant is not None
        and running.merchant_token is None
        and merchant_host not in LOOPBACK_NAMES
    ):
        lines.append(
            "  WARNING: the merchant's API takes requests without a token ([http] require_token = false)"
        )
    merchant = config.active_merchant
    if running.merchant is not None and merchant is not None and merchant.http_host not in LOOPBACK_NAMES:
        lines.append(
            f"  WARNING: the merchant's API listens on {merchant.http_host}, reachable beyond this machine"
        )
    return "\n".join(lines)


def _keeps(config: Config) -> str:
    """What retention keeps of final messages, so that nobody is surprised when old ones go."""
    days, messages = config.store.keep_days, config.store.keep_messages
    kept = [f"{days:g} days"] if days else []
    kept += [f"{messages:,} at most"] if messages else []
    return f" (keeps final messages {', '.join(kept)})" if kept else ""


def _ussd_line(config: Config) -> str:
    """Every code that answers and where it goes; the one smsgw adds by itself says so."""
    builtin = config.builtin_ussd_route
    shown = [f"{r.code} -> {r.system_id or r.url}" for r in config.ussd]
    if builtin is not None:
        whose = "the mock merchant" if config.active_merchant is not None else "the default account"
        shown.append(f"{builtin.code} -> {builtin.system_id} ({whose})")
    return ", ".join(shown) or "none"


def _limits_line(fitted: Fit, config: Config) -> list[str]:
    line = (
        f"  limits    {fitted.summary}; {config.smpp.session.max_connections} SMPP connections, "
        f"{config.http.max_open_requests} HTTP requests at once"
    )
    return [line] + ([f"  WARNING: {fitted.warning}"] if fitted.warning else [])
