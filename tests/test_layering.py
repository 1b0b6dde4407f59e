"""Inner layers import nothing from outer ones: dependencies point inward.

``smsgw.smpp`` and ``smsgw.text`` are sans-I/O: no Twisted, and neither imports the other or any
layer above. ``smsgw.carrier`` and ``smsgw.store`` import no Twisted and no adapter (``smsgw.server``,
``smsgw.web``), and the store knows nothing of the carrier. Only the adapters touch the reactor, and smsgw imports nothing from its simulators."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "smsgw"
FORBIDDEN = {
    "smpp": ("twisted", "smsgw.carrier", "smsgw.store", "smsgw.server", "smsgw.web", "smsgw.text"),
    "text": ("twisted", "smsgw.carrier", "smsgw.store", "smsgw.server", "smsgw.web", "smsgw.smpp"),
    "carrier": ("twisted", "smsgw.server", "smsgw.web"),
    "store": ("twisted", "smsgw.carrier", "smsgw.server", "smsgw.web"),
}


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        return [node.module]
    return []


def imports(path: Path) -> set[str]:
    return {name for node in ast.walk(ast.parse(path.read_text())) for name in _imported(node)}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_does_not_import_outer_layers(layer: str) -> None:
    """Modules of each inner layer import neither Twisted nor any outer layer."""
    for path in sorted((PACKAGE / layer).glob("*.py")):
        bad = [n for n in imports(path) if n.startswith(FORBIDDEN[layer])]
        assert not bad, f"{path.name} imports {bad}"


#: The one place smsgw may import its simulators: the ``smsgw`` command's table in ``main()``
#: (``smsgw serve`` hands the carrier the mock merchant; ``merchant``, ``demo``, ``scenario``
#: and ``phone`` run one).
COMMAND_TABLE = ("cli.py", "main")


def simulator_imports(path: Path) -> list[str]:
    """``path``'s imports of ``simulators``, each as ``line N: name``, but those in the
    command table."""
    tree = ast.parse(path.read_text())
    allowed: set[int] = set()
    if path.relative_to(PACKAGE).as_posix() == COMMAND_TABLE[0]:
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == COMMAND_TABLE[1]:
                allowed.update(id(inner) for inner in ast.walk(node))
    return [
        f"line {node.lineno}: {name}"
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in allowed
        for name in _imported(node)
        if name == "simulators" or name.startswith("simulators.")
    ]


def test_smsgw_does_not_import_its_simulators() -> None:
    """The carrier does not depend on its own test clients: only the command table may start them."""
    bad = {
        path.relative_to(PACKAGE).as_posix(): found
        for path in sorted(PACKAGE.rglob("*.py"))
        if (found := simulator_imports(path))
    }
    assert not bad, (
        f"smsgw imports simulators: {bad}. smsgw must not depend on its simulators: put what both "
        "need in smsgw (as smsgw.apiclient), and hand smsgw what it runs from the simulators through "
        "a seam (as smsgw.companion) filled in by the command table, main() in smsgw/cli.py, the one "
        "place that may import simulators (lazily, inside main())"
    )
