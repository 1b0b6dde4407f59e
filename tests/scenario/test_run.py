"""``smsgw scenario run`` as CI runs it: real processes, real carrier, real HTTP and SMPP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from simulators.carrier_process import CarrierProcess
from simulators.http import call_api
from simulators.scenario.model import find_files, load_file

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "smsgw", "scenario", "run", *args],
        capture_output=True, text=True, encoding="utf-8", timeout=timeout, cwd=ROOT, env=env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def carrier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """One carrier with its mock merchant, shared by the runs that target it."""
    process = CarrierProcess(tmp_path_factory.mktemp("carrier"))
    try:
        yield process.wait_ready()
    finally:
        process.stop()


def test_every_example_passes_with_progress_summary_and_junit(tmp_path: Path) -> None:
    junit = tmp_path / "reports" / "scenarios.xml"
    result = run("examples/", "--junit", str(junit), "--seed", "7")
    assert result.returncode == 0, result.stdout + result.stderr
    expected = [s for path in find_files([EXAMPLES]) for s in load_file(path)]
    out = result.stdout
    # Progress: one numbered line per scenario as it ends, then the table and the totals.
    progress = re.findall(rf"^\[\s*(\d+)/{len(expected)}\] PASS ", out, re.MULTILINE)
    assert sorted(map(int, progress)) == list(range(1, len(expected) + 1))
    assert re.search(r"^result\s+scenario\s+where\s+time$", out, re.MULTILINE)
    for scenario in expected:
        assert re.search(
            rf"^PASS\s+{re.escape(scenario.name)}\s+examples/\S+\.yaml:{scenario.line}\s", out, re.MULTILINE
        )
    assert f"{len(expected)} scenarios: {len(expected)} passed, 0 failed in " in out
    # JUnit XML as CI servers read it: one suite per file, one case per scenario, no failures.
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("tests") == str(len(expected))
    cases = root.findall("testsuite/testcase")
    assert sorted(c.get("name") for c in cases) == sorted(s.name for s in expected)
    assert all(c.find("failure") is None and c.find("error") is None for c in cases)
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {f"examples/{p.name}" for p in EXAMPLES.glob("*.yaml")}
    otp = suites["examples/otp.yaml"]
    assert otp.get("failures") == "0" and otp.get("tests") == str(
        sum(s.path.name == "otp.yaml" for s in expected)
    )
    # The OTP expiry scenario jumps 301 s of carrier time without waiting for it.
    expiry = next(c for c in cases if c.get("name") == "the code expires after 5 minutes")
    assert float(expiry.get("time", "inf")) < 30


def test_a_changed_expectation_fails_with_expected_actual_file_and_line(tmp_path: Path) -> None:
    text = (EXAMPLES / "otp.yaml").read_text(encoding="utf-8")
    broken = text.replace(
        '      - expect_wallet: "75.00"', '      - expect_wallet: {balance: "70.00", within: 0.2}', 1
    )
    assert broken != text
    path = tmp_path / "otp.yaml"
    path.write_text(broken, encoding="utf-8")
    line = broken.splitlines().index('      - expect_wallet: {balance: "70.00", within: 0.2}') + 1
    junit = tmp_path / "junit.xml"
    result = run(str(path), "--junit", str(junit))
    assert result.returncode == 1, result.stdout + result.stderr
    failure = f"{path}:{line}: step 6 (expect_wallet): buyer's wallet balance\n      expected: 70.00\n      actual:   75.00 CNY"
    assert failure in result.stdout
    total = len(load_file(path))
    assert f"{total} scenarios: {total - 1} passed, 1 failed in " in result.stdout
    (case,) = [c for c in ET.parse(junit).getroot().iter("testcase") if c.find("failure") is not None]
    assert case.get("name") == "buyer pays with the code from the SMS" and case.get("line") == str(line)
    assert "expected: 70.00" in (case.find("failure").text or "")  # type: ignore[union-attr]
    # The failure shows what the carrier recorded for the buyer, in order, and the JUnit case
    # names the whole timeline, written beside it, as an attachment.
    assert "timeline of its handsets (carrier time):" in result.stdout
    printed = result.stdout[result.stdout.index("timeline of its handsets") :]
    assert printed.index("awaiting_confirmation") < printed.index("smpp.submit_sm") < printed.index('"paid"')
    attached = re.search(r"\[\[ATTACHMENT\|(.+?)\]\]", case.findtext("system-out") or "")
    assert attached, case.findtext("system-out")
    written = Path(attached[1])
    assert written.parent == tmp_path / "junit.timelines" and written.with_suffix(".txt").is_file()
    steps = json.loads(written.read_text(encoding="utf-8"))["steps"]
    submits = [step for step in steps if step["kind"] == "smpp.submit_sm"]
    assert submits and bytes.fromhex(submits[0]["hex"])[4:8] == b"\x00\x00\x00\x04"  # submit_sm
    assert {"paid"} <= {step["detail"].get("status") for step in steps if step["kind"] == "merchant.order"}


def test_expect_timeline_says_which_step_is_missing(tmp_path: Path) -> None:
    """A timeline in the order asked passes; one asking for a step that never came fails
    naming it, after the steps that were found, and lists what was recorded."""
    path = tmp_path / "timeline.yaml"
    path.write_text(
        "scenarios:\n"
        "  - name: the code reaches the phone and the order is paid\n"
        "    handsets: {buyer: {wallet: {balance: '50.00', pin: '1234'}}}\n"
        "    steps:\n"
        "      - checkout: {amount: '12.00'}\n"
        "      - expect_sms: 'code is (?P<otp>\\d+)'\n"
        "      - confirm_code: '{{otp}}'\n"
        "      - expect_timeline:\n"
        "          order: '{{order.id}}'\n"
        "          steps: [smpp.submit_sm, {kind: message.state, state: DELIVRD}, {kind: merchant.order, status: paid}]\n"
        "  - name: asks for an expiry that never came\n"
        "    handsets: {buyer: {}}\n"
        "    steps:\n"
        "      - submit: {to: buyer, text: hello, receipt: true}\n"
        "      - expect_receipt: DELIVRD\n"
        "      - expect_timeline: {handset: buyer, within: 0.5, steps: [smpp.submit_sm, {kind: message.state, state: EXPIRED}]}\n",
        encoding="utf-8",
    )
    result = run(str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 scenarios: 1 passed, 1 failed" in result.stdout
    assert "lacks message.state (state /EXPIRED/) after the 1 steps before it" in result.stdout
    assert "expected: smpp.submit_sm then message.state (state /EXPIRED/)" in result.stdout


def test_a_bad_file_stops_the_run_before_it_starts(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nsteps:\n  - advance_clok: 1\n", encoding="utf-8")
    result = run(str(path))
    assert result.returncode == 2
    assert f"{path}:3: steps[0]: unknown key 'advance_clok' (did you mean 'advance_clock'?)" in result.stderr
    assert result.stdout == ""


def test_an_unreachable_carrier_is_said_plainly() -> None:
    result = run("examples/otp.yaml", "--carrier", "http://127.0.0.1:9")
    assert result.returncode == 2
    assert "no carrier to run against: unreachable: cannot reach smsgw at http://127.0.0.1:9" in result.stderr


def test_two_runs_in_parallel_on_one_carrier_stay_apart(carrier: dict[str, object]) -> None:
    """Each run works in its own namespace: both pass, neither sees the other's messages, and
    resetting one leaves the other's world alone. Both jump their clocks (examples/expiry.yaml
    jumps two days): each jump moves only its own scenario's time."""
    url = str(carrier["http_url"])
    files = ["examples/carrier.yaml", "examples/expiry.yaml"]
    assert any(s.moves_clock for path in files for s in load_file(ROOT / path))
    with ThreadPoolExecutor(2) as pool:
        runs = list(
            pool.map(lambda ns: run(*files, "--carrier", url, "--namespace", ns, "--keep"), ["ci-a", "ci-b"])
        )
    for result in runs:
        assert result.returncode == 0, result.stdout + result.stderr

    def api(method: str, path: str, **query: object) -> Any:
        return call_api(url, method, path, query=query or None, timeout=10)

    handsets = {
        ns: {h["msisdn"] for h in api("GET", "/api/handsets", namespace=ns)["handsets"]}
        for ns in ("ci-a", "ci-b")
    }
    # Fresh numbers for every handset but the shared magic numbers, which carry no namespace.
    fresh = sum(
        "msisdn" not in setup
        for path in files
        for scenario in load_file(ROOT / path)
        for setup in scenario.handsets.values()
    )
    assert len(handsets["ci-a"]) == len(handsets["ci-b"]) == fresh
    assert not handsets["ci-a"] & handsets["ci-b"]
    for ns in ("ci-a", "ci-b"):
        messages = api("GET", "/api/messages", namespace=ns, limit=1000)["messages"]
        assert messages and {m["msisdn"] for m in messages} <= handsets[ns]
    assert api("DELETE", "/api/namespaces/ci-a")["removed_handsets"] == sorted(handsets["ci-a"])
    assert api("GET", "/api/handsets", namespace="ci-a")["handsets"] == []
    assert {h["msisdn"] for h in api("GET", "/api/handsets", namespace="ci-b")["handsets"]} == handsets[
        "ci-b"
    ]


