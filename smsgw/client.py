"""smsgw's blocking ESME: :class:`~smsgw.smpp.esme.EsmeSession` driven over a socket.

:class:`EsmeLink` runs one session over one connected socket (plain or TLS) with one thread
that does all of its I/O: it writes what the session queues, reads what the SMSC sends,
lets the session's timers run and answers deliveries through a handler. Any other thread
may send requests and wait for their answers. ``smsgw send`` runs on it (:class:`SmppClient`),
and so does the scenario runner's ESME (:mod:`simulators.scenario.esme`).
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable

import attrs

from smsgw.smpp.constants import BindType, Npi, Ton, status_name
from smsgw.smpp.esme import (
    Answered,
    BindRefused,
    Bound,
    Delivered,
    EsmeConfig,
    EsmeEvent,
    EsmeSession,
)
from smsgw.smpp.pdu import Pdu
from smsgw.smpp.session import ResponseTimedOut
from smsgw.smpp.sm import DataSm, DeliverSm, SubmitSm, SubmitSmResp
from smsgw.text.split import split_text

#: Handles a deliver_sm or data_sm on the link's thread; returns the status to answer with.
DeliveryHandler = Callable[[DeliverSm | DataSm], int]
#: ESME_RX_T_APPN: the answer when the delivery handler fails (the SMSC retries later).
_HANDLER_FAILED = 0x64
#: How often (seconds) the link's thread lets the session's timers run while nothing arrives.
_TICK = 0.5


def text_submits(
    source: str,
    destination: str,
    text: str,
    *,
    receipt: bool = False,
    ref: int = 1,
    schedule: str = "",
    validity: str = "",
) -> list[SubmitSm]:
    """The submit_sm PDUs of a text to an international number: one, or UDH parts when long.

    :param schedule: schedule_delivery_time (SMPP time format); "" for now.
    :param validity: validity_period (SMPP time format); "" for the SMSC's default.
    """
    source_ton = Ton.UNKNOWN if source.isdigit() else Ton.ALPHANUMERIC
    return [
        SubmitSm(
            source_addr_ton=source_ton,
            source_addr=source,
            dest_addr_ton=Ton.INTERNATIONAL,
            dest_addr_npi=Npi.ISDN,
            destination_addr=destination.lstrip("+"),
            esm_class=0x40 if part.esm_class_udhi else 0,
            registered_delivery=1 if receipt else 0,
            schedule_delivery_time=schedule,
            validity_period=validity,
            data_coding=part.data_coding,
            short_message=part.short_message,
        )
        for part in split_text(text, ref=ref & 0xFF)
    ]


class SmppClientError(Exception):
    """The SMSC refused something, did not answer in time, or closed the connection; the
    message says which."""


def connect(
    host: str, port: int, *, timeout: float, tls: ssl.SSLContext | None = None, what: str = ""
) -> socket.socket:
    """A connected, blocking socket to an SMSC, Nagle off (each PDU is a whole message).

    :param tls: speak SMPP over TLS with this context (smsgw's TLS port).
    :param what: names the service in the error ("SMPP " gives "cannot connect to SMPP ...").
    :raises SmppClientError: the connection or the TLS handshake failed.
    """
    try:
        plain = socket.create_connection((host, port), timeout=timeout)
    except OSError as error:
        raise SmppClientError(f"cannot connect to {what}{host}:{port}: {error.strerror or error}") from None
    plain.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        connected = tls.wrap_socket(plain, server_hostname=host) if tls is not None else plain
    except (ssl.SSLError, OSError) as error:
        plain.close()
        raise SmppClientError(f"TLS with {host}:{port} failed: {error}") from None
    connected.settimeout(None)
    return connected


@attrs.define(eq=False)
class _Pending:
    """One request until its answer, as its sender waits for it."""

    answer: Pdu | None = None
    timed_out: bool = False
    lost: str | None = None


class EsmeLink:
    """One bind over one connected socket; thread-safe.

    It binds at once; :meth:`wait_bound` waits for the answer. The connection ends when the
    session does (an unbind from either side, a refused bind, a broken stream), when the SMSC
    closes it, or on :meth:`close`; :attr:`closed` then says why.

    :param on_delivery: answers each deliver_sm/data_sm (on the link's thread); without
        one, each is accepted.
    :param on_closed: told the reason once the connection has ended (on the link's thread).
    """

    def __init__(
        self,
        connection: socket.socket,
        config: EsmeConfig,
        *,
        on_delivery: DeliveryHandler | None = None,
        on_closed: Callable[[str], None] | None = None,
        name: str = "esme",
    ) -> None:
        self.config = config
        #: Why the connection ended; None while it is up.
        self.closed: str | None = None
        self._socket = connection
        self._on_delivery = on_delivery
        self._on_closed = on_closed
        self._changed = threading.Condition()
        self._session = EsmeSession(config, time.monotonic())
        self._bound = False
        self._refused: int | None = None
        self._stopping: str | None = None
        # Wakes the link's thread from select() when another thread queued something to send.
        self._wake_in, self._wake_out = socket.socketpair()
        self._wake_out.setblocking(False)
        self._session.start(time.monotonic())
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- what callers use ------------------------------------------------------------

    def wait_bound(self, timeout: float) -> None:
        """Wait for the bind's answer.

        :raises SmppClientError: the bind was refused, not answered in time, or the
            connection ended first.
        """
        bind = _BIND_NAME[self.config.bind_type]
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self._bound:
                if self._refused is not None:
                    raise SmppClientError(
                        f"bind as {self.config.system_id!r} refused: {status_name(self._refused)}"
                    )
                if self.closed is not None:
                    raise SmppClientError(f"no answer to {bind}: {self.closed}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SmppClientError(f"no answer to {bind} within {timeout:g} s")
                self._changed.wait(remaining)

    def request(self, pdu: Pdu, timeout: float) -> Pdu:
        """Send a request once there is room in the window; wait for its response (whatever
        its status) or a generic_nack.

        :raises SmppClientError: not sent (the connection is gone, or the window stayed full),
            or not answered in time or before the connection ended.
        """
        name = type(pdu).__name__
        deadline = time.monotonic() + timeout
        pending = _Pending()
        with self._changed:
            while not self._session.can_send:
                if self.closed is not None or self._session.close_reason is not None:
                    raise SmppClientError(f"{name} not sent: {self.closed or self._session.close_reason}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SmppClientError(f"{name} not sent: the window stayed full for {timeout:g} s")
                self._changed.wait(remaining)
            self._session.send(pdu, time.monotonic(), pending)
        self._wake()
        with self._changed:
            while pending.answer is None:
                if pending.lost is not None:
                    raise SmppClientError(f"no answer to {name}: {pending.lost}")
                remaining = deadline - time.monotonic()
                if remaining <= 0 or pending.timed_out:
                    raise SmppClientError(f"no answer to {name} within {timeout:g} s")
                self._changed.wait(remaining)
            return pending.answer

    def close(self, *, unbind: bool = True, timeout: float = 1.0) -> None:
        """End the connection: unbind first (waiting up to ``timeout`` for the answer) if asked."""
        deadline = time.monotonic() + timeout
        with self._changed:
            # Only a bound session has anything to unbind.
            unbind = unbind and self.closed is None and self._session.state.is_bound
            if unbind:
                self._session.unbind(time.monotonic())
        if unbind:
            self._wake()
            with self._changed:
                while self.closed is None and (remaining := deadline - time.monotonic()) > 0:
                    self._changed.wait(remaining)
        with self._changed:
            self._stopping = "closed by the client"
        self._wake()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)

    # -- the link's thread -----------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # already awake (buffer full) or already ended
            self._wake_in.send(b"\0")

    def _run(self) -> None:
        reason = "the SMSC closed the connection"
        session = self._session
        try:
            while True:
                with self._changed:
                    data = session.data_to_send()
                    ending = self._stopping or session.close_reason
                if data:
                    self._socket.sendall(data)
                if ending is not None:
                    reason = ending
                    break
                if self._readable():
                    received = self._socket.recv(65536)
                    if not received:
                        break
                    self._received(received)
                with self._changed:
                    self._apply(session.tick(time.monotonic()))
        except OSError as error:
            reason = f"the connection failed: {error}"
        finally:
            self._end(reason)

    def _readable(self) -> bool:
        """Wait up to a tick for the SMSC to send or another thread to wake us."""
        connection = self._socket
        # TLS may hold decrypted octets select() cannot see.
        if isinstance(connection, ssl.SSLSocket) and connection.pending():
            return True
        ready, _, _ = select.select([connection, self._wake_out], [], [], _TICK)
        if self._wake_out in ready:
            with contextlib.suppress(BlockingIOError):
                self._wake_out.recv(4096)
        return connection in ready

    def _received(self, data: bytes) -> None:
        with self._changed:
            deliveries = self._apply(self._session.receive_data(data, time.monotonic()))
        for pdu in deliveries:
            status = 0
            if self._on_delivery is not None:
                try:
                    status = self._on_delivery(pdu)
                except Exception:  # noqa: BLE001 - a failing handler is the application's error: say so to the SMSC
                    status = _HANDLER_FAILED
            with self._changed:
                self._session.respond(pdu, status)

    def _apply(self, events: list[EsmeEvent]) -> list[DeliverSm | DataSm]:
        """Take the session's events (holding the lock); return the deliveries to answer."""
        deliveries: list[DeliverSm | DataSm] = []
        for event in events:
            if isinstance(event, Answered) and isinstance(event.context, _Pending):
                event.context.answer = event.response
            elif isinstance(event, ResponseTimedOut) and isinstance(event.context, _Pending):
                event.context.timed_out = True
            elif isinstance(event, Delivered):
                deliveries.append(event.pdu)
            elif isinstance(event, Bound):
                self._bound = True
            elif isinstance(event, BindRefused):
                self._refused = event.command_status
        if events:
            self._changed.notify_all()
        return deliveries

    def _end(self, reason: str) -> None:
        with self._changed:
            self.closed = reason
            for pending in self._session.connection_lost():
                pending.lost = reason
            self._changed.notify_all()
        with contextlib.suppress(OSError):  # the SMSC may have closed it already
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        self._wake_in.close()
        self._wake_out.close()
        if self._on_closed is not None:
            self._on_closed(reason)


_BIND_NAME = {
    BindType.TRANSMITTER: "BindTransmitter",
    BindType.RECEIVER: "BindReceiver",
    BindType.TRANSCEIVER: "BindTransceiver",
}


# -- smsgw send ------------------------------------------------------------------------


@attrs.frozen
class Receipt:
    """A delivery receipt as the ESME received it."""

    message_id: str
    state: int
    text: str


class SmppClient:
    """One bound session for ``smsgw send``.

    :param timeout: seconds to wait for each answer.
    :param tls: speak SMPP over TLS with this context (smsgw's TLS port).
    """

    def __init__(
        self, host: str, port: int, *, timeout: float = 10.0, tls: ssl.SSLContext | None = None
    ) -> None:
        self.timeout = timeout
        self._socket = connect(host, port, timeout=timeout, tls=tls)
        self._link: EsmeLink | None = None
        self._changed = threading.Condition()
        self.receipts: list[Receipt] = []

    def bind(self, system_id: str, password: str, *, receive: bool = False) -> None:
        """Bind as transmitter, or as transceiver when receipts are wanted."""
        config = EsmeConfig(
            system_id,
            password,
            bind_type=BindType.TRANSCEIVER if receive else BindType.TRANSMITTER,
            # One short session: it asks nothing of the SMSC but its own requests.
            enquire_link_interval=0,
            response_timeout=self.timeout,
        )
        self._link = EsmeLink(
            self._socket, config, on_delivery=self._delivered, on_closed=self._lost, name=f"send-{system_id}"
        )
        self._link.wait_bound(self.timeout)

    def submit(
        self, source: str, destination: str, text: str, *, receipt: bool = False, ref: int = 1
    ) -> list[str]:
        """Submit a text (split with a UDH when long); return each part's message_id."""
        link = self._bound()
        ids = []
        for pdu in text_submits(source, destination, text, receipt=receipt, ref=ref):
            response = link.request(pdu, self.timeout)
            if response.command_status or not isinstance(response, SubmitSmResp):
                raise SmppClientError(
                    f"submit_sm to {destination} refused: {status_name(response.command_status)}"
                )
            ids.append(response.message_id)
        return ids

    def wait_receipts(self, message_ids: list[str], timeout: float) -> list[Receipt]:
        """Wait until a receipt names each of the message_ids (or the timeout); return them.

        :raises SmppClientError: the connection ended first.
        """
        link = self._bound()
        deadline = time.monotonic() + timeout
        wanted = set(message_ids)
        with self._changed:
            while not wanted <= {r.message_id for r in self.receipts}:
                if link.closed is not None:
                    raise SmppClientError(link.closed)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return [r for r in self.receipts if r.message_id in wanted]

    def close(self) -> None:
        """Unbind (briefly waiting for the answer) and close."""
        if self._link is None:
            self._socket.close()
        else:
            self._link.close(unbind=True, timeout=1.0)

    def _bound(self) -> EsmeLink:
        if self._link is None:
            raise SmppClientError("not bound: bind first")
        return self._link

    def _delivered(self, pdu: DeliverSm | DataSm) -> int:
        if isinstance(pdu, DeliverSm) and pdu.receipted_message_id is not None:
            text = pdu.short_message.decode("ascii", "replace")
            with self._changed:
                self.receipts.append(Receipt(pdu.receipted_message_id, pdu.message_state or 0, text))
                self._changed.notify_all()
        return 0

    def _lost(self, reason: str) -> None:
        with self._changed:
            self._changed.notify_all()
