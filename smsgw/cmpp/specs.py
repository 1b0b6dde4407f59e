"""Wire layouts of CMPP 2.0 and 3.0 PDUs, as data: one function per command gives a
version's fields in wire order. The codec (:mod:`smsgw.cmpp.codec`) compiles them, and checks
them against the PDU classes at import. docs/cmpp.md gives each layout's sources.

Where 3.0 differs: terminal ids are 32 octets, not 21; a ``*_terminal_type`` octet follows
each; every response's status or result is 4 octets, not 1; Reserve (8) became LinkID (20).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from smsgw.cmpp import pdu as p
from smsgw.cmpp.constants import Version


class Int(NamedTuple):
    """An unsigned big-endian integer of 1, 4 or 8 octets."""

    name: str
    size: int


class Text(NamedTuple):
    """A fixed-size Octet String holding text, right-padded with NUL octets."""

    name: str
    size: int


class Raw(NamedTuple):
    """A fixed-size Octet String of binary data (an MD5 digest)."""

    name: str
    size: int


class Terminals(NamedTuple):
    """DestUsr_tl (1 octet), then that many terminal ids of ``size`` octets each."""

    name: str
    size: int


class Content(NamedTuple):
    """Msg_Length (1 octet), then that many octets of Msg_Content."""

    name: str = "msg_content"


Field = Int | Text | Raw | Terminals | Content


def _terminal(version: Version) -> int:
    return 32 if version is Version.V30 else 21


def _status(name: str, version: Version) -> Int:
    return Int(name, 4 if version is Version.V30 else 1)


def _link_id(version: Version) -> Text:
    return Text("link_id", 20 if version is Version.V30 else 8)


def _only_3(version: Version, *fields: Field) -> tuple[Field, ...]:
    return fields if version is Version.V30 else ()


def _connect(version: Version) -> tuple[Field, ...]:
    return (Text("source_addr", 6), Raw("authenticator_source", 16), Int("version", 1), Int("timestamp", 4))


def _connect_resp(version: Version) -> tuple[Field, ...]:
    return (_status("status", version), Raw("authenticator_ismg", 16), Int("version", 1))


def _empty(version: Version) -> tuple[Field, ...]:
    return ()


def _active_test_resp(version: Version) -> tuple[Field, ...]:
    return (Int("reserved", 1),)


def _submit(version: Version) -> tuple[Field, ...]:
    terminal = _terminal(version)
    return (
        Int("msg_id", 8),
        Int("pk_total", 1),
        Int("pk_number", 1),
        Int("registered_delivery", 1),
        Int("msg_level", 1),
        Text("service_id", 10),
        Int("fee_user_type", 1),
        Text("fee_terminal_id", terminal),
        *_only_3(version, Int("fee_terminal_type", 1)),
        Int("tp_pid", 1),
        Int("tp_udhi", 1),
        Int("msg_fmt", 1),
        Text("msg_src", 6),
        Text("fee_type", 2),
        Text("fee_code", 6),
        Text("valid_time", 17),
        Text("at_time", 17),
        Text("src_id", 21),
        Terminals("dest_terminal_ids", terminal),
        *_only_3(version, Int("dest_terminal_type", 1)),
        Content(),
        _link_id(version),
    )


def _msg_id_result(version: Version) -> tuple[Field, ...]:
    return (Int("msg_id", 8), _status("result", version))


def _deliver(version: Version) -> tuple[Field, ...]:
    return (
        Int("msg_id", 8),
        Text("dest_id", 21),
        Text("service_id", 10),
        Int("tp_pid", 1),
        Int("tp_udhi", 1),
        Int("msg_fmt", 1),
        Text("src_terminal_id", _terminal(version)),
        *_only_3(version, Int("src_terminal_type", 1)),
        Int("registered_delivery", 1),
        Content(),
        _link_id(version),
    )


def _query(version: Version) -> tuple[Field, ...]:
    return (Text("time", 8), Int("query_type", 1), Text("query_code", 10), Text("reserve", 8))


def _query_resp(version: Version) -> tuple[Field, ...]:
    counters = ("mt_tl_msg", "mt_tl_usr", "mt_scs", "mt_wt", "mt_fl", "mo_scs", "mo_wt", "mo_fl")
    return (
        Text("time", 8),
        Int("query_type", 1),
        Text("query_code", 10),
        *(Int(name, 4) for name in counters),
    )


def _cancel(version: Version) -> tuple[Field, ...]:
    return (Int("msg_id", 8),)


def _cancel_resp(version: Version) -> tuple[Field, ...]:
    return (_status("success_id", version),)


#: Every PDU class and its layout.
LAYOUTS: dict[type[p.Pdu], Callable[[Version], tuple[Field, ...]]] = {
    p.Connect: _connect,
    p.ConnectResp: _connect_resp,
    p.Terminate: _empty,
    p.TerminateResp: _empty,
    p.ActiveTest: _empty,
    p.ActiveTestResp: _active_test_resp,
    p.Submit: _submit,
    p.SubmitResp: _msg_id_result,
    p.Deliver: _deliver,
    p.DeliverResp: _msg_id_result,
    p.Query: _query,
    p.QueryResp: _query_resp,
    p.Cancel: _cancel,
    p.CancelResp: _cancel_resp,
}


def status_report(version: Version) -> tuple[Field, ...]:
    """A status report, the Msg_Content of a DELIVER with Registered_Delivery 1: 60 octets in
    2.0, 71 in 3.0."""
    return (
        Int("msg_id", 8),
        Text("stat", 7),
        Text("submit_time", 10),
        Text("done_time", 10),
        Text("dest_terminal_id", _terminal(version)),
        Int("smsc_sequence", 4),
    )
