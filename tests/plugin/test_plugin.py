"""The pytest plugin as a team uses it: a test file with only its fixtures, run by pytest."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from simulators.carrier_process import CarrierProcess

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pytest" / "test_payments.py"


def run_pytest(*args: str) -> subprocess.CompletedProcess[str]:
    # A fresh interpreter: the plugin must come in through its pytest11 entry point alone.
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "SMSGW_URL": ""},
    )  # fmt: skip


def test_the_example_file_passes_with_the_plugin_fixtures_only() -> None:
    result = run_pytest(str(EXAMPLE), "-rA")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in (
        "test_buyer_pays_with_the_code_from_the_sms",
        "test_the_code_expires_after_five_minutes",
        "test_the_esme_gets_its_receipt",
        "test_a_phone_that_is_off_gets_its_sms_later",
    ):
        assert f"PASSED examples/pytest/test_payments.py::{name}" in result.stdout


def test_the_otp_flow_takes_under_ten_lines() -> None:
    (otp,) = [
        node
        for node in ast.parse(EXAMPLE.read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef) and node.name == "test_buyer_pays_with_the_code_from_the_sms"
    ]
    assert [arg.arg for arg in otp.args.args] == ["phone", "merchant"]
    assert otp.end_lineno is not None and otp.end_lineno - otp.lineno + 1 < 10


def test_a_failing_expectation_fails_the_test(tmp_path: Path) -> None:
    test = tmp_path / "test_wrong.py"
    test.write_text(
        "def test_wrong_amount(phone, merchant):\n"
        "    buyer = phone(wallet='100.00')\n"
        "    merchant.checkout(buyer, '25.00')\n"
        "    buyer.wait_for_sms(r'code is \\d+ to pay 26\\.00', timeout=1)\n",
        encoding="utf-8",
    )
    result = run_pytest(str(test))
    assert result.returncode == 1
    assert "SmsNotReceived" in result.stdout and "to pay 25.00 CNY" in result.stdout


def test_each_test_has_its_own_namespace_reset_afterwards(tmp_path: Path) -> None:
    test = tmp_path / "test_worlds.py"
    test.write_text(
        "seen = []\n"
        "def test_one(carrier, phone):\n"
        "    phone(); phone()\n"
        "    seen.append(carrier)\n"
        "    assert len(carrier.api('GET', '/api/handsets', namespace=carrier.namespace)['handsets']) == 2\n"
        "def test_two(carrier, phone):\n"
        "    phone()\n"
        "    (first,) = seen\n"
        "    assert carrier.namespace != first.namespace\n"
        "    assert carrier.api('GET', '/api/handsets', namespace=first.namespace)['handsets'] == []\n"
        "    assert len(carrier.api('GET', '/api/handsets', namespace=carrier.namespace)['handsets']) == 1\n",
        encoding="utf-8",
    )
    result = run_pytest(str(test))
    assert result.returncode == 0, result.stdout + result.stderr


def test_shared_numbers_are_put_back_and_faults_stay_with_their_test(tmp_path: Path) -> None:
    test = tmp_path / "test_shared.py"
    test.write_text(
        "def test_switch_a_demo_phone_off(phone):\n"
        "    assert phone('+8613800000005', state='off').state == 'off'\n"
        "def test_it_is_on_again(carrier):\n"
        "    assert carrier.api('GET', '/api/handsets/8613800000005')['state'] == 'on'\n"
        "def test_a_fault_on_my_phone_only(carrier, phone, esme):\n"
        "    buyer, other = phone(), phone()\n"
        "    carrier.add_fault('busy', 'refuse_submit', msisdn=buyer, status='ESME_RSYSERR')\n"
        "    assert esme.submit('12345', buyer.msisdn, 'x', receipt=False).status == 8\n"
        "    assert esme.submit('12345', other.msisdn, 'x', receipt=False).status == 0\n"
        "def test_the_fault_is_gone(carrier):\n"
        "    assert not [f for f in carrier.api('GET', '/api/faults')['faults'] if f['name'].endswith(':busy')]\n",
        encoding="utf-8",
    )
    result = run_pytest(str(test), "-p", "no:randomly")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_session_carrier_takes_a_config_and_gives_its_smpp_address_and_account(tmp_path: Path) -> None:
    config = tmp_path / "smsgw.toml"
    config.write_text(
        '[network]\ndefault_account = "shop"\n\n[[accounts]]\nsystem_id = "shop"\npassword = "secret"\n\n[merchant]\nshop_name = "AcmeShop"\n',
        encoding="utf-8",
    )
    test = tmp_path / "test_own_config.py"
    test.write_text(
        "from simulators.scenario.esme import ScenarioEsme\n"
        "def test_bind_with_what_the_fixture_says(carrier, phone, merchant):\n"
        "    assert (carrier.system_id, carrier.password) == ('shop', 'secret')\n"
        "    assert (carrier.smpp_host, carrier.smpp_port) == carrier.smpp\n"
        "    esme = ScenarioEsme(carrier.smpp_host, carrier.smpp_port, carrier.system_id, carrier.password, timeout=5)\n"
        "    try:\n"
        "        buyer = phone()\n"
        "        assert esme.submit('10010', buyer.msisdn, 'hello', receipt=False).status == 0\n"
        "        buyer.wait_for_sms('hello', timeout=5)\n"
        "    finally:\n"
        "        esme.close()\n"
        "    merchant.checkout(phone(wallet='5.00'), '1.00')\n",
        encoding="utf-8",
    )
    result = run_pytest(str(test), "--smsgw-config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    result = run_pytest(str(test), "--smsgw-config", str(tmp_path / "missing.toml"))
    assert result.returncode == 4 and "--smsgw-config" in result.stdout + result.stderr


def test_a_test_that_jumps_its_clock_leaves_a_test_running_beside_it_alone(tmp_path: Path) -> None:
    """Two pytest runs share one carrier at the same time (as pytest-xdist workers do): one
    jumps its clock past the code's five minutes while the other holds a code; the jump
    expires the first one's order only, and the other still pays."""
    (tmp_path / "test_waits.py").write_text(
        "import re, time\n"
        "def test_pays_after_the_others_jump(phone, merchant):\n"
        "    buyer = phone(wallet='100.00')\n"
        "    order = merchant.checkout(buyer, '5.00')\n"
        "    code = re.search(r'code is (\\d+)', buyer.wait_for_sms(r'code is \\d+').text)[1]\n"
        "    time.sleep(3)\n"
        "    assert merchant.confirm(order, code)['status'] == 'paid'\n",
        encoding="utf-8",
    )
    (tmp_path / "test_jumps.py").write_text(
        "import re, time\n"
        "def test_jumps_five_minutes(carrier, phone, merchant):\n"
        "    buyer = phone(wallet='100.00')\n"
        "    order = merchant.checkout(buyer, '9.00')\n"
        "    buyer.wait_for_sms(r'code is \\d+')\n"
        "    time.sleep(1)\n"
        "    carrier.advance_clock(301)\n"
        "    assert merchant.order(order)['status'] == 'expired'\n",
        encoding="utf-8",
    )
    (tmp_path / "carrier").mkdir()
    process = CarrierProcess(tmp_path / "carrier")
    try:
        url = process.wait_ready()["http_url"]
        env = {**os.environ, "SMSGW_URL": str(url)}
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(tmp_path / name)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=ROOT,
                env=env,
            )  # fmt: skip
            for name in ("test_waits.py", "test_jumps.py")
        ]
        outputs = [run.communicate(timeout=120)[0] for run in runs]
    finally:
        process.stop()
    for run, output in zip(runs, outputs):
        assert run.returncode == 0, output


