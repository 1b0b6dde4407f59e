"""The documentation's configuration examples: each one starts a carrier as written.

A user copies a ```toml block into a file and runs ``smsgw serve --config`` with it; an
example that names an account it does not define, or drops the built-in one that the
defaults still point at, fails on the first try.
"""

from __future__ import annotations

import re
import subprocess
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
def test_the_docs_link_only_to_what_the_repository_holds(path: Path) -> None:
    """A reader can open every file a page links to."""
    text = path.read_text(encoding="utf-8")
    missing = [target for target in LINK.findall(text) if not (path.parent / target).exists()]
    assert not missing, f"{path.name} links to files that do not exist: {missing}"


# The design notes the project started from; none is in the repository, so a reader cannot
# follow a citation of one. Spelled in parts so that this file does not cite them itself.
UNSHIPPED_NOTES = re.compile(r"\b(?:PROTOCOL|STYLE|PERFORMANCE|DESIGN)\.md\b")


def _tracked_text_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    paths = [ROOT / name for name in listed.split("\0") if name]
    return [path for path in paths if path.is_file() and b"\0" not in path.read_bytes()]


def test_nothing_cites_design_notes_outside_the_repository() -> None:
    """No tracked file (code, tests, docs, benchmarks, README) sends a reader to a note that is
    not in the repository: the comment states the fact itself, with its public source."""
    citing = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _tracked_text_files()
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if UNSHIPPED_NOTES.search(line)
    ]
    assert not citing, (
        "these lines cite a design note that is not in the repository; say the fact in the comment "
        "with its public source (e.g. SMPP v3.4 §5.2.19, 3GPP TS 23.040 §9.2.3.24, GSM 04.80), or "
        "point to the docs/ page or benchmarks/README.md that holds it: " + ", ".join(citing)
    )
