"""The TOML config: wrong keys stop ``smsgw serve`` with exit status 2 and messages naming each key;
[[ussd]] routes beside the mock merchant's code."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import Smsgw
from .test_ussd import menu_app  # noqa: F401 - a fixture: an HTTP USSD application

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


def _serve(smsgw: Smsgw, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run ``smsgw serve`` that is expected to stop at its configuration."""
    return subprocess.run(
        [*smsgw.command(), *extra], capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL
    )


def test_every_mistake_of_the_file_is_listed_with_status_2(tmp_path) -> None:
    """Four mistakes in four sections: one run names them all, so CI needs one run, not four."""
    smsgw = Smsgw(
        tmp_path,
        '[smpp]\nwindow = "ten"\n[[accounts]]\nsystem_id = "shop"\npassword = "secret"\nbind_types = ["tx"]\n'
        '[network]\nprovisoning = "strict"\n[[ussd]]\ncode = "126"\naccount = "shop"\n',
    )
    result = _serve(smsgw)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "4 mistakes" in result.stderr, result.stderr
    for key in (
        "smpp.window",
        "accounts[0].bind_types[0]",
        "network: unknown key 'provisoning'",
        "ussd[0].code",
    ):
        assert key in result.stderr, result.stderr
    assert not smsgw.ports_file.exists()


def test_a_latin1_byte_is_a_configuration_error_naming_file_line_and_byte(tmp_path) -> None:
    """Not a traceback with status 1: status 2 and where the byte is."""
    smsgw = Smsgw(tmp_path)
    smsgw.config_path = tmp_path / "latin1.toml"
    smsgw.config_path.write_bytes(b'[merchant]\nshop_name = "Caf\xe9"\n')
    result = _serve(smsgw)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert f"{smsgw.config_path}, line 2, column 17: byte 0xE9 is not UTF-8" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_file_saved_with_a_byte_order_mark_starts(tmp_path) -> None:
    smsgw = Smsgw(tmp_path)
    smsgw.config_path = tmp_path / "bom.toml"
    smsgw.config_path.write_bytes(b"\xef\xbb\xbf[network]\nussd_max_length = 160\n")
    smsgw.start()
    try:
        assert smsgw.get("/api/health")
    finally:
        smsgw.stop()


class WithMerchant(Smsgw):
    """``smsgw serve`` with its built-in merchant on a free port."""

    def command(self) -> list[str]:
        args = [arg for arg in super().command() if arg != "--no-merchant"]
        return [*args, "--merchant-port", "0"]


def test_a_ussd_route_adds_to_the_merchants_star_126(tmp_path, menu_app: str) -> None:  # noqa: F811
    """With a [[ussd]] route to an HTTP app, *126# still reaches the mock merchant's menu, and
    the banner names both codes and where each goes."""
    smsgw = WithMerchant(tmp_path, f'[[ussd]]\ncode = "*384#"\nurl = "{menu_app}"\n').start()
    try:
        msisdn = "8613800000001"
        status, merchant = smsgw.api("POST", f"/api/handsets/{msisdn}/ussd?wait=5", {"dial": "*126#"})
        assert status == 200 and merchant["screen"].startswith("1 Pay merchant"), merchant
        smsgw.api("DELETE", f"/api/handsets/{msisdn}/ussd")
        status, app = smsgw.api("POST", f"/api/handsets/{msisdn}/ussd?wait=5", {"dial": "*384#"})
        assert status == 200 and app["screen"].startswith("Welcome"), app
        banner = smsgw.stdout()
        assert f"USSD:     *384# -> {menu_app}, *126# -> merchant (the mock merchant)" in banner, banner
    finally:
        smsgw.stop()


def test_a_route_for_the_merchants_code_is_an_error_naming_both(tmp_path) -> None:
    """Status 2 and the three ways out; with --no-merchant the same file starts and the route answers."""
    toml = '[[ussd]]\ncode = "*126#"\naccount = "smsgw"\n'
    result = _serve(WithMerchant(tmp_path / "with", toml))
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert (
        "ussd[0].code: '*126#' is also the mock merchant's USSD code ([merchant] ussd_code" in result.stderr
    )
    for fix in ("give [merchant] another ussd_code", "enabled = false", "remove this route"):
        assert fix in result.stderr, result.stderr
    smsgw = Smsgw(tmp_path / "without", toml).start()
    try:
        assert "USSD:     *126# -> smsgw\n" in smsgw.stdout()
    finally:
        smsgw.stop()
