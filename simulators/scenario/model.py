"""Scenario files checked and turned into :class:`Scenario` objects.

A file is checked against ``schema.json`` (the same schema editors can use), then for what
a schema cannot say: that every step names a handset the scenario declares. Every problem
is a :class:`~simulators.scenario.document.DocumentError` with the file and line.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from simulators.scenario.document import DocumentError, line_of, load

#: Steps that act on one handset (named by ``handset``, or the scenario's only one).
HANDSET_STEPS = frozenset(
    {"dial", "answer", "cancel", "expect_screen", "send_sms", "expect_sms", "expect_no_sms",
     "switch_off", "switch_on", "checkout", "expect_wallet"}
)  # fmt: skip
#: Steps that move the carrier-wide clock: their scenario runs alone (see runner).
CLOCK_STEPS = frozenset({"advance_clock"})
#: Fault effects that strike what every scenario shares (an ESME's bind): they run alone too.
SHARED_EFFECTS = frozenset({"drop_connection"})


def schema() -> dict[str, Any]:
    """The JSON Schema of scenario files."""
    text = resources.files("simulators.scenario").joinpath("schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _validator(definition: str) -> jsonschema.Draft202012Validator:
    full = schema()
    return jsonschema.Draft202012Validator({"$ref": f"#/$defs/{definition}", "$defs": full["$defs"]})


@attrs.frozen
class Step:
    """One step: its name (``expect_sms``), its arguments as written, and its line."""

    action: str
    args: Any
    line: int
    index: int

    def describe(self) -> str:
        return f"step {self.index} ({self.action})"


@attrs.frozen
class Scenario:
    """One scenario of a file."""

    name: str
    path: Path
    line: int
    handsets: Mapping[str, Mapping[str, Any]]
    faults: tuple[Mapping[str, Any], ...]
    steps: tuple[Step, ...]
    description: str = ""
    alone: bool = False

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def moves_clock(self) -> bool:
        """Whether a step advances the carrier's clock."""
        return any(step.action in CLOCK_STEPS for step in self.steps)

    @property
    def runs_alone(self) -> bool:
        """Whether no other scenario of the run may run meanwhile: it moves the clock, drops
        a connection everybody shares, or says ``alone: true``."""
        rules = [*self.faults, *(rule for s in self.steps if s.action == "faults" for rule in s.args)]
        return self.alone or self.moves_clock or any(r.get("effect") in SHARED_EFFECTS for r in rules)


def _path_text(path: Iterable[Any]) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text or "the file"


