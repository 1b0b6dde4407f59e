"""``smsgw send`` and ``smsgw inbox`` against a running carrier, as a developer types them."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from .conftest import Smsgw

pytestmark = pytest.mark.e2e


def smsgw_command(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smsgw", *args], capture_output=True, text=True, timeout=timeout
    )


def test_send_with_receipt_then_inbox(server: Smsgw) -> None:
    """smsgw send submits over SMPP and prints the receipt; smsgw inbox prints the text the phone shows."""
    ports = str(server.ports_file)
    sent = smsgw_command(
        "send", "--ports-file", ports, "--to", "+8613800000021", "--receipt", "Code 246810 你好"
    )
    assert sent.returncode == 0, sent.stderr
    assert "accepted: message_id" in sent.stdout and "stat:DELIVRD" in sent.stdout
    shown = smsgw_command("inbox", "8613800000021", "--ports-file", ports)
    assert shown.returncode == 0 and "from 12345" in shown.stdout and "Code 246810 你好" in shown.stdout


def test_inbox_wait_prints_the_next_message(server: Smsgw) -> None:
    """smsgw inbox --wait returns with the next message, a long one shown whole."""
    ports = str(server.ports_file)
    text = "part " * 50
    timer = threading.Timer(
        0.5,
        lambda: smsgw_command(
            "send", "--ports-file", ports, "--to", "8613800000022", "--from", "ShopX", text
        ),
    )
    timer.start()
    waited = smsgw_command("inbox", "8613800000022", "--ports-file", ports, "--wait", "10")
    timer.join()
    assert waited.returncode == 0, waited.stderr
    assert "from ShopX" in waited.stdout and text.strip() in waited.stdout


def test_send_reports_a_refusal(server: Smsgw) -> None:
    """A refused bind is reported with its status name and a non-zero exit."""
    failed = smsgw_command(
        "send", "--ports-file", str(server.ports_file), "--password", "nope", "--to", "861", "x"
    )
    assert failed.returncode == 1 and "ESME_RINVPASWD" in failed.stderr


def test_phone_needs_a_terminal(server: Smsgw) -> None:
    """smsgw phone reaches the terminal phone, which says it needs a terminal when run without one."""
    result = smsgw_command("phone", "+8613800000001", "--ports-file", str(server.ports_file))
    assert result.returncode == 2 and "terminal" in result.stderr


def test_merchant_runs_alone_against_a_carrier(server: Smsgw, tmp_path) -> None:
    """smsgw merchant binds to a running carrier with the given account and serves its API."""
    import json
    import signal
    import time
    import urllib.request

    ports = tmp_path / "merchant.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "smsgw", "merchant", "--carrier", f"127.0.0.1:{server.ports['smpp']}",
         "--http-port", "0", "--ports-file", str(ports), "--store", str(tmp_path / "merchant.db")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while not ports.exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        url = json.loads(ports.read_text())["http_url"]
        health = json.load(urllib.request.urlopen(url + "/health", timeout=5))
        assert health["status"] == "ok"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    assert process.returncode == 0


def test_inbox_last_prints_the_newest_message_only(server: Smsgw) -> None:
    """inbox --last shows one message, the newest, so a script can read the code just sent."""
    ports = str(server.ports_file)
    for text in ("Your code is 111111", "Your code is 222222"):
        assert smsgw_command("send", "--ports-file", ports, "--to", "8613800000023", text).returncode == 0
    shown = smsgw_command("inbox", "8613800000023", "--last", "--ports-file", ports)
    assert shown.returncode == 0, shown.stderr
    assert "222222" in shown.stdout and "111111" not in shown.stdout
    as_json = smsgw_command("inbox", "8613800000023", "--last", "--json", "--ports-file", ports)
    assert [m["text"] for m in json.loads(as_json.stdout)["messages"]] == ["Your code is 222222"]


def test_inbox_wait_on_nothing_exits_1_with_and_without_json(server: Smsgw) -> None:
    """Nothing arriving is exit status 1 whether the output is text or JSON."""
    ports = str(server.ports_file)
    plain = smsgw_command("inbox", "8613800000024", "--wait", "1", "--ports-file", ports)
    as_json = smsgw_command("inbox", "8613800000024", "--wait", "1", "--json", "--ports-file", ports)
    assert (plain.returncode, as_json.returncode) == (1, 1), (plain, as_json)
    assert "no message within 1 s" in plain.stdout and json.loads(as_json.stdout)["messages"] == []
    # Without --wait an empty inbox is an answer, not a failure.
    assert smsgw_command("inbox", "8613800000024", "--json", "--ports-file", ports).returncode == 0


def test_inbox_names_an_invalid_number(server: Smsgw) -> None:
    """A typo is called not a phone number, not "not a handset of this network"."""
    shown = smsgw_command("inbox", "abc", "--ports-file", str(server.ports_file))
    assert shown.returncode == 1
    assert "'abc' is not a phone number" in shown.stderr and "handset of this network" not in shown.stderr


def test_api_without_a_scheme_is_taken_as_http(server: Smsgw) -> None:
    """--api 127.0.0.1:PORT works as curl reads it; another scheme is a usage error that says how."""
    address = server.ports["http_url"].removeprefix("http://")
    shown = smsgw_command("inbox", "8613800000001", "--api", address)
    assert shown.returncode == 0, shown.stderr
    wrong = smsgw_command("inbox", "8613800000001", "--api", f"ftp://{address}")
    assert wrong.returncode == 2 and "write http://HOST:PORT" in wrong.stderr


def test_send_receipt_waits_its_timeout_and_counts_one_part(server: Smsgw) -> None:
    """A receipt that cannot come (the phone is off) ends the wait at --timeout, said of one message
    as of one message."""
    server.set_phone("8613800000025", "off")
    try:
        started = time.monotonic()
        sent = smsgw_command(
            "send", "--ports-file", str(server.ports_file), "--to", "8613800000025",
            "--receipt", "--timeout", "1", "hello",
        )  # fmt: skip
        took = time.monotonic() - started
    finally:
        server.set_phone("8613800000025", "on")
    assert sent.returncode == 1
    assert "no receipt within 1 s" in sent.stderr and "parts" not in sent.stderr
    assert took < 8, took  # the old fixed wait was 10 s


def test_serve_says_what_is_wrong_with_a_store_url(tmp_path) -> None:
    wrong = smsgw_command("serve", "--store", "mysql://db/smsgw")
    assert wrong.returncode == 2 and "'mysql://db/smsgw' is not a PostgreSQL URL" in wrong.stderr
    both = smsgw_command("serve", "--store", "postgresql://db/smsgw", "--db", str(tmp_path / "x.db"))
    assert both.returncode == 2 and "not allowed with" in both.stderr
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = smsgw_command(
        "serve",
        "--smpp-port",
        "0",
        "--http-port",
        "0",
        "--store",
        f"postgresql://smsgw:s3cret@127.0.0.1:{port}/smsgw",
    )
    assert down.returncode == 1, down.stderr
    assert f"cannot connect to the store postgresql://smsgw:***@127.0.0.1:{port}/smsgw" in down.stderr
    assert "s3cret" not in down.stderr
