"""One submit_sm at a time from an unmodified smpplib 2.2.4 client, receipts on.

Run as ``python -m benchmarks.smpplib_pingpong --port P [-n N] [--max-seconds S]``; it prints
one JSON line with ``rate`` (submit_sm_resp per second), the receipts seen and the stop reason.

This is how users' test suites drive an SMSC: ``send_message`` then ``read_once`` until the
response arrives, with receipts flowing in between. smpplib never sets TCP_NODELAY, so the
deliver_sm_resp it writes for a receipt followed by the next submit_sm meets Nagle's
algorithm, and unless the server acknowledges at once (TCP_NODELAY plus TCP_QUICKACK re-armed
after each read) every message waits for a delayed ACK: about 46 messages/s
(benchmarks/README.md). The client is used exactly as shipped; only its handlers are set.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any

import smpplib.client  # type: ignore[import-untyped]
import smpplib.consts  # type: ignore[import-untyped]
import smpplib.exceptions  # type: ignore[import-untyped]

from benchmarks import wire


def run_pingpong(
    host: str,
    port: int,
    system_id: str,
    password: str,
    n: int,
    max_seconds: float,
) -> dict[str, Any]:
    """Send up to ``n`` messages one by one, each waiting for its submit_sm_resp.

    :param max_seconds: stop early after this long (a Nagle-bound server manages ~46/s).
    :returns: a JSON-ready dict: ``sent``, ``rate``, ``receipts``, ``errors``, ``stopped``.
    """
    client = smpplib.client.Client(host, port, timeout=10, allow_unknown_opt_params=True)
    responses: list[int] = []
    errors: list[int] = []
    receipts: list[bytes] = []

    def on_sent(pdu: Any, **_kwargs: Any) -> None:
        responses.append(pdu.sequence)

    def on_received(pdu: Any, **_kwargs: Any) -> int:
        receipts.append(pdu.receipted_message_id)
        return 0  # ESME_ROK in the deliver_sm_resp

    def on_error(pdu: Any) -> None:
        errors.append(int(pdu.status))
        responses.append(pdu.sequence)

    client.set_message_sent_handler(on_sent)
    client.set_message_received_handler(on_received)
    client.set_error_pdu_handler(on_error)
    client.connect()
    try:
        client.bind_transceiver(system_id=system_id, password=password)
        sent = 0
        stopped = "complete"
        start = time.perf_counter()
        deadline = start + max_seconds
        while sent < n:
            if time.perf_counter() > deadline:
                stopped = "time limit"
                break
            pdu = client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_UNK,
                source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
                source_addr=wire.SOURCE_ADDR.decode("ascii"),
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                destination_addr=f"{wire.DEST_PREFIX.decode('ascii')}{sent % 100_000:05d}",
                short_message=wire.TEXT,
                data_coding=smpplib.consts.SMPP_ENCODING_DEFAULT,
                registered_delivery=True,
            )
            sent += 1
            while not responses or responses[-1] != pdu.sequence:
                if time.perf_counter() > deadline + 10:
                    raise TimeoutError("no submit_sm_resp within 10 s of the time limit")
                client.read_once()
        elapsed = time.perf_counter() - start
        client.unbind()
    finally:
        client.disconnect()
    return {
        "n": n,
        "sent": sent,
        "rate": sent / elapsed if elapsed else 0.0,
        "seconds": elapsed,
        "receipts": len(receipts),
        "errors": len(errors),
        "stopped": stopped,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: run the ping-pong and print its result as one JSON line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.smpplib_pingpong", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--system-id", default="smsgw")
    parser.add_argument("--password", default="smsgw")
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--max-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    # smpplib logs a warning per unbind-in-bound-state and similar; none of it is a result.
    logging.getLogger("smpp").setLevel(logging.ERROR)
    try:
        result = run_pingpong(args.host, args.port, args.system_id, args.password, args.n, args.max_seconds)
    except (
        OSError,
        TimeoutError,
        smpplib.exceptions.ConnectionError,
        smpplib.exceptions.PDUError,
    ) as exc:
        print(json.dumps({"n": args.n, "error": f"{type(exc).__name__}: {exc}"}))
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
