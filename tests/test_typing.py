"""The typed packages pass ``mypy --strict`` (settings in setup.cfg), and every ignore is checked.

mypy runs as a subprocess from the repository root, so it reads setup.cfg and sees this
checkout's ``smsgw``; its cache is the gitignored ``.mypy_cache``, which makes a run after the
first a matter of a second or two.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: The packages held to --strict. A package added here is also named in setup.cfg's
#: ``[mypy-...]`` section, so it is checked strictly when reached through an import too.
STRICT_PACKAGES = ("smsgw/smpp", "smsgw/cmpp", "smsgw/carrier", "smsgw/store", "smsgw/text", "smsgw/frontend")


def test_strict_packages_pass_mypy() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", ".mypy_cache", *STRICT_PACKAGES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(result.stdout + result.stderr, pytrace=False)
