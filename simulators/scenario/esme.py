"""The scenario runner's ESME: one SMPP transceiver bind shared by every scenario of a run.

It runs on smsgw's blocking ESME (:class:`smsgw.client.EsmeLink`), whose thread answers the
SMSC (deliver_sm, enquire_link, unbind) as soon as it speaks, so a receipt or an MO is
acknowledged even while no scenario waits for it; receipts are kept by message_id until a
step asks, MO by sender until a step takes them (:mod:`simulators.scenario.mo`).
Submits may come from any scenario's thread. A lost connection (a ``drop_connection``
fault, say) is bound again at the next submit or wait.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import attrs

from simulators.scenario.mo import Mo, MoInbox
from smsgw.carrier.bindrange import address_range
from smsgw.client import EsmeLink, SmppClientError, connect, text_submits
from smsgw.smpp.constants import BindType
from smsgw.smpp.esme import EsmeConfig
from smsgw.smpp.pdu import Pdu
from smsgw.smpp.sm import DataSm, DeliverSm, SubmitSmResp

_RECEIPT_FIELDS = re.compile(r"stat:(\w+)\s+err:(\w+)")
#: Requests out at once: the run's scenarios submit in parallel over the one bind.
WINDOW = 100

#: The SMSC refused, did not answer in time, or closed the connection; the message says which.
EsmeError = SmppClientError

_Found = TypeVar("_Found")


@attrs.frozen
class Receipt:
    """A delivery receipt as the ESME received it."""

    message_id: str
    stat: str
    err: str
    text: str


@attrs.frozen
class SubmitResult:
    """What a submit got: each part's message_id, or the command_status that refused it."""

    message_ids: tuple[str, ...]
    status: int = 0


