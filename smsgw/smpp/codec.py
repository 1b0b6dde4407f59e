"""Encode and decode SMPP v3.4 PDUs.

The layouts in :mod:`smsgw.smpp.specs` are compiled, once at import, into one plain Python
function per command and direction (the way attrs and dataclasses write ``__init__``). A load
test decodes and encodes hundreds of thousands of PDUs a second, and straight-line code with
one ``struct`` call per run of integers costs a fraction of walking the table per PDU.

Decoding is strict and every failure is a :class:`RemoteProtocolError` carrying the
command_status to answer with: a string longer than its field's maximum gets that field's own
status, a body that ends inside a field gets ESME_RINVCMDLEN, a broken TLV stream gets
ESME_RINVOPTPARSTREAM, a TLV of the wrong size ESME_RINVPARLEN, an unknown command_id
ESME_RINVCMDID.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, cast

import attrs

from smsgw.smpp import specs
from smsgw.smpp.constants import HEADER_SIZE, CommandStatus, command_name
from smsgw.smpp.errors import LocalProtocolError, RemoteProtocolError
from smsgw.smpp.pdu import GenericNack as _GENERIC_NACK
from smsgw.smpp.pdu import Pdu, Tlv
from smsgw.smpp.sm import DistributionList, SmeAddress, UnsuccessSme

HEADER = struct.Struct(">IIII")
_TL = struct.Struct(">HH")
_U32 = struct.Struct(">I")
_INT_FORMAT = {1: "B", 2: "H", 4: "I"}

Decoder = Callable[[bytes, int, int], Pdu]
Encoder = Callable[[Pdu], bytes]
#: A TLV's value as a PDU attribute holds it, by the TLV's kind.
TlvValue = int | str | bytes
#: One submit_multi destination.
DestAddress = SmeAddress | DistributionList


def decode(raw: bytes) -> Pdu:
    """Decode one whole PDU (header included), as split off the stream by the framer.

    :param raw: exactly ``command_length`` octets.
    :raises RemoteProtocolError: with the status to answer and the offending PDU's
        command_id and sequence_number.
    """
    if len(raw) < HEADER.size:
        # The framer never hands over less; a caller decoding bytes of its own might.
        raise RemoteProtocolError(
            f"{len(raw)} octets are not even a PDU header (16)", CommandStatus.ESME_RINVCMDLEN
        )
    # Declared, as struct's results are untyped; declarations cost nothing at run time.
    length: int
    command_id: int
    command_status: int
    sequence_number: int
    length, command_id, command_status, sequence_number = HEADER.unpack_from(raw)
    if length != len(raw):
        raise RemoteProtocolError(
            f"command_length {length} but {len(raw)} octets",
            CommandStatus.ESME_RINVCMDLEN,
            command_id=command_id,
            sequence_number=sequence_number,
        )
    decoder = _DECODERS.get(command_id)
    if decoder is None:
        raise RemoteProtocolError(
            f"unknown command_id 0x{command_id:08X}",
            CommandStatus.ESME_RINVCMDID,
            command_id=command_id,
            sequence_number=sequence_number,
        )
    try:
        return decoder(raw, sequence_number, command_status)
    except RemoteProtocolError as error:
        error.command_id = command_id
        error.sequence_number = sequence_number
        raise


def encode(pdu: Pdu) -> bytes:
    """Encode a PDU, header included.

    :raises LocalProtocolError: when a value does not fit its field.
    """
    return _ENCODERS[type(pdu)](pdu)


def encode_error_answer(error: RemoteProtocolError) -> bytes:
    """The answer to a PDU that could not be accepted: its own response with the error's
    status when it is a request that has one, else a generic_nack."""
    request = specs.PDU_CLASSES.get(error.command_id or 0)
    response = specs.RESPONSE_CLASS.get(request) if request is not None else None
    sequence_number = error.sequence_number or 0
    if response is None:
        response = _GENERIC_NACK
    return encode(response(sequence_number, error.command_status))


def decode_tlvs(
    raw: bytes, offset: int, declared: dict[int, specs.TlvSpec]
) -> tuple[dict[str, TlvValue], tuple[Tlv, ...]]:
    """Read the TLVs from ``offset`` to the end of ``raw``.

    :param declared: the TLVs the PDU has attributes for; any other tag is kept raw.
    :returns: the declared TLVs by attribute name, and the rest in arrival order.
    """
    values: dict[str, TlvValue] = {}
    extra: list[Tlv] = []
    end = len(raw)
    while offset < end:
        if offset + 4 > end:
            raise RemoteProtocolError(
                f"{end - offset} stray octets after the last TLV",
                CommandStatus.ESME_RINVOPTPARSTREAM,
            )
        tag: int
        length: int
        tag, length = _TL.unpack_from(raw, offset)
        offset += 4
        value_end = offset + length
        if value_end > end:
            raise RemoteProtocolError(
                f"TLV 0x{tag:04X} says {length} octets but only {end - offset} remain",
                CommandStatus.ESME_RINVOPTPARSTREAM,
            )
        value = raw[offset:value_end]
        offset = value_end
        spec = declared.get(tag)
        if spec is None:
            extra.append(Tlv(tag, value))
            continue
        if (spec.sizes is not None and length not in spec.sizes) or length > spec.max:
            expected = spec.sizes if spec.sizes is not None else f"at most {spec.max}"
            raise RemoteProtocolError(
                f"TLV {spec.name} (0x{tag:04X}) has {length} octets, expected {expected}",
                CommandStatus.ESME_RINVPARLEN,
            )
        if spec.kind == "int":
            values[spec.name] = int.from_bytes(value, "big")
        elif spec.kind == "cstr":
            # Tolerate a missing terminator: several SMSCs omit it in receipted_message_id.
            values[spec.name] = value.rstrip(b"\0").decode("latin-1")
        else:
            values[spec.name] = value
    return values, tuple(extra)


def _cstring_error(raw: bytes, offset: int, field: specs.CStr) -> RemoteProtocolError:
    if raw.find(b"\0", offset) < 0:
        return RemoteProtocolError(
            f"{field.name} is not NUL-terminated before the end of the PDU",
            CommandStatus.ESME_RINVCMDLEN,
        )
    return RemoteProtocolError(f"{field.name} is longer than {field.max - 1} characters", field.status)


def _truncated(name: str) -> RemoteProtocolError:
    return RemoteProtocolError(
        f"{name} body ends before its last mandatory field", CommandStatus.ESME_RINVCMDLEN
    )


def _cstring_at(raw: bytes, offset: int, maximum: int, what: str, status: int) -> tuple[str, int]:
    """Read a C-string of a repeated structure; return it and the offset after its NUL."""
    end = raw.find(b"\0", offset, offset + maximum)
    if end < 0:
        raise RemoteProtocolError(f"{what} is longer than {maximum - 1} characters or unterminated", status)
    return raw[offset:end].decode("latin-1"), end + 1


def _decode_dest_addresses(raw: bytes, offset: int) -> tuple[tuple[DestAddress, ...], int]:
    count = raw[offset]
    offset += 1
    result: list[DestAddress] = []
    for _ in range(count):
        flag = raw[offset]
        offset += 1
        if flag == 1:
            ton, npi = raw[offset], raw[offset + 1]
            address, offset = _cstring_at(
                raw, offset + 2, 21, "a submit_multi destination_addr", CommandStatus.ESME_RINVDSTADR
            )
            result.append(SmeAddress(ton, npi, address))
        elif flag == 2:
            name, offset = _cstring_at(
                raw, offset, 21, "a submit_multi dl_name", CommandStatus.ESME_RINVDLNAME
            )
            result.append(DistributionList(name))
        else:
            raise RemoteProtocolError(
                f"submit_multi dest_flag {flag} is neither 1 (SME) nor 2 (list)",
                CommandStatus.ESME_RINVDESTFLAG,
            )
    return tuple(result), offset


def _decode_unsuccess_smes(raw: bytes, offset: int) -> tuple[tuple[UnsuccessSme, ...], int]:
    count = raw[offset]
    offset += 1
    result: list[UnsuccessSme] = []
    for _ in range(count):
        ton, npi = raw[offset], raw[offset + 1]
        address, offset = _cstring_at(
            raw, offset + 2, 21, "an unsuccess_sme destination_addr", CommandStatus.ESME_RINVDSTADR
        )
        status: int
        (status,) = _U32.unpack_from(raw, offset)
        result.append(UnsuccessSme(ton, npi, address, status))
        offset += 4
    return tuple(result), offset


def _encode_dest_addresses(dests: tuple[DestAddress, ...]) -> bytes:
    if len(dests) > 254:
        raise LocalProtocolError("submit_multi allows at most 254 destinations")
    out = [bytes((len(dests),))]
    for dest in dests:
        if isinstance(dest, SmeAddress):
            out.append(bytes((1, dest.dest_addr_ton, dest.dest_addr_npi)))
            out.append(_cstring(dest.destination_addr, 21, "destination_addr"))
        else:
            out.append(b"\x02" + _cstring(dest.dl_name, 21, "dl_name"))
    return b"".join(out)


def _encode_unsuccess_smes(smes: tuple[UnsuccessSme, ...]) -> bytes:
    out = [bytes((len(smes),))]
    for sme in smes:
        out.append(bytes((sme.dest_addr_ton, sme.dest_addr_npi)))
        out.append(_cstring(sme.destination_addr, 21, "destination_addr"))
        out.append(_U32.pack(sme.error_status_code))
    return b"".join(out)


def _cstring(value: str, maximum: int, name: str) -> bytes:
    encoded = value.encode("latin-1")
    if len(encoded) >= maximum:
        raise LocalProtocolError(f"{name} {value!r} is longer than {maximum - 1} characters")
    return encoded + b"\0"


# -- compilation -------------------------------------------------------------------------

#: A repeated structure's attribute, its encoder, and that encoder's name in compiled code.
_REPEATED: dict[type, tuple[str, Callable[[tuple[Any, ...]], bytes], str]] = {
    specs.DestAddresses: ("dest_addresses", _encode_dest_addresses, "encode_dests"),
    specs.UnsuccessSmes: ("unsuccess_smes", _encode_unsuccess_smes, "encode_unsuccess"),
}


#: Consecutive integer fields (one struct call), or one field of another kind.
Run = list[specs.Int] | specs.CStr | specs.ShortMessage | specs.DestAddresses | specs.UnsuccessSmes


def _int_runs(fields: tuple[specs.Field, ...]) -> list[Run]:
    """Group consecutive integer fields so each group is one struct call."""
    runs: list[Run] = []
    for field in fields:
        if not isinstance(field, specs.Int):
            runs.append(field)
        elif runs and isinstance(runs[-1], list):
            runs[-1].append(field)
        else:
            runs.append([field])
    return runs


def _namespace(cls: type[Pdu]) -> tuple[dict[str, object], tuple[specs.Field, ...], list[str], bool]:
    """What a PDU class's compiled code refers to; its fields, declared TLVs, and whether it
    keeps unknown TLVs."""
    fields = specs.FIELDS[cls]
    names = [f.name for f in fields]
    attributes = [a.name for a in attrs.fields(cls)]
    has_extra = attributes[-1] == "extra_tlvs"
    tlv_names = attributes[2 + len(names) : -1 if has_extra else None]
    if attributes[:2] != ["sequence_number", "command_status"] or attributes[2 : 2 + len(names)] != names:
        raise TypeError(f"{cls.__name__} attributes do not match its wire layout")
    unknown = [n for n in tlv_names if n not in specs.TAG_BY_NAME]
    if unknown:
        raise TypeError(f"{cls.__name__} declares unknown TLVs {unknown}")
    declared = {specs.TAG_BY_NAME[n]: specs.TLVS[specs.TAG_BY_NAME[n]] for n in tlv_names}
    namespace: dict[str, object] = {
        "cls": cls,
        "NAME": command_name(cls.command_id),
        "CID": cls.command_id,
        "HEADER": HEADER,
        "TL": _TL,
        "DECLARED": declared,
        "decode_tlvs": decode_tlvs,
        "cstring_error": _cstring_error,
        "truncated": _truncated,
        "struct_error": struct.error,
        "LocalProtocolError": LocalProtocolError,
        "RemoteProtocolError": RemoteProtocolError,
        "CommandStatus": CommandStatus,
        "decode_dests": _decode_dest_addresses,
        "decode_unsuccess": _decode_unsuccess_smes,
        "encode_dests": _encode_dest_addresses,
        "encode_unsuccess": _encode_unsuccess_smes,
    }
    for index, field in enumerate(fields):
        namespace[f"F{index}"] = field
    return namespace, fields, tlv_names, has_extra


def _compile(cls: type[Pdu]) -> tuple[Decoder, Encoder]:
    namespace, fields, tlv_names, has_extra = _namespace(cls)
    decode_src = _decoder_source(cls, fields, namespace, has_extra)
    encode_src = _encoder_source(cls, fields, tlv_names, namespace, has_extra)
    exec(compile(decode_src + encode_src, f"<smpp codec {cls.__name__}>", "exec"), namespace)
    # What the source above defines: once per command, at import.
    return cast(Decoder, namespace["decode"]), cast(Encoder, namespace["encode"])


def _decoder_source(
    cls: type[Pdu], fields: tuple[specs.Field, ...], ns: dict[str, object], has_extra: bool
) -> str:
    lines = ["def decode(raw, sequence_number, command_status):", "    end = len(raw)"]
    if cls.command_id & 0x80000000 and fields:
        # An error response may come without its body (SPEC34: the body is not returned).
        lines.append(f"    if end == {HEADER_SIZE}: return cls(sequence_number, command_status)")
    lines.append(f"    o = {HEADER_SIZE}")
    if fields:
        lines.append("    try:")
    index = {id(f): i for i, f in enumerate(fields)}
    for run_number, run in enumerate(_int_runs(fields)):
        if isinstance(run, list):
            if all(f.size == 1 for f in run):  # an index each costs less than a struct call
                targets = ", ".join(f.name for f in run)
                octets = ", ".join(f"raw[o + {i}]" if i else "raw[o]" for i in range(len(run)))
                lines.append(f"        {targets} = {octets}; o += {len(run)}")
            else:
                fmt = ">" + "".join(_INT_FORMAT[f.size] for f in run)
                ns[f"S{run_number}"] = st = struct.Struct(fmt)
                targets = ", ".join(f.name for f in run) + ","
                lines.append(f"        {targets} = S{run_number}.unpack_from(raw, o); o += {st.size}")
        elif isinstance(run, specs.CStr):
            i = index[id(run)]
            lines += [
                f"        if raw[o] == 0: {run.name} = ''; o += 1",
                "        else:",
                f"            i = raw.find(b'\\0', o, o + {run.max})",
                f"            if i < 0: raise cstring_error(raw, o, F{i})",
                f"            {run.name} = raw[o:i].decode('latin-1'); o = i + 1",
            ]
        elif isinstance(run, specs.ShortMessage):
            lines += [
                "        n = raw[o]; o += 1",
                "        short_message = raw[o:o + n]; o += n",
                "        if o > end: raise truncated(NAME)",
            ]
        elif isinstance(run, specs.DestAddresses):
            lines.append("        dest_addresses, o = decode_dests(raw, o)")
        else:
            lines.append("        unsuccess_smes, o = decode_unsuccess(raw, o)")
    if fields:
        lines += ["    except (IndexError, struct_error):", "        raise truncated(NAME) from None"]
    args = ", ".join(["sequence_number", "command_status", *(f.name for f in fields)])
    if has_extra:
        lines += [
            "    if o < end:",
            "        tlvs, extra = decode_tlvs(raw, o, DECLARED)",
            f"        return cls({args}, extra_tlvs=extra, **tlvs)",
        ]
    else:
        lines += [
            "    if o < end:",
            "        raise RemoteProtocolError(f'{NAME} has {end - o} octets after its body', "
            "CommandStatus.ESME_RINVCMDLEN)",
        ]
    lines.append(f"    return cls({args})")
    return "\n".join(lines) + "\n"


def _encoder_source(
    cls: type[Pdu],
    fields: tuple[specs.Field, ...],
    tlv_names: list[str],
    ns: dict[str, object],
    has_extra: bool,
    given: tuple[str, ...] | None = None,
) -> str:
    """The source of ``encode(pdu)``; with ``given``, of ``encode(sequence_number,
    command_status, *given)`` where every other field has its default, written into the code.

    The mandatory body is one ``bytes % tuple``: a one-octet integer is ``%c`` (which refuses
    anything outside 0-255, as struct would), a string ``%b``, a constant written in the
    format itself: one C call for the whole body instead of one per field.
    """
    defaults = {a.name: a.default for a in attrs.fields(cls)}

    def value(name: str) -> str | None:
        """The expression of a field's value, or None for a default (a constant)."""
        if given is None:
            return f"pdu.{name}"
        return name if name in given else None

    sequence, status = (
        ("pdu.sequence_number", "pdu.command_status")
        if given is None
        else ("sequence_number", "command_status")
    )
    if given is None:
        lines = ["def encode(pdu):"]
    else:
        lines = [f"def encode(sequence_number, command_status{''.join(', ' + n for n in given)}):"]
    if cls in specs.NO_BODY_ON_ERROR:
        lines.append(f"    if {status}: return HEADER.pack({HEADER_SIZE}, CID, {status}, {sequence})")
    lines.append("    try:")
    template = bytearray()  # the body's format
    args: list[str] = []  # what fills its %c and %b, in order

    def literal(raw: bytes) -> None:
        template.extend(raw.replace(b"%", b"%%"))

    for run_number, run in enumerate(_int_runs(fields)):
        if isinstance(run, list):
            fmt = ">" + "".join(_INT_FORMAT[f.size] for f in run)
            values = [value(f.name) for f in run]
            if all(v is None for v in values):
                literal(struct.pack(fmt, *(defaults[f.name] for f in run)))
            elif all(f.size == 1 for f in run):
                for v, f in zip(values, run):
                    if v is None:
                        literal(bytes((defaults[f.name],)))
                    else:
                        template.extend(b"%c")
                        args.append(v)
            else:
                ns[f"P{run_number}"] = struct.Struct(fmt)
                packed = ", ".join(
                    v if v is not None else repr(defaults[f.name]) for v, f in zip(values, run)
                )
                template.extend(b"%b")
                args.append(f"P{run_number}.pack({packed})")
        elif isinstance(run, specs.CStr):
            v = value(run.name)
            if v is None:
                literal(_cstring(defaults[run.name], run.max, run.name))
                continue
            var = f"c{run_number}"
            lines += [
                f"        {var} = {v}.encode('latin-1')",
                f"        if len({var}) >= {run.max}: raise LocalProtocolError("
                f"f'{run.name} {{{v}!r}} is longer than {run.max - 1} characters')",
            ]
            template.extend(b"%b\0")
            args.append(var)
        elif isinstance(run, specs.ShortMessage):
            v = value("short_message")
            if v is None:
                literal(b"\0")
                continue
            lines += [
                f"        sm = {v}",
                "        if len(sm) > 255: raise LocalProtocolError("
                "f'short_message has {len(sm)} octets; use message_payload above 255')",
            ]
            template.extend(b"%c%b")
            args += ["len(sm)", "sm"]
        else:  # a repeated structure: submit_multi's destinations, its response's failures
            name, encode, call = _REPEATED[type(run)]
            v = value(name)
            if v is None:
                literal(encode(()))
            else:
                template.extend(b"%b")
                args.append(f"{call}({v})")
    if given is not None:
        # A field encoder's TLVs are always there: they go into the body's format too.
        for name in tlv_names:
            if name not in given:
                continue
            tag = specs.TAG_BY_NAME[name]
            kind = specs.TLVS[tag].kind
            if kind == "int":
                size = specs.TLV_INT_SIZE[name]
                literal(_TL.pack(tag, size))
                template.extend(b"%c" if size == 1 else b"%b")
                args.append(name if size == 1 else f"{name}.to_bytes({size}, 'big')")
                continue
            if kind == "cstr":
                lines.append(f"        {name} = {name}.encode('latin-1') + b'\\0'")
            literal(_TL.pack(tag, 0)[:2])
            template.extend(b"%b%b")
            args += [f"len({name}).to_bytes(2, 'big')", name]
    if args:
        ns["BODY"] = bytes(template)
        lines.append(f"        body = BODY % ({', '.join(args)},)")
    else:
        lines.append(f"        body = {bytes(template).replace(b'%%', b'%')!r}")
    # The full encoder's TLVs are optional: each is written when it is not None.
    optional = tlv_names if given is None else []
    extra = value("extra_tlvs") if has_extra else None
    if optional or extra:
        lines.append("        tlvs = []")
        for name in optional:
            tag = specs.TAG_BY_NAME[name]
            spec = specs.TLVS[tag]
            lines += [f"        v = pdu.{name}", "        if v is not None:"]
            if spec.kind == "int":
                size = specs.TLV_INT_SIZE[name]
                lines.append(f"            tlvs.append({_TL.pack(tag, size)!r} + v.to_bytes({size}, 'big'))")
            elif spec.kind == "cstr":
                lines += [
                    "            v = v.encode('latin-1') + b'\\0'",
                    f"            tlvs.append(TL.pack({tag}, len(v)) + v)",
                ]
            else:
                lines.append(f"            tlvs.append(TL.pack({tag}, len(v)) + v)")
        if extra:
            lines += [
                f"        for t in {extra}:",
                "            tlvs.append(TL.pack(t.tag, len(t.value)) + t.value)",
            ]
        lines.append("        if tlvs: body += b''.join(tlvs)")
    lines += [
        # TypeError: %c and %b refuse a value of the wrong type, as struct does with its error.
        "    except (struct_error, OverflowError, UnicodeEncodeError, TypeError) as error:",
        "        raise LocalProtocolError(f'cannot encode {NAME}: {error}') from error",
        f"    return HEADER.pack({HEADER_SIZE} + len(body), CID, {status}, {sequence}) + body",
    ]
    return "\n".join(lines) + "\n"


