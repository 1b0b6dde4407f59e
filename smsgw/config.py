"""Configuration: defaults that work with no file, and a TOML file that is checked key by key.

A wrong key or value stops start-up with a :class:`ConfigError` that names the key, what was
given, and what is allowed, e.g. ``accounts[0].bind_types: 'tx' is not one of receiver,
transceiver, transmitter``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from smsgw import environment
from smsgw.carrier.accounts import (
    ALPHABETS,
    LONG_MO_FORMS,
    MESSAGE_ID_FORMATS,
    PROTOCOLS,
    RECEIPT_FORMATS,
    USSD_DATA_CODINGS,
    USSD_NETWORK_ENDS,
    USSD_SESSION_FIELDS,
    Account,
)
from smsgw.carrier.faults import FaultRule, InvalidFaultRule
from smsgw.carrier.subscribers import (
    HandsetState,
    Subscriber,
    normalize_msisdn,
)
from smsgw.carrier.ussd import UssdRoute
from smsgw.cmpp.session import SessionConfig as CmppSessionConfig
from smsgw.companion import Companion, ReadCompanion
from smsgw.configcheck import ConfigError
from smsgw.configcheck import ascii_text as _ascii
from smsgw.configcheck import choice as _choice
from smsgw.configcheck import digits as _digits
from smsgw.configcheck import each as _each
from smsgw.configcheck import fields as _fields
from smsgw.configcheck import flag as _flag
from smsgw.configcheck import number as _number
from smsgw.configcheck import port as _port
from smsgw.configcheck import text as _text
from smsgw.configcheck import ussd_code as _ussd_code
from smsgw.smpp.constants import BindType
from smsgw.smpp.session import SessionConfig
from smsgw.store.opening import is_postgres_url

DEFAULT_SYSTEM_ID = "smsgw"
DEFAULT_PASSWORD = "smsgw"
DEFAULT_SHORT_CODE = "12345"
#: The built-in CMPP SP: its SP_Id (6 digits), shared secret and service code (接入号).
DEFAULT_SP_ID = "901234"
DEFAULT_SP_SECRET = "smsgw"
DEFAULT_SERVICE_CODE = "1065712345"
DEFAULT_USSD_CODE = "*126#"
DEMO_SUBSCRIBERS = (
    ("8613800000001", "Li Wei"),
    ("8613800000002", "Wang Fang"),
    ("8613800000003", "Zhang Min"),
    ("8613800000004", "Chen Jing"),
    ("8613800000005", "Liu Yang"),
)


@attrs.frozen
class SmppSettings:
    """The SMPP listener, and the limits and timers of its sessions (the other ``[smpp]`` keys)."""

    host: str = "127.0.0.1"
    port: int = 2775
    session: SessionConfig = SessionConfig()
    #: SMPP over TLS on a second port, when a certificate is given (PEM files).
    tls_port: int = 3775
    tls_certificate: str | None = None
    tls_key: str | None = None
    #: Failed binds one address may make in a minute before its binds are refused unread (0: no limit).
    max_failed_binds: int = 10


@attrs.frozen
class CmppSettings:
    """The CMPP listener (China Mobile's SP interface, docs/cmpp.md) and its sessions' timers.

    :ivar port: 7890, China Mobile's; 0 takes a free port (the ports file says which).
    :ivar window: DELIVERs sent to one SP and not yet answered (the specification's W, 16).
    :ivar response_timeout: T: how long a DELIVER waits for its DELIVER_RESP (60 s).
    :ivar active_test_interval: C: silence after which an ACTIVE_TEST goes out (180 s).
    :ivar active_test_tries: N: unanswered ACTIVE_TESTs in a row that end the connection (3).
    :ivar max_connections: SP connections open at once (0: no limit).
    """

    host: str = "127.0.0.1"
    port: int = 7890
    window: int = 16
    response_timeout: float = 60.0
    active_test_interval: float = 180.0
    active_test_tries: int = 3
    connect_timeout: float = 30.0
    max_connections: int = 0

    @property
    def session(self) -> CmppSessionConfig:
        """What each SP session is made with."""
        return CmppSessionConfig(
            window=self.window,
            response_timeout=self.response_timeout,
            active_test_interval=self.active_test_interval,
            active_test_tries=self.active_test_tries,
            connect_timeout=self.connect_timeout,
        )


@attrs.frozen
class HttpSettings:
    """The HTTP API listener.

    :ivar token: wanted on every request when set (``$SMSGW_TOKEN`` sets it too); smsgw makes
        one up when it listens beyond loopback without one.
    :ivar require_token: False: no token made up beyond loopback (a container whose ports are
        published on its host's loopback alone; docs/container.md).
    """

    host: str = "127.0.0.1"
    port: int = 8775
    token: str | None = None
    require_token: bool = True
    #: Requests answered at once (long polls and event streams hold one each); one more: 429.
    max_open_requests: int = 1000
    #: Seconds a request has to arrive whole (headers and body); a slower one gets 408 and is closed.
    request_timeout: float = 10.0
    #: Seconds a kept-alive connection may sit idle between requests, or an event stream's
    #: client may take nothing, before it is closed.
    idle_timeout: float = 60.0
    #: Bytes an event stream may fall behind its client before events are skipped (``lost``).
    stream_buffer: int = 1024 * 1024
    #: Long polls (inbox and USSD waits) waiting at once; one more: 429.
    max_waiters: int = 500


@attrs.frozen
class StoreSettings:
    """Where messages are kept: a SQLite file path (or ``:memory:``), or a PostgreSQL
    database (``url``), which several smsgw processes can share."""

    path: str = "smsgw.db"
    synchronous: str = "normal"
    #: ``postgresql://user:password@host:5432/dbname``; when set, ``path`` is not used.
    url: str | None = None
    #: This process's name among several sharing ``url`` (docs/cluster.md); None: the only one.
    node: str | None = None
    #: Seconds a node stays alive to the others without renewing its lease.
    lease: float = 10.0
    #: Days a final message (delivered, expired, undeliverable, deleted) that owes nothing is
    #: kept after it ended, by the wall clock (0: no age limit).
    keep_days: float = 7.0
    #: Final messages that owe nothing kept at most, the newest (0: no limit).
    keep_messages: int = 1_000_000

    @property
    def location(self) -> str:
        """What :func:`smsgw.store.opening.open_store` opens: the URL, else the path."""
        return self.url if self.url is not None else self.path


#: Whose payment steps the timeline records: handsets in a namespace, everyone's, nobody's.
TIMELINE_RECORDS = ("namespaces", "all", "off")


@attrs.frozen
class TimelineSettings:
    """The timeline: every step of a payment (PDUs in and out, message states, USSD screens,
    HTTP calls, the mock merchant's orders), kept for ``GET /api/timeline``.

    :ivar record: whose steps are recorded: ``namespaces`` (handsets in a namespace, as tests
        make them), ``all`` (everyone's) or ``off`` (nobody's).
    :ivar max_steps: the steps kept; beyond it the oldest are dropped.
    """

    record: str = "namespaces"
    max_steps: int = 100_000


@attrs.frozen
class NetworkSettings:
    """How the fake network behaves."""

    country_code: str = "86"
    provisioning: str = "auto"
    default_validity: float = 48 * 3600.0
    max_validity: float = 7 * 86400.0
    max_payload: int = 64 * 1024
    delivery_retry_base: float = 5.0
    delivery_retry_max: float = 300.0
    delivery_validity: float = 48 * 3600.0
    default_account: str = DEFAULT_SYSTEM_ID
    #: Seconds after which a concatenated message still missing parts shows incomplete.
    concat_timeout: float = 60.0
    #: USSD: characters per screen, seconds a user may take to answer, an application to reply.
    ussd_max_length: int = 182
    ussd_user_timeout: float = 30.0
    ussd_app_timeout: float = 15.0
    #: Whether the documented magic numbers (docs/faults.md) misbehave.
    magic_numbers: bool = True


#: What the merchant's account is given until smsgw makes its password up: a C-octet string ends
#: at its first NUL, so no bind can present this one.
_NO_PASSWORD_YET = "\0"


@attrs.frozen
class Config:
    """Everything smsgw serve needs."""

    smpp: SmppSettings = SmppSettings()
    cmpp: CmppSettings = CmppSettings()
    http: HttpSettings = HttpSettings()
    store: StoreSettings = StoreSettings()
    timeline: TimelineSettings = TimelineSettings()
    network: NetworkSettings = NetworkSettings()
    accounts: tuple[Account, ...] = (
        Account(DEFAULT_SYSTEM_ID, DEFAULT_PASSWORD, short_codes=(DEFAULT_SHORT_CODE,)),
        Account(
            DEFAULT_SP_ID,
            DEFAULT_SP_SECRET,
            short_codes=(DEFAULT_SERVICE_CODE,),
            message_id_format="cmpp",
            protocol="cmpp",
        ),
    )
    subscribers: tuple[Subscriber, ...] = tuple(Subscriber(m, n) for m, n in DEMO_SUBSCRIBERS)
    #: Empty: *126# goes to the mock merchant when it runs, else to the default account.
    ussd: tuple[UssdRoute, ...] = ()
    faults: tuple[FaultRule, ...] = ()
    #: The ``[merchant]`` section, as the merchant's own code read it; None when the program
    #: loading the config runs no merchant (see :mod:`smsgw.companion`).
    merchant: Companion | None = None

    @property
    def active_merchant(self) -> Companion | None:
        """The mock merchant, when it runs."""
        return self.merchant if self.merchant is not None and self.merchant.enabled else None

    @property
    def all_accounts(self) -> tuple[Account, ...]:
        """The configured accounts, plus the mock merchant's when it runs."""
        merchant = self.active_merchant
        if merchant is None or any(a.system_id == merchant.system_id for a in self.accounts):
            return self.accounts
        password = _NO_PASSWORD_YET if merchant.password is None else merchant.password
        if merchant.protocol == "cmpp":  # SMS over CMPP as its SP; USSD on its SMPP bind
            sp = Account(
                merchant.sp_id,
                password,
                short_codes=(merchant.short_code,),
                message_id_format="cmpp",
                protocol="cmpp",
            )
            return (*self.accounts, Account(merchant.system_id, password), sp)
        own = Account(merchant.system_id, password, short_codes=(merchant.short_code,))
        return (*self.accounts, own)

    @property
    def builtin_ussd_route(self) -> UssdRoute | None:
        """The route smsgw adds by itself: the mock merchant's code when it runs, else *126# to
        the default account (unless a [[ussd]] route takes *126#)."""
        if (merchant := self.active_merchant) is not None:
            return UssdRoute(merchant.ussd_code, system_id=merchant.system_id)
        if self.network.default_account and all(r.code != DEFAULT_USSD_CODE for r in self.ussd):
            return UssdRoute(DEFAULT_USSD_CODE, system_id=self.network.default_account)
        return None

    @property
    def ussd_routes(self) -> tuple[UssdRoute, ...]:
        """The USSD routes in force: the configured ones, and the built-in one beside them."""
        builtin = self.builtin_ussd_route
        return self.ussd + ((builtin,) if builtin is not None else ())


# -- checking ------------------------------------------------------------------------


def _pem_file(where: str, value: Any) -> str:
    path = _text(where, value)
    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{where}: cannot read {path!r}: {error}; give the path of a PEM file") from None
    if "-----BEGIN" not in text:
        raise ConfigError(f"{where}: {path!r} is not PEM (no -----BEGIN line)")
    return path


_SECONDS = lambda w, v: float(_number(w, v))  # noqa: E731
_COUNT = lambda w, v: int(_number(w, v, minimum=1, integer=True))  # noqa: E731

_SMPP_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "host": _text,
    "port": _port,
    "tls_port": _port,
    "max_failed_binds": lambda w, v: int(_number(w, v, integer=True)),
    "tls_certificate": lambda w, v: _pem_file(w, v),
    "tls_key": lambda w, v: _pem_file(w, v),
    "system_id": lambda w, v: _text(w, v, max_length=15),
    "max_pdu_size": lambda w, v: int(_number(w, v, minimum=1024, integer=True)),
    "window": _COUNT,
    "session_init_timeout": _SECONDS,
    "enquire_link_interval": _SECONDS,
    "inactivity_timeout": _SECONDS,
    "response_timeout": lambda w, v: float(_number(w, v, minimum=0.1)),
    "max_connections": lambda w, v: int(_number(w, v, integer=True)),
    "max_connections_per_ip": lambda w, v: int(_number(w, v, integer=True)),
    "per_ip_limit_on_loopback": lambda w, v: _flag(w, v),
}
_CMPP_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "host": _text,
    "port": _port,
    "window": _COUNT,
    "response_timeout": lambda w, v: float(_number(w, v, minimum=0.1)),
    "active_test_interval": lambda w, v: float(_number(w, v, minimum=0.1)),
    "active_test_tries": _COUNT,
    "connect_timeout": lambda w, v: float(_number(w, v, minimum=0.1)),
    "max_connections": lambda w, v: int(_number(w, v, integer=True)),
}


def _token(where: str, value: Any) -> str:
    token = _text(where, value)
    if len(token) < 16 or not token.isascii() or not token.isprintable() or " " in token:
        raise ConfigError(
            f"{where}: use at least 16 printable ASCII characters without spaces (a random string)"
        )
    return token


_HTTP_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "host": _text,
    "port": _port,
    "token": _token,
    "require_token": _flag,
    "max_open_requests": lambda w, v: int(_number(w, v, integer=True)),
    "request_timeout": lambda w, v: float(_number(w, v, minimum=0.1)),
    "idle_timeout": lambda w, v: float(_number(w, v, minimum=0.1)),
    "stream_buffer": lambda w, v: int(_number(w, v, minimum=4096, integer=True)),
    "max_waiters": lambda w, v: int(_number(w, v, integer=True)),
}


def _store_url(where: str, value: Any) -> str:
    url = _text(where, value)
    if not is_postgres_url(url):
        raise ConfigError(
            f"{where}: {url!r} is not a PostgreSQL URL: write postgresql://user:password@host:5432/dbname"
            " (for a SQLite file, set store.path instead)"
        )
    return url


#: What a node may be called (it goes into logs, SQL settings and notifications as it is).
NODE_NAME = re.compile(r"[A-Za-z0-9._-]{1,63}")


def _node_name(where: str, value: Any) -> str:
    name = _text(where, value)
    if not NODE_NAME.fullmatch(name):
        raise ConfigError(f"{where}: {name!r} is not a node name: 1 to 63 letters, digits, '.', '_' or '-'")
    return name


#: Below this, keep_messages would remove a test's messages as they arrive: a typo, not a wish.
FEWEST_KEPT = 1000


def _keep_messages(where: str, value: Any) -> int:
    kept = int(_number(where, value, minimum=0, integer=True))
    if 0 < kept < FEWEST_KEPT:
        raise ConfigError(
            f"{where}: {kept} keeps fewer final messages than one window of a load test sends; "
            f"give 0 (keep them all) or at least {FEWEST_KEPT}"
        )
    return kept


_STORE_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "path": _text,
    "url": _store_url,
    "node": _node_name,
    "lease": lambda w, v: float(_number(w, v, minimum=1)),
    "synchronous": _choice(("normal", "full")),
    "keep_days": lambda w, v: float(_number(w, v, minimum=0)),
    "keep_messages": _keep_messages,
}


