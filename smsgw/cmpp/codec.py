"""Encode and decode CMPP 2.0 and 3.0 PDUs.

The layouts of :mod:`smsgw.cmpp.specs` are compiled once, at import, into steps per version
and command: each run of fixed-size fields becomes one :class:`struct.Struct`, so a PDU costs
a ``struct`` call per run, not per field. Text fields are Octet Strings, right-padded with NUL
octets and read one octet a character (they hold ASCII digits and letters; what a field may
hold is the session's to check); a decoded one is cut at its first NUL (clients also pad with
spaces: those are cut too).

Decoding is strict about lengths, and a failure is a :class:`RemoteProtocolError` carrying the
code to answer with: 1 (bad structure) for a CONNECT, 4 (bad message length) for the others,
2 (bad command word) for an unknown Command_Id. Two tolerances real gateways need: an
ACTIVE_TEST_RESP without its Reserved octet, and a 3.0 status report of 2.0's 60 octets.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, NamedTuple

import attrs

from smsgw.cmpp import pdu as p
from smsgw.cmpp import specs
from smsgw.cmpp.constants import HEADER_SIZE, CommandId, ConnectStatus, SubmitResult, Version, command_name
from smsgw.cmpp.errors import LocalProtocolError, RemoteProtocolError

HEADER = struct.Struct(">III")
_INT_FORMAT = {1: "B", 4: "I", 8: "Q"}
_INT_MAX = {size: (1 << (8 * size)) - 1 for size in _INT_FORMAT}


class _Fixed(NamedTuple):
    """A run of fixed-size fields: one struct, each field's name and the check that makes its
    value packable, and which of them are text; made once per layout, so encoding and decoding
    do no per-field dispatch."""

    struct: struct.Struct
    encoders: tuple[tuple[str, Callable[[Any], Any]], ...]
    names: tuple[str, ...]
    text_indexes: tuple[int, ...]


_Step = _Fixed | specs.Terminals | specs.Content


def _packable(field: specs.Int | specs.Text | specs.Raw) -> Callable[[Any], Any]:
    """The check of one field's value, returning what struct packs for it."""
    name, size = field.name, field.size
    if isinstance(field, specs.Int):
        top = _INT_MAX[size]

        def integer(value: Any) -> Any:
            if not isinstance(value, int) or not 0 <= value <= top:
                raise LocalProtocolError(f"{name}: {value!r} does not fit {size} octet(s)")
            return value

        return integer
    if isinstance(field, specs.Raw):

        def raw(value: Any) -> Any:
            if len(value) != size:
                raise LocalProtocolError(f"{name}: {len(value)} octets, not {size}")
            return value

        return raw
    return lambda value: _text(name, value, size)  # struct pads it with NULs


def _compile(layout: tuple[specs.Field, ...]) -> tuple[_Step, ...]:
    steps: list[_Step] = []
    run: list[specs.Int | specs.Text | specs.Raw] = []

    def close_run() -> None:
        if run:
            fmt = ">" + "".join(
                _INT_FORMAT[f.size] if isinstance(f, specs.Int) else f"{f.size}s" for f in run
            )
            steps.append(
                _Fixed(
                    struct.Struct(fmt),
                    tuple((f.name, _packable(f)) for f in run),
                    tuple(f.name for f in run),
                    tuple(i for i, f in enumerate(run) if isinstance(f, specs.Text)),
                )
            )
            run.clear()

    for field in layout:
        if isinstance(field, (specs.Int, specs.Text, specs.Raw)):
            run.append(field)
        else:
            close_run()
            steps.append(field)
    close_run()
    return tuple(steps)


def _names(layout: tuple[specs.Field, ...]) -> set[str]:
    return {field.name for field in layout}


_STEPS: dict[tuple[Version, type[p.Pdu]], tuple[_Step, ...]] = {}
_CLASSES: dict[int, type[p.Pdu]] = {}
for _cls, _layout_of in specs.LAYOUTS.items():
    _CLASSES[_cls.command_id] = _cls
    _attributes = {a.name for a in attrs.fields(_cls)} - {"sequence_id"}
    for _version in Version:
        _layout = _layout_of(_version)
        # A layout names only the class's attributes; a 2.0 layout may leave 3.0's out.
        assert _names(_layout) <= _attributes, (_cls.__name__, _names(_layout) - _attributes)
        if _version is Version.V30:
            assert _names(_layout) == _attributes, (_cls.__name__, _attributes - _names(_layout))
        _STEPS[_version, _cls] = _compile(_layout)
_REPORT_STEPS = {version: _compile(specs.status_report(version)) for version in Version}


# -- encoding ---------------------------------------------------------------------------------


def encode(pdu: p.Pdu, version: Version) -> bytes:
    """The PDU's octets, header included, in ``version``'s layout.

    :raises LocalProtocolError: for a value its field cannot hold (text too long or not
        ASCII, an integer out of range, more than 255 destinations or content octets).
    """
    body = _encode_steps(_STEPS[version, type(pdu)], pdu)
    return HEADER.pack(HEADER_SIZE + len(body), pdu.command_id, pdu.sequence_id) + body


def encode_report(report: p.StatusReport, version: Version) -> bytes:
    """A status report as the Msg_Content of a DELIVER (60 octets in 2.0, 71 in 3.0)."""
    return _encode_steps(_REPORT_STEPS[version], report)


