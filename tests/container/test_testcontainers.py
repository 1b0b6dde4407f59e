"""The Testcontainers module (simulators/container.py) as a team's test uses it, and the pytest
plugin's ``--smsgw-container IMAGE``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "testcontainers", reason="testcontainers is not installed (pip install 'smsgw[container]')"
)

from simulators.container import SmsgwContainer  # noqa: E402
from simulators.http import SmsgwError, call_api  # noqa: E402
from simulators.scenario.esme import ScenarioEsme  # noqa: E402

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_a_test_gets_a_carrier_of_its_own_with_handsets_an_esme_and_the_merchant(smsgw_image: str) -> None:
    with SmsgwContainer(smsgw_image) as smsgw:
        world = smsgw.new_namespace()
        buyer = smsgw.phone(namespace=world.namespace)
        esme = ScenarioEsme(*smsgw.smpp_address(), "smsgw", "smsgw", timeout=10, namespace=world.namespace)
        try:
            submitted = esme.submit("12345", buyer.msisdn, "Your code is 771204", receipt=True)
            assert buyer.wait_for_sms(r"code is 771204").sender == "12345"
            assert [r.stat for r in esme.receipts(submitted.message_ids[0], wait=10)] == ["DELIVRD"]
        finally:
            esme.close()
        shop = smsgw.shop()
        shop.open_wallet(buyer, "30.00")
        order = shop.checkout(buyer, "12.50")
        code = re.search(r"code is (\d+)", buyer.wait_for_sms(r"code is \d+").text)[1]
        assert shop.confirm(order, code)["status"] == "paid"
        assert [
            h["msisdn"] for h in world.api("GET", "/api/handsets", namespace=world.namespace)["handsets"]
        ] == [buyer.msisdn]
        world.reset()
        assert world.api("GET", "/api/handsets", namespace=world.namespace)["handsets"] == []
        api = smsgw.api_url()
    with pytest.raises(SmsgwError):  # the container is gone, and its token forgotten
        call_api(api, "GET", "/api/health", timeout=2)


def test_its_api_wants_its_own_token(smsgw_image: str) -> None:
    with SmsgwContainer(smsgw_image, merchant=False) as smsgw:
        assert call_api(smsgw.api_url(), "GET", "/api/health", timeout=5)["status"] == "ok"
        with pytest.raises(SmsgwError) as refused:
            call_api(smsgw.api_url(), "GET", "/api/health", timeout=5, token="not-the-token-at-all")
        assert refused.value.status == 401
        with pytest.raises(RuntimeError, match="without its mock merchant"):
            smsgw.merchant_url()


def test_the_pytest_plugin_runs_a_teams_tests_against_the_container(smsgw_image: str) -> None:
    example = ROOT / "examples" / "pytest" / "test_payments.py"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", str(example),
         "--smsgw-container", smsgw_image],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env={**os.environ, "SMSGW_URL": ""},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED examples/pytest/test_payments.py::") == 4
