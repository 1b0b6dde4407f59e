"""ESME accounts: who may bind, how, how fast they may submit, which short codes they own."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Iterator

import attrs

from smsgw.carrier.errors import BindRefused, Refusal, Throttled
from smsgw.smpp.constants import BindType
from smsgw.text.coding import DefaultAlphabet
from smsgw.text.split import Mode as SplitMode

#: ``cmpp``: a CMPP Msg_Id in decimal (a CMPP account's, and only its).
MESSAGE_ID_FORMATS = ("decimal", "hex", "decimal10", "cmpp")
RECEIPT_FORMATS = ("full", "short")
LONG_MO_FORMS = ("udh", "sar", "payload")
ALPHABETS = ("gsm", "latin-1")
#: How a USSD dialogue is named on the wire (docs/ussd.md, Dialects): its_session_info (most
#: gateways), user_message_reference (VUMI's Mica), or nothing (some operators' USSD centers).
USSD_SESSION_FIELDS = ("its_session_info", "user_message_reference", "none")
#: How the network tells the application a dialogue ended (timeout, cancel): the 6D/Mica abort
#: op 0x81, or VUMI's "Tata" way, USSR confirm with only the EOS bit set and no text.
USSD_NETWORK_ENDS = ("abort", "eos")
#: data_coding of GSM text in USSD deliver_sm: 0, or 0x0F (the CBS DCS some USSDCs pass on).
USSD_DATA_CODINGS = ("gsm", "cbs")


@attrs.frozen
class Account:
    """An ESME account as configured.

    :ivar throughput: submits per second allowed (0 = unlimited); bursts up to one second's worth.
    :ivar max_queue: messages of this account that may wait at once (for a handset or for the
        account's receiver) before submits are refused as QUEUE_FULL.
    :ivar message_id_format: ``decimal`` (default: at most 10 digits, no leading zeros), ``hex``
        (upper case) or ``decimal10`` (zero-padded to 10 digits); the same string appears in
        submit_sm_resp, receipted_message_id and the receipt text.
    :ivar receipt_format: ``full`` (SMPP Appendix B, with sub, dlvrd and text) or ``short``
        (Jasmin's: id, dates, stat and err only).
    :ivar long_mo: how a long MO reaches this account: ``udh`` parts (the default), ``sar``
        parts (SAR TLVs, no UDH), or ``payload`` (one deliver_sm with message_payload).
    :ivar data_coding_0: what data_coding 0 ("SMSC default alphabet") means for this ESME:
        ``gsm`` (GSM 03.38, unpacked; Kannel's default) or ``latin-1`` (Kannel's alt-charset).
        It decides how its submits read, and MO to it is sent as Latin-1 with data_coding 3.
    :ivar ussd_service_type: service_type of the USSD deliver_sm to this ESME (``USSD``).
    :ivar ussd_session: the field that names a USSD dialogue both ways (USSD_SESSION_FIELDS).
    :ivar ussd_network_end: how a dialogue the network ends is announced (USSD_NETWORK_ENDS).
    :ivar ussd_data_coding: data_coding of GSM text in USSD deliver_sm (USSD_DATA_CODINGS).
    :ivar protocol: the front end the application binds through (PROTOCOLS): ``smpp``, or
        ``cmpp`` for a China Mobile SP (``system_id`` is its SP_Id, ``password`` its shared
        secret; its ids are Msg_Ids, its MO text ASCII or UCS2).
    """

    system_id: str
    password: str = attrs.field(repr=False)
    bind_types: frozenset[BindType] = frozenset(BindType)
    throughput: float = 0.0
    short_codes: tuple[str, ...] = ()
    message_id_format: str = "decimal"
    receipt_format: str = "full"
    max_queue: int = 100_000
    #: Sessions the account may have bound at once (0: no limit).
    max_binds: int = 100
    long_mo: SplitMode = "udh"
    data_coding_0: DefaultAlphabet = "gsm"
    ussd_service_type: str = "USSD"
    ussd_session: str = "its_session_info"
    ussd_network_end: str = "abort"
    ussd_data_coding: str = "gsm"
    protocol: str = "smpp"


#: A password as given, or a check of the account's secret (a digest made with it).
Credential = str | Callable[[str], bool]
#: The front ends an account can bind through.
PROTOCOLS = ("smpp", "cmpp")


class TokenBucket:
    """Throughput limit fed by the caller's clock: ``rate`` tokens a second, ``rate`` at most.

    :param rate: tokens per second; 0 means no limit.
    """

    __slots__ = ("rate", "_tokens", "_at")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self._tokens = max(rate, 1.0)
        self._at = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one; return whether there was."""
        if not self.rate:
            return True
        tokens = min(max(self.rate, 1.0), self._tokens + (now - self._at) * self.rate)
        self._at = now
        if tokens < 1.0:
            self._tokens = tokens
            return False
        self._tokens = tokens - 1.0
        return True


class AccountRegistry:
    """The configured accounts, their throughput buckets and short codes."""

    def __init__(self, accounts: Iterable[Account], now: float) -> None:
        self._accounts = {account.system_id: account for account in accounts}
        self._buckets = {
            account.system_id: TokenBucket(account.throughput, now) for account in self._accounts.values()
        }
        self._short_codes = {
            code: account.system_id for account in self._accounts.values() for code in account.short_codes
        }

    def __iter__(self) -> Iterator[Account]:
        return iter(self._accounts.values())

    def get(self, system_id: str) -> Account | None:
        """The account with that system_id, if any."""
        return self._accounts.get(system_id)

    def authenticate(
        self, system_id: str, credential: Credential, bind_type: BindType, protocol: str = "smpp"
    ) -> Account:
        """Check a bind's credentials, protocol and type.

        :param credential: the password given, or a check of the account's secret (CMPP's
            authenticator is a digest of it, not the secret itself).
        :raises BindRefused: UNKNOWN_ACCOUNT, BAD_CREDENTIALS, WRONG_PROTOCOL or
            BIND_NOT_ALLOWED, saying which.
        """
        account = self._accounts.get(system_id)
        if account is None:
            raise BindRefused(Refusal.UNKNOWN_ACCOUNT, f"no account with system_id {system_id!r}")
        if isinstance(credential, str):
            # Constant time: a fake carrier on a CI host should not teach timing attacks.
            authentic = hmac.compare_digest(account.password.encode(), credential.encode())
        else:
            authentic = credential(account.password)
        if not authentic:
            raise BindRefused(Refusal.BAD_CREDENTIALS, f"wrong password for {system_id!r}")
        if account.protocol != protocol:
            raise BindRefused(
                Refusal.WRONG_PROTOCOL,
                f"{system_id!r} is a {account.protocol.upper()} account; it cannot bind over {protocol.upper()}",
            )
        if bind_type not in account.bind_types:
            allowed = ", ".join(sorted(t.value for t in account.bind_types))
            raise BindRefused(
                Refusal.BIND_NOT_ALLOWED,
                f"{system_id!r} may not bind as {bind_type.value} (allowed: {allowed})",
            )
        return account

    def check_throughput(self, account: Account, now: float) -> None:
        """Count one submit against the account's rate.

        :raises Throttled: when the account is over its throughput.
        """
        if account.throughput and not self._buckets[account.system_id].take(now):
            raise Throttled(f"{account.system_id!r} exceeds its throughput of {account.throughput:g} msg/s")

    def owner_of_short_code(self, code: str) -> str | None:
        """The system_id owning a short code, if any."""
        return self._short_codes.get(code)
