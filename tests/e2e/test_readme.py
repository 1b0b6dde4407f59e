"""The README's shell commands, run as pasted against a fresh carrier, as a new user runs them.

Every ```sh block of README.md says what this test does with it on the line before its fence:
``<!-- readme-test: run -->`` or ``<!-- readme-test: skip (why) -->``; a block that says
neither fails the test, so a new block cannot go unchecked by accident. The blocks marked
run are pasted, in README order, into one bash session (as into one terminal, with
``set -e`` so the first failing command stops it) after a carrier started as ``make run``
starts it: ``.venv/bin/smsgw serve`` with its defaults, in a fresh directory.

The README's commands name the default ports (2775, 8775, 8776), as a user's do. So that
they run as written without taking those ports from anything else on the machine (another
test, a developer's ``make run``), the session runs in a network namespace of its own
(``unshare --user --net``: its own loopback, no privileges needed) where the defaults are
always free. Where unprivileged namespaces are not available, it runs on the machine's
loopback if the default ports are free there, and is skipped (saying so) if they are not.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Smsgw

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DEFAULT_PORTS = (2775, 8775, 8776)
SH_BLOCK = re.compile(r"(?P<before>[^\n]*)\n```sh\n(?P<body>.*?)```", re.S)
MARK = re.compile(r"<!-- readme-test: (?P<what>run|skip \((?P<why>[^)]+)\)) -->")
#: Seconds the whole session may take (it takes about 3 s).
SESSION_TIMEOUT = 90

#: Started before the README's blocks, as `make run` starts the carrier (in the directory
#: holding .venv); the ports file only tells the session when it listens, and the merchant's
#: health when the shop is bound. Stopped at the end, where it also reports the state the
#: README's commands left, for the test to check.
PROLOGUE = """\
set -euo pipefail
.venv/bin/smsgw serve --ports-file make-run.json > make-run.out 2> make-run.err &
CARRIER=$!
trap 'kill $CARRIER 2>/dev/null; wait $CARRIER 2>/dev/null || true' EXIT
for _ in $(seq 300); do [ -s make-run.json ] && break; sleep 0.05; done
for _ in $(seq 300); do
    curl -sf localhost:8776/health 2>/dev/null | grep -q '"bound": true' && break; sleep 0.05
done
"""
EPILOGUE = """\
echo '### state'
curl -s localhost:8775/api/handsets/8613800000002 > state-wang-fang.json
curl -s localhost:8775/api/handsets/8613800000003/ussd > state-zhang-min-ussd.json
curl -s localhost:8776/orders > state-orders.json
"""


def sh_blocks(text: str) -> list[tuple[str, str | None, str]]:
    """(mark, reason to skip, body) of each ```sh block, in order; mark is "" when absent."""
    blocks = []
    for found in SH_BLOCK.finditer(text):
        mark = MARK.fullmatch(found["before"].strip())
        if mark is None:
            blocks.append(("", None, found["body"]))
        else:
            blocks.append(("run" if mark["what"] == "run" else "skip", mark["why"], found["body"]))
    return blocks


def test_every_sh_block_says_whether_it_runs() -> None:
    """Each block is marked run or skipped with a reason, and the README has commands to run."""
    blocks = sh_blocks(README.read_text(encoding="utf-8"))
    unmarked = [body.splitlines()[0] for mark, _, body in blocks if not mark]
    assert not unmarked, f"```sh blocks without <!-- readme-test: run --> or skip (why): {unmarked}"
    assert sum(mark == "run" for mark, _, _ in blocks) >= 3


def test_the_banner_sample_is_the_real_banner(tmp_path: Path) -> None:
    """The README shows the banner `make run` prints: the same lines, in the same order (their
    values differ: the store path, the merchant's password)."""
    from smsgw import __version__

    text = README.read_text(encoding="utf-8")
    sample = re.search(r"```\n(smsgw \S+: the fake carrier is up\n.*?)```", text, re.S)
    assert sample is not None, "README.md has no banner sample"
    banner = _real_banner(tmp_path)
    assert sample[1].splitlines()[0] == banner[0] == f"smsgw {__version__}: the fake carrier is up"
    assert _labels(sample[1].splitlines()) == _labels(banner), banner


