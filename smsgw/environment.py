"""Settings from the environment, as containers are configured: ``SMSGW_<SECTION>_<KEY>``
over the config file, under the command line (docs/configuration.md#environment).

``SMSGW_SMPP_PORT=2775`` is ``[smpp] port = 2775``; ``SMSGW_MERCHANT_HTTP_HOST=0.0.0.0`` is
``[merchant] http_host = "0.0.0.0"``. A section of tables takes a TOML array as a whole:
``SMSGW_ACCOUNTS='[{system_id = "shop", password = "secret"}]'``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from typing import Any

import attrs

from smsgw.configcheck import ConfigError

PREFIX = "SMSGW_"
#: Sections of single values: one variable a key.
VALUE_SECTIONS = ("smpp", "cmpp", "http", "store", "timeline", "network", "merchant")
#: Sections that are arrays of tables: one variable holding the whole array.
TABLE_SECTIONS = ("accounts", "subscribers", "ussd", "faults")
#: Variables of smsgw's that are not settings of a section.
OTHER_VARIABLES = frozenset(
    {
        "SMSGW_CONFIG",  # the config file (serve --config; the pytest plugin's carrier)
        "SMSGW_TOKEN",  # the HTTP API token, for the carrier and for its clients
        "SMSGW_URL",  # the carrier a client or the pytest plugin uses
        "SMSGW_PG_BIN",  # where the tests find PostgreSQL's programs
        "SMSGW_CRASH_MESSAGES",  # the crash test's load
        "SMSGW_PID",
        "SMSGW_CONTAINER",  # the pytest plugin's carrier image
    }
)
#: Variables for others: docker-compose.yml's.
OTHER_PREFIXES = ("SMSGW_COMPOSE_",)


def variable(section: str, key: str | None = None) -> str:
    """The variable that sets ``[section] key`` (or a section of tables)."""
    return PREFIX + (section if key is None else f"{section}_{key}").upper()


def read_value(text: str, is_text: bool = False) -> Any:
    """A variable's value: the text itself for a key that holds text (``0.0.0.0``, ``10086``,
    ``postgresql://…``), else a TOML value when it is one (``2775``, ``true``, ``1.5``,
    ``[…]``), else the text (which the key's check refuses, saying what it wants)."""
    if is_text:
        return text
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def text_keys(*settings: type) -> frozenset[str]:
    """The keys of attrs settings classes whose type is text (``str`` or ``str | None``)."""
    return frozenset(
        field.name
        for cls in settings
        for field in attrs.fields(cls)
        if str(field.type).replace(" ", "") in ("str", "str|None", "None|str")
    )


def settings(
    environ: Mapping[str, str], text: Mapping[str, frozenset[str]] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The ``SMSGW_…`` variables as config sections, and which variable set each key (by its
    ``section.key`` as the config's messages name it).

    :param text: each section's keys that hold text (:func:`text_keys`): a variable for one
        is taken as it is, never read as a number.

    :raises ConfigError: naming every variable that is no setting, or whose array is not TOML.
    """
    tables: dict[str, Any] = {}
    origins: dict[str, str] = {}
    problems: list[str] = []
    for name in sorted(environ):
        if not name.startswith(PREFIX) or name in OTHER_VARIABLES or name.startswith(OTHER_PREFIXES):
            continue
        value = environ[name]
        rest = name[len(PREFIX) :].lower()
        if rest in TABLE_SECTIONS:
            table = read_value(value)
            if not isinstance(table, list):
                problems.append(f"${name}: give a TOML array of tables, like '[{{system_id = \"shop\"}}]'")
                continue
            tables[rest] = table
            origins[rest] = name
            continue
        section, _, key = rest.partition("_")
        if section not in VALUE_SECTIONS or not key:
            problems.append(
                f"${name} is not a setting: use SMSGW_<SECTION>_<KEY> with SECTION one of "
                f"{', '.join(s.upper() for s in VALUE_SECTIONS)} (SMSGW_SMPP_PORT is [smpp] port), "
                f"or SMSGW_{'|'.join(s.upper() for s in TABLE_SECTIONS)} holding a TOML array"
            )
            continue
        is_text = key in (text or {}).get(section, frozenset())
        tables.setdefault(section, {})[key] = read_value(value, is_text)
        origins[f"{section}.{key}"] = name
    if problems:
        raise ConfigError(*problems)
    return tables, origins


def merged(file: dict[str, Any], environment: dict[str, Any]) -> dict[str, Any]:
    """The file's sections with the environment's over them, key by key (a section of tables
    as a whole)."""
    result = dict(file)
    for section, value in environment.items():
        if isinstance(value, dict) and isinstance(result.get(section), dict):
            result[section] = {**result[section], **value}
        else:
            result[section] = value
    return result


def named(problems: tuple[str, ...] | list[str], origins: Mapping[str, str]) -> list[str]:
    """The config's messages with the variable named where one set the key they are about."""
    out = []
    for problem in problems:
        where = problem.split(":", 1)[0]
        unknown = _UNKNOWN_KEY.search(problem)
        if unknown is not None:
            where = f"{where}.{unknown.group(1)}"
        found = [k for k in origins if where == k or where.startswith((f"{k}.", f"{k}["))]
        out.append(f"${origins[found[0]]}: {problem}" if found else problem)
    return out


_UNKNOWN_KEY = re.compile(r"^[a-z_]+: unknown key '([a-z0-9_]+)'")
