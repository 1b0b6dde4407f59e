"""smsgw's image as a CI pipeline runs it: ``docker run`` with published ports, an ESME bound
from the host over SMPP, the buyer's OTP payment through the mock merchant, settings by
``SMSGW_…`` variables and a mounted TOML file, the store on a volume, ``docker stop``."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import smpplib.client
import smpplib.consts

from simulators.handset import Phone
from simulators.http import SmsgwError, call_api
from simulators.merchant.client import Shop
from smsgw.apiclient import use_token
from tests.docker import docker
from tests.e2e.cmppclient import CmppClient

pytestmark = pytest.mark.e2e

TOKEN = "container-test-token-0123456789"


class Container:
    """One ``docker run -d`` of the image, its ports published on the host's loopback; with
    ``token``, the simulators' clients send it to its APIs."""

    def __init__(
        self, image: str, *options: str, token: str | None = None, args: tuple[str, ...] = ()
    ) -> None:
        self.name = f"smsgw-test-{secrets.token_hex(4)}"
        published = [f"-p127.0.0.1::{port}" for port in (2775, 7890, 8775, 8776)]
        given = ("-e", f"SMSGW_TOKEN={token}") if token else ()
        docker("run", "--detach", "--name", self.name, *published, *given, *options, image, *args)
        self.urls = [self.url(8775), self.url(8776)] if token else []
        for url in self.urls:
            use_token(url, token)

    def port(self, inside: int) -> int:
        return int(docker("port", self.name, f"{inside}/tcp").stdout.split()[0].rpartition(":")[2])

    def url(self, inside: int) -> str:
        return f"http://127.0.0.1:{self.port(inside)}"

    def health(self) -> str:
        return docker("inspect", "--format", "{{.State.Health.Status}}", self.name).stdout.strip()

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while (health := self.health()) != "healthy":
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} is {health} after {timeout:g} s: {self.logs()}")
            time.sleep(0.25)

    def logs(self) -> str:
        done = docker("logs", self.name, check=False)
        return done.stdout + done.stderr

    def stop(self) -> int:
        """``docker stop``; the exit status of smsgw in it."""
        docker("stop", "--time", "10", self.name)
        return int(docker("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout)

    def remove(self) -> None:
        for url in self.urls:
            use_token(url, None)
        docker("rm", "--force", "--volumes", self.name, check=False)


@pytest.fixture
def run(smsgw_image: str) -> Iterator[Callable[..., Container]]:
    started: list[Container] = []

    def start(*options: str, token: str | None = TOKEN, args: tuple[str, ...] = ()) -> Container:
        started.append(Container(smsgw_image, *options, token=token, args=args))
        return started[-1]

    yield start
    for container in started:
        container.remove()


def bound_esme(
    port: int, system_id: str = "smsgw", password: str = "smsgw"
) -> tuple[smpplib.client.Client, list]:
    received: list = []
    client = smpplib.client.Client("127.0.0.1", port, timeout=10, allow_unknown_opt_params=True)
    client.set_message_received_handler(lambda pdu: received.append(pdu) or 0)
    client.connect()
    client.bind_transceiver(system_id=system_id, password=password)
    return client, received


def test_an_esme_on_the_host_sends_an_otp_and_a_buyer_pays_with_it(run: Callable[..., Container]) -> None:
    container = run()
    container.wait_healthy()
    api, merchant = container.url(8775), container.url(8776)
    handset = Phone("+8613800000001", api)
    esme, received = bound_esme(container.port(2775))
    try:
        esme.send_message(
            source_addr="12345",
            destination_addr="8613800000001",
            short_message=b"Your code is 482913",
            registered_delivery=smpplib.consts.SMPP_SMSC_DELIVERY_RECEIPT_BOTH,
        )
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            esme.read_once()
        assert b"stat:DELIVRD" in bytes(received[0].short_message)
    finally:
        esme.unbind()
        esme.disconnect()
    assert handset.wait_for_sms(r"Your code is 482913").sender == "12345"

    buyer, shop = Phone.provision(None, api), Shop(merchant)
    shop.open_wallet(buyer, "100.00")
    order = shop.checkout(buyer, "25.00", method="otp")
    code = re.search(r"code is (\d+)", buyer.wait_for_sms(r"code is \d+").text)[1]
    assert shop.confirm(order, code)["status"] == "paid"
    assert shop.wallet(buyer)["balance"] == 7500  # minor units
    assert container.stop() == 0  # SIGTERM: smsgw unbinds and closes its store


def test_a_cmpp_sp_on_the_host_connects_and_its_text_reaches_the_handset(
    run: Callable[..., Container],
) -> None:
    """CMPP's port is published as SMPP's is: the built-in SP connects from the host."""
    container = run()
    container.wait_healthy()
    handset = Phone("+8613800000003", container.url(8775))  # before the submit: its cursor starts here
    sp = CmppClient(("127.0.0.1", container.port(7890)))
    try:
        assert sp.connect("901234", "smsgw").status == 0
        answer = sp.submit(
            msg_src="901234",
            src_id="1065712345",
            msg_fmt=8,
            dest_terminal_ids=("8613800000003",),
            msg_content="验证码 5150".encode("utf-16-be"),
        )
        assert answer.result == 0
    finally:
        sp.close()
    assert handset.wait_for_sms("验证码 5150").sender == "1065712345"


def test_it_runs_unprivileged_and_keeps_its_store_on_the_volume(run: Callable[..., Container]) -> None:
    volume = f"smsgw-test-{secrets.token_hex(4)}"
    options = ("-v", f"{volume}:/data")
    try:
        first = run(*options)
        first.wait_healthy()
        assert docker("exec", first.name, "id", "-u").stdout.strip() == "10001"
        Phone("+8613800000002", first.url(8775)).send_sms("kept across containers", to="12345")
        assert first.stop() == 0
        second = run(*options)
        second.wait_healthy()
        messages = call_api(second.url(8775), "GET", "/api/messages", timeout=10, token=TOKEN)["messages"]
        assert "kept across containers" in [m["text"] for m in messages]
    finally:
        docker("volume", "rm", "--force", volume, check=False)


def test_settings_come_from_a_mounted_file_and_smsgw_variables(
    run: Callable[..., Container], tmp_path: Path
) -> None:
    config = tmp_path / "smsgw.toml"
    config.write_text(
        '[[accounts]]\nsystem_id = "shop"\npassword = "secret1"\n\n[network]\ndefault_account = "shop"\n'
    )
    config.chmod(0o644)
    container = run(
        "-v", f"{config}:/etc/smsgw/smsgw.toml:ro",
        "-e", "SMSGW_CONFIG=/etc/smsgw/smsgw.toml",
        "-e", f"SMSGW_HTTP_TOKEN={TOKEN}",
        "-e", "SMSGW_NETWORK_COUNTRY_CODE=44",
        token=None,
        args=("--no-merchant",),
    )  # fmt: skip
    container.wait_healthy()
    esme, _ = bound_esme(container.port(2775), "shop", "secret1")
    esme.unbind()
    esme.disconnect()
    handsets = call_api(container.url(8775), "GET", "/api/handsets", timeout=10, token=TOKEN)["handsets"]
    fresh = call_api(container.url(8775), "POST", "/api/handsets", body={}, timeout=10, token=TOKEN)
    assert fresh["msisdn"].startswith("44"), (fresh, handsets)


def test_a_wrong_variable_stops_it_with_a_message_naming_the_variable(smsgw_image: str) -> None:
    done = docker("run", "--rm", "-e", "SMSGW_SMPP_PORT=twenty", smsgw_image, check=False, timeout=60)
    assert done.returncode == 2
    assert "$SMSGW_SMPP_PORT: smpp.port: 'twenty' is not an integer" in done.stderr


def test_without_a_token_it_makes_one_up_unless_told_not_to(run: Callable[..., Container]) -> None:
    guarded = run(token=None)
    guarded.wait_healthy()  # its health check reads the made-up token from its ports file
    with pytest.raises(SmsgwError) as refused:
        call_api(guarded.url(8775), "GET", "/api/handsets", timeout=10)
    assert refused.value.status == 401
    made_up = re.search(r"\?token=(\S+)", guarded.logs())
    assert made_up is not None
    assert call_api(guarded.url(8775), "GET", "/api/handsets", timeout=10, token=made_up[1])["handsets"]

    open_ = run("-e", "SMSGW_HTTP_REQUIRE_TOKEN=false", token=None)
    open_.wait_healthy()
    assert call_api(open_.url(8775), "GET", "/api/handsets", timeout=10)["handsets"]
    assert "takes requests without a token" in open_.logs()
