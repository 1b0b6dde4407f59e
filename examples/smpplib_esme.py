"""A worked ESME on smpplib: the shop's side of an OTP payment, against smsgw.

It binds as a transceiver, texts a one-time code to the buyer's phone with a delivery receipt
asked for, prints the receipt, then waits for the buyer's reply (``YES <code>``) and confirms.
Run it beside a carrier (``make run``), and answer from the phone with the API or the console::

    .venv/bin/python examples/smpplib_esme.py --to 8613800000002
    curl -s -X POST localhost:8775/api/handsets/8613800000002/sms -d '{"to": "12345", "text": "YES 482913"}'

With ``--namespace``, the bind declares that namespace (address_range ``ns:NAME``): only the
MO and receipts of that namespace's handsets come to it, as for a test on a shared carrier.
"""

from __future__ import annotations

import argparse
import re
import secrets
import sys
import time

import smpplib.client
import smpplib.consts
import smpplib.gsm

RECEIPT = re.compile(r"id:(?P<id>\S+) .*stat:(?P<stat>[A-Z]+)")
#: esm_class message type of a delivery receipt (SMPP v3.4 §5.2.12).
RECEIPT_TYPE = 0x04


def main() -> int:
    parser = argparse.ArgumentParser(description="An OTP shop on smpplib, talking to smsgw")
    parser.add_argument("--smpp", default="127.0.0.1:2775", help="the carrier's SMPP host:port")
    parser.add_argument("--system-id", default="smsgw")
    parser.add_argument("--password", default="smsgw")
    parser.add_argument("--short-code", default="12345", help="the account's short code: our sender")
    parser.add_argument("--to", required=True, help="the buyer's phone number")
    parser.add_argument("--namespace", default="", help="bind in this namespace (address_range ns:NAME)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the buyer")
    args = parser.parse_args()

    host, _, port = args.smpp.rpartition(":")
    code = f"{secrets.randbelow(10**6):06d}"
    events: list[tuple[str, str]] = []

    def received(pdu: smpplib.command.DeliverSM) -> int:
        text = bytes(pdu.short_message).decode("latin-1")
        if pdu.esm_class & 0x3C == RECEIPT_TYPE:
            found = RECEIPT.search(text)
            events.append(("receipt", found["stat"] if found else text))
        else:
            events.append(("mo", text.strip()))
        return 0  # deliver_sm_resp ESME_ROK: we have it

    client = smpplib.client.Client(host, int(port), timeout=5, allow_unknown_opt_params=True)
    client.set_message_received_handler(received)
    client.set_message_sent_handler(lambda pdu: None)  # submit_sm_resp: nothing to do
    client.connect()
    address_range = f"ns:{args.namespace}" if args.namespace else ""
    client.bind_transceiver(system_id=args.system_id, password=args.password, address_range=address_range)
    try:
        parts, coding, esm_class = smpplib.gsm.make_parts(
            f"Your ShopX code is {code}. Reply YES {code} to pay."
        )
        for part in parts:
            client.send_message(
                source_addr=args.short_code,
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                destination_addr=args.to.lstrip("+"),
                short_message=part,
                data_coding=coding,
                esm_class=esm_class,
                registered_delivery=True,
            )
        print(f"sent code {code} to {args.to}", flush=True)
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            try:
                client.read_once()
            except TimeoutError:
                continue  # nothing within the socket timeout; keep waiting for the buyer
            while events:
                kind, text = events.pop(0)
                if kind == "receipt":
                    print(f"receipt: {text}", flush=True)
                elif text.upper() == f"YES {code}":
                    print(f"buyer confirmed with {text!r}: paid", flush=True)
                    return 0
                else:
                    print(f"buyer said {text!r}: not the code", flush=True)
        print(f"no confirmation within {args.timeout:g} s", file=sys.stderr)
        return 1
    finally:
        client.unbind()
        client.disconnect()


if __name__ == "__main__":
    sys.exit(main())
