"""``{{name}}`` and ``{{name.field}}`` in step arguments, filled from what earlier steps captured."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]\w*(?:\.\w+)*)\s*\}\}")


class Undefined(LookupError):
    """A placeholder names nothing captured so far; the message lists what is."""


def lookup(path: str, variables: Mapping[str, Any]) -> Any:
    """The value at a dotted path (``order.id``)."""
    value: Any = variables
    walked: list[str] = []
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            if not walked:
                known = ", ".join(sorted(variables)) or "nothing yet"
                raise Undefined(f"{{{{{path}}}}} is not defined here (defined: {known})")
            fields = ", ".join(sorted(value)) if isinstance(value, Mapping) else type(value).__name__
            raise Undefined(f"{{{{{path}}}}}: {'.'.join(walked)} has no {key!r} (it has: {fields})")
        value = value[key]
        walked.append(key)
    return value


def render(value: Any, variables: Mapping[str, Any]) -> Any:
    """``value`` with every placeholder in its strings replaced; other values as they are."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda found: str(lookup(found.group(1), variables)), value)
    if isinstance(value, Mapping):
        return {key: render(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, variables) for item in value]
    return value
