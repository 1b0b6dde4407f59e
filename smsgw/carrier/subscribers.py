"""Subscribers of the fake network: MSISDNs, names, and whether their phone is reachable."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Iterator

import attrs

from smsgw.carrier.errors import UnknownSubscriber
from smsgw.digits import is_digits

#: What a namespace may be called ("" is none): it goes in URLs and fault rule names.
NAMESPACE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}|")
NAMESPACE_RULE = "up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"


def namespace_and_parents(namespace: str) -> list[str]:
    """``run-1.7`` and the namespaces it sits in, innermost first: ``["run-1.7", "run-1"]``.

    A namespace holds the ones named after it with a dot, so a test run can give each of its
    scenarios a world of its own and still list or reset all of them as one.
    """
    names = [namespace]
    while "." in namespace:
        namespace = namespace.rpartition(".")[0]
        names.append(namespace)
    return names


def in_namespace(namespace: str, outer: str) -> bool:
    """Whether ``namespace`` is ``outer`` or sits inside it (``outer.…``)."""
    return namespace == outer or namespace.startswith(outer + ".")


class HandsetState(enum.Enum):
    """What the network finds when it tries to deliver to a subscriber's phone.

    ``busy`` (in a call or a USSD dialogue) still receives SMS, as phones do; it matters for
    USSD. ``off`` and ``inbox_full`` make the network hold messages until the phone is
    reachable again or their validity ends.
    """

    ON = "on"
    OFF = "off"
    BUSY = "busy"
    INBOX_FULL = "inbox_full"

    @property
    def receives_sms(self) -> bool:
        """Whether an SMS sent now is delivered now."""
        return self is HandsetState.ON or self is HandsetState.BUSY


@attrs.define
class Subscriber:
    """One subscriber: an MSISDN (E.164 digits, no ``+``), a display name and a phone state.

    :ivar inbox_after: the arrival order of the last message cleared from the inbox; older
        messages are not shown on the phone (they stay in the message history).
    :ivar namespace: the test world it belongs to ("" for none): tests running at once
        against one carrier each see and reset only their own (docs/scenarios.md).
    """

    msisdn: str
    name: str = ""
    state: HandsetState = HandsetState.ON
    inbox_after: int = 0
    namespace: str = ""


def normalize_msisdn(address: str, country_code: str) -> str | None:
    """Normalise a phone number to E.164 digits without ``+``; ``None`` if it is not one.

    ``+8613800000001``, ``008613800000001``, ``8613800000001`` and (with country code 86)
    ``13800000001`` or ``013800000001`` all give ``8613800000001``.
    """
    number = address.strip().replace(" ", "").replace("-", "")
    if number.startswith("+"):
        number = number[1:]
        international = True
    elif number.startswith("00"):
        number = number[2:]
        international = True
    else:
        international = False
    # Fewer than 6 digits is a short code, never a phone number.
    if not is_digits(number) or not 6 <= len(number) <= 15:
        return None
    if international or number.startswith(country_code):
        return number
    # National digits with the country code in front; E.164 allows 15 digits in all.
    national = country_code + number.lstrip("0")
    return national if len(national) <= 15 else None


class SubscriberRegistry:
    """Who is on the network.

    With ``auto_provision`` every valid phone number is a subscriber whose phone is on. Only
    the subscribers that differ from that (configured, renamed, switched off) are kept as
    objects and in the store: a load test to a million numbers costs no memory and no
    writes for them, and their messages are found by MSISDN all the same.

    :param auto_provision: when false, messages to unknown numbers are refused
        (:class:`~smsgw.carrier.errors.UnknownSubscriber`).
    """

    def __init__(
        self,
        subscribers: Iterable[Subscriber] = (),
        *,
        country_code: str = "86",
        auto_provision: bool = True,
    ) -> None:
        self.country_code = country_code
        self.auto_provision = auto_provision
        self._by_msisdn = {s.msisdn: s for s in subscribers}
        #: Called with each subscriber created or changed, so the store can keep it.
        self.on_change: Callable[[Subscriber], None] | None = None

    def __iter__(self) -> Iterator[Subscriber]:
        return iter(self._by_msisdn.values())

    def __len__(self) -> int:
        return len(self._by_msisdn)

    def get(self, msisdn: str) -> Subscriber | None:
        """The subscriber with that (normalised) MSISDN, if provisioned."""
        return self._by_msisdn.get(msisdn)

    def namespace_of(self, msisdn: str) -> str:
        """The namespace of a handset ("" for none, or for a number that is no subscriber)."""
        subscriber = self._by_msisdn.get(msisdn)
        return subscriber.namespace if subscriber is not None else ""

    def add(self, subscriber: Subscriber) -> Subscriber:
        """Provision a subscriber (replacing one with the same MSISDN)."""
        self._by_msisdn[subscriber.msisdn] = subscriber
        self.changed(subscriber)
        return subscriber

    def put(self, subscriber: Subscriber) -> None:
        """Take a subscriber as it is stored already (by another node): not reported back."""
        self._by_msisdn[subscriber.msisdn] = subscriber

    def changed(self, subscriber: Subscriber) -> None:
        """Report a subscriber's new name or state to whoever keeps them."""
        if self.on_change is not None:
            self.on_change(subscriber)

    def find(self, number: str) -> Subscriber | None:
        """The subscriber a number in any notation names: a kept one, an implicit one (auto
        provisioning), or ``None``."""
        subscriber = self._by_msisdn.get(number)
        if subscriber is not None:
            return subscriber
        msisdn = normalize_msisdn(number, self.country_code)
        if msisdn is None:
            return None
        subscriber = self._by_msisdn.get(msisdn)
        if subscriber is None and self.auto_provision:
            return Subscriber(msisdn)
        return subscriber

    def of(self, msisdn: str) -> Subscriber | None:
        """The subscriber of a number already in E.164 digits (as the API passes it on): kept,
        or implicit under auto provisioning. Not normalised again: +64 041… is no Chinese
        national number."""
        subscriber = self._by_msisdn.get(msisdn)
        if subscriber is None and self.auto_provision:
            return Subscriber(msisdn)
        return subscriber

    def remove(self, msisdn: str) -> Subscriber | None:
        """Forget a kept subscriber (with auto provisioning the number stays an implicit one)."""
        return self._by_msisdn.pop(msisdn, None)

    def keep(self, subscriber: Subscriber) -> Subscriber:
        """Make an implicit subscriber a kept one (before changing it); return the kept one."""
        return self._by_msisdn.get(subscriber.msisdn) or self.add(subscriber)

    def resolve(self, address: str) -> Subscriber:
        """Find the subscriber an SMPP address names (an implicit one when auto provisioning).

        :raises UnknownSubscriber: the address is not a phone number, or is unknown in
            strict mode.
        """
        subscriber = self._by_msisdn.get(address)
        if subscriber is not None:
            return subscriber
        msisdn = normalize_msisdn(address, self.country_code)
        if msisdn is None:
            raise UnknownSubscriber(f"destination {address!r} is not a phone number")
        subscriber = self._by_msisdn.get(msisdn)
        if subscriber is not None:
            return subscriber
        if not self.auto_provision:
            raise UnknownSubscriber(f"{msisdn} is not a subscriber (provisioning is strict)")
        return Subscriber(msisdn)