def test_a_failed_test_shows_its_timeline_and_writes_it_beside_the_junit_file(tmp_path: Path) -> None:
    test = tmp_path / "test_fails.py"
    test.write_text(
        "def test_wrong_receipt(esme, phone):\n"
        "    buyer = phone()\n"
        "    (message_id,) = esme.submit('12345', buyer.msisdn, 'Your parcel', receipt=True).message_ids\n"
        "    assert esme.receipts(message_id, wait=10)[0].stat == 'EXPIRED'\n",
        encoding="utf-8",
    )
    junit = tmp_path / "report.xml"
    result = run_pytest(str(test), f"--junitxml={junit}")
    assert result.returncode == 1
    assert "smsgw timeline of namespace t-" in result.stdout
    printed = result.stdout[result.stdout.index("smsgw timeline") :]
    assert printed.index("smpp.submit_sm") < printed.index("smpp.deliver_sm")
    (attached,) = [
        p.get("value")
        for p in ET.parse(junit).getroot().iter("property")
        if p.get("name") == "smsgw_timeline"
    ]
    written = Path(str(attached))
    assert written.parent == tmp_path / "report.timelines"
    kinds = [step["kind"] for step in json.loads(written.read_text(encoding="utf-8"))["steps"]]
    assert "smpp.submit_sm" in kinds and "smpp.deliver_sm_resp" in kinds
