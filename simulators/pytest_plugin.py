"""pytest fixtures for testing against smsgw, loaded by ``pip install smsgw`` (entry point ``pytest11``).

- ``carrier``: the running fake carrier, with this test's own namespace, reset after the test.
  It is started once per session on free ports (``smsgw serve`` with the mock merchant and an
  in-memory store, and ``--smsgw-config FILE`` / ``$SMSGW_CONFIG`` as its ``--config``), or it
  is the one at ``--smsgw-url`` / ``$SMSGW_URL``, or a container of the image
  ``--smsgw-container IMAGE`` / ``$SMSGW_CONTAINER`` (:mod:`simulators.container`; needs
  ``smsgw[container]`` and Docker). ``carrier.smpp_host``, ``smpp_port``,
  ``system_id`` and ``password`` are what an ESME of your own binds with.
- ``phone``: makes handsets in the test's namespace: ``phone()`` on a fresh number,
  ``phone(wallet="50.00")`` with a merchant wallet, ``phone("+8613800000001")`` a given one.
- ``merchant``: the mock merchant's client (:class:`~simulators.merchant.client.Shop`).
- ``esme``: an SMPP transceiver bound to the carrier (as ``smsgw``), recording the receipts it gets.

Tests running at once (pytest-xdist) each get their own namespace, so neither sees the other's
handsets or faults, and its own clock: ``carrier.advance_clock(301)`` moves the time of the
test's handsets (their messages, USSD dialogues and merchant orders) and nobody else's.
``advance_clock(s, whole_carrier=True)`` moves every test's time, as a handset on a fixed
number (in no namespace) needs.

A failed test that used ``carrier`` (or ``phone``, ``merchant``, ``esme``) shows the timeline of
its handsets (``GET /api/timeline``: every PDU, message state, USSD screen and merchant step,
in order), and with ``--junitxml`` writes it beside the JUnit file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from simulators import timeline
from simulators.carrier_process import CarrierProcess, CarrierStartError
from simulators.handset import Phone
from simulators.http import call_api
from simulators.merchant.client import Shop
from simulators.scenario.esme import ScenarioEsme
from simulators.world import DEFAULT_ACCOUNT, Carrier

__all__ = ["DEFAULT_ACCOUNT", "Carrier"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("smsgw")
    group.addoption(
        "--smsgw-url",
        default=os.environ.get("SMSGW_URL"),
        help="HTTP API of a running smsgw to test against (default: start one for the session)",
    )
    group.addoption(
        "--smsgw-container",
        default=os.environ.get("SMSGW_CONTAINER") or None,
        metavar="IMAGE",
        help="start the carrier for the session as a container of this smsgw image (default $SMSGW_CONTAINER)",
    )
    group.addoption(
        "--smsgw-config",
        default=os.environ.get("SMSGW_CONFIG") or None,
        metavar="FILE",
        help="smsgw serve --config FILE for the carrier the session starts (default $SMSGW_CONFIG)",
    )


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
    image = request.config.getoption("--smsgw-container")
    if image:
        yield from _container_endpoints(image)
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


def _container_endpoints(image: str) -> Iterator[dict[str, Any]]:
    try:
        from simulators.container import SmsgwContainer
    except ImportError as error:
        pytest.exit(
            f"--smsgw-container needs testcontainers: pip install 'smsgw[container]' ({error})",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
    container = None
    try:
        container = SmsgwContainer(image)  # connects to the Docker engine already
        container.start()
    except Exception as error:  # the image, the engine or the carrier: each says what went wrong
        if container is not None:
            with contextlib.suppress(Exception):  # the error to show is the start's
                container.stop()
        pytest.exit(
            f"the smsgw container ({image}) did not start: {error}", returncode=pytest.ExitCode.USAGE_ERROR
        )
    try:
        yield {
            "http_url": container.api_url(),
            "merchant_url": container.merchant_url(),
            "smpp": container.smpp_address(),
        }
    finally:
        container.stop()


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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test that used the carrier shows its handsets' timeline: a report section
    ("smsgw timeline", printed with the failure) and, with ``--junitxml``, files beside the
    JUnit file named in the test case's properties (``smsgw_timeline``). It is read in the call
    phase's report, before the carrier fixture resets the test's namespace."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    world = getattr(item, "funcargs", {}).get("carrier")
    if report.when != "call" or not report.failed or not isinstance(world, Carrier):
        return
    steps, note = timeline.fetch(world.http_url, world.namespace, timeout=world.timeout)
    if not steps:
        report.sections.append(("smsgw timeline", note))
        return
    report.sections.append(
        (f"smsgw timeline of namespace {world.namespace}", timeline.text(steps, printed=timeline.PRINTED))
    )
    junit = item.config.getoption("xmlpath", None)
    if junit:
        junit_path = Path(junit)
        written = timeline.write(junit_path.parent / f"{junit_path.stem}.timelines", item.nodeid, steps)
        item.user_properties.append(
            ("smsgw_timeline", str(written.resolve()))
        )  # the teardown report carries them
