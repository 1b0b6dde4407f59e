"""Scenario files are checked before anything runs: each problem names the file and line."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from simulators.merchant import orders
from simulators.scenario.document import DocumentError
from simulators.scenario.model import find_files, load_file, schema
from simulators.scenario.template import Undefined, render

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problem(path: Path) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        load_file(path)
    return caught.value


def test_a_file_of_scenarios_loads_with_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "scenarios:\n"
        "  - name: first\n"
        "    handsets: {buyer: {}}\n"
        "    steps:\n"
        "      - dial: '*126#'\n"
        "      - answer: 2\n"
        "  - name: second\n"
        "    steps:\n"
        "      - advance_clock: 5\n",
    )
    first, second = load_file(path)
    assert (first.name, first.line, second.line) == ("first", 2, 7)
    assert [(s.action, s.args, s.line, s.index) for s in first.steps] == [
        ("dial", "*126#", 5, 1),
        ("answer", 2, 6, 2),
    ]
    assert not first.moves_clock and second.moves_clock


def test_a_single_scenario_file_loads(tmp_path: Path) -> None:
    (only,) = load_file(write(tmp_path, "name: alone\nsteps:\n  - advance_clock: {seconds: 1}\n"))
    assert only.name == "alone" and only.handsets == {}


def test_a_misspelt_step_is_named_with_a_suggestion_and_its_line(tmp_path: Path) -> None:
    error = problem(
        write(tmp_path, "name: x\nhandsets: {b: {}}\nsteps:\n  - dial: '*1#'\n  - expect_scren: Hi\n")
    )
    assert error.line == 5
    assert "'expect_scren' (did you mean 'expect_screen'?)" in str(error)
    assert str(error).startswith(f"{tmp_path / 's.yaml'}:5: ")


def test_a_wrong_type_names_the_field_and_line(tmp_path: Path) -> None:
    error = problem(write(tmp_path, "name: x\nhandsets: {b: {}}\nsteps:\n  - expect_sms: {within: soon}\n"))
    assert error.line == 4 and "within" in error.message


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    error = problem(write(tmp_path, "name: x\nname: y\nsteps:\n  - advance_clock: 1\n"))
    assert error.line == 2 and "'name' is given twice" in error.message


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    error = problem(write(tmp_path, "name: x\nsteps:\n  - dial: [unclosed\n"))
    assert error.line >= 3 and "not valid YAML" in error.message


def test_a_step_on_an_undeclared_handset_is_refused(tmp_path: Path) -> None:
    error = problem(
        write(tmp_path, "name: x\nhandsets: {buyer: {}}\nsteps:\n  - dial: {handset: seller, code: '*1#'}\n")
    )
    assert error.line == 4 and "no handset 'seller'; declared: buyer" in error.message


def test_a_handset_step_must_say_which_of_several(tmp_path: Path) -> None:
    error = problem(write(tmp_path, "name: x\nhandsets: {a: {}, b: {}}\nsteps:\n  - dial: '*1#'\n"))
    assert error.line == 4 and "say which handset" in error.message and "(a, b)" in error.message


def test_expect_mo_names_its_handset_with_from(tmp_path: Path) -> None:
    """expect_mo's sender is a handset of the scenario, under from:, and may be left out with one."""
    one, two = load_file(
        write(
            tmp_path,
            "scenarios:\n"
            "  - name: one handset\n"
            "    handsets: {buyer: {}}\n"
            "    steps:\n"
            "      - expect_mo: 'STOP (?P<reason>\\w+)'\n"
            "  - name: two handsets\n"
            "    handsets: {buyer: {}, seller: {}}\n"
            "    steps:\n"
            "      - expect_mo: {from: seller, to: 12345, text: STOP, within: 2}\n",
        )
    )
    assert [(s.action, s.args) for s in one.steps] == [("expect_mo", r"STOP (?P<reason>\w+)")]
    assert two.steps[0].args == {"from": "seller", "to": 12345, "text": "STOP", "within": 2}
    error = problem(
        write(tmp_path, "name: x\nhandsets: {a: {}, b: {}}\nsteps:\n  - expect_mo: STOP\n", "two.yaml")
    )
    assert (
        error.line == 4
        and "say which handset (from: NAME): the scenario has 2 handsets (a, b)" in error.message
    )


def test_two_scenarios_of_one_name_are_refused(tmp_path: Path) -> None:
    body = "  - name: same\n    steps: [{advance_clock: 1}]\n"
    error = problem(write(tmp_path, "scenarios:\n" + body + body))
    assert error.line == 4 and "used twice" in error.message


