"""What a run prints (progress, a summary table, the failures) and its JUnit XML."""

from __future__ import annotations

import os
import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from simulators import timeline
from simulators.scenario.document import DocumentError
from simulators.scenario.runner import Outcome

_MARK = {"passed": "PASS", "failed": "FAIL", "error": "ERROR"}


class Progress:
    """One line per scenario as it ends, numbered ``[ 3/12]``; failures with their message."""

    def __init__(self, total: int, out: TextIO, *, quiet: bool = False) -> None:
        self.total = total
        self.done = 0
        self.out = out
        self.quiet = quiet

    def __call__(self, outcome: Outcome) -> None:
        self.done += 1
        if self.quiet and outcome.passed:
            return
        width = len(str(self.total))
        print(
            f"[{self.done:>{width}}/{self.total}] {_MARK[outcome.status]:<5} {outcome.scenario.name}"
            f"  ({outcome.scenario.where}, {outcome.seconds:.2f} s)",
            file=self.out,
            flush=True,
        )
        if not outcome.passed:
            print(_indent(_failure(outcome)), file=self.out, flush=True)
            print(_indent(_timeline(outcome, printed=timeline.PRINTED)), file=self.out, flush=True)


def _failure(outcome: Outcome) -> str:
    step = outcome.step.describe() if outcome.step is not None else "set-up"
    return f"{outcome.where}: {step}: {outcome.message}"


def _timeline(outcome: Outcome, *, printed: int | None = None) -> str:
    """The timeline of the scenario's handsets, as a failed one shows it."""
    if not outcome.timeline:
        return f"timeline: {outcome.timeline_note}"
    return "timeline of its handsets (carrier time):\n" + _indent(
        timeline.text(outcome.timeline, printed=printed), "  "
    )


def _indent(text: str, by: str = "    ") -> str:
    return "\n".join(by + line for line in text.splitlines())


def _classname(path: Path) -> str:
    """``examples/otp.yaml`` as ``examples.otp``, the dotted form JUnit readers group by."""
    parts = [part for part in path.with_suffix("").parts if part not in (os.sep, ".", "..")]
    return ".".join(parts)


def summary(outcomes: Sequence[Outcome], seconds: float, *, quiet: bool = False) -> str:
    """The table of every scenario, the failures in full, and the totals line; ``quiet``: the
    totals line alone (the failures were printed as they ended)."""
    if quiet:
        return _totals(outcomes, seconds)
    header = ("result", "scenario", "where", "time")
    rows = [(_MARK[o.status], o.scenario.name, o.where, f"{o.seconds:.2f} s") for o in outcomes]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()

    lines = ["", line(header), line(["-" * w for w in widths]), *map(line, rows)]
    failed = [o for o in outcomes if not o.passed]
    if failed:
        lines += ["", "Failures:"]
        for outcome in failed:
            lines.append(f"  {_MARK[outcome.status]} {outcome.scenario.name}")
            lines.append(_indent(_failure(outcome)))
    lines += ["", _totals(outcomes, seconds)]
    return "\n".join(lines)


def _totals(outcomes: Sequence[Outcome], seconds: float) -> str:
    counts = {status: sum(o.status == status for o in outcomes) for status in _MARK}
    totals = f"{counts['passed']} passed, {counts['failed']} failed"
    if counts["error"]:
        totals += f", {plural(counts['error'], 'error')}"
    return f"{plural(len(outcomes), 'scenario')}: {totals} in {seconds:.2f} s"


def write_junit(path: Path, outcomes: Sequence[Outcome], seconds: float) -> None:
    """JUnit XML as Jenkins, GitLab and GitHub reporters read it: one testsuite per file."""
    suites = ET.Element("testsuites", name="smsgw scenarios", tests=str(len(outcomes)), time=f"{seconds:.3f}")
    by_file: dict[Path, list[Outcome]] = {}
    for outcome in outcomes:
        by_file.setdefault(outcome.scenario.path, []).append(outcome)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    for file, group in by_file.items():
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=str(file),
            tests=str(len(group)),
            failures=str(sum(o.status == "failed" for o in group)),
            errors=str(sum(o.status == "error" for o in group)),
            skipped="0",
            time=f"{sum(o.seconds for o in group):.3f}",
            timestamp=stamp,
            hostname=socket.gethostname(),
        )
        for outcome in group:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_classname(file),
                name=outcome.scenario.name,
                file=str(file),
                line=str(outcome.step.line if outcome.step else outcome.scenario.line),
                time=f"{outcome.seconds:.3f}",
            )
            if not outcome.passed:
                kind = "failure" if outcome.status == "failed" else "error"
                first = outcome.message.splitlines()[0] if outcome.message else kind
                detail = ET.SubElement(case, kind, message=first, type=kind)
                detail.text = _failure(outcome)
                ET.SubElement(case, "system-out").text = _attached_timeline(path, file, outcome)
    ET.indent(suites)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def _attached_timeline(junit: Path, file: Path, outcome: Outcome) -> str:
    """The scenario's timeline for its test case's ``system-out``: written whole beside the
    JUnit file (``NAME.timelines/``) and named as an attachment, which Jenkins and GitLab
    show with the test."""
    if not outcome.timeline:
        return _timeline(outcome)
    directory = junit.parent / f"{junit.stem}.timelines"
    written = timeline.write(directory, f"{_classname(file)}.{outcome.scenario.name}", outcome.timeline)
    attachment = timeline.ATTACHMENT.format(path=written.resolve())
    return f"{_timeline(outcome)}\n{attachment}"


def write_junit_problem(path: Path, problem: str) -> None:
    """JUnit XML for a run that could not start: one case in error, saying why, so CI shows
    the reason instead of "no test results"."""
    suites = ET.Element("testsuites", name="smsgw scenarios", tests="1", errors="1", time="0")
    suite = ET.SubElement(suites, "testsuite", name="smsgw scenario run", tests="1", failures="0", errors="1")
    case = ET.SubElement(suite, "testcase", classname="smsgw.scenario", name="the run starts", time="0")
    ET.SubElement(case, "error", message=problem.splitlines()[0], type="error").text = problem
    ET.indent(suites)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def write_junit_problems(path: Path, problems: Sequence[DocumentError]) -> None:
    """JUnit XML for files that are not valid scenarios: one error case per problem, in the
    file's suite, so CI lists each with its line."""
    suites = ET.Element(
        "testsuites", name="smsgw scenarios", tests=str(len(problems)), errors=str(len(problems)), time="0"
    )
    by_file: dict[Path, list[DocumentError]] = {}
    for problem in problems:
        by_file.setdefault(problem.path, []).append(problem)
    for file, group in by_file.items():
        count = str(len(group))
        suite = ET.SubElement(suites, "testsuite", name=str(file), tests=count, failures="0", errors=count)
        for problem in group:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_classname(file),
                name=_clip(f"{file.name}:{problem.line}: {problem.message}", 120),
                file=str(file),
                line=str(problem.line),
                time="0",
            )
            ET.SubElement(case, "error", message=problem.message, type="error").text = str(problem.args[0])
    ET.indent(suites)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def plural(count: int, noun: str) -> str:
    """``1 error``, ``2 errors``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
