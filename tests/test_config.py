"""Configuration: defaults without a file, and errors that name the key and the fix."""

from __future__ import annotations

import functools

import pytest

from simulators.merchant.companion import read_section
from smsgw import config as carrier_config
from smsgw.carrier.faults import Effect
from smsgw.config import ConfigError
from smsgw.smpp.constants import BindType

# As smsgw serve loads it: with the mock merchant's [merchant] section.
config_from_dict = functools.partial(carrier_config.config_from_dict, read_merchant=read_section)
load_config = functools.partial(carrier_config.load_config, read_merchant=read_section)


def test_defaults_work_without_a_file() -> None:
    """No file gives loopback ports 2775/8775, the built-in account and demo subscribers."""
    config = load_config(None)
    assert (config.smpp.host, config.smpp.port, config.http.port) == ("127.0.0.1", 2775, 8775)
    assert config.accounts[0].system_id == "smsgw" and config.accounts[0].short_codes == ("12345",)
    assert len(config.subscribers) == 5


def test_full_file(tmp_path) -> None:
    """A TOML file sets accounts, subscribers (normalised) and limits."""
    path = tmp_path / "smsgw.toml"
    path.write_text(
        """
[smpp]
port = 0
window = 50
[network]
country_code = "86"
default_account = "shop"
[[accounts]]
system_id = "shop"
password = "secret"
bind_types = ["transceiver"]
throughput = 100
short_codes = ["10086"]
message_id_format = "hex"
ussd_session = "user_message_reference"
ussd_data_coding = "cbs"
[merchant]
enabled = false
otp_length = 8
otp_ttl = 60
[[faults]]
name = "lane"
effect = "refuse_submit"
msisdn = "86139*"
every = 3
status = "ESME_RTHROTTLED"
[[faults]]
name = "slow"
effect = "delay_delivery"
delay = [5, 60]
code = "10086"
limit = 2
[[subscribers]]
msisdn = "+86 138 0000 0042"
name = "Zhao"
state = "off"
"""
    )
    config = load_config(str(path))
    assert config.smpp.session.window == 50 and config.smpp.port == 0
    (account,) = config.accounts
    assert account.bind_types == frozenset({BindType.TRANSCEIVER}) and account.message_id_format == "hex"
    assert config.all_accounts == config.accounts and config.ussd_routes[0].system_id == "shop"
    assert (account.ussd_session, account.ussd_data_coding, account.ussd_network_end) == (
        "user_message_reference",
        "cbs",
        "abort",
    )
    assert (config.merchant.otp_length, config.merchant.otp_ttl, config.merchant.otp_attempts) == (8, 60.0, 3)
    fault, slow = config.faults
    assert (fault.name, fault.msisdn, fault.every, fault.status) == ("lane", "86139*", 3, 0x58)
    assert (slow.effect, slow.delay, slow.code, slow.limit) == (
        Effect.DELAY_DELIVERY,
        (5.0, 60.0),
        "10086",
        2,
    )
    (subscriber,) = config.subscribers
    assert subscriber.msisdn == "8613800000042" and subscriber.state.value == "off"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"smpp": {"prot": 1}}, ["smpp", "'prot'", "allowed keys", "port"]),
        ({"smtp": {}}, ["unknown section", "'smtp'"]),
        ({"smpp": {"port": 70000}}, ["smpp.port", "70000", "0-65535"]),
        ({"smpp": {"window": "ten"}}, ["smpp.window", "'ten'", "integer"]),
        (
            {"accounts": [{"system_id": "a", "password": "123456789"}]},
            ["accounts[0].password", "8 characters"],
        ),
        ({"accounts": [{"system_id": "a"}]}, ["accounts[0]", "password is required"]),
        (
            {"accounts": [{"system_id": "a", "password": "b", "bind_types": ["tx"]}]},
            ["bind_types[0]", "'tx'", "transceiver"],
        ),
        (
            {"accounts": [{"system_id": "a", "password": "b", "message_id_format": "uuid"}]},
            ["message_id_format", "decimal"],
        ),
        (
            {"accounts": [{"system_id": "a", "password": "b", "ussd_session": "dialog_id"}]},
            ["accounts[0].ussd_session", "'dialog_id'", "its_session_info, user_message_reference, none"],
        ),
        (
            {"accounts": [{"system_id": "a", "password": "b", "ussd_service_type": "USSD€"}]},
            ["accounts[0].ussd_service_type", "ASCII"],
        ),
        (
            {"faults": [{"name": "x", "effect": "fail_delivery", "state": "DELIVRD"}]},
            ["faults[0].state", "UNDELIV"],
        ),
        ({"faults": [{"name": "x", "effect": "fail_delivery", "error": 1000}]}, ["faults[0].error", "0-999"]),
        (
            {"faults": [{"name": "magic:expired", "effect": "fail_delivery"}]},
            ["faults[0].name", "magic numbers"],
        ),
        (
            {"faults": [{"name": "x", "effect": "fail_delivery", "msisdn": "shop-42"}]},
            ["faults[0].msisdn", "'shop-42'", "neither a phone number nor a glob", '"86139*"'],
        ),
        ({"faults": [{"name": "x"}]}, ["faults[0]", "effect is required", "refuse_submit"]),
        (
            {"faults": [{"name": "x", "effect": "refuse_submit", "status": "ESME_SLOW"}]},
            ["faults[0].status", "ESME_SLOW"],
        ),
        (
            {"faults": [{"name": "x", "effect": "refuse_submit", "probability": 2}]},
            ["faults[0].probability", "0 to 1"],
        ),
        (
            {"faults": [{"name": "x", "effect": "refuse_submit", "every": 2, "probability": 0.5}]},
            ["faults[0]", "not both"],
        ),
        (
            {"faults": [{"name": "x", "effect": "refuse_submit", "account": "nobody"}]},
            ["faults[0].account", "'nobody'"],
        ),
        (
            {"faults": [{"name": "x", "effect": "refuse_submit"}, {"name": "x", "effect": "refuse_submit"}]},
            ["faults[1].name", "twice"],
        ),
        ({"network": {"country_code": "\u0668\u0666"}}, ["network.country_code", "not a string of digits"]),
        ({"merchant": {"otp_length": 12}}, ["merchant.otp_length", "4 to 10"]),
        ({"merchant": {"otp_attempts": 0}}, ["merchant.otp_attempts", "minimum 1"]),
        ({"merchant": {"callback_hosts": "127.0.0.1"}}, ["merchant.callback_hosts", "a list of host names"]),
        (
            {"merchant": {"callback_hosts": ["http://shop.example:8080"]}},
            ["merchant.callback_hosts", "'http://shop.example:8080'", "without scheme, port or path"],
        ),
        ({"subscribers": [{"msisdn": "abc"}]}, ["subscribers[0].msisdn", "not a phone number"]),
        ({"network": {"provisioning": "lax"}}, ["network.provisioning", "auto, strict"]),
        (
            {"faults": [{"name": "x", "effect": "delay_delivery", "delay": 5, "status": "ESME_RSYSERR"}]},
            ["faults[0].status", "delay_delivery takes no status", "only refuse_submit"],
        ),
        ({"faults": [{"name": "x", "effect": "delay_delivery"}]}, ["faults[0].delay", "[5, 60]"]),
        ({"faults": [{"name": "x", "effect": "no_receipt", "delay": 5}]}, ["faults[0].delay", "no_receipt"]),
        (
            {"faults": [{"name": "x", "effect": "delay_delivery", "delay": [60, 5]}]},
            ["faults[0].delay", "backwards"],
        ),
        (
            {"faults": [{"name": "x", "effect": "delay_delivery", "delay": [5]}]},
            ["faults[0].delay", "[low, high]"],
        ),
        (
            {"faults": [{"name": "x", "effect": "delay_delivery", "delay": "5s"}]},
            ["faults[0].delay", "seconds"],
        ),
        (
            {"faults": [{"name": "x", "effect": "ussd_timeout", "code": "126"}]},
            ["faults[0].code", "not a USSD service code", "*126#"],
        ),
        (
            {"faults": [{"name": "x", "effect": "no_receipt", "code": "*126#"}]},
            ["faults[0].code", "source_addr", "only goes with ussd_timeout"],
        ),
        ({"faults": [{"name": "x", "effect": "unreachable", "limit": 0}]}, ["faults[0].limit", "minimum 1"]),
        (
            {"accounts": [{"system_id": "a", "password": "b"}]},
            ["default_account", "'smsgw'", "not an account"],
        ),
        (
            {"store": {"url": "mysql://db/smsgw"}},
            ["store.url", "'mysql://db/smsgw' is not a PostgreSQL URL", "postgresql://", "store.path"],
        ),
        (
            {"timeline": {"record": "everyone"}},
            ["timeline.record", "'everyone' is not one of namespaces, all, off", '"all" everyone'],
        ),
        (
            {"timeline": {"max_steps": 0}},
            ["timeline.max_steps", "keeps no step", "at least 1", 'record = "off"'],
        ),
        ({"timeline": {"max_steps": -5}}, ["timeline.max_steps", "-5 keeps no step"]),
        ({"timeline": {"max_steps": "100k"}}, ["timeline.max_steps", "'100k' is not an integer"]),
        ({"timeline": {"max_steps": 1e5}}, ["timeline.max_steps", "100000.0 is not an integer"]),
        ({"timeline": {"keep": 10}}, ["timeline", "unknown key 'keep'", "max_steps, record"]),
        ({"store": {"keep_days": -1}}, ["store.keep_days", "-1 is below the minimum 0"]),
        ({"store": {"keep_messages": 10}}, ["store.keep_messages", "10 keeps fewer", "at least 1000"]),
        ({"store": {"keep_messages": 1.5}}, ["store.keep_messages", "1.5 is not an integer"]),
        ({"timeline": "all"}, ["timeline", "expected a table"]),
    ],
)
def test_errors_name_the_key_and_what_is_allowed(data: dict, words: list[str]) -> None:
    """Each wrong key or value stops with a message naming it and what is allowed."""
    with pytest.raises(ConfigError) as caught:
        config_from_dict(data)
    for word in words:
        assert word in str(caught.value)


