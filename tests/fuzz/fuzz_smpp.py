"""Coverage-guided fuzzing (atheris, libFuzzer) of the SMPP decoder and the session state machine.

Run: ``python tests/fuzz/fuzz_smpp.py -max_total_time=600 CORPUS_DIR`` (CORPUS_DIR starts from
``tests/fuzz/seeds``; libFuzzer adds what it finds there). A crash is any exception but the
decoder's own ``RemoteProtocolError``, or a decoded PDU that does not survive encode/decode.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["smsgw"]):
    from smsgw.smpp import codec
    from smsgw.smpp.constants import CommandStatus
    from smsgw.smpp.errors import RemoteProtocolError
    from smsgw.smpp.pdu import Pdu
    from smsgw.smpp.session import BindRequested, SessionConfig, SmscSession


def check_codec(data: bytes) -> None:
    try:
        pdu = codec.decode(data)
    except RemoteProtocolError:
        return
    again = codec.decode(codec.encode(pdu))
    if pdu.is_response and pdu.command_status:
        # An error response goes out without a body (SMPP 3.4 §3.2): only its header survives.
        same = (again.command_id, again.command_status, again.sequence_number) == (
            pdu.command_id,
            pdu.command_status,
            pdu.sequence_number,
        )
    else:
        same = again == pdu
    if not same:
        raise AssertionError(f"{pdu!r} came back as {again!r}")


def check_session(data: bytes) -> None:
    """Feed the bytes to an open session, then to one bound as a transceiver; neither may raise."""
    opened = SmscSession(SessionConfig(), now=0.0)
    opened.receive_data(data, 0.0)
    opened.data_to_send()
    bound = SmscSession(SessionConfig(), now=0.0)
    (request,) = bound.receive_data(BIND, 0.0)
    assert isinstance(request, BindRequested)
    bound.accept_bind(request.pdu, "fuzz")
    for event in bound.receive_data(data, 1.0):
        if isinstance(event, Pdu):  # a request the carrier would answer
            bound.respond(event, CommandStatus.ESME_RSYSERR)
    bound.data_to_send()
    bound.tick(100.0)


def one_input(data: bytes) -> None:
    check_codec(data)
    check_session(data)


#: bind_transceiver as "fuzz"/"pw".
BIND = bytes.fromhex("0000001d00000009000000000000000166757a7a007077000034000000")


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
