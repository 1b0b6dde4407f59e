"""The scenario runner's ESME: one SMPP transceiver bind shared by every scenario of a run.

A reader thread answers the SMSC (deliver_sm, enquire_link, unbind) as soon as it speaks, so
a receipt is acknowledged even while no scenario waits for it; receipts are kept by
message_id until a step asks. Submits may come from any scenario's thread. A lost connection
(a ``drop_connection`` fault, say) is bound again at the next submit or wait.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from typing import Any

import attrs

from smsgw.client import text_submits
from smsgw.smpp import codec
from smsgw.smpp.constants import CommandId, CommandStatus, status_name
from smsgw.smpp.framing import PduBuffer
from smsgw.smpp.pdu import BindTransceiver, EnquireLinkResp, GenericNack, Pdu, Unbind, UnbindResp
from smsgw.smpp.sm import DeliverSm, DeliverSmResp

_RECEIPT_FIELDS = re.compile(r"stat:(\w+)\s+err:(\w+)")


class EsmeError(Exception):
    """The SMSC refused, did not answer in time, or closed the connection; the message says which."""


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

    The receipts it has received are kept across binds: a receipt of a message submitted
    before a lost connection comes to the next bind (the SMSC resends what was not answered).

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
            if answer.command_status:
                return SubmitResult(tuple(ids), answer.command_status)
            ids.append(answer.message_id)
        return SubmitResult(tuple(ids))

    def receipts(self, message_id: str, *, wait: float = 0.0) -> list[Receipt]:
        """The receipts received for ``message_id``; waits up to ``wait`` seconds for the first
        (binding again first if the connection was lost, so that they can come)."""
        deadline = time.monotonic() + wait
        while True:
            link = self._bound()
            with self._changed:
                while not self._receipts.get(message_id) and link.closed is None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return list(self._receipts.get(message_id, ()))
                    self._changed.wait(remaining)
                if self._receipts.get(message_id) or time.monotonic() >= deadline:
                    return list(self._receipts.get(message_id, ()))

    def close(self) -> None:
        """Unbind (briefly waiting for the answer) and close."""
        self._link.close(unbind=True)

    # -- binds -----------------------------------------------------------------------

    def _request_resending(self, pdu: Pdu) -> Any:
        """A request, sent again once over a new bind if the connection was lost before its
        answer: unanswered, it was not accepted, so sending it again loses and doubles nothing."""
        link = self._bound()
        try:
            return link.request(pdu)
        except EsmeError:
            if link.closed is None:
                raise  # no answer in time on a live connection: say so
        return self._bound().request(pdu)

    def _bind(self) -> _Link:
        link = _Link(self.address, self._changed, self._receipts, self.timeout, self.system_id)
        try:
            address_range = f"ns:{self.namespace}" if self.namespace else ""
            answer = link.request(
                BindTransceiver(
                    system_id=self.system_id, password=self._password, address_range=address_range
                )
            )
        except EsmeError:
            link.close(unbind=False)
            raise
        if answer.command_status:
            link.close(unbind=False)
            raise EsmeError(f"bind as {self.system_id!r} refused: {status_name(answer.command_status)}")
        return link

    def _bound(self) -> _Link:
        """The bound connection: the same one, or a new one if the last was lost."""
        with self._binding:
            if self._link.closed is not None:
                self._link.close(unbind=False)
                self._link = self._bind()
            return self._link


class _Link:
    """One TCP connection of the ESME, with the thread that reads it and answers the SMSC."""

    def __init__(
        self,
        address: tuple[str, int],
        changed: threading.Condition,
        receipts: dict[str, list[Receipt]],
        timeout: float,
        name: str,
    ) -> None:
        self.timeout = timeout
        self.closed: str | None = None
        self._changed = changed
        self._receipts = receipts
        self._answers: dict[int, Pdu] = {}
        self._waiting: set[int] = set()
        self._sequence = 0
        self._send_lock = threading.Lock()
        try:
            self._socket = socket.create_connection(address, timeout=timeout)
        except OSError as error:
            host, port = address
            raise EsmeError(f"cannot connect to SMPP {host}:{port}: {error.strerror or error}") from None
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.settimeout(None)
        self._reader = threading.Thread(target=self._read_loop, name=f"esme-{name}", daemon=True)
        self._reader.start()

    def request(self, pdu: Pdu, *, timeout: float | None = None) -> Any:
        """Send a request and wait for its response."""
        timeout = timeout or self.timeout
        with self._changed:
            if self.closed is not None:
                raise EsmeError(f"{type(pdu).__name__} not sent: {self.closed}")
            self._sequence += 1
            sequence = self._sequence
            self._waiting.add(sequence)
        try:
            try:
                self._send(attrs.evolve(pdu, sequence_number=sequence))
            except OSError as error:
                raise EsmeError(f"{type(pdu).__name__} not sent: {error}") from None
            deadline = time.monotonic() + timeout
            with self._changed:
                while sequence not in self._answers:
                    if self.closed is not None:
                        raise EsmeError(f"no answer to {type(pdu).__name__}: {self.closed}")
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise EsmeError(f"no answer to {type(pdu).__name__} within {timeout:g} s")
                    self._changed.wait(remaining)
                return self._answers.pop(sequence)
        finally:
            with self._changed:
                self._waiting.discard(sequence)

    def close(self, *, unbind: bool) -> None:
        if unbind and self.closed is None:
            with contextlib.suppress(EsmeError):  # unanswered or already gone: close anyway
                self.request(Unbind(), timeout=1.0)
        with self._changed:
            self.closed = self.closed or "closed by the runner"
            self._changed.notify_all()
        with contextlib.suppress(OSError):  # the peer may have closed it already
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        if self._reader is not threading.current_thread():
            self._reader.join(timeout=2.0)

    def _send(self, pdu: Pdu) -> None:
        with self._send_lock:
            self._socket.sendall(codec.encode(pdu))

    def _read_loop(self) -> None:
        buffer = PduBuffer()
        reason = "the SMSC closed the connection"
        try:
            while data := self._socket.recv(65536):
                for raw in buffer.feed(data):
                    self._handle(codec.decode(raw))
        except OSError as error:
            reason = f"the connection failed: {error}"
        except Exception as error:  # noqa: BLE001 - a PDU we cannot read ends the bind, and says why
            reason = f"unreadable PDU from the SMSC: {error}"
        with self._changed:
            self.closed = self.closed or reason
            self._changed.notify_all()

    def _handle(self, pdu: Pdu) -> None:
        if isinstance(pdu, DeliverSm):
            self._send(DeliverSmResp(pdu.sequence_number))
            if pdu.receipted_message_id is not None:
                text = pdu.short_message.decode("ascii", "replace")
                found = _RECEIPT_FIELDS.search(text)
                stat, err = found.groups() if found else ("", "")
                with self._changed:
                    receipt = Receipt(pdu.receipted_message_id, stat, err, text)
                    self._receipts.setdefault(receipt.message_id, []).append(receipt)
                    self._changed.notify_all()
        elif pdu.command_id == CommandId.ENQUIRE_LINK:
            self._send(EnquireLinkResp(pdu.sequence_number))
        elif pdu.command_id == CommandId.UNBIND:
            self._send(UnbindResp(pdu.sequence_number))
        elif pdu.is_response:
            with self._changed:
                # An answer nobody waits for any more (its request timed out) is dropped.
                if pdu.sequence_number in self._waiting:
                    self._answers[pdu.sequence_number] = pdu
                    self._changed.notify_all()
        else:
            self._send(GenericNack(pdu.sequence_number, CommandStatus.ESME_RINVCMDID))
