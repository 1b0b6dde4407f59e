"""CMPP_CONNECT's authenticators and its timestamp.

AuthenticatorSource = MD5(Source_Addr + 9 NUL octets + shared secret + Timestamp), the
timestamp as the ten digits MMDDHHMMSS; AuthenticatorISMG = MD5(Status + AuthenticatorSource
+ shared secret), Status as it is on the wire: 1 octet in 2.0, 4 in 3.0 (the specification does
not say; gocmpp does this, and no client we know checks it).
"""

from __future__ import annotations

import hashlib
import hmac
import time

from smsgw.cmpp.constants import Version


def timestamp(when: float) -> int:
    """MMDDHHMMSS of a time (local time, as SPs stamp it) as the number the field carries."""
    return int(time.strftime("%m%d%H%M%S", time.localtime(when)))


def authenticator_source(source_addr: str, secret: str, stamp: int) -> bytes:
    """What an SP sends in CMPP_CONNECT."""
    return hashlib.md5(
        source_addr.encode("latin-1") + bytes(9) + secret.encode("utf-8") + f"{stamp:010d}".encode("ascii")
    ).digest()


def is_authentic(given: bytes, source_addr: str, secret: str, stamp: int) -> bool:
    """Whether a CONNECT's authenticator is the SP's (compared in constant time)."""
    return hmac.compare_digest(given, authenticator_source(source_addr, secret, stamp))


def authenticator_ismg(status: int, source: bytes, secret: str, version: Version) -> bytes:
    """What the ISMG answers in CMPP_CONNECT_RESP; 16 NUL octets when the connect failed."""
    if status:
        return bytes(16)
    width = 4 if version is Version.V30 else 1
    return hashlib.md5(status.to_bytes(width, "big") + source + secret.encode("utf-8")).digest()
