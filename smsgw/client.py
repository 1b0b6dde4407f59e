"""A small blocking SMPP client (an ESME) for the command line: ``smsgw send``.

It speaks through smsgw's own sans-I/O codec and framer over a plain socket, so it behaves
on the wire like any ESME: bind, submit_sm (split into UDH parts when long), wait for the
responses and, when asked, the delivery receipts.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any

import attrs

from smsgw.smpp import codec
from smsgw.smpp.constants import CommandId, Npi, Ton, status_name
from smsgw.smpp.framing import PduBuffer
from smsgw.smpp.pdu import BindTransceiver, BindTransmitter, EnquireLinkResp, Pdu, Unbind
from smsgw.smpp.sm import DeliverSm, DeliverSmResp, SubmitSm
from smsgw.text.split import split_text


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
    """The SMSC refused something, or did not answer in time; the message says which."""


@attrs.frozen
class Receipt:
    """A delivery receipt as the ESME received it."""

    message_id: str
    state: int
    text: str


class SmppClient:
    """One bound session.

    :param timeout: seconds to wait for each answer.
    :param tls: speak SMPP over TLS with this context (smsgw's TLS port).
    """

    def __init__(
        self, host: str, port: int, *, timeout: float = 10.0, tls: ssl.SSLContext | None = None
    ) -> None:
        self.timeout = timeout
        try:
            plain = socket.create_connection((host, port), timeout=timeout)
        except OSError as error:
            raise SmppClientError(f"cannot connect to {host}:{port}: {error.strerror or error}") from None
        plain.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._socket = tls.wrap_socket(plain, server_hostname=host) if tls is not None else plain
        except (ssl.SSLError, OSError) as error:
            plain.close()
            raise SmppClientError(f"TLS with {host}:{port} failed: {error}") from None
        self._buffer = PduBuffer()
        self._pending: list[Pdu] = []
        self._sequence = 0
        self.receipts: list[Receipt] = []

    def bind(self, system_id: str, password: str, *, receive: bool = False) -> None:
        """Bind as transmitter, or as transceiver when receipts are wanted."""
        bind = BindTransceiver if receive else BindTransmitter
        response = self._request(bind(system_id=system_id, password=password))
        if response.command_status:
            raise SmppClientError(f"bind as {system_id!r} refused: {status_name(response.command_status)}")

    def submit(
        self, source: str, destination: str, text: str, *, receipt: bool = False, ref: int = 1
    ) -> list[str]:
        """Submit a text (split with a UDH when long); return each part's message_id."""
        ids = []
        for pdu in text_submits(source, destination, text, receipt=receipt, ref=ref):
            response = self._request(pdu)
            if response.command_status:
                raise SmppClientError(
                    f"submit_sm to {destination} refused: {status_name(response.command_status)}"
                )
            ids.append(response.message_id)
        return ids

    def wait_receipts(self, message_ids: list[str], timeout: float) -> list[Receipt]:
        """Wait until a receipt names each of the message_ids (or the timeout); return them."""
        deadline = time.monotonic() + timeout
        wanted = set(message_ids)
        while not wanted <= {r.message_id for r in self.receipts}:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for pdu in self._read(remaining):
                self._pending.append(pdu)
        return [r for r in self.receipts if r.message_id in wanted]

    def close(self) -> None:
        """Unbind (briefly waiting for the answer) and close."""
        with contextlib.suppress(OSError, SmppClientError):  # unanswered or gone: close anyway
            self._socket.settimeout(1.0)
            self._request(Unbind())
        self._socket.close()

    # -- the wire --------------------------------------------------------------------

    def _request(self, pdu: Pdu) -> Any:
        self._sequence += 1
        sequence = self._sequence
        self._socket.sendall(codec.encode(attrs.evolve(pdu, sequence_number=sequence)))
        deadline = time.monotonic() + self.timeout
        while True:
            for answer in self._pending:
                if answer.sequence_number == sequence and answer.is_response:
                    self._pending.remove(answer)
                    return answer
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SmppClientError(f"no answer to {type(pdu).__name__} within {self.timeout:g} s")
            self._pending.extend(self._read(remaining))

    def _read(self, timeout: float) -> Iterator[Pdu]:
        """Read what arrives within ``timeout``; answer deliver_sm and enquire_link on the way."""
        self._socket.settimeout(timeout)
        try:
            data = self._socket.recv(65536)
        except TimeoutError:
            return
        if not data:
            raise SmppClientError("the SMSC closed the connection")
        for raw in self._buffer.feed(data):
            pdu = codec.decode(raw)
            if isinstance(pdu, DeliverSm):
                self._socket.sendall(codec.encode(DeliverSmResp(pdu.sequence_number)))
                if pdu.receipted_message_id is not None:
                    text = pdu.short_message.decode("ascii", "replace")
                    self.receipts.append(Receipt(pdu.receipted_message_id, pdu.message_state or 0, text))
            elif pdu.command_id == CommandId.ENQUIRE_LINK:
                self._socket.sendall(codec.encode(EnquireLinkResp(pdu.sequence_number)))
            else:
                yield pdu
