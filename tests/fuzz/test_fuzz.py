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


@pytest.mark.parametrize(
    ("harness", "seeds"),
    [("fuzz_smpp.py", "seeds"), ("fuzz_cmpp.py", "cmpp_seeds")],
    ids=["smpp decoder and session", "cmpp decoder"],
)
def test_the_decoders_survive_fuzzing(tmp_path: Path, harness: str, seeds: str) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(HERE / seeds, corpus)
    result = subprocess.run(
        [sys.executable, str(HERE / harness), "-runs=30000", f"-artifact_prefix={tmp_path}/", str(corpus)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    done = re.search(r"Done (\d+) runs", result.stderr)
    assert done and int(done[1]) == 30000