def _labels(lines: list[str]) -> list[str]:
    """What each banner line is about: its first word (SMPP, store, handsets:, ...), or its
    first key for the merchant's continuation line."""
    return [line.split()[0] for line in lines[1:] if line.strip()]


def _real_banner(workdir: Path) -> list[str]:
    """What `smsgw serve` prints with make run's defaults, on free ports (the labels do not
    depend on them)."""
    carrier = Smsgw(workdir)
    carrier.command = lambda: [  # type: ignore[method-assign]
        sys.executable, "-m", "smsgw", "serve", "--smpp-port", "0", "--http-port", "0",
        "--merchant-port", "0", "--db", ":memory:", "--ports-file", str(carrier.ports_file),
    ]  # fmt: skip
    carrier.start()
    try:
        return carrier.stdout().splitlines()
    finally:
        carrier.stop()


def _isolation() -> list[str]:
    """How to run the session so the default ports are its own: the command prefix, or skip."""
    if shutil.which("unshare") and shutil.which("ip"):
        probe = subprocess.run(
            ["unshare", "--user", "--map-root-user", "--net", "ip", "link", "set", "lo", "up"],
            capture_output=True,
            timeout=10,
        )
        if probe.returncode == 0:
            return [
                "unshare",
                "--user",
                "--map-root-user",
                "--net",
                "sh",
                "-c",
                'ip link set lo up && exec "$@"',
                "-",
            ]
    busy = []
    for port in DEFAULT_PORTS:
        with socket.socket() as probe_socket:
            if probe_socket.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(port)
    if busy:
        pytest.skip(
            f"the README's commands use the default ports, and {busy} are taken on this machine "
            "(no unprivileged network namespace to run them in: unshare --user --net failed)"
        )
    return []


def test_the_readme_commands_run_as_pasted(tmp_path: Path) -> None:
    """The run blocks succeed in one session after `make run`, pay the order with the code the
    phone received, and leave Wang Fang on and no USSD dialogue open."""
    for tool in ("bash", "curl", "sed"):
        if shutil.which(tool) is None:
            pytest.skip(f"the README's commands need {tool}, which this machine lacks")
    venv = Path(sys.prefix)
    if not (venv / "bin" / "smsgw").exists() or not (venv / "bin" / "activate").exists():
        pytest.skip(f"not run from a virtualenv with smsgw installed ({venv}); make test makes one")
    blocks = [body for mark, _, body in sh_blocks(README.read_text(encoding="utf-8")) if mark == "run"]
    assert blocks, "README.md has no block marked <!-- readme-test: run -->"
    (tmp_path / ".venv").symlink_to(venv)  # a fresh clone after `make run`: .venv, nothing else
    script = PROLOGUE
    for number, body in enumerate(blocks, start=1):
        script += f"echo '### block {number}'\n{body}"
    script += EPILOGUE
    (tmp_path / "readme.sh").write_text(script, encoding="utf-8")
    # A session of its own, so a timeout ends the carrier it started too, not only bash.
    process = subprocess.Popen(
        [*_isolation(), "bash", "readme.sh"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=SESSION_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(
            f"the README's commands did not end within {SESSION_TIMEOUT} s:\n{stdout}"
        ) from None
    session = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    shown = f"stdout:\n{session.stdout}\nstderr:\n{session.stderr}"
    assert session.returncode == 0, shown
    assert '"error"' not in session.stdout, shown  # curl -s exits 0 on an HTTP error: read its answers
    assert "### state" in session.stdout, shown
    assert json.loads((tmp_path / "state-wang-fang.json").read_text())["state"] == "on"
    ussd = json.loads((tmp_path / "state-zhang-min-ussd.json").read_text())
    assert ussd["state"] in ("idle", "closed"), ussd
    orders = json.loads((tmp_path / "state-orders.json").read_text())["orders"]
    assert orders and all(order["status"] == "paid" for order in orders), orders
