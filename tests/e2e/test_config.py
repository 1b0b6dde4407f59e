"""A wrong key in the TOML config stops ``smsgw serve`` with exit status 2 and a message naming the key."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import Smsgw

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("toml", "names"),
    [
        ("[smpp]\nprot = 1\n", ("smpp", "prot")),
        ('[network]\nprovisoning = "strict"\n', ("network", "provisoning")),
        ('[store]\nsynchronus = "full"\n', ("store", "synchronus")),
        (
            '[[accounts]]\nsystem_id = "a"\npassword = "b"\nthroughput_limit = 5\n',
            ("accounts", "throughput_limit"),
        ),
        ('[[subscribers]]\nmsisdn = "8613800000009"\nstatus = "off"\n', ("subscribers", "status")),
        ("[smtp]\nport = 25\n", ("smtp",)),
    ],
    ids=[
        "smpp.prot",
        "network.provisoning",
        "store.synchronus",
        "accounts.throughput_limit",
        "subscribers.status",
        "section-smtp",
    ],
)
def test_wrong_key_stops_start_up_with_status_2(tmp_path, toml, names) -> None:
    """smsgw serve --config with a misspelt key exits 2 before listening, and stderr names the section and the key."""
    smsgw = Smsgw(tmp_path, toml)
    result = subprocess.run(
        smsgw.command(), capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 2, (result.returncode, result.stderr)
    for name in names:
        assert name in result.stderr, result.stderr
    assert not smsgw.ports_file.exists()