def test_directories_are_searched_and_missing_paths_named(tmp_path: Path) -> None:
    write(tmp_path, "name: x\nsteps: [{advance_clock: 1}]\n", "b.yml")
    write(tmp_path, "name: y\nsteps: [{advance_clock: 1}]\n", "a.yaml")
    write(tmp_path, "not a scenario", "notes.txt")
    assert [p.name for p in find_files([tmp_path])] == ["a.yaml", "b.yml"]
    with pytest.raises(FileNotFoundError, match="nope.yaml: no such file"):
        find_files([tmp_path / "nope.yaml"])


def test_the_schema_is_valid_and_every_example_follows_it() -> None:
    """Editors use the schema as it is: it must be a valid schema that accepts the examples."""
    full = schema()
    jsonschema.Draft202012Validator.check_schema(full)
    validator = jsonschema.Draft202012Validator(full)
    examples = sorted(EXAMPLES.glob("*.yaml"))
    assert examples
    for path in examples:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert not list(validator.iter_errors(document)), path
        assert load_file(path)
    assert not validator.is_valid(json.loads('{"name": "x", "steps": [{"fly": 1}]}'))


def test_placeholders_are_filled_and_unknown_ones_named() -> None:
    variables = {"otp": "123456", "order": {"id": "ord_0001"}}
    assert render({"code": "{{otp}}", "path": "/orders/{{ order.id }}/x", "n": 3}, variables) == {
        "code": "123456",
        "path": "/orders/ord_0001/x",
        "n": 3,
    }
    assert render(r"\d{6}", variables) == r"\d{6}"
    with pytest.raises(Undefined, match=r"\{\{pin\}\} is not defined here \(defined: order, otp\)"):
        render("{{pin}}", variables)
    with pytest.raises(Undefined, match="order has no 'status'"):
        render("{{order.status}}", variables)


def test_scenarios_that_touch_what_all_share_run_alone(tmp_path: Path) -> None:
    """The carrier's clock and the binds are everybody's; a scenario's own clock is not."""
    path = write(
        tmp_path,
        "scenarios:\n"
        "  - {name: own clock, handsets: {buyer: {}}, steps: [{advance_clock: 1}], alone: false}\n"
        "  - {name: carrier clock, steps: [{advance_clock: {seconds: 1, whole_carrier: true}}]}\n"
        "  - {name: fixed number, handsets: {buyer: {msisdn: '8613800000001'}}, steps: [{advance_clock: 1}]}\n"
        "  - {name: drops, faults: [{name: cut, effect: drop_connection}], steps: [{expect_no_receipt: {within: 1}}]}\n"
        "  - {name: drops later, steps: [{faults: [{name: cut, effect: drop_connection}]}]}\n"
        "  - {name: asked, alone: true, steps: [{expect_no_receipt: {within: 1}}]}\n"
        "  - {name: shares, faults: [{name: x, effect: no_receipt}], steps: [{expect_no_receipt: {within: 1}}]}\n",
    )
    alone = [s.runs_alone for s in load_file(path)]
    assert alone == [False, True, True, True, True, True, False]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", 0, "the file holds no scenario"),
        ("# only a comment\n", 0, "the file holds no scenario"),
        ("name: x\nhandsets: {b: {}}\nsteps:\n  - expect_order: paied\n", 4, "'paied' is not one of"),
        (
            "name: x\nfaults: [{name: f, effect: throtle}]\nsteps: [{advance_clock: 1}]\n",
            2,
            "'throtle' is not one of",
        ),
        (
            "name: x\nhandsets: {b: {}}\nsteps:\n  - expect_sms: '(unclosed'\n",
            4,
            "/(unclosed/ is not a regular expression",
        ),
        (
            "name: x\nhandsets: {b: {}}\nsteps:\n  - send_sms: {to: sellr, text: hi}\n",
            4,
            "to: no handset 'sellr' (handsets: b)",
        ),
        (
            "name: x\nhandsets: {b: {}}\nsteps:\n  - submit: {to: byuer, text: hi}\n",
            4,
            "to: no handset 'byuer'",
        ),
        (
            "name: x\nhandsets: {b: {}}\nsteps:\n  - faults:\n    - {name: f, effect: no_receipt, msisdn: c}\n",
            5,
            "msisdn: no handset 'c'",
        ),
        (
            "name: x\nhandsets: {b: {wallet: {pin: 1234}}}\nsteps: [{dial: '*1#'}]\n",
            2,
            'write "1234" in quotes',
        ),
        ("name: x\nhandsets: {b: {state: off}}\nsteps: [{dial: '*1#'}]\n", 2, 'write "off" in quotes'),
        (
            "name: x\nhandsets: {b: {}}\nsteps:\n  - submit: {to: b, text: hi, expect_status: ESME_RTHROTLED}\n",
            4,
            "is not one of",
        ),
        (
            "name: x\nhandsets: {b: {}}\nsteps:\n  - expect_sms: {text: hi}\n    within: 3\n",
            4,
            "indent the step's own keys",
        ),
        ("name: x\nsteps:\n  - expect_receipt: {err: abc}\n", 3, "expect_receipt"),
        (
            "name: x\nhandsets: {b: {}}\nsteps:\n  - expect_mo: {form: b, text: hi}\n",
            4,
            "unknown key 'form' (did you mean 'from'?)",
        ),
        (
            "name: x\nhandsets: {buyer: {}}\nsteps:\n  - expect_mo: {from: seller, text: hi}\n",
            4,
            "from: no handset 'seller'; declared: buyer",
        ),
        (
            "name: x\nsteps:\n  - expect_mo: STOP\n",
            3,
            "say which handset (from: NAME): the scenario declares no",
        ),
        (
            "name: x\nhandsets: {b: {}}\nsteps:\n  - expect_mo: {text: '(unclosed'}\n",
            4,
            "/(unclosed/ is not a regular expression",
        ),
        ("name: x\nhandsets: {b: {}}\nsteps:\n  - expect_mo: {text: hi, within: soon}\n", 4, "within"),
        (
            "name: x\nhandsets: {b: {}}\nsteps:\n  - expect_mo: {to: [12345], text: hi}\n",
            4,
            "expect_mo.to: a list is not a string or an integer",
        ),
        ("name: x\nhandsets: {b: {}}\nsteps:\n  - expect_mo: [STOP]\n", 4, "a list is not a string"),
    ],
)
def test_mistakes_are_caught_before_the_run(tmp_path: Path, text: str, line: int, words: str) -> None:
    error = problem(write(tmp_path, text))
    assert error.line == line and words in error.message, error


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        # A list with no scenarios: above it: said in one line, the file not quoted back whole.
        ("- name: x\n  steps: [{advance_clock: 1}]\n", 1, "put it under scenarios:"),
        (
            "name: x\nhandsets: {b: {}}\nsteps:\n  - dial: '*1#'\n  - answer: 0420\n",
            5,
            'YAML reads 0420 as the octal number 272: write "0420" in quotes',
        ),
        ("name: x\nhandsets: {b: {msisdn: abc}}\nsteps: [{dial: '*1#'}]\n", 2, "'abc' is not a phone number"),
        (
            "name: x\nhandsets: {b: {}}\nsteps:\n  - expect_order: {status: failed, reason: no_walet}\n",
            4,
            "'no_walet' is not one of: created, code_sent,",
        ),
    ],
)
def test_traps_are_named_with_the_fix(tmp_path: Path, text: str, line: int, words: str) -> None:
    error = problem(write(tmp_path, text))
    assert error.line == line and words in error.message, error
    assert "advance_clock" not in error.message, "the message quotes the file back"
    if "no_walet" in text:
        assert error.message.endswith("(did you mean 'no_wallet'?)")


