"""Inner layers import nothing from outer ones: dependencies point inward.

``smsgw.smpp`` and ``smsgw.text`` are sans-I/O: no Twisted, and neither imports the other or any
layer above. ``smsgw.carrier`` and ``smsgw.store`` import no Twisted and no adapter (``smsgw.server``,
``smsgw.web``), and the store knows nothing of the carrier. Only the adapters touch the reactor."""

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


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_does_not_import_outer_layers(layer: str) -> None:
    """Modules of each inner layer import neither Twisted nor any outer layer."""
    for path in sorted((PACKAGE / layer).glob("*.py")):
        bad = [n for n in imports(path) if n.startswith(FORBIDDEN[layer])]
        assert not bad, f"{path.name} imports {bad}"