class ScenarioEsme:
    """A bound transceiver, bound again when its connection is lost; thread-safe.

    The receipts and MO it has received are kept across binds: a receipt of a message
    submitted before a lost connection comes to the next bind (the SMSC resends what was not
    answered).

    :raises EsmeError: when it cannot connect or bind.
    """

    def __init__(
        self,
        host: str,
        port: int,
        system_id: str,
        password: str,
        *,
        timeout: float = 10.0,
        namespace: str = "",
    ) -> None:
        self.address = (host, port)
        self.system_id = system_id
        #: The namespace it binds in (address_range ``ns:NAME``): receipts and MO of that
        #: namespace's handsets come to it, and no other namespace's.
        self.namespace = namespace
        self.timeout = timeout
        self._password = password
        self._changed = threading.Condition()
        self._receipts: dict[str, list[Receipt]] = {}
        self._mo = MoInbox()
        self._binding = threading.Lock()
        self._link = self._bind()

    # -- what steps use --------------------------------------------------------------

    def submit(
        self,
        source: str,
        destination: str,
        text: str,
        *,
        receipt: bool,
        schedule: str = "",
        validity: str = "",
    ) -> SubmitResult:
        """Submit a text (UDH parts when long); stop at the first refused part.

        :param schedule: schedule_delivery_time (SMPP time format); "" for now.
        :param validity: validity_period (SMPP time format); "" for the carrier's default.
        """
        ids: list[str] = []
        pdus = text_submits(
            source, destination, text, receipt=receipt, ref=len(text), schedule=schedule, validity=validity
        )
        for pdu in pdus:
            answer = self._request_resending(pdu)
            if answer.command_status or not isinstance(answer, SubmitSmResp):
                return SubmitResult(tuple(ids), answer.command_status)
            ids.append(answer.message_id)
        return SubmitResult(tuple(ids))

    def receipts(self, message_id: str, *, wait: float = 0.0) -> list[Receipt]:
        """The receipts received for ``message_id``; waits up to ``wait`` seconds for the first
        (binding again first if the connection was lost, so that they can come)."""
        return self._wait_for(lambda: list(self._receipts.get(message_id, ())) or None, wait) or []

    def take_mo(
        self,
        sender: str,
        *,
        pattern: re.Pattern[str] | None = None,
        short_code: str | None = None,
        wait: float = 0.0,
    ) -> Mo | None:
        """The first MO from ``sender`` whose text holds ``pattern`` and that went to
        ``short_code`` (None: any), waiting up to ``wait`` seconds for one; it is taken, so no
        later call gets it. MO that came before the call count: they were kept.

        A long MO is matched on its whole text, once all its parts are here.
        """
        return self._wait_for(
            lambda: self._mo.take(sender, time.monotonic(), pattern=pattern, short_code=short_code), wait
        )

    def mo_from(self, sender: str) -> list[Mo]:
        """The MO from ``sender`` no call has taken, oldest first (incomplete ones too)."""
        with self._changed:
            return self._mo.waiting(sender)

    def close(self) -> None:
        """Unbind (briefly waiting for the answer) and close."""
        self._link.close(unbind=True, timeout=1.0)

    def _wait_for(self, attempt: Callable[[], _Found | None], wait: float) -> _Found | None:
        """What ``attempt`` (called under the lock) finds, trying again as deliveries come until
        ``wait`` seconds have passed; a lost connection is bound again meanwhile, so that what the
        SMSC owes can come."""
        deadline = time.monotonic() + wait
        while True:
            link = self._bound()
            with self._changed:
                while True:
                    found = attempt()
                    remaining = deadline - time.monotonic()
                    if found is not None or remaining <= 0:
                        return found
                    if link.closed is not None:
                        break  # bind again: the SMSC sends what it owes to the new bind
                    self._changed.wait(remaining)

    # -- binds -----------------------------------------------------------------------

    def _request_resending(self, pdu: Pdu) -> Pdu:
        """A request, sent again once over a new bind if the connection was lost before its
        answer: unanswered, it was not accepted, so sending it again loses and doubles nothing."""
        link = self._bound()
        try:
            return link.request(pdu, self.timeout)
        except EsmeError:
            if link.closed is None:
                raise  # no answer in time on a live connection: say so
        return self._bound().request(pdu, self.timeout)

    def _bind(self) -> EsmeLink:
        host, port = self.address
        config = EsmeConfig(
            self.system_id,
            self._password,
            bind_type=BindType.TRANSCEIVER,
            window=WINDOW,
            # The carrier probes the link; the runner only answers, as it always did.
            enquire_link_interval=0,
            response_timeout=self.timeout,
            address_range=address_range(self.namespace),
        )
        link = EsmeLink(
            connect(host, port, timeout=self.timeout, what="SMPP "),
            config,
            on_delivery=self._delivered,
            on_closed=self._lost,
            name=f"esme-{self.system_id}",
        )
        try:
            link.wait_bound(self.timeout)
        except EsmeError:
            link.close(unbind=False)
            raise
        return link

    def _bound(self) -> EsmeLink:
        """The bound connection: the same one, or a new one if the last was lost."""
        with self._binding:
            if self._link.closed is not None:
                self._link.close(unbind=False)
                self._link = self._bind()
            return self._link

    # -- from the link's thread ------------------------------------------------------

    def _delivered(self, pdu: DeliverSm | DataSm) -> int:
        if isinstance(pdu, DeliverSm) and pdu.receipted_message_id is not None:
            text = pdu.short_message.decode("ascii", "replace")
            found = _RECEIPT_FIELDS.search(text)
            stat, err = found.groups() if found else ("", "")
            with self._changed:
                receipt = Receipt(pdu.receipted_message_id, stat, err, text)
                self._receipts.setdefault(receipt.message_id, []).append(receipt)
                self._changed.notify_all()
        elif isinstance(pdu, DeliverSm) and pdu.ussd_service_op is None:
            # Neither a receipt nor a USSD screen: an MO (or a part of a long one).
            with self._changed:
                self._mo.add(pdu, time.monotonic())
                self._changed.notify_all()
        return 0

    def _lost(self, reason: str) -> None:
        """Wake the steps waiting for receipts or MO, to bind again."""
        with self._changed:
            self._changed.notify_all()
