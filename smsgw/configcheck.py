"""The checks a configuration value passes, and the error that names every mistake.

Shared by smsgw's own sections (:mod:`smsgw.config`) and the sections another program reads
for it (the mock merchant's ``[merchant]``), so that every key's mistake reads the same way.
Each check takes ``where`` (the key, as ``accounts[0].system_id``) and the value, and returns
the value as the program keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smsgw.carrier.ussd import base_code
from smsgw.digits import is_digits

#: A key's check: ``(where, value) -> value as kept``, raising :class:`ConfigError`.
Check = Callable[[str, Any], Any]


class ConfigError(Exception):
    """The configuration is wrong; the message says where and how to fix it.

    :ivar problems: every mistake found, each naming its key and the fix: a file is checked
        whole, so that one run lists them all.
    """

    def __init__(self, *problems: str) -> None:
        super().__init__(*problems)
        self.problems = problems

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return self.problems[0]
        return f"{len(self.problems)} mistakes (fix them all):\n  " + "\n  ".join(self.problems)


def number(where: str, value: Any, *, minimum: float = 0, integer: bool = False) -> Any:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"{where}: {value!r} is not {'an integer' if integer else 'a number'}")
    if value < minimum:
        raise ConfigError(f"{where}: {value!r} is below the minimum {minimum:g}")
    return value


def port(where: str, value: Any) -> int:
    number(where, value, integer=True)
    if value > 65535:
        raise ConfigError(f"{where}: {value} is not a port (0-65535; 0 picks a free one)")
    return int(value)


def text(where: str, value: Any, *, max_length: int | None = None) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {value!r} is not a string")
    if max_length is not None and len(value) > max_length:
        raise ConfigError(f"{where}: {value!r} is longer than {max_length} characters (SMPP limit)")
    return value


def ascii_text(where: str, value: str) -> str:
    if not value.isascii():
        raise ConfigError(f"{where}: {value!r} must be ASCII (an SMPP C-octet string)")
    return value


def choice(options: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(where: str, value: Any) -> str:
        if value not in options:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(options)}")
        return str(value)

    return check


def flag(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {value!r} is not true or false")
    return value


def digits(where: str, value: Any) -> str:
    if not isinstance(value, str) or not is_digits(value):
        raise ConfigError(f'{where}: {value!r} is not a string of digits (e.g. "86")')
    return value


def ussd_code(where: str, value: Any) -> str:
    if not isinstance(value, str) or base_code(value) != (value, []):
        raise ConfigError(f'{where}: {value!r} is not a USSD service code like "*126#"')
    return value


def count(where: str, value: Any) -> int:
    """A whole number, at least 1."""
    return int(number(where, value, minimum=1, integer=True))


def fields(
    where: str,
    table: Any,
    checks: dict[str, Check],
    required: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Every key of a table checked; the mistakes of all its keys raised together."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table, got {table!r}")
    lead = f"{where}: " if where else ""
    problems: list[str] = []
    found = {}
    for key, value in table.items():
        if key not in checks:
            problems.append(f"{lead}unknown key {key!r}; allowed keys are {', '.join(sorted(checks))}")
            continue
        try:
            found[key] = checks[key](f"{where}.{key}" if where else key, value)
        except ConfigError as error:
            problems += error.problems
    problems += [f"{lead}{key} is required" for key in required if key not in table]
    if problems:
        raise ConfigError(*problems)
    return found


def each(where: str, items: list[Any], read: Callable[[str, Any], Any]) -> tuple[Any, ...]:
    """``read`` applied to every table of an array, the mistakes of all of them raised together."""
    problems: list[str] = []
    done = []
    for i, item in enumerate(items):
        try:
            done.append(read(f"{where}[{i}]", item))
        except ConfigError as error:
            problems += error.problems
    if problems:
        raise ConfigError(*problems)
    return tuple(done)
