"""pytest fixtures for testing against smsgw, loaded by ``pip install smsgw`` (entry point ``pytest11``).

- ``carrier``: the running fake carrier, with this test's own namespace, reset after the test.
  It is started once per session on free ports (``smsgw serve`` with the mock merchant and an
  in-memory store, and ``--smsgw-config FILE`` / ``$SMSGW_CONFIG`` as its ``--config``), or it
  is the one at ``--smsgw-url`` / ``$SMSGW_URL``. ``carrier.smpp_host``, ``smpp_port``,
  ``system_id`` and ``password`` are what an ESME of your own binds with.
- ``phone``: makes handsets in the test's namespace: ``phone()`` on a fresh number,
  ``phone(wallet="50.00")`` with a merchant wallet, ``phone("+8613800000001")`` a given one.
- ``merchant``: the mock merchant's client (:class:`~simulators.merchant.client.Shop`).
- ``esme``: an SMPP transceiver bound to the carrier (as ``smsgw``), recording the receipts it gets.

Tests running at once (pytest-xdist) each get their own namespace, so neither sees the other's
handsets or faults. The carrier's clock is one for everybody: a test that advances it moves
time for every test running at that moment.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from simulators.carrier_process import CarrierProcess, CarrierStartError
from simulators.handset import Phone
from simulators.http import SmsgwError, call_api
from simulators.merchant.client import Shop
from simulators.scenario.esme import ScenarioEsme

#: The built-in account (system_id and password) of a carrier without configuration.
DEFAULT_ACCOUNT = "smsgw"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("smsgw")
    group.addoption(
        "--smsgw-url",
        default=os.environ.get("SMSGW_URL"),
        help="HTTP API of a running smsgw to test against (default: start one for the session)",
    )
    group.addoption(
        "--smsgw-config",
        default=os.environ.get("SMSGW_CONFIG") or None,
        metavar="FILE",
        help="smsgw serve --config FILE for the carrier the session starts (default $SMSGW_CONFIG)",
    )


@attrs.define
class Carrier:
    """The carrier as one test sees it.

    :ivar smpp: ``(host, port)`` of its SMPP listener, as ``smpp_host`` and ``smpp_port`` too.
    :ivar system_id: with ``password``, the account an ESME of the test binds as: the carrier's
        first account when the session started it (``smsgw`` unless ``--smsgw-config`` says
        otherwise), the built-in ``smsgw``/``smsgw`` at ``--smsgw-url``.
    :ivar namespace: this test's world: its handsets and faults carry it, and it is reset after.
    """

    http_url: str
    merchant_url: str | None
    smpp: tuple[str, int]
    namespace: str
    system_id: str = DEFAULT_ACCOUNT
    password: str = DEFAULT_ACCOUNT
    timeout: float = 10.0
    _shared_faults: list[str] = attrs.Factory(list)

    @property
    def smpp_host(self) -> str:
        return self.smpp[0]

    @property
    def smpp_port(self) -> int:
        return self.smpp[1]

    def api(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        """One call to the carrier's HTTP API (``/api/...``); the decoded JSON."""
        return call_api(self.http_url, method, path, body=body, query=query or None, timeout=self.timeout)

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        """Move the carrier's time forward (validity, retries, USSD and OTP expiry)."""
        moved: dict[str, Any] = self.api("POST", "/api/clock", {"advance_seconds": seconds})
        return moved

    def messages(self, **filters: Any) -> list[dict[str, Any]]:
        """This test's messages in the carrier's log, newest first (filters as ``GET /api/messages``)."""
        found: list[dict[str, Any]] = self.api("GET", "/api/messages", namespace=self.namespace, **filters)[
            "messages"
        ]
        return found

    def add_fault(
        self, name: str, effect: str, *, msisdn: Phone | str | None = None, **rule: Any
    ) -> dict[str, Any]:
        """A fault rule for this test's handsets only (keys as in docs/faults.md); removed when
        the test ends.

        :param msisdn: one handset (a :class:`Phone`) or a glob over numbers. A number given to
            ``phone()`` is in no namespace: a rule on it strikes it for every test.
        """
        body: dict[str, Any] = {"name": f"{self.namespace}:{name}", "effect": effect, **rule}
        shared = False
        if isinstance(msisdn, Phone):
            shared = self.api("GET", f"/api/handsets/{msisdn.msisdn}")["namespace"] != self.namespace
            msisdn = msisdn.msisdn
        if msisdn is not None:
            body["msisdn"] = msisdn
        if not shared:
            body["namespace"] = self.namespace
        else:
            self._shared_faults.append(body["name"])
        added: dict[str, Any] = self.api("POST", "/api/faults", body)
        return added

    def reset(self) -> None:
        """Clear this test's world: its handsets and faults."""
        for name in self._shared_faults:
            try:
                self.api("DELETE", f"/api/faults/{name}")
            except SmsgwError as error:
                if error.status != 404:
                    raise
        try:
            self.api("DELETE", f"/api/namespaces/{self.namespace}")
        except SmsgwError as error:
            if error.status != 404:
                raise


