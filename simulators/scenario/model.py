"""Scenario files checked and turned into :class:`Scenario` objects.

A file is checked against ``schema.json`` (the same schema editors can use), then for what
a schema cannot say: that every step names a handset the scenario declares. Every problem
is a :class:`~simulators.scenario.document.DocumentError` with the file and line.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from simulators.scenario.document import DocumentError, LeadingZero, line_of, load
from smsgw.carrier.faults import Effect
from smsgw.carrier.subscribers import normalize_msisdn

#: Steps that act on one handset (named by ``handset``, or the scenario's only one).
HANDSET_STEPS = frozenset(
    {"dial", "answer", "cancel", "expect_screen", "send_sms", "expect_sms", "expect_no_sms",
     "switch_off", "switch_on", "checkout", "expect_wallet"}
)  # fmt: skip
#: Steps that move a clock: the scenario's own namespace's, or the whole carrier's (see runner).
CLOCK_STEPS = frozenset({"advance_clock"})
#: Fault effects that strike what every scenario shares (an ESME's bind): they run alone too.
SHARED_EFFECTS = frozenset({Effect.DROP_CONNECTION.value})


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
        """Whether a step advances a clock (its namespace's or the carrier's)."""
        return any(step.action in CLOCK_STEPS for step in self.steps)

    @property
    def moves_carrier_clock(self) -> bool:
        """Whether a step advances the whole carrier's clock, which every scenario shares: one
        that says ``whole_carrier: true``, or any in a scenario with a handset on a number the
        file gives (such a handset is in no namespace, so only the carrier's clock moves it)."""
        steps = [step for step in self.steps if step.action in CLOCK_STEPS]
        if not steps:
            return False
        if any("msisdn" in setup for setup in self.handsets.values()):
            return True
        return any(isinstance(step.args, Mapping) and step.args.get("whole_carrier") for step in steps)

    @property
    def runs_alone(self) -> bool:
        """Whether no other scenario of the run may run meanwhile: it moves the carrier's
        clock, drops a connection everybody shares, or says ``alone: true``. Moving its own
        namespace's clock is no reason: that moves its handsets' time and nobody else's."""
        rules = [*self.faults, *(rule for s in self.steps if s.action == "faults" for rule in s.args)]
        return self.alone or self.moves_carrier_clock or any(r.get("effect") in SHARED_EFFECTS for r in rules)


def _path_text(path: Iterable[Any]) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text or "the file"


def _explain(error: ValidationError, where: str) -> str:
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
    if error.validator == "enum" and isinstance(error.instance, str):
        allowed = [str(value) for value in error.validator_value]
        close = difflib.get_close_matches(error.instance, allowed, n=1)
        meant = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{where}: {error.instance!r} is not one of: {', '.join(allowed)}{meant}"
    if error.validator == "type":
        # jsonschema's message quotes the whole value: a mis-shaped file would be dumped whole.
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return f"{where}: {_short(error.instance)} is not {' or '.join(map(_article, wanted))}{hint}"
    return f"{where}: {error.message}{hint}"


def _article(kind: str) -> str:
    return {"object": "a mapping", "array": "a list", "null": "empty", "integer": "an integer"}.get(
        kind, f"a {kind}"
    )


def _short(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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


def _schema_errors(
    root: Any, instance: Any, definition: str, path: Path, prefix: list[Any]
) -> list[tuple[tuple[Any, ...], DocumentError]]:
    """Every place ``instance`` (at ``prefix`` in ``root``) breaks the schema, one error each."""
    by_place: dict[tuple[Any, ...], list[ValidationError]] = {}
    for error in _validator(definition).iter_errors(instance):
        error = _specific(error)
        by_place.setdefault((*prefix, *error.absolute_path), []).append(error)
    found = []
    for place, errors in by_place.items():
        # Two keys in one step also break "no other key": the one-key message says it all.
        if any(e.validator == "maxProperties" for e in errors):
            errors = [e for e in errors if e.validator == "maxProperties"]
        where = _path_text(place)
        for message in dict.fromkeys(_explain(e, where) for e in errors):
            found.append((place, DocumentError(path, line_of(root, list(place)), message)))
    return found


def _leading_zeros(node: Any, place: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], LeadingZero]]:
    if isinstance(node, LeadingZero):
        yield place, node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from _leading_zeros(value, (*place, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leading_zeros(value, (*place, index))


def _octal_error(path: Path, place: tuple[Any, ...], value: LeadingZero) -> DocumentError:
    return DocumentError(
        path,
        value.line,
        f'{_path_text(place)}: YAML reads {value.written} as the octal number {int(value)}: write "{value.written}"'
        " in quotes",
    )


def _step(raw: Mapping[str, Any], index: int, line: int) -> Step:
    ((action, args),) = raw.items()
    return Step(action, args, line, index)


def _scenario(raw: Mapping[str, Any], path: Path, broken: set[int] | None = None) -> Scenario:
    """The scenario of ``raw``; steps at the indexes in ``broken`` (which broke the schema) are
    left out, so what remains is checked too."""
    broken = broken or set()
    handsets = raw.get("handsets")
    handsets = dict(handsets) if isinstance(handsets, Mapping) else {}
    raw_steps = raw.get("steps")
    steps = tuple(
        _step(item, index, getattr(item, "line", 0))
        for index, item in enumerate(raw_steps if isinstance(raw_steps, list) else [], 1)
        if index - 1 not in broken and isinstance(item, Mapping) and len(item) == 1
    )
    faults = raw.get("faults")
    return Scenario(
        name=str(raw.get("name", "")),
        path=path,
        line=getattr(raw, "line", 0),
        handsets={
            name: dict(setup) if isinstance(setup, Mapping) else {} for name, setup in handsets.items()
        },
        faults=tuple(f for f in faults if isinstance(f, Mapping)) if isinstance(faults, list) else (),
        steps=steps,
        description=raw.get("description", ""),
        alone=bool(raw.get("alone", False)),
    )


def _meaning_errors(scenario: Scenario, raw: Mapping[str, Any], handsets_ok: bool) -> list[DocumentError]:
    """What the schema cannot say: names that must refer to a declared handset, patterns, numbers."""
    errors: list[DocumentError] = []

    def collect(check: Callable[..., None], *args: Any) -> None:
        try:
            check(*args)
        except DocumentError as error:
            errors.append(error)

    for name, setup in scenario.handsets.items():
        collect(_check_msisdn, scenario, name, setup, getattr(raw["handsets"][name], "line", scenario.line))
    for step in scenario.steps:
        if handsets_ok:
            collect(_check_handset, scenario, step)
            collect(_check_addressees, scenario, step)
        collect(_check_patterns, scenario, step)
    if handsets_ok:
        for rule in scenario.faults:
            collect(_check_fault_number, scenario, rule, getattr(rule, "line", scenario.line), "faults")
    return errors


def _check_msisdn(scenario: Scenario, name: str, setup: Mapping[str, Any], line: int) -> None:
    number = setup.get("msisdn")
    if number is None or isinstance(number, LeadingZero):
        return
    # Any country code will do: the carrier's own is unknown here, and only the shape matters.
    if isinstance(number, bool) or normalize_msisdn(str(number), "") is None:
        raise DocumentError(
            scenario.path,
            line,
            f"handsets.{name}.msisdn: {number!r} is not a phone number: write 6 to 15 digits, "
            'international ones with + ("+8619999990001")',
        )


#: Steps whose ``text`` (or bare value) is a regular expression.
_PATTERN_STEPS = frozenset({"expect_sms", "expect_no_sms", "expect_screen", "expect_mo"})
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


#: Steps that name a handset under another key than ``handset``: the one an MO comes from.
_HANDSET_KEYS = {"expect_mo": "from"}


def _check_handset(scenario: Scenario, step: Step) -> None:
    if step.action not in HANDSET_STEPS and step.action not in _HANDSET_KEYS:
        return
    key = _HANDSET_KEYS.get(step.action, "handset")
    named = step.args.get(key) if isinstance(step.args, Mapping) else None
    known = sorted(scenario.handsets)
    if named is not None and named not in scenario.handsets:
        hint = f"; declared: {', '.join(known)}" if known else "; the scenario declares none under handsets:"
        raise DocumentError(scenario.path, step.line, f"{step.describe()}: {key}: no handset {named!r}{hint}")
    if named is None and len(known) != 1:
        problem = "declares no handsets" if not known else f"has {len(known)} handsets ({', '.join(known)})"
        raise DocumentError(
            scenario.path,
            step.line,
            f"{step.describe()}: say which handset ({key}: NAME): the scenario {problem}",
        )


class DocumentErrors(DocumentError):
    """Every problem of one file, in line order; it reads as the first, prints as all."""

    def __init__(self, errors: list[DocumentError]) -> None:
        first = errors[0]
        super().__init__(first.path, first.line, first.message)
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(str(error.args[0]) for error in self.errors)


def check_file(path: Path) -> tuple[list[Scenario], list[DocumentError]]:
    """The scenarios of one file and every problem found in it, in line order."""
    try:
        document = load(path)
    except DocumentError as error:
        return [], [error]
    if document is None:
        problem = "the file holds no scenario: write scenarios: [...] or one scenario (docs/scenarios.md)"
        return [], [DocumentError(path, 0, problem)]
    octal = list(_leading_zeros(document))
    found: list[tuple[tuple[Any, ...], DocumentError]] = []
    if isinstance(document, list):
        found.append(((), DocumentError(path, getattr(document, "line", 1), (
            "the file is a bare list: put it under scenarios: (a first line 'scenarios:', the list"
            " indented below it), or make the file one scenario (name: and steps:)"
        ))))  # fmt: skip
        raws, prefixes = list(document), [[index] for index in range(len(document))]
        for raw, prefix in zip(raws, prefixes, strict=True):
            found += _schema_errors(document, raw, "scenario", path, prefix)
    elif isinstance(document, Mapping) and "scenarios" in document:
        found += _schema_errors(document, document, "file", path, [])
        listed = document["scenarios"]
        raws = list(listed) if isinstance(listed, list) else []
        prefixes = [["scenarios", index] for index in range(len(raws))]
    else:
        found += _schema_errors(document, document, "scenario", path, [])
        raws, prefixes = [document], [[]]
    # A value read as octal is said once, as octal, not again as "not a string".
    octal_places = {place for place, _ in octal}
    errors = [_octal_error(path, place, value) for place, value in octal]
    errors += [error for place, error in found if place not in octal_places]
    scenarios = []
    for raw, prefix in zip(raws, prefixes, strict=True):
        if not isinstance(raw, Mapping):
            continue
        broken = {
            place[len(prefix) + 1]
            for place, _ in found
            if len(place) > len(prefix) + 1 and list(place[: len(prefix) + 1]) == [*prefix, "steps"]
        }
        # Steps name handsets by the keys of handsets:, whatever is wrong inside them.
        handsets_ok = isinstance(raw.get("handsets") or {}, Mapping)
        scenario = _scenario(raw, path, broken)
        errors += _meaning_errors(scenario, raw, handsets_ok)
        scenarios.append(scenario)
    seen: dict[str, int] = {}
    for scenario in scenarios:
        if scenario.name and scenario.name in seen:
            problem = f"scenario name {scenario.name!r} is used twice in this file (first on line {seen[scenario.name]})"
            errors.append(DocumentError(path, scenario.line, problem))
        seen.setdefault(scenario.name, scenario.line)
    return scenarios, sorted(errors, key=lambda error: error.line)


def load_file(path: Path) -> list[Scenario]:
    """The scenarios of one file, checked.

    :raises DocumentErrors: every problem, each with the file, line and what is wrong.
    """
    scenarios, errors = check_file(path)
    if errors:
        raise DocumentErrors(errors)
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