def _explain(error: ValidationError) -> str:
    where = _path_text(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = sorted(error.schema.get("properties", {}))
        unknown = [key for key in error.instance if key not in allowed]
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, allowed, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        return f"{where}: unknown key {', '.join(hints)}; allowed: {', '.join(allowed)}"
    if error.validator == "maxProperties" and isinstance(error.instance, Mapping):
        names = ", ".join(repr(key) for key in error.instance)
        return (
            f"{where}: a step is a mapping with one key, the step's name, but this one has {names}; "
            "indent the step's own keys under it (- expect_sms: {text: ..., within: 3})"
        )
    hint = _hint(error.instance) if error.validator in ("type", "enum", "pattern") else ""
    return f"{where}: {error.message}{hint}"


def _hint(value: Any) -> str:
    """What YAML made of a value the writer probably meant as text."""
    if isinstance(value, bool):
        return ' (YAML reads on/off and yes/no as true/false: write "off" in quotes)'
    if isinstance(value, int | float):
        return f' (write "{value}" in quotes; YAML may have read a leading 0 as octal)'
    return ""


def _specific(error: ValidationError) -> ValidationError:
    """For a value that fits none of a step's forms, the error of the form it was meant as:
    the mapping form for a mapping, the short form for anything else."""
    while error.validator in ("anyOf", "oneOf") and error.context:
        is_mapping = isinstance(error.instance, Mapping)
        branches: dict[int, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
        meant = [
            subs
            for index, subs in sorted(branches.items())
            if (error.validator_value[index].get("type") == "object") == is_mapping
        ]
        if not meant:
            break
        error = best_match(meant[0])
    return error


def _check(document: Any, definition: str, path: Path) -> None:
    error = best_match(_validator(definition).iter_errors(document))
    if error is not None:
        error = _specific(error)
        raise DocumentError(path, line_of(document, list(error.absolute_path)), _explain(error))


def _step(raw: Mapping[str, Any], index: int, line: int) -> Step:
    ((action, args),) = raw.items()
    return Step(action, args, line, index)


def _scenario(raw: Mapping[str, Any], path: Path) -> Scenario:
    handsets = dict(raw.get("handsets") or {})
    steps = tuple(_step(item, index, getattr(item, "line", 0)) for index, item in enumerate(raw["steps"], 1))
    scenario = Scenario(
        name=raw["name"],
        path=path,
        line=getattr(raw, "line", 0),
        handsets={name: dict(setup or {}) for name, setup in handsets.items()},
        faults=tuple(raw.get("faults") or ()),
        steps=steps,
        description=raw.get("description", ""),
        alone=bool(raw.get("alone", False)),
    )
    for step in steps:
        _check_handset(scenario, step)
        _check_patterns(scenario, step)
        _check_addressees(scenario, step)
    for rule in scenario.faults:
        _check_fault_number(scenario, rule, getattr(rule, "line", scenario.line), "faults")
    return scenario


#: Steps whose ``text`` (or bare value) is a regular expression.
_PATTERN_STEPS = frozenset({"expect_sms", "expect_no_sms", "expect_screen"})
_NAME = re.compile(r"[A-Za-z_]\w*")


def _check_patterns(scenario: Scenario, step: Step) -> None:
    if step.action not in _PATTERN_STEPS:
        return
    text = step.args.get("text") if isinstance(step.args, Mapping) else step.args
    if not isinstance(text, str) or "{{" in text:
        return  # placeholders are filled when the step runs; it checks then
    try:
        re.compile(text)
    except re.error as error:
        raise DocumentError(
            scenario.path, step.line, f"{step.describe()}: /{text}/ is not a regular expression: {error}"
        ) from None


def _check_addressees(scenario: Scenario, step: Step) -> None:
    """A ``to:`` written as a name must be one of the scenario's handsets (a number is not checked)."""
    if step.action == "faults":
        for rule in step.args:
            _check_fault_number(scenario, rule, getattr(rule, "line", step.line), step.describe())
        return
    if step.action not in ("send_sms", "submit") or not isinstance(step.args, Mapping):
        return
    to = step.args.get("to")
    if isinstance(to, str) and _NAME.fullmatch(to) and to not in scenario.handsets:
        known = ", ".join(sorted(scenario.handsets)) or "none"
        raise DocumentError(
            scenario.path,
            step.line,
            f"{step.describe()}: to: no handset {to!r} (handsets: {known}); a number is written in digits",
        )


def _check_fault_number(scenario: Scenario, rule: Mapping[str, Any], line: int, where: str) -> None:
    named = rule.get("msisdn")
    if isinstance(named, str) and _NAME.fullmatch(named) and named not in scenario.handsets:
        known = ", ".join(sorted(scenario.handsets)) or "none"
        raise DocumentError(
            scenario.path,
            line,
            f"{where}: fault {rule.get('name')!r}: msisdn: no handset {named!r} (handsets: {known})",
        )


def _check_handset(scenario: Scenario, step: Step) -> None:
    if step.action not in HANDSET_STEPS:
        return
    named = step.args.get("handset") if isinstance(step.args, Mapping) else None
    known = sorted(scenario.handsets)
    if named is not None and named not in scenario.handsets:
        hint = f"; declared: {', '.join(known)}" if known else "; the scenario declares none under handsets:"
        raise DocumentError(scenario.path, step.line, f"{step.describe()}: no handset {named!r}{hint}")
    if named is None and len(known) != 1:
        problem = "declares no handsets" if not known else f"has {len(known)} handsets ({', '.join(known)})"
        raise DocumentError(
            scenario.path, step.line, f"{step.describe()}: say which handset: the scenario {problem}"
        )


def load_file(path: Path) -> list[Scenario]:
    """The scenarios of one file, checked.

    :raises DocumentError: with the file, line and what is wrong.
    """
    document = load(path)
    if document is None:
        raise DocumentError(
            path, 0, "the file holds no scenario: write scenarios: [...] or one scenario (docs/scenarios.md)"
        )
    if isinstance(document, Mapping) and "scenarios" in document:
        _check(document, "file", path)
        raws = document["scenarios"]
    else:
        _check(document, "scenario", path)
        raws = [document]
    scenarios = [_scenario(raw, path) for raw in raws]
    seen: dict[str, int] = {}
    for scenario in scenarios:
        if scenario.name in seen:
            problem = f"scenario name {scenario.name!r} is used twice in this file (first on line {seen[scenario.name]})"
            raise DocumentError(path, scenario.line, problem)
        seen[scenario.name] = scenario.line
    return scenarios


def find_files(paths: Iterable[Path]) -> list[Path]:
    """The scenario files named, with directories searched for ``*.yaml`` and ``*.yml``.

    :raises FileNotFoundError: for a path that does not exist, or a directory without any.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            if not inside:
                raise FileNotFoundError(f"{path}: no *.yaml scenario files in this directory")
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or directory")
    return found