def _encode_steps(steps: tuple[_Step, ...], value: Any) -> bytes:
    out: list[bytes] = []
    for step in steps:
        if isinstance(step, _Fixed):
            out.append(step.struct.pack(*[check(getattr(value, name)) for name, check in step.encoders]))
        elif isinstance(step, specs.Terminals):
            terminals = getattr(value, step.name)
            if len(terminals) > 255:
                raise LocalProtocolError(f"{step.name}: {len(terminals)} numbers, at most 255")
            out.append(bytes((len(terminals),)))
            out += [
                _text(f"{step.name}[{i}]", t, step.size).ljust(step.size, b"\0")
                for i, t in enumerate(terminals)
            ]
        else:
            content = getattr(value, step.name)
            if len(content) > 255:
                raise LocalProtocolError(
                    f"{step.name}: {len(content)} octets, at most 255 (Msg_Length is one octet)"
                )
            out += [bytes((len(content),)), content]
    return b"".join(out)


def _text(name: str, value: str, size: int) -> bytes:
    try:
        octets = value.encode("latin-1")  # an Octet String: one octet a character, both ways
    except UnicodeEncodeError:
        raise LocalProtocolError(f"{name}: {value!r} has characters of more than one octet") from None
    if len(octets) > size:
        raise LocalProtocolError(f"{name}: {value!r} is longer than its {size} octets")
    return octets


# -- decoding ---------------------------------------------------------------------------------


def peek_header(raw: bytes) -> tuple[int, int, int]:
    """Total_Length, Command_Id and Sequence_Id of a PDU's first 12 octets."""
    length, command_id, sequence_id = HEADER.unpack_from(raw)
    return int(length), int(command_id), int(sequence_id)


def decode(raw: bytes, version: Version) -> p.Pdu:
    """Decode one whole PDU (header included) in ``version``'s layout.

    :raises RemoteProtocolError: with the code to answer, the PDU's Command_Id and Sequence_Id.
    """
    if len(raw) < HEADER_SIZE:
        raise RemoteProtocolError(f"{len(raw)} octets are not even a header (12)", SubmitResult.BAD_LENGTH)
    length, command_id, sequence_id = peek_header(raw)
    bad_length = ConnectStatus.BAD_STRUCTURE if command_id == CommandId.CONNECT else SubmitResult.BAD_LENGTH

    def refused(message: str, code: int = bad_length) -> RemoteProtocolError:
        return RemoteProtocolError(message, code, command_id=command_id, sequence_id=sequence_id)

    if length != len(raw):
        raise refused(f"Total_Length {length} but {len(raw)} octets")
    cls = _CLASSES.get(command_id)
    if cls is None:
        raise refused(f"unknown Command_Id 0x{command_id:08X}", SubmitResult.BAD_COMMAND)
    if cls is p.ActiveTestResp and length == HEADER_SIZE:
        return p.ActiveTestResp(sequence_id)  # some gateways leave out the Reserved octet
    try:
        values, end = _decode_steps(_STEPS[version, cls], raw, HEADER_SIZE)
    except (struct.error, IndexError):
        raise refused(
            f"{command_name(command_id)} ends inside a field ({length - HEADER_SIZE} octets of body)"
        ) from None
    if end != length:
        raise refused(f"{command_name(command_id)} has {length - end} octets after its last field")
    return cls(sequence_id, **values)


def decode_report(content: bytes, version: Version) -> p.StatusReport:
    """A DELIVER's Msg_Content as a status report (a 3.0 one of 2.0's 60 octets is taken too).

    :raises RemoteProtocolError: when it is not the size of a report.
    """
    sizes = {Version.V20: 60, Version.V30: 71}
    layout = (
        version
        if len(content) == sizes[version]
        else next((v for v, n in sizes.items() if n == len(content)), None)
    )
    if layout is None:
        raise RemoteProtocolError(
            f"a status report is {sizes[version]} octets, not {len(content)}", SubmitResult.BAD_LENGTH
        )
    values, _ = _decode_steps(_REPORT_STEPS[layout], content, 0)
    return p.StatusReport(**values)


def _decode_steps(steps: tuple[_Step, ...], raw: bytes, offset: int) -> tuple[dict[str, Any], int]:
    values: dict[str, Any] = {}
    for step in steps:
        if isinstance(step, _Fixed):
            unpacked = step.struct.unpack_from(raw, offset)
            names = step.names
            values.update(zip(names, unpacked))
            for i in step.text_indexes:
                values[names[i]] = _from_text(unpacked[i])
            offset += step.struct.size
        elif isinstance(step, specs.Terminals):
            count = raw[offset]
            offset += 1
            end = offset + count * step.size
            if end > len(raw):
                raise IndexError(step.name)
            values[step.name] = tuple(
                _from_text(raw[i : i + step.size]) for i in range(offset, end, step.size)
            )
            offset = end
        else:
            size = raw[offset]
            end = offset + 1 + size
            if end > len(raw):
                raise IndexError(step.name)
            values[step.name] = raw[offset + 1 : end]
            offset = end
    return values, offset


def _from_text(octets: bytes) -> str:
    return octets.split(b"\0", 1)[0].decode("latin-1").rstrip(" ")
