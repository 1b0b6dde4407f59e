"""Coverage-guided fuzzing (atheris, libFuzzer) of the CMPP decoder, in both versions.

Run: ``python tests/fuzz/fuzz_cmpp.py -max_total_time=600 CORPUS_DIR`` (CORPUS_DIR starts from
``tests/fuzz/cmpp_seeds``). A crash is any exception but the decoder's own
``RemoteProtocolError``, or a decoded PDU (or status report) that does not survive
encode/decode.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["smsgw"]):
    from smsgw.cmpp import codec
    from smsgw.cmpp.constants import Version
    from smsgw.cmpp.errors import RemoteProtocolError
    from smsgw.cmpp.pdu import Deliver, Pdu


def same_again(pdu: Pdu, version: Version) -> None:
    again = codec.decode(codec.encode(pdu, version), version)
    if again != pdu:
        raise AssertionError(f"{pdu!r} came back as {again!r}")


def one_input(data: bytes) -> None:
    for version in Version:
        try:
            pdu = codec.decode(data, version)
        except RemoteProtocolError:
            continue
        # Text fields are cut at their first NUL, and a 3.0-only field of a 2.0 PDU is not on
        # its wire: compare what the wire can carry, after one encode.
        same_again(codec.decode(codec.encode(pdu, version), version), version)
        if isinstance(pdu, Deliver) and pdu.registered_delivery == 1:
            try:
                report = codec.decode_report(pdu.msg_content, version)
            except RemoteProtocolError:
                continue
            if codec.decode_report(codec.encode_report(report, version), version) != report:
                raise AssertionError(f"{report!r} did not come back")


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
