"""A test's timeline as a failed test shows it: read from the carrier (``GET /api/timeline``),
printed one step a line, and written to files a CI system attaches to the test's report."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from simulators.http import SmsgwError, call_api

#: Steps read for one failed test: enough for a few payments; the newest are kept.
LIMIT = 2000
#: Steps printed inline; the file written beside the report has them all.
PRINTED = 60
#: The JUnit ``system-out`` convention Jenkins' and GitLab's JUnit readers show as an attachment.
ATTACHMENT = "[[ATTACHMENT|{path}]]"


def fetch(http_url: str, namespace: str, *, timeout: float = 10.0) -> tuple[list[dict[str, Any]], str]:
    """The steps of a namespace (and of those inside it), oldest first, and a note when there
    are none to show (a carrier without a timeline, say); never raises for the carrier's sake:
    a failed test is reported with or without its timeline."""
    try:
        answer = call_api(
            http_url, "GET", "/api/timeline", query={"namespace": namespace, "limit": LIMIT}, timeout=timeout
        )
    except SmsgwError as error:
        if error.status == 404:
            return [], "this carrier keeps no timeline (GET /api/timeline: 404)"
        return [], f"the timeline could not be read: {error}"
    steps: list[dict[str, Any]] = answer.get("steps", [])
    return steps, "" if steps else f"no step was recorded in namespace {namespace}"


def describe(step: Mapping[str, Any]) -> str:
    """One step on one line: its time, kind, who and what."""
    at = str(step.get("at", ""))
    clock = at[11:23] if len(at) >= 23 else at
    who = " ".join(
        str(value)
        for value in (
            step.get("msisdn"),
            _labelled("msg", step.get("message_id")),
            _labelled("order", step.get("order_id")),
            _labelled("ussd", step.get("session")),
            step.get("system_id"),
        )
        if value
    )
    return f"{clock}  {step.get('kind', '?'):<24} {who}  {_detail(step.get('detail') or {})}".rstrip()


def _labelled(label: str, value: object) -> str:
    return f"{label} {value}" if value not in (None, "") else ""


def _detail(detail: Mapping[str, Any]) -> str:
    shown = json.dumps(detail, ensure_ascii=False, separators=(", ", ": "))
    return shown if len(shown) <= 160 else shown[:157] + "..."


def text(steps: Sequence[Mapping[str, Any]], *, printed: int | None = None) -> str:
    """The steps one a line; with ``printed``, only the newest that many, saying how many
    earlier ones were left out."""
    shown = list(steps) if printed is None else list(steps)[-printed:]
    lines = [describe(step) for step in shown]
    if len(shown) < len(steps):
        lines.insert(0, f"... {len(steps) - len(shown)} earlier steps (in the file beside the report)")
    return "\n".join(lines)


def write(directory: Path, name: str, steps: Sequence[Mapping[str, Any]]) -> Path:
    """Write the steps as ``NAME.txt`` (one a line) and ``NAME.json`` (whole, with each PDU
    decoded and in hex) in ``directory``; return the JSON file's path."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / slug(name)
    stem.with_suffix(".txt").write_text(text(steps) + "\n", encoding="utf-8")
    path = stem.with_suffix(".json")
    path.write_text(json.dumps({"steps": list(steps)}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def slug(name: str) -> str:
    """A test's name as a file name: letters, digits, ``.``, ``_`` and ``-``; at most 100."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:100] or "test"
