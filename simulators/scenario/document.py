"""YAML in, plain data out, with the line each mapping and list started on.

Errors in a scenario name its file and line, so the loader keeps PyYAML's marks on the
containers it builds, and refuses a key given twice (YAML would keep the last one silently).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class Located(dict[str, Any]):
    """A mapping that knows the line it started on (1-based)."""

    line: int = 0


class LocatedList(list[Any]):
    """A list that knows the line it started on (1-based)."""

    line: int = 0


class LeadingZero(int):
    """An integer YAML read from digits with a leading zero (``0420`` is octal 272): almost
    always a code or an answer meant as text. ``written`` is what the file says."""

    written: str = ""
    line: int = 0


class DocumentError(Exception):
    """A file that is not the YAML it should be; ``line`` is 1-based, 0 when unknown."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        self.path = path
        self.line = line
        self.message = message


class _Loader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Located:  # type: ignore[override]
        mapping = Located()
        mapping.line = node.start_mark.line + 1
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in mapping:
                raise yaml.MarkedYAMLError(
                    problem=f"{key!r} is given twice in this mapping", problem_mark=key_node.start_mark
                )
            mapping[key] = self.construct_object(value_node, deep=True)
        return mapping

    def construct_leading_zero(self, node: yaml.ScalarNode) -> int:
        value = self.construct_yaml_int(node)
        digits = str(node.value).lstrip("+-")
        if len(digits) > 1 and digits[0] == "0" and digits[1] in "01234567_":
            marked = LeadingZero(value)
            marked.written = str(node.value)
            marked.line = node.start_mark.line + 1
            return marked
        return value

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LocatedList:  # type: ignore[override]
        items = LocatedList(self.construct_object(child, deep=True) for child in node.value)
        items.line = node.start_mark.line + 1
        return items


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_sequence)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_leading_zero)


def load(path: Path) -> Any:
    """The document in ``path``.

    :raises DocumentError: unreadable, not YAML, or a key given twice; with the line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DocumentError(path, 0, f"cannot read it: {error}") from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        line = mark.line + 1 if mark is not None else 0
        raise DocumentError(path, line, f"not valid YAML: {error.problem}") from None
    except yaml.YAMLError as error:
        raise DocumentError(path, 0, f"not valid YAML: {error}") from None


def line_of(document: Any, path: list[Any]) -> int:
    """The line of the innermost container along ``path`` (keys and indexes) into ``document``."""
    line = getattr(document, "line", 0)
    node = document
    for key in path:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
        line = getattr(node, "line", line)
    return line