def test_a_dialogue_the_application_let_time_out_fails_unless_the_screen_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "silent.yaml"
    path.write_text(
        "scenarios:\n"
        "  - name: looked at\n"
        "    handsets: {buyer: {}}\n"
        "    faults: [{name: sleepy, effect: ussd_timeout, code: '*126#'}]\n"
        "    steps:\n"
        "      - dial: '*126#'\n"
        "      - expect_screen: {text: Connection problem, closed: true}\n"
        "  - name: not looked at\n"
        "    handsets: {buyer: {}}\n"
        "    faults: [{name: sleepy, effect: ussd_timeout, code: '*126#'}]\n"
        "    steps:\n"
        "      - dial: '*126#'\n"
        "      - answer: 1\n",
        encoding="utf-8",
    )
    result = run(str(path), "--jobs", "1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"^PASS\s+looked at\s", result.stdout, re.MULTILINE)
    assert f"{path}:12: step 1 (dial): dialling *126# on buyer failed" in result.stdout
    assert "the application did not answer in time" in result.stdout


def test_a_seed_makes_the_codes_repeat(tmp_path: Path) -> None:
    """--seed seeds the run's own mock merchant: the same seed sends the same one-time code."""
    path = tmp_path / "code.yaml"
    path.write_text(
        "name: show the code\n"
        "handsets: {buyer: {wallet: {balance: '10.00', pin: '1234'}}}\n"
        "steps:\n"
        "  - checkout: {amount: '1.00'}\n"
        "  - expect_sms: 'code is (?P<otp>\\d+)'\n"
        "  - confirm_code: {code: '{{otp}}', expect: wrong_code}\n",
        encoding="utf-8",
    )

    def code(seed: str) -> str:
        result = run(str(path), "--seed", seed)
        assert result.returncode == 1, result.stdout + result.stderr
        found = re.search(r"confirming code (\d+) for order ord_0001", result.stdout)
        assert found, result.stdout
        return found[1]

    first = code("7")
    assert code("7") == first
    assert code("8") != first


def test_the_run_binds_again_when_a_fault_drops_its_connection(tmp_path: Path) -> None:
    path = tmp_path / "drop.yaml"
    path.write_text(
        "scenarios:\n"
        "  - name: dropped once\n"
        "    handsets: {buyer: {}}\n"
        "    faults: [{name: cut, effect: drop_connection, account: smsgw, limit: 1}]\n"
        "    steps:\n"
        "      - submit: {to: buyer, text: one, receipt: true}\n"
        "      - expect_sms: one\n"
        "      - expect_no_sms: {within: 1}\n"
        "      - expect_receipt: DELIVRD\n"
        "  - name: later ones carry on\n"
        "    handsets: {buyer: {}}\n"
        "    steps:\n"
        "      - submit: {to: buyer, text: two, receipt: true}\n"
        "      - expect_receipt: DELIVRD\n",
        encoding="utf-8",
    )
    result = run(str(path), "--jobs", "1")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_run_that_cannot_start_says_why_in_the_junit_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nsteps:\n  - advance_clok: 1\n", encoding="utf-8")
    junit = tmp_path / "junit.xml"
    assert run(str(path), "--junit", str(junit)).returncode == 2
    (error,) = ET.parse(junit).getroot().iter("error")
    assert "unknown key 'advance_clok'" in (error.text or "")
    assert run("examples/", "--namespace", "a/b").returncode == 2
    assert run("examples/", "--jobs", "0").returncode == 2


def test_every_problem_of_every_file_is_listed_and_nothing_runs(tmp_path: Path) -> None:
    first = tmp_path / "a.yaml"
    first.write_text(
        "name: x\nhandsets: {b: {msisdn: abc}}\nsteps:\n  - dial: '*1#'\n  - answer: 0420\n  - advance_clok: 1\n",
        encoding="utf-8",
    )
    second = tmp_path / "b.yaml"
    second.write_text("- name: y\n  steps: [{advance_clock: 1}]\n", encoding="utf-8")
    junit = tmp_path / "junit.xml"
    result = run(str(tmp_path), "--junit", str(junit))
    assert result.returncode == 2 and result.stdout == "", result.stdout + result.stderr
    listed = [line for line in result.stderr.splitlines() if line.startswith(str(tmp_path))]
    assert [line.split(": ")[0] for line in listed] == [
        f"{first}:2",
        f"{first}:5",
        f"{first}:6",
        f"{second}:1",
    ]
    assert "4 problems in 2 files: nothing ran" in result.stderr
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    assert [(c.get("file"), c.get("line")) for c in cases] == [
        (str(first), "2"), (str(first), "5"), (str(first), "6"), (str(second), "1"),
    ]  # fmt: skip
    assert all(c.find("error") is not None for c in cases)


ORDERS = (
    "scenarios:\n"
    "  - name: the order failed for another reason\n"
    "    handsets: {buyer: {}}\n"
    "    steps:\n"
    "      - checkout: {amount: '1.00'}\n"
    "      - expect_order: {status: failed, reason: wrong_pin}\n"
    "  - name: the order failed before any SMS\n"
    "    handsets: {buyer: {}}\n"
    "    steps:\n"
    "      - checkout: {amount: '1.00'}\n"
    "      - expect_sms: 'code is \\d+'\n"
    "  - name: a failure at once is what the scenario tests\n"
    "    handsets: {buyer: {}}\n"
    "    steps:\n"
    "      - checkout: {amount: '1.00', expect: no_wallet}\n"
    "      - expect_order: {status: failed, reason: no_wallet}\n"
)


def test_an_order_that_has_ended_otherwise_fails_its_step_at_once(tmp_path: Path) -> None:
    """A buyer without a wallet: the shop fails the order at once (no_wallet). Nothing later
    can change it, so neither expect_order nor the next step waits its 10 s for it."""
    path = tmp_path / "orders.yaml"
    path.write_text(ORDERS, encoding="utf-8")
    junit = tmp_path / "junit.xml"
    result = run(str(path), "--jobs", "3", "--junit", str(junit))
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert f"{path}:6: step 2 (expect_order): order ord_" in out
    assert "ended failed (reason no_wallet), not as expected" in out
    assert "expected: failed (reason wrong_pin)" in out
    assert f"{path}:10: step 1 (checkout): order ord_" in out
    assert "for buyer ended at once: failed (reason no_wallet)" in out
    assert "received no SMS" not in out
    assert re.search(r"^PASS\s+a failure at once is what the scenario tests\s", out, re.MULTILINE)
    times = {c.get("name"): float(c.get("time", "inf")) for c in ET.parse(junit).getroot().iter("testcase")}
    assert max(times.values()) < 5, times


def test_quiet_prints_each_failure_once_and_the_totals(tmp_path: Path) -> None:
    path = tmp_path / "orders.yaml"
    path.write_text(ORDERS, encoding="utf-8")
    result = run(str(path), "--quiet", "--junit", str(tmp_path / "junit.xml"))
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "running" not in out and "PASS" not in out and "JUnit" not in out
    assert out.count("FAIL") == 2 and out.count("ended failed (reason no_wallet), not as expected") == 1
    assert out.count("ended at once") == 1
    assert out.rstrip().splitlines()[-1].startswith("3 scenarios: 1 passed, 2 failed in ")


def test_the_run_starts_its_carrier_with_the_config_given(tmp_path: Path) -> None:
    config = tmp_path / "shop.toml"
    config.write_text('# our shop\n[merchant]\nshop_name = "AcmeShop"\n', encoding="utf-8")
    path = tmp_path / "acme.yaml"
    path.write_text(
        "name: the shop has its configured name\n"
        "handsets: {buyer: {wallet: {balance: '10.00'}}}\n"
        "steps:\n"
        "  - checkout: {amount: '1.00'}\n"
        "  - expect_sms: {text: '^AcmeShop: your code is (?P<otp>\\d+)', within: 5}\n"
        "  - confirm_code: '{{otp}}'\n",
        encoding="utf-8",
    )
    # --seed goes into the same [merchant] table of a copy; the file itself is left alone.
    result = run(str(path), "--config", str(config), "--seed", "5")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "seed" not in config.read_text(encoding="utf-8")
    clash = tmp_path / "seeded.toml"
    clash.write_text("[merchant]\nseed = 1\n", encoding="utf-8")
    result = run(str(path), "--config", str(clash), "--seed", "5")
    assert result.returncode == 2
    assert f"{clash} sets [merchant] seed already" in result.stderr


MO_PASSING = (
    "scenarios:\n"
    "  - name: the ESME gets the text and answers it\n"
    "    handsets: {buyer: {}}\n"
    "    steps:\n"
    "      - send_sms: {to: 12345, text: 'BALANCE 7731'}\n"
    "      - expect_mo: {from: buyer, to: 12345, text: 'BALANCE (?P<account>\\d+)'}\n"
    "      - submit: {to: buyer, from: 12345, text: 'Account {{account}}: 42.00 CNY'}\n"
    "      - expect_sms: 'Account 7731: 42\\.00 CNY'\n"
    "  - name: texts that came before their steps wait for them\n"
    "    handsets: {alice: {}, bob: {}}\n"
    "    steps:\n"
    "      - send_sms: {handset: alice, to: 12345, text: first}\n"
    "      - send_sms: {handset: bob, to: 12345, text: other}\n"
    "      - send_sms: {handset: alice, to: 12345, text: second}\n"
    "      - expect_mo: {from: alice, text: second}\n"
    # Sent before the one just taken, on the same bind: here already, so no wait at all.
    "      - expect_mo: {from: alice, text: first, within: 0.01}\n"
    "      - expect_mo: {from: bob, text: other, within: 0.01}\n"
    "  - name: a long text is matched whole\n"
    "    handsets: {buyer: {}}\n"
    "    steps:\n"
    "      - send_sms: {to: 12345, text: 'REPORT " + "0123456789" * 20 + " END'}\n"
    "      - expect_mo: '^REPORT (0123456789){20} END$'\n"
)


def test_expect_mo_takes_what_the_handset_sent_to_the_run_account(tmp_path: Path) -> None:
    """MO to the run account's short code (12345, the built-in account's) reaches the run's
    ESME: matched and captured, kept when it came before its step, reassembled when long."""
    path = tmp_path / "mo.yaml"
    path.write_text(MO_PASSING, encoding="utf-8")
    result = run(str(path))
    assert result.returncode == 0, result.stdout + result.stderr


MO_FAILING = (
    "scenarios:\n"
    "  - name: another text came\n"
    "    handsets: {buyer: {}}\n"
    "    steps:\n"
    "      - send_sms: {to: 12345, text: HELP}\n"
    "      - send_sms: {to: 54321, text: STOP}\n"
    "      - expect_mo: {to: 12345, text: STOP, within: 0.5}\n"
    "  - name: each text is taken once\n"
    "    handsets: {buyer: {}}\n"
    "    steps:\n"
    "      - send_sms: {to: 12345, text: 'YES'}\n"
    "      - expect_mo: 'YES'\n"
    "      - expect_mo: {text: 'YES', within: 0.5}\n"
    "  - name: the text went to the shop\n"
    "    handsets: {buyer: {}}\n"
    "    steps:\n"
    "      - send_sms: {to: 10086, text: STOP}\n"
    "      - expect_mo: {text: STOP, within: 0.5}\n"
)


def test_a_failing_expect_mo_says_what_came_instead(tmp_path: Path) -> None:
    """The failure lists the handset's MO no step took, with their texts and short codes; with
    none, what the phone sent (a text to the mock merchant's 10086 goes to the shop)."""
    path = tmp_path / "mo.yaml"
    path.write_text(MO_FAILING, encoding="utf-8")
    result = run(str(path))
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert f"{path}:7: step 3 (expect_mo): no matching MO from buyer (" in out
    assert ") reached the run's ESME within 0.5 s" in out
    assert "expected: an MO from buyer to 12345 matching /STOP/\n" in out
    assert "actual:   from buyer: 'HELP' to 12345; 'STOP' to 54321\n" in out
    assert f"{path}:13: step 3 (expect_mo)" in out
    assert "actual:   no MO from buyer; its sent box: 'YES' to 12345\n" in out
    assert f"{path}:18: step 2 (expect_mo)" in out
    assert "actual:   no MO from buyer; its sent box: 'STOP' to 10086\n" in out
    assert out.rstrip().splitlines()[-1].startswith("3 scenarios: 0 passed, 3 failed in ")


def test_expect_mo_puts_sar_parts_together_for_an_account_of_the_config(tmp_path: Path) -> None:
    """With --config, the run binds as the file's first account and gets MO to its short codes,
    here long ones as SAR parts (the example of docs/scenarios.md)."""
    docs = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    block = docs[docs.index("# flows.toml") :]
    config = tmp_path / "flows.toml"
    config.write_text(block[: block.index("```")].replace("\n  ", "\n"), encoding="utf-8")
    assert 'long_mo = "sar"' in config.read_text(encoding="utf-8")
    path = tmp_path / "sar.yaml"
    path.write_text(
        "name: a long text in SAR parts\n"
        "handsets: {buyer: {}}\n"
        "steps:\n"
        "  - send_sms: {to: 5555, text: 'Ünïcødé " + "0123456789" * 10 + " END'}\n"
        "  - expect_mo: {to: 5555, text: '^Ünïcødé (0123456789){10} END$'}\n",
        encoding="utf-8",
    )
    result = run(str(path), "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr


TIME_TRAVEL_BESIDE_A_WAIT = """
scenarios:
  - name: jumps two days while the other waits
    handsets:
      buyer: {state: "off"}
    steps:
      - submit: {to: buyer, text: "Never read", receipt: true, validity: "000000001000000R"}
      - advance_clock: 172801
      - expect_receipt: EXPIRED
  - name: waits through the other's jump
    handsets:
      buyer: {state: "off"}
    steps:
      - submit: {to: buyer, text: "Read after the wait", receipt: true, validity: "000000001000000R"}
      - expect_no_receipt: {within: 2}
      - switch_on: {}
      - expect_sms: Read after the wait
      - expect_receipt: DELIVRD
"""


def test_a_scenario_that_travels_in_time_runs_beside_one_it_would_have_broken(tmp_path: Path) -> None:
    """With two at a time, the scenario that jumps its clock two days runs during the other's
    wait (neither runs alone), and the other's ten-minute message still reaches its phone:
    the jump moved only the first scenario's handsets' time."""
    path = tmp_path / "beside.yaml"
    path.write_text(TIME_TRAVEL_BESIDE_A_WAIT, encoding="utf-8")
    assert [s.runs_alone for s in load_file(path)] == [False, False]
    result = run(str(path), "--jobs", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 scenarios: 2 passed" in result.stdout