def _timeline_record(where: str, value: Any) -> str:
    if value not in TIMELINE_RECORDS:
        raise ConfigError(
            f'{where}: {value!r} is not one of {", ".join(TIMELINE_RECORDS)}: "namespaces" records '
            'the steps of handsets in a namespace, "all" everyone\'s, "off" nobody\'s'
        )
    return str(value)


def _max_steps(where: str, value: Any) -> int:
    steps = int(_number(where, value, minimum=float("-inf"), integer=True))
    if steps < 1:  # the likely meaning, "no timeline", has a key of its own
        raise ConfigError(
            f'{where}: {steps} keeps no step: give how many to keep (at least 1), or record = "off"'
        )
    return steps


_TIMELINE_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "record": _timeline_record,
    "max_steps": _max_steps,
}
_NETWORK_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "magic_numbers": lambda w, v: _flag(w, v),
    "country_code": lambda w, v: _digits(w, v),
    "provisioning": _choice(("auto", "strict")),
    "default_validity": _SECONDS,
    "max_validity": _SECONDS,
    "max_payload": _COUNT,
    "delivery_retry_base": _SECONDS,
    "delivery_retry_max": _SECONDS,
    "delivery_validity": _SECONDS,
    "default_account": _text,
    "concat_timeout": lambda w, v: float(_number(w, v, minimum=0.1)),
    "ussd_max_length": _COUNT,
    "ussd_user_timeout": lambda w, v: float(_number(w, v, minimum=0.1)),
    "ussd_app_timeout": lambda w, v: float(_number(w, v, minimum=0.1)),
}