def field_encoder(cls: type[Pdu], given: tuple[str, ...]) -> Callable[..., bytes]:
    """An encoder of ``cls`` PDUs whose fields but ``given`` have their defaults.

    ``encoder(sequence_number, command_status, *values)`` with the values of ``given`` in that
    order returns the bytes of ``encode(cls(sequence_number, command_status, **values))``
    without making the PDU, the defaults written once, at compile time: for the PDUs a carrier
    writes by the thousand (submit_sm_resp, receipts). A TLV named in ``given`` is always
    written (``None`` is not "absent" here).

    :raises TypeError: ``given`` names something that is not a field of ``cls``.
    """
    attributes = [a.name for a in attrs.fields(cls)]
    unknown = [n for n in given if n not in attributes[2:]]
    if unknown:
        raise TypeError(f"{cls.__name__} has no fields {unknown}")
    namespace, fields, tlv_names, has_extra = _namespace(cls)
    source = _encoder_source(cls, fields, tlv_names, namespace, has_extra, given)
    exec(compile(source, f"<smpp codec {cls.__name__} fields>", "exec"), namespace)
    return cast(Callable[..., bytes], namespace["encode"])


_DECODERS: dict[int, Decoder] = {}
_ENCODERS: dict[type[Pdu], Encoder] = {}
for _cls in specs.FIELDS:
    _DECODERS[_cls.command_id], _ENCODERS[_cls] = _compile(_cls)
