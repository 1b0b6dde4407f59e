"""Inputs the fuzzer (tests/fuzz/fuzz_smpp.py) found, kept as regressions."""

from __future__ import annotations

import base64

import pytest

from smsgw.smpp import codec
from smsgw.smpp.constants import CommandStatus
from smsgw.smpp.errors import RemoteProtocolError


@pytest.mark.parametrize("raw", [b"", b"\x00\x00\x00\x10\x00\x00"], ids=["empty", "short"])
def test_less_than_a_header_is_the_decoders_own_error(raw: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        codec.decode(raw)
    assert caught.value.command_status == CommandStatus.ESME_RINVCMDLEN


def test_a_length_that_is_not_the_pdus_own_is_refused() -> None:
    # Found by atheris: 22 declared, 34 given; the decoder read TLVs past the declared end.
    raw = base64.b64decode("AAAAFoAAAAUAAAABAAAAAAAAOAAAAAAABQAWgAAABQAAAA==")
    with pytest.raises(RemoteProtocolError) as caught:
        codec.decode(raw)
    assert caught.value.command_status == CommandStatus.ESME_RINVCMDLEN
    assert (caught.value.command_id, caught.value.sequence_number) == (0x80000005, 0)