def _bind_types(where: str, value: Any) -> frozenset[BindType]:
    names = tuple(t.value for t in BindType)
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: expected a non-empty list of {', '.join(names)}")
    return frozenset(BindType(_choice(names)(f"{where}[{i}]", v)) for i, v in enumerate(value))


def _short_codes(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f'{where}: expected a list of short codes, e.g. ["12345"]')
    return tuple(_text(f"{where}[{i}]", v, max_length=20) for i, v in enumerate(value))


_ACCOUNT_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "system_id": lambda w, v: _text(w, v, max_length=15),
    # 8 is SMPP's limit, checked for SMPP accounts; a CMPP secret only goes into a digest.
    "password": lambda w, v: _text(w, v, max_length=64),
    "bind_types": _bind_types,
    "throughput": lambda w, v: float(_number(w, v)),
    "short_codes": _short_codes,
    "message_id_format": _choice(MESSAGE_ID_FORMATS),
    "receipt_format": _choice(RECEIPT_FORMATS),
    "max_queue": _COUNT,
    "max_binds": lambda w, v: int(_number(w, v, integer=True)),
    "long_mo": _choice(LONG_MO_FORMS),
    "data_coding_0": _choice(ALPHABETS),
    "ussd_service_type": lambda w, v: _ascii(w, _text(w, v, max_length=5)),
    "ussd_session": _choice(USSD_SESSION_FIELDS),
    "ussd_network_end": _choice(USSD_NETWORK_ENDS),
    "ussd_data_coding": _choice(USSD_DATA_CODINGS),
    "protocol": _choice(PROTOCOLS),
}
_SUBSCRIBER_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "msisdn": _text,
    "name": _text,
    "state": lambda w, v: HandsetState(_choice(tuple(s.value for s in HandsetState))(w, v)),
}
_TOP = (
    "smpp",
    "cmpp",
    "http",
    "store",
    "timeline",
    "network",
    "accounts",
    "subscribers",
    "ussd",
    "merchant",
    "faults",
)