def test_every_problem_of_a_file_is_listed_in_line_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "scenarios:\n"
        "  - name: one\n"
        "    handsets:\n"
        "      buyer: {msisdn: '12', wallet: {pin: 0123}}\n"
        "    steps:\n"
        "      - answer: 0420\n"
        "      - expect_scren: Hi\n"
        "      - send_sms: {to: sellr, text: hi}\n"
        "  - name: two\n"
        "    handsets: {b: {}}\n"
        "    steps:\n"
        "      - expect_order: paied\n"
        "      - expect_sms: '(unclosed'\n"
        "  - name: one\n"
        "    steps: [{advance_clock: 1}]\n",
    )
    with pytest.raises(DocumentError) as caught:
        load_file(path)
    lines = str(caught.value).splitlines()
    assert [int(line.split(":")[1]) for line in lines] == [4, 4, 6, 7, 8, 12, 13, 14]
    for words in (
        'write "0123" in quotes',
        "'12' is not a phone number",
        "octal number 272",
        "'expect_scren' (did you mean 'expect_screen'?)",
        "to: no handset 'sellr'",
        "'paied' is not one of",
        "/(unclosed/ is not a regular expression",
        "'one' is used twice",
    ):
        assert sum(words in line for line in lines) == 1, (words, lines)


def test_the_readme_scenario_is_a_valid_file_as_pasted(tmp_path: Path) -> None:
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Scenarios") :]
    block = section[section.index("```yaml\n") + 8 : section.index("```\n", section.index("```yaml\n") + 8)]
    (scenario,) = load_file(write(tmp_path, block))
    assert scenario.name == "buyer pays with the code from the SMS"


def test_expect_order_knows_every_reason_the_shop_gives() -> None:
    vocabulary = {
        value
        for name, value in vars(orders).items()
        if name.isupper() and isinstance(value, str) and name != "Method"
    }
    order_step = schema()["$defs"]["steps"]["expect_order"]["anyOf"][1]
    assert set(order_step["properties"]["reason"]["enum"]) == vocabulary
