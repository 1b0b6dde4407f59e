"""The coverage-guided fuzzer runs in CI for a bounded time (a longer run is in its docstring)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris is not installed (pip install -e '.[test]')")

HERE = Path(__file__).resolve().parent


def test_the_smpp_decoder_and_session_survive_fuzzing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(HERE / "seeds", corpus)
    result = subprocess.run(
        [sys.executable, str(HERE / "fuzz_smpp.py"), "-runs=30000", f"-artifact_prefix={tmp_path}/", str(corpus)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    done = re.search(r"Done (\d+) runs", result.stderr)
    assert done and int(done[1]) == 30000


def test_the_cmpp_decoder_survives_fuzzing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(HERE / "cmpp_seeds", corpus)
    result = subprocess.run(
        [sys.executable, str(HERE / "fuzz_cmpp.py"), "-runs=30000", f"-artifact_prefix={tmp_path}/", str(corpus)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    done = re.search(r"Done (\d+) runs", result.stderr)
    assert done and int(done[1]) == 30000