def load_config(
    path: str | None,
    *,
    merchant: bool = True,
    read_merchant: ReadCompanion | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Read a TOML file over the defaults (the defaults alone when ``path`` is None), and the
    ``SMSGW_<SECTION>_<KEY>`` variables of ``environ`` (``os.environ`` when None) over it
    (:mod:`smsgw.environment`).

    :param merchant: False turns the mock merchant off whatever the file says (``smsgw serve
        --no-merchant``), before the checks that involve it.
    :param read_merchant: the merchant's reader of its ``[merchant]`` section; None: no
        merchant runs, and the file may have no such section.
    :raises ConfigError: for an unreadable file, bad TOML, or wrong keys or values (all of them).
    """
    text = {
        "smpp": environment.text_keys(SmppSettings, SessionConfig),  # [smpp] has both's keys
        "cmpp": environment.text_keys(CmppSettings),
        "http": environment.text_keys(HttpSettings),
        "store": environment.text_keys(StoreSettings),
        "timeline": environment.text_keys(TimelineSettings),
        "network": environment.text_keys(NetworkSettings),
    }
    if read_merchant is not None:
        text["merchant"] = environment.text_keys(type(read_merchant({})))
    variables, origins = environment.settings(os.environ if environ is None else environ, text)
    data = {} if path is None else _read_file(path)
    source = path or "config"
    if origins:
        source = f"{path} with $SMSGW_… variables" if path else "$SMSGW_… variables"
    try:
        return config_from_dict(
            environment.merged(data, variables), source=source, merchant=merchant, read_merchant=read_merchant
        )
    except ConfigError as error:
        raise ConfigError(*environment.named(error.problems, origins)) from None


def _read_file(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    try:
        data = tomllib.loads(_toml_text(path, raw))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    return data


_BOM = b"\xef\xbb\xbf"


def _toml_text(path: str, raw: bytes) -> str:
    """The file as text: TOML is UTF-8. A byte order mark (Windows editors write one) is
    skipped, since it says no more than that the file is UTF-8."""
    try:
        return raw.removeprefix(_BOM).decode("utf-8")
    except UnicodeDecodeError as error:
        at = error.start + (len(_BOM) if raw.startswith(_BOM) else 0)
        line = raw.count(b"\n", 0, at) + 1
        line_start = raw.rfind(b"\n", 0, at) + 1
        column = len(raw[line_start:at].decode("utf-8", errors="replace")) + 1
        raise ConfigError(
            f"{path}, line {line}, column {column}: byte 0x{raw[at]:02X} is not "
            "UTF-8 (TOML files are UTF-8; this one looks saved as Latin-1 or Windows-1252): "
            "save it as UTF-8"
        ) from None


def config_from_dict(
    data: dict[str, Any],
    *,
    source: str = "config",
    merchant: bool = True,
    read_merchant: ReadCompanion | None = None,
) -> Config:
    """Build a Config from parsed TOML, checking every key (``merchant`` and ``read_merchant``
    as for :func:`load_config`).

    :raises ConfigError: with every mistake found, in the order of the file's sections; the
        checks across sections (a route's account, a code owned twice) are made among the
        sections that are right in themselves.
    """
    network = NetworkSettings()
    readers: dict[str, Callable[[Any], Any]] = {
        "smpp": _smpp,
        "cmpp": lambda table: CmppSettings(**_fields("cmpp", table, _CMPP_CHECKS)),
        "http": lambda table: HttpSettings(**_fields("http", table, _HTTP_CHECKS)),
        "store": lambda table: StoreSettings(**_fields("store", table, _STORE_CHECKS)),
        "timeline": lambda table: TimelineSettings(**_fields("timeline", table, _TIMELINE_CHECKS)),
        "network": lambda table: NetworkSettings(**_fields("network", table, _NETWORK_CHECKS)),
        "accounts": _accounts,
        "subscribers": lambda value: _subscribers(value, network.country_code),
        "ussd": _ussd_routes,
        "faults": lambda value: _faults(value, network.country_code),
    }
    if read_merchant is not None:
        readers["merchant"] = read_merchant
    allowed = [name for name in _TOP if name in readers]
    problems: list[str] = []
    changes: dict[str, Any] = {}
    failed: set[str] = set()
    # The country code reads numbers elsewhere in the file, wherever [network] stands in it.
    order = sorted(data, key=lambda name: name != "network")
    found: dict[str, list[str]] = {}
    for name in order:
        if name not in readers:
            found[name] = [f"{source}: unknown section {name!r}; allowed: {', '.join(allowed)}"]
            continue
        try:
            changes[name] = readers[name](data[name])
        except ConfigError as error:
            found[name] = list(error.problems)
            failed.add(name)
        if name == "network" and name in changes:
            network = changes[name]
    for name in data:
        problems += found.get(name, [])
    defaults = Config() if read_merchant is None else Config(merchant=read_merchant({}))
    config = attrs.evolve(defaults, **changes)
    if not merchant and config.merchant is not None:
        config = attrs.evolve(config, merchant=config.merchant.evolve(enabled=False))
    problems += _check_consistency(config, failed)
    if problems:
        raise ConfigError(*problems)
    return config


def _smpp(table: Any) -> SmppSettings:
    smpp = _fields("smpp", table, _SMPP_CHECKS)
    listener_keys = ("host", "port", "tls_port", "tls_certificate", "tls_key", "max_failed_binds")
    listener = {key: smpp.pop(key) for key in listener_keys if key in smpp}
    if "tls_key" in listener and "tls_certificate" not in listener:
        raise ConfigError("smpp.tls_key: give tls_certificate too (the key alone opens no TLS port)")
    return SmppSettings(**listener, session=SessionConfig(**smpp))


def _accounts(value: Any) -> tuple[Account, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError("accounts: expected at least one [[accounts]] table")
    return _each("accounts", value, _account)


def _protocol_fields(where: str, fields: dict[str, Any]) -> dict[str, Any]:
    """What an account's protocol asks of its other keys: SMPP's 8-character password; a CMPP
    SP's 6-character SP_Id, Msg_Id message ids and long MO in UDH parts (CMPP has no SAR
    and no message_payload). Returns the keys the protocol fills in."""
    if fields.get("protocol", "smpp") == "smpp":
        if len(fields["password"]) > 8:
            raise ConfigError(
                f"{where}.password: at most 8 characters for an SMPP account (SMPP v3.4 §5.2.2)"
            )
        if fields.get("message_id_format") == "cmpp":
            raise ConfigError(f'{where}.message_id_format: "cmpp" is for protocol = "cmpp" accounts')
        return {}
    if len(fields["system_id"]) > 6:
        raise ConfigError(f"{where}.system_id: a CMPP SP_Id is at most 6 characters (CONNECT's Source_Addr)")
    if fields.get("message_id_format", "cmpp") != "cmpp":
        raise ConfigError(
            f'{where}.message_id_format: a CMPP account\'s ids are Msg_Ids; leave it out or say "cmpp"'
        )
    if fields.get("long_mo", "udh") != "udh":
        raise ConfigError(
            f'{where}.long_mo: CMPP carries long MO in UDH parts only; leave it out or say "udh"'
        )
    return {"message_id_format": "cmpp"}


def _account(where: str, table: Any) -> Account:
    fields = _fields(where, table, _ACCOUNT_CHECKS, required=("system_id", "password"))
    fields.update(_protocol_fields(where, fields))
    if fields.get("ussd_network_end") == "eos" and fields.get("ussd_session", "its_session_info") != (
        "its_session_info"
    ):
        raise ConfigError(
            f'{where}: ussd_network_end = "eos" sends the end in its_session_info\'s EOS bit; '
            'it needs ussd_session = "its_session_info" (or use ussd_network_end = "abort")'
        )
    return Account(**fields)


def _subscribers(value: Any, country_code: str) -> tuple[Subscriber, ...]:
    if not isinstance(value, list):
        raise ConfigError("subscribers: expected [[subscribers]] tables")

    def read(where: str, table: Any) -> Subscriber:
        fields = _fields(where, table, _SUBSCRIBER_CHECKS, required=("msisdn",))
        msisdn = normalize_msisdn(fields.pop("msisdn"), country_code)
        if msisdn is None:
            raise ConfigError(f"{where}.msisdn: {table['msisdn']!r} is not a phone number")
        return Subscriber(msisdn, **fields)

    return _each("subscribers", value, read)


def _http_url(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: {value!r} is not an http:// or https:// URL")
    return value


_USSD_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "code": _ussd_code,
    "account": lambda w, v: _text(w, v, max_length=15),
    "url": _http_url,
}


def _fault_rule(where: str, table: Any, country_code: str) -> FaultRule:
    try:
        return FaultRule.from_mapping(table, where=where, country_code=country_code)
    except InvalidFaultRule as error:
        raise ConfigError(*error.problems) from None


def _faults(value: Any, country_code: str) -> tuple[FaultRule, ...]:
    if not isinstance(value, list):
        raise ConfigError("faults: expected [[faults]] tables, each with name and effect")
    return _each("faults", value, lambda where, table: _fault_rule(where, table, country_code))


def _ussd_routes(value: Any) -> tuple[UssdRoute, ...]:
    if not isinstance(value, list):
        raise ConfigError("ussd: expected [[ussd]] tables, each with code and account or url")
    return _each("ussd", value, _ussd_route)


def _ussd_route(where: str, table: Any) -> UssdRoute:
    if isinstance(table, dict) and "code" not in table:
        raise ConfigError(f'{where}: code is required (e.g. "*126#")')
    fields = _fields(where, table, _USSD_CHECKS)
    if ("account" in fields) == ("url" in fields):
        raise ConfigError(f"{where}: give either account (an ESME system_id) or url (an HTTP application)")
    return UssdRoute(fields["code"], system_id=fields.get("account"), url=fields.get("url"))


def _check_consistency(config: Config, failed: set[str]) -> list[str]:
    """The mistakes across sections, among the sections that are right in themselves (a
    section with a mistake of its own is left out, so that it is not blamed twice)."""
    problems: list[str] = []
    accounts_read = not failed & {"accounts", "merchant"}
    merchant = config.active_merchant
    system_ids: set[str] = set()
    seen: dict[str, str] = {}
    for i, account in enumerate(config.all_accounts):
        if account.system_id in system_ids:
            problems.append(f"accounts[{i}].system_id: {account.system_id!r} is defined twice")
        system_ids.add(account.system_id)
        for code in account.short_codes:
            if code in seen:
                if merchant is not None and account.system_id == merchant.system_id:
                    problems.append(
                        f"merchant.short_code: {code!r} is already owned by {seen[code]!r}; "
                        "give [merchant] another short_code, or enabled = false"
                    )
                else:
                    problems.append(f"accounts[{i}].short_codes: {code!r} is already owned by {seen[code]!r}")
            seen[code] = account.system_id
    if not accounts_read:
        problems.clear()
    known = ", ".join(sorted(system_ids))
    if "ussd" not in failed:
        problems += _check_ussd(config, system_ids if accounts_read else None, failed)
    if "faults" not in failed:
        names: set[str] = set()
        for i, rule in enumerate(config.faults):
            if rule.name in names:
                problems.append(
                    f"faults[{i}].name: {rule.name!r} is used twice; each rule needs its own name"
                )
            names.add(rule.name)
            if accounts_read and rule.account is not None and rule.account not in system_ids:
                problems.append(f"faults[{i}].account: {rule.account!r} is not an account ({known})")
    default = config.network.default_account
    if accounts_read and "network" not in failed and default and default not in system_ids:
        problems.append(
            f'network.default_account: {default!r} is not an account (accounts: {known}; "" for none)'
        )
    return problems


def _check_ussd(config: Config, system_ids: set[str] | None, failed: set[str]) -> list[str]:
    problems = []
    codes: set[str] = set()
    merchant = config.active_merchant
    cmpp_accounts = {a.system_id for a in config.all_accounts if a.protocol == "cmpp"}
    for i, route in enumerate(config.ussd):
        if route.code in codes:
            problems.append(f"ussd[{i}].code: {route.code!r} is routed twice")
        codes.add(route.code)
        if system_ids is not None and route.system_id is not None and route.system_id not in system_ids:
            problems.append(
                f"ussd[{i}].account: {route.system_id!r} is not an account ({', '.join(sorted(system_ids))})"
            )
        elif route.system_id in cmpp_accounts:
            problems.append(
                f"ussd[{i}].account: {route.system_id!r} is a CMPP account, and CMPP has no USSD; "
                "route the code to an SMPP account or to an HTTP app (docs/cmpp.md)"
            )
        if "merchant" not in failed and merchant is not None and route.code == merchant.ussd_code:
            problems.append(
                f"ussd[{i}].code: {route.code!r} is also the mock merchant's USSD code "
                f"([merchant] ussd_code, routed to {merchant.system_id!r}); give [merchant] another "
                'ussd_code (e.g. ussd_code = "*127#"), or enabled = false (or smsgw serve --no-merchant), '
                "or remove this route"
            )
    return problems
