"""A blocking TCP connection read one length-prefixed PDU at a time, with deadlines: what the
tests' raw SMPP session and their CMPP client both read with (each PDU starts with its whole
length in four octets, big-endian, in either protocol)."""

from __future__ import annotations

import socket
import struct
import time

READ_TIMEOUT = 10.0


class FramedSocket:
    """A connection whose PDUs start with their Total_Length (command_length).

    :param header_size: the shortest a PDU can be (SMPP 16, CMPP 12).
    :param timeout: how long a read waits unless told otherwise, in seconds.
    """

    def __init__(self, address: tuple[str, int], header_size: int, timeout: float = READ_TIMEOUT) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        self.header_size = header_size
        self.timeout = timeout
        self._buffer = b""

    def _fill(self, size: int, deadline: float) -> bool:
        while len(self._buffer) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"nothing complete arrived within the deadline ({len(self._buffer)} octets held)"
                )
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return False
            self._buffer += chunk
        return True

    def read_raw(self, timeout: float | None = None) -> bytes | None:
        """One whole PDU's octets, or None if the server closed the connection first."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        if not self._fill(self.header_size, deadline):
            return None
        (length,) = struct.unpack_from(">I", self._buffer)
        assert self.header_size <= length <= 1 << 20, f"server sent a length of {length}"
        if not self._fill(length, deadline):
            return None
        raw, self._buffer = self._buffer[:length], self._buffer[length:]
        return raw

    def is_closed(self, timeout: float | None = None) -> bool:
        """Whether the server closes the connection within ``timeout`` (octets sent before are skipped)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                if not self._fill(len(self._buffer) + 1, deadline):
                    return True
            except AssertionError:
                return False

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()
