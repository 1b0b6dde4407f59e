"""The documentation's configuration examples: each one starts a carrier as written.

A user copies a ```toml block into a file and runs ``smsgw serve --config`` with it; an
example that names an account it does not define, or drops the built-in one that the
defaults still point at, fails on the first try.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from simulators.merchant.companion import read_section
from smsgw.config import config_from_dict

ROOT = Path(__file__).resolve().parent.parent
TOML_BLOCK = re.compile(r"```toml\n(.*?)```", re.S)


def _examples() -> list[tuple[str, str]]:
    examples = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for number, block in enumerate(TOML_BLOCK.findall(path.read_text(encoding="utf-8")), start=1):
            examples.append((f"{path.relative_to(ROOT)} example {number}", block))
    return examples


EXAMPLES = _examples()


def test_the_docs_have_configuration_examples() -> None:
    """The scan below finds the examples (a changed fence would otherwise skip them all)."""
    assert len(EXAMPLES) >= 4, [name for name, _ in EXAMPLES]


@pytest.mark.parametrize(("name", "block"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_every_configuration_example_loads_whole(name: str, block: str) -> None:
    """Each ```toml block of README.md and docs/ is a whole configuration that loads."""
    config_from_dict(tomllib.loads(block), source=name, read_merchant=read_section)


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\((?!https?:|#|mailto:)([^)#\s]+)")


@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_the_docs_cite_only_what_the_repository_holds(path: Path) -> None:
    """A reader can open every file a page links to, and no page sends them to notes that are
    not in the repository (the design's PROTOCOL.md)."""
    text = path.read_text(encoding="utf-8")
    missing = [target for target in LINK.findall(text) if not (path.parent / target).exists()]
    assert not missing, f"{path.name} links to files that do not exist: {missing}"
    if not (ROOT / "PROTOCOL.md").exists():
        assert "PROTOCOL.md" not in text, f"{path.name} cites PROTOCOL.md, which is not in the repository"