def test_the_merchant_password_and_callback_hosts() -> None:
    """No merchant password unless configured (smsgw makes one up at start); webhook hosts
    are loopback unless listed, compared in lower case."""
    default = config_from_dict({}).merchant
    assert default.password is None
    assert default.callback_hosts == ("127.0.0.1", "localhost", "::1")
    merchant = config_from_dict(
        {"merchant": {"callback_hosts": ["Shop.Example", "::1", "10.0.0.7"]}}
    ).merchant
    assert merchant.callback_hosts == ("shop.example", "::1", "10.0.0.7")


def test_unreadable_and_invalid_files(tmp_path) -> None:
    """A missing file or bad TOML says which file and why."""
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(str(tmp_path / "missing.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("[smpp\n")
    with pytest.raises(ConfigError, match="bad.toml is not valid TOML"):
        load_config(str(bad))


def test_every_mistake_of_a_file_is_listed_at_once(tmp_path) -> None:
    """Five mistakes in four sections: all five are named, in the file's order, each with its key."""
    path = tmp_path / "smsgw.toml"
    path.write_text(
        """
[smpp]
window = "ten"
prot = 1
[[accounts]]
system_id = "shop"
password = "secret"
bind_types = ["tx"]
[smtp]
port = 25
[[ussd]]
code = "126"
account = "shop"
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == [
        "smpp.window",
        "smpp",
        "accounts[0].bind_types[0]",
        str(path),
        "ussd[0].code",
    ]
    assert "unknown key 'prot'" in problems[1] and "unknown section 'smtp'" in problems[3]
    assert str(caught.value).startswith("5 mistakes")


def test_checks_across_sections_are_listed_with_the_others() -> None:
    """A route to a missing account and a rule named twice come with a bad value elsewhere."""
    with pytest.raises(ConfigError) as caught:
        config_from_dict(
            {
                "http": {"port": -1},
                "ussd": [{"code": "*384#", "account": "nobody"}],
                "faults": [{"name": "x", "effect": "no_receipt"}, {"name": "x", "effect": "no_receipt"}],
            }
        )
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "http.port",
        "ussd[0].account",
        "faults[1].name",
    ]


def test_a_file_that_is_not_utf8_names_the_line_and_the_byte(tmp_path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[merchant]\n\nshop_name = "Caf\xe9"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    message = str(caught.value)
    assert f"{path}, line 3, column 17: byte 0xE9 is not UTF-8" in message and "save it as UTF-8" in message


def test_a_byte_order_mark_is_taken(tmp_path) -> None:
    """Windows editors save UTF-8 with a BOM; it changes nothing in the file's meaning."""
    path = tmp_path / "bom.toml"
    path.write_bytes(b'\xef\xbb\xbf[merchant]\nshop_name = "Caf\xc3\xa9"\n')
    assert load_config(str(path)).merchant.shop_name == "Café"


def test_a_fault_number_is_read_like_a_handsets() -> None:
    """Any notation handsets take, in whole numbers and at the start of globs (country code 86);
    the E.164 globs, suffixes and short codes of before read as they did."""
    readings = {
        "13800000003": "8613800000003",
        "+86 138 0000 0003": "8613800000003",
        "0086-138-0000-0003": "8613800000003",
        "139*": "86139*",
        "138 0000 000[0-5]": "861380000000[0-5]",
        "+44*": "44*",
        "8613800000003": "8613800000003",
        "86139*": "86139*",
        "*0001": "*0001",
        "10086": "10086",
    }
    rules = [{"name": f"r{i}", "effect": "no_receipt", "msisdn": w} for i, w in enumerate(readings)]
    config = config_from_dict({"faults": rules})
    assert [rule.msisdn for rule in config.faults] == list(readings.values())


def test_a_fault_number_uses_the_configured_country_code() -> None:
    config = config_from_dict(
        {
            "faults": [{"name": "x", "effect": "no_receipt", "msisdn": "07700900123"}],
            "network": {"country_code": "44"},
        }
    )
    assert config.faults[0].msisdn == "447700900123"


def test_a_fault_number_that_cannot_be_one_is_refused() -> None:
    """Too long for E.164, a set left open, letters: each named, all at once."""
    written = ["1234567890123456", "86[0-", "8613800000003a", "+"]
    rules = [{"name": f"r{i}", "effect": "no_receipt", "msisdn": w} for i, w in enumerate(written)]
    with pytest.raises(ConfigError) as caught:
        config_from_dict({"faults": rules})
    assert [p.split(":")[0] for p in caught.value.problems] == [f"faults[{i}].msisdn" for i in range(4)]
    assert all("neither a phone number nor a glob over one" in p for p in caught.value.problems)


def test_ussd_routes_add_to_the_merchants_code() -> None:
    """A [[ussd]] route is one more code: *126# still goes to the mock merchant."""
    config = config_from_dict({"ussd": [{"code": "*384#", "url": "http://127.0.0.1:9000/ussd"}]})
    assert [(r.code, r.system_id, r.url) for r in config.ussd_routes] == [
        ("*384#", None, "http://127.0.0.1:9000/ussd"),
        ("*126#", "merchant", None),
    ]


def test_without_the_merchant_the_default_account_keeps_star_126() -> None:
    """Off: *126# goes to the default account beside the routes, unless a route takes *126#."""
    routes = [{"code": "*384#", "account": "smsgw"}]
    config = config_from_dict({"ussd": routes}, merchant=False)
    assert [(r.code, r.system_id) for r in config.ussd_routes] == [("*384#", "smsgw"), ("*126#", "smsgw")]
    taken = config_from_dict({"ussd": [{"code": "*126#", "url": "http://127.0.0.1:9000/"}]}, merchant=False)
    assert [(r.code, r.url) for r in taken.ussd_routes] == [("*126#", "http://127.0.0.1:9000/")]


def test_a_route_for_the_merchants_code_names_both_and_the_fixes() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_dict(
            {"ussd": [{"code": "*127#", "account": "smsgw"}], "merchant": {"ussd_code": "*127#"}}
        )
    (problem,) = caught.value.problems
    assert problem.startswith("ussd[0].code: '*127#' is also the mock merchant's USSD code")
    for fix in ("[merchant] another ussd_code", "enabled = false", "--no-merchant", "remove this route"):
        assert fix in problem


def test_without_the_merchants_reader_no_merchant_runs() -> None:
    """Loaded without the merchant's reader of [merchant] (a program that runs none), the
    config has no merchant, *126# goes to the default account, and a [merchant] section is
    unknown."""
    config = carrier_config.config_from_dict({})
    assert config.merchant is None and config.all_accounts == config.accounts
    assert config.builtin_ussd_route is not None and config.builtin_ussd_route.system_id == "smsgw"
    with pytest.raises(ConfigError) as caught:
        carrier_config.config_from_dict({"merchant": {}})
    assert (
        "unknown section 'merchant'; allowed: smpp, cmpp, http, store, timeline, network, accounts, subscribers, ussd, faults"
        in str(caught.value)
    )


def test_a_store_url_replaces_the_file() -> None:
    store = config_from_dict({"store": {"url": "postgresql://smsgw@db:5432/smsgw"}}).store
    assert store.location == "postgresql://smsgw@db:5432/smsgw"
    assert config_from_dict({}).store.location == "smsgw.db"


def test_the_timeline_records_namespaces_by_default_and_takes_its_two_keys() -> None:
    """Without [timeline], steps of namespaced handsets are kept, 100,000 at most; both keys set it."""
    default = config_from_dict({}).timeline
    assert (default.record, default.max_steps) == ("namespaces", 100_000)
    for record in ("namespaces", "all", "off"):
        timeline = config_from_dict({"timeline": {"record": record, "max_steps": 1}}).timeline
        assert (timeline.record, timeline.max_steps) == (record, 1)


def test_the_timeline_is_set_by_its_variables_too() -> None:
    """SMSGW_TIMELINE_RECORD is text, SMSGW_TIMELINE_MAX_STEPS a number, and a wrong one is named."""
    environ = {"SMSGW_TIMELINE_RECORD": "all", "SMSGW_TIMELINE_MAX_STEPS": "2500"}
    timeline = load_config(None, environ=environ).timeline
    assert (timeline.record, timeline.max_steps) == ("all", 2500)
    with pytest.raises(ConfigError, match=r"^\$SMSGW_TIMELINE_RECORD: timeline.record: '1' is not one of"):
        load_config(None, environ={"SMSGW_TIMELINE_RECORD": "1"})


def test_smsgw_variables_override_the_file_key_by_key(tmp_path) -> None:
    path = tmp_path / "smsgw.toml"
    path.write_text('[smpp]\nport = 2900\nwindow = 20\n[http]\nhost = "127.0.0.1"\n', encoding="utf-8")
    environ = {
        "SMSGW_SMPP_PORT": "2999",  # a number where the key takes one
        "SMSGW_HTTP_HOST": "0.0.0.0",  # text as it is
        "SMSGW_NETWORK_COUNTRY_CODE": "44",  # digits stay text where the key is text
        "SMSGW_MERCHANT_SHORT_CODE": "10010",
        "SMSGW_HTTP_REQUIRE_TOKEN": "false",
        "SMSGW_ACCOUNTS": '[{system_id = "shop", password = "secret1"}]',
        "SMSGW_NETWORK_DEFAULT_ACCOUNT": "shop",
        "SMSGW_SMPP_SYSTEM_ID": "12345",  # a text key of the session's settings, under [smpp]
        "SMSGW_MERCHANT_SEED": "42",  # a number whose default is none
        "SMSGW_TOKEN": "not-a-section-key-but-the-token",
        "SMSGW_COMPOSE_IMAGE": "for docker-compose.yml",
        "SMSGW_CMPP_HOST": "0.0.0.0",  # the container's image sets it
        "SMSGW_CMPP_PORT": "7891",
        "SMSGW_MERCHANT_PROTOCOL": "cmpp",
        "OTHER": "ignored",
    }
    config = load_config(str(path), environ=environ)
    assert (config.smpp.port, config.smpp.session.window) == (2999, 20)
    assert (config.http.host, config.http.require_token) == ("0.0.0.0", False)
    assert (config.network.country_code, config.merchant.short_code) == ("44", "10010")
    assert [a.system_id for a in config.accounts] == ["shop"]
    assert (config.smpp.session.system_id, config.merchant.seed) == ("12345", 42)
    assert (config.cmpp.host, config.cmpp.port, config.merchant.protocol) == ("0.0.0.0", 7891, "cmpp")


def test_a_wrong_variable_is_named_with_the_fix() -> None:
    with pytest.raises(ConfigError) as wrong:
        load_config(
            None,
            environ={
                "SMSGW_SMPP_PORT": "twenty",
                "SMSGW_SMPP_PROT": "2775",
                "SMSGW_ACCOUNTS": '[{system_id = "shop"}]',
            },
        )
    problems = sorted(wrong.value.problems)
    assert problems[:2] == [
        "$SMSGW_ACCOUNTS: accounts[0]: password is required",
        "$SMSGW_SMPP_PORT: smpp.port: 'twenty' is not an integer",
    ]
    assert problems[2].startswith("$SMSGW_SMPP_PROT: smpp: unknown key 'prot'; allowed keys are ")
    with pytest.raises(ConfigError, match=r"\$SMSGW_STMP_PORT is not a setting: use SMSGW_<SECTION>_<KEY>"):
        load_config(None, environ={"SMSGW_STMP_PORT": "25"})


def test_command_line_options_override_the_variables(monkeypatch) -> None:
    from smsgw import cli

    monkeypatch.setenv("SMSGW_SMPP_PORT", "2999")
    monkeypatch.setenv("SMSGW_HTTP_PORT", "8999")
    args = cli.build_parser().parse_args(["serve", "--smpp-port", "3000"])
    config = cli._apply_overrides(args, read_section)
    assert (config.smpp.port, config.http.port) == (3000, 8999)


def test_the_store_keeps_a_week_and_a_million_unless_told_and_takes_how_long_and_how_many() -> None:
    default = config_from_dict({}).store
    assert (default.keep_days, default.keep_messages) == (7, 1_000_000)
    assert config_from_dict({"store": {"keep_days": 0, "keep_messages": 0}}).store.keep_days == 0
    store = config_from_dict({"store": {"keep_days": 0.5, "keep_messages": 1000}}).store
    assert (store.keep_days, store.keep_messages) == (0.5, 1000)