@pytest.fixture(scope="session")
def smsgw_endpoints(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Where the carrier is: the one named by --smsgw-url, else one started for the session."""
    url = request.config.getoption("--smsgw-url")
    if url:
        health = call_api(url.rstrip("/"), "GET", "/api/health", timeout=10.0)
        yield {
            "http_url": url.rstrip("/"),
            "merchant_url": health.get("merchant", {}).get("url"),
            "smpp": (health["smpp"]["host"], int(health["smpp"]["port"])),
        }
        return
    config = request.config.getoption("--smsgw-config")
    if config and not Path(config).is_file():
        pytest.exit(f"--smsgw-config {config}: no such file", returncode=pytest.ExitCode.USAGE_ERROR)
    with tempfile.TemporaryDirectory(prefix="smsgw-pytest-") as workdir:
        process = CarrierProcess(Path(workdir), config_path=Path(config) if config else None)
        try:
            try:
                ports = process.wait_ready()
            except CarrierStartError as error:
                pytest.exit(f"the carrier did not start: {error}", returncode=pytest.ExitCode.USAGE_ERROR)
            yield {
                "http_url": ports["http_url"],
                "merchant_url": ports.get("merchant_url"),
                "smpp": (ports["smpp_host"], int(ports["smpp"])),
                "system_id": ports["system_id"],
                "password": ports["password"],
            }
        finally:
            process.stop()


@pytest.fixture
def carrier(smsgw_endpoints: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Carrier]:
    """The running carrier, in a namespace of this test's own, reset when the test ends."""
    namespace = f"t-{secrets.token_hex(4)}"
    world = Carrier(
        smsgw_endpoints["http_url"],
        smsgw_endpoints["merchant_url"],
        smsgw_endpoints["smpp"],
        namespace,
        system_id=smsgw_endpoints.get("system_id", DEFAULT_ACCOUNT),
        password=smsgw_endpoints.get("password", DEFAULT_ACCOUNT),
    )
    yield world
    world.reset()


@pytest.fixture
def merchant(carrier: Carrier) -> Shop:
    """The mock merchant's client."""
    url = carrier.merchant_url
    if url is None:
        pytest.fail("the carrier runs without its mock merchant (started with --no-merchant?)")
    return Shop(url, timeout=carrier.timeout)


@pytest.fixture
def phone(carrier: Carrier, request: pytest.FixtureRequest) -> Iterator[Callable[..., Phone]]:
    """Makes handsets in this test's namespace.

    ``phone(msisdn=None, *, name="", state="on", wallet=None, pin="1234")``: a fresh number
    unless one is given; ``wallet`` opens a merchant wallet with that balance (``"50.00"``).
    A given number is shared with other tests: its state is put back when the test ends.
    """
    restore: list[tuple[Phone, str]] = []

    def make(
        msisdn: str | None = None,
        *,
        name: str = "",
        state: str = "on",
        wallet: str | int | None = None,
        pin: str = "1234",
    ) -> Phone:
        if msisdn is None:
            handset = Phone.provision(
                None,
                carrier.http_url,
                name=name,
                state=state,
                namespace=carrier.namespace,
                timeout=carrier.timeout,
            )
        else:
            handset = Phone(msisdn, carrier.http_url, timeout=carrier.timeout)
            if (before := handset.state) != state:
                restore.append((handset, before))
                handset.set_state(state)
        if wallet is not None:
            request.getfixturevalue("merchant").open_wallet(handset, wallet, pin=pin)
        return handset

    yield make
    for handset, state in reversed(restore):
        handset.set_state(state)


@pytest.fixture
def esme(carrier: Carrier) -> Iterator[ScenarioEsme]:
    """An SMPP transceiver bound to the carrier as ``smsgw`` in the test's namespace (so the
    receipts and MO of the test's handsets come to it, and no other test's); unbound after
    the test."""
    client = ScenarioEsme(
        *carrier.smpp, "smsgw", "smsgw", timeout=carrier.timeout, namespace=carrier.namespace
    )
    yield client
    client.close()
