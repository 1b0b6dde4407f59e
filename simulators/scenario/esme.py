"""The scenario runner's ESME: one SMPP transceiver bind shared by every scenario of a run.

A reader thread answers the SMSC (deliver_sm, enquire_link) as soon as it speaks, so a
receipt is acknowledged even while no scenario waits for it; receipts are kept by
message_id until a step asks. Submits may come from any scenario's thread.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from typing import Any

import attrs

from smsgw.client import text_submits
from smsgw.smpp import codec
from smsgw.smpp.constants import CommandId, status_name
from smsgw.smpp.framing import PduBuffer
from smsgw.smpp.pdu import BindTransceiver, EnquireLinkResp, Pdu, Unbind
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
    """A bound transceiver; thread-safe.

    :raises EsmeError: when it cannot connect or bind.
    """

    def __init__(self, host: str, port: int, system_id: str, password: str, *, timeout: float = 10.0) -> None:
        self.system_id = system_id
        self.timeout = timeout
        try:
            self._socket = socket.create_connection((host, port), timeout=timeout)
        except OSError as error:
            raise EsmeError(f"cannot connect to SMPP {host}:{port}: {error.strerror or error}") from None
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.settimeout(None)
        self._send_lock = threading.Lock()
        self._changed = threading.Condition()
        self._answers: dict[int, Pdu] = {}
        self._receipts: dict[str, list[Receipt]] = {}
        self._sequence = 0
        self._closed: str | None = None
        self._reader = threading.Thread(target=self._read_loop, name=f"esme-{system_id}", daemon=True)
        self._reader.start()
        answer = self._request(BindTransceiver(system_id=system_id, password=password))
        if answer.command_status:
            self.close()
            raise EsmeError(f"bind as {system_id!r} refused: {status_name(answer.command_status)}")

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
            answer = self._request(pdu)
            if answer.command_status:
                return SubmitResult(tuple(ids), answer.command_status)
            ids.append(answer.message_id)
        return SubmitResult(tuple(ids))

    def receipts(self, message_id: str, *, wait: float = 0.0) -> list[Receipt]:
        """The receipts received for ``message_id``; waits up to ``wait`` seconds for the first."""
        deadline = time.monotonic() + wait
        with self._changed:
            while not self._receipts.get(message_id) and self._closed is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return list(self._receipts.get(message_id, ()))

    def close(self) -> None:
        """Unbind (briefly waiting for the answer) and close."""
        if self._closed is None:
            try:
                self._request(Unbind(), timeout=1.0)
            except EsmeError:
                pass
        self._closed = self._closed or "closed by the runner"
        try:
            self._socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._socket.close()
        self._reader.join(timeout=2.0)

    # -- the wire --------------------------------------------------------------------

    def _send(self, pdu: Pdu) -> None:
        with self._send_lock:
            self._socket.sendall(codec.encode(pdu))

    def _request(self, pdu: Pdu, *, timeout: float | None = None) -> Any:
        with self._changed:
            self._sequence += 1
            sequence = self._sequence
        try:
            self._send(attrs.evolve(pdu, sequence_number=sequence))
        except OSError as error:
            raise EsmeError(f"{type(pdu).__name__} not sent: {error}") from None
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._changed:
            while sequence not in self._answers:
                if self._closed is not None:
                    raise EsmeError(f"no answer to {type(pdu).__name__}: {self._closed}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise EsmeError(f"no answer to {type(pdu).__name__} within {timeout or self.timeout:g} s")
                self._changed.wait(remaining)
            return self._answers.pop(sequence)

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
            self._closed = self._closed or reason
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
        elif pdu.is_response:
            with self._changed:
                self._answers[pdu.sequence_number] = pdu
                self._changed.notify_all()
