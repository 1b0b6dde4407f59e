"""The benchmark's many-bind load generator against a real smsgw: what its tables rest on."""

from __future__ import annotations

import pytest

from benchmarks.multiload import run_multi

pytestmark = pytest.mark.e2e


def test_every_submit_from_many_binds_is_answered_and_receipted_once(start_server) -> None:
    """Four transceivers of one account, five submits in flight each: every submit_sm is
    answered, and every message_id gets exactly one receipt on one of the account's binds."""
    smsgw = start_server()
    host, port = smsgw.smpp_address
    system_id, password = smsgw.ports["system_id"], smsgw.ports["password"]
    result = run_multi(host, port, system_id, password, n=400, binds=4, window=5)
    assert result["stopped"] == "complete", result
    assert (result["responses"], result["errors"]) == (400, 0), result
    assert (result["receipts"], result["matched"], result["unmatched"], result["orphan_receipts"]) == (
        400,
        400,
        0,
        0,
    ), result
