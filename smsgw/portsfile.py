"""The ports file (``smsgw serve --ports-file``): there exactly while the carrier listens.

A script starts smsgw and waits for the file to appear, so the file must never name ports
that nothing listens on: it is written whole (temporary file and rename) once every listener
is up, removed at stop, and one left by a run that was killed is removed before the next
start, also when that start fails.
"""

from __future__ import annotations

import json
import os
from contextlib import suppress
from typing import Any

from smsgw.atomic import write_json


def write(path: str, endpoints: dict[str, Any]) -> None:
    """Write the endpoints, with this process's id to tell its file from a stale one."""
    write_json(path, {**endpoints, "pid": os.getpid()})


def remove_stale(path: str) -> None:
    """Remove a file whose process is gone (or that names none: an older smsgw's, or torn).

    A file whose smsgw still runs is left alone: it is that carrier's, not stale.
    """
    owner = _owner(path)
    if owner is not None and owner != os.getpid() and _is_running(owner):
        return
    with suppress(FileNotFoundError):
        os.unlink(path)


def remove_own(path: str) -> None:
    """At stop: remove the file if this process wrote it (not one a later carrier took over)."""
    if _owner(path) == os.getpid():
        with suppress(FileNotFoundError):
            os.unlink(path)


def _owner(path: str) -> int | None:
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, ValueError):
        return None
    pid = data.get("pid") if isinstance(data, dict) else None
    return pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else None


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: running
        return True
    return True
