"""schemathesis against GET /api/openapi.json: generated requests, valid and not, never make
smsgw answer 500 or anything its document does not describe.

Bounded for CI (10 examples an operation). The long polls (inbox and USSD screen, which may
wait up to 300 s by design) are left out, and so is the check that every schema-valid body is
accepted: a fault rule's keys depend on its effect in ways a schema does not say. A longer run:
``schemathesis run http://127.0.0.1:8775/api/openapi.json --url http://127.0.0.1:8775 -n 200``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Smsgw

pytestmark = pytest.mark.e2e

if shutil.which("schemathesis", path=str(Path(sys.executable).parent)) is None:
    pytest.skip("schemathesis is not installed (pip install -e '.[test]')", allow_module_level=True)


def test_generated_requests_get_documented_answers(server: Smsgw, tmp_path: Path) -> None:
    url = server.ports["http_url"]
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "run", f"{url}/api/openapi.json", "--url", url,
        "-n", "10", "--request-timeout", "10", "--phases", "examples,fuzzing",
        "--exclude-operation-id", "getInbox", "--exclude-operation-id", "getUssd",
        "--exclude-path", "/api/events", "--exclude-checks", "positive_data_acceptance",
        "--report", "junit", "--report-dir", str(tmp_path),
    ]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
