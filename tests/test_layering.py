"""Inner layers import nothing from outer ones: dependencies point inward.

``smsgw.smpp``, ``smsgw.cmpp`` and ``smsgw.text`` are sans-I/O: no Twisted, and neither imports the other or any
layer above. ``smsgw.carrier`` and ``smsgw.store`` import no Twisted and no adapter (``smsgw.server``,
``smsgw.web``), and the store knows nothing of the carrier. The carrier has no protocol bytes: it
queues what a front end encoded and never reads it; of SMPP it knows only the enums a message
keeps (``smsgw.smpp.constants``), never the wire form, and nothing of the front ends that speak it;
its refusals are Refusals, which each front end maps to its statuses. A front end (``smsgw.frontend``) is sans-I/O too: no Twisted
and no adapter. Only the adapters touch the reactor, and smsgw imports nothing from its simulators."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "smsgw"
_ADAPTERS = ("twisted", "smsgw.server", "smsgw.web")
FORBIDDEN = {
    "smpp": (*_ADAPTERS, "smsgw.carrier", "smsgw.store", "smsgw.frontend", "smsgw.text"),
    "cmpp": (*_ADAPTERS, "smsgw.carrier", "smsgw.store", "smsgw.frontend", "smsgw.smpp"),
    "text": (*_ADAPTERS, "smsgw.carrier", "smsgw.store", "smsgw.frontend", "smsgw.smpp"),
    "carrier": _ADAPTERS,
    "store": (*_ADAPTERS, "smsgw.carrier", "smsgw.frontend"),
    "frontend": _ADAPTERS,
}
#: What to do instead, by layer, when a module of it reaches outward.
INSTEAD = {
    "smpp": "smsgw.smpp is SMPP without I/O: take time and text as parameters, and leave what "
    "uses the carrier or the reactor to smsgw/frontend/smpp/ or the adapter smsgw/server/smpp.py",
    "cmpp": "smsgw.cmpp is CMPP without I/O, as smsgw.smpp is SMPP: take time and text as "
    "parameters, and leave what uses the carrier or the reactor to a front end and its adapter",
    "text": "smsgw.text is text coding without I/O: take what it needs (the data_coding octet, an "
    "alphabet) as parameters instead of importing the protocol or the carrier",
    "carrier": "The carrier is driven by its adapters, not the other way round: give it what it "
    "needs through a Protocol in smsgw/carrier (as AppLink, DeliveryEncoder) or a callback that "
    "smsgw/app.py fills in (as UssdApps.post_to_http_app), and keep Twisted in smsgw/server or "
    "smsgw/web",
    "store": "The store keeps plain rows (smsgw/store/records.py): give it values, not carrier "
    "objects, and let smsgw/app.py open it",
    "frontend": "A front end is sans-I/O: its adapter (smsgw/server/smpp.py) feeds it bytes and "
    "time and is asked to write through a callback (output_ready); put sockets, reactor calls and "
    "HTTP in the adapter",
}


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        return [node.module]
    return []


def _package_of(path: Path) -> list[str]:
    """The dotted package a module is in, as parts (``smsgw/carrier/x.py`` -> smsgw, carrier)."""
    return list(path.relative_to(PACKAGE.parent).parent.parts)


def qualified_imports(path: Path) -> list[tuple[int, str]]:
    """Every name ``path`` imports, in full and with its line: ``from smsgw.smpp import codec``
    is ``smsgw.smpp.codec``, and a relative import is resolved, so no spelling slips past."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _package_of(path)
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def _within(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def offenders(layer: str, forbidden: Iterable[str], allowed: Iterable[str] = ()) -> dict[str, list[str]]:
    """The layer's modules (its subpackages' too) that import a forbidden name, each with
    ``line N: name`` per import."""
    forbidden, allowed = tuple(forbidden), tuple(allowed)
    bad = {}
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        found = [
            f"line {line}: {name}"
            for line, name in qualified_imports(path)
            if _within(name, forbidden) and not _within(name, allowed)
        ]
        if found:
            bad[path.relative_to(PACKAGE.parent).as_posix()] = found
    return bad


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_does_not_import_outer_layers(layer: str) -> None:
    """Modules of each inner layer import neither Twisted nor any outer layer."""
    bad = offenders(layer, FORBIDDEN[layer])
    assert not bad, f"smsgw/{layer} imports outer layers: {bad}. {INSTEAD[layer]}"


#: The protocols' wire forms, which the carrier must not know: SMPP's codec, PDUs, session and
#: state table, framing, time strings and ESME; and the front ends that use them. A second
#: protocol's package (``smsgw.cmpp``) joins this list.
PROTOCOL_WIRE = ("smsgw.smpp", "smsgw.frontend")
#: What of SMPP the carrier may name: the enums a GSM message keeps whatever protocol carried
#: it (message_state, esm_class, TON/NPI, the USSD operation) and the bind modes.
SMPP_NUMBERS = tuple(
    f"smsgw.smpp.constants.{name}"
    for name in ("MessageState", "EsmClass", "BindType", "Ton", "Npi", "UssdServiceOp")
)
#: SMPP's command_status values, which only the fault rules may name: a ``refuse_submit``
#: rule's status is written by users as an SMPP name.
SMPP_STATUSES = ("smsgw.smpp.constants.CommandStatus", "smsgw.smpp.constants.status_name")
SMPP_STATUSES_ALLOWED_IN = ("smsgw/carrier/faults.py",)


def test_the_carrier_has_no_protocol_bytes() -> None:
    """The carrier never encodes, decodes or frames a protocol: a second protocol (CMPP) gets a
    front end of its own beside smsgw/frontend/smpp/ and the carrier does not change."""
    bad = offenders("carrier", PROTOCOL_WIRE, allowed=SMPP_NUMBERS + SMPP_STATUSES)
    assert not bad, (
        f"smsgw/carrier imports SMPP's wire form or a front end: {bad}. The carrier takes "
        "protocol-neutral requests (smsgw/carrier/requests.py) and returns answers "
        "(smsgw/carrier/answers.py) or raises Rejected; it queues deliveries as bytes that the "
        "front end's DeliveryEncoder (smsgw/carrier/encoding.py, SMPP's in "
        "smsgw/frontend/smpp/deliveries.py) wrote. Decode and encode in smsgw/frontend/smpp/, "
        "and import only smsgw.smpp.constants's enums here"
    )


def test_the_carrier_refuses_in_no_protocols_statuses() -> None:
    """The carrier says why it refuses as a Refusal; each front end answers it with its own
    protocol's status, so CMPP's front end maps the same refusals its own way."""
    bad = {
        path: found
        for path, found in offenders("carrier", SMPP_STATUSES).items()
        if path not in SMPP_STATUSES_ALLOWED_IN
    }
    assert not bad, (
        f"smsgw/carrier names SMPP statuses: {bad}. Raise Rejected with a Refusal "
        "(smsgw/carrier/errors.py; add a member if none says why) and map it to SMPP's status in "
        "smsgw/frontend/smpp/statuses.py; only faults.py, whose refuse_submit rules users write "
        "with SMPP status names, may import CommandStatus or status_name"
    )


#: The one place smsgw may import its simulators: the ``smsgw`` command's table in ``main()``
#: (``smsgw serve`` hands the carrier the mock merchant; ``merchant``, ``demo``, ``scenario``
#: and ``phone`` run one).
COMMAND_TABLE = ("cli.py", "main")


def simulator_imports(path: Path) -> list[str]:
    """``path``'s imports of ``simulators``, each as ``line N: name``, but those in the
    command table."""
    tree = ast.parse(path.read_text())
    allowed: set[int] = set()
    if path.relative_to(PACKAGE).as_posix() == COMMAND_TABLE[0]:
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == COMMAND_TABLE[1]:
                allowed.update(id(inner) for inner in ast.walk(node))
    return [
        f"line {node.lineno}: {name}"
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in allowed
        for name in _imported(node)
        if name == "simulators" or name.startswith("simulators.")
    ]


def test_smsgw_does_not_import_its_simulators() -> None:
    """The carrier does not depend on its own test clients: only the command table may start them."""
    bad = {
        path.relative_to(PACKAGE).as_posix(): found
        for path in sorted(PACKAGE.rglob("*.py"))
        if (found := simulator_imports(path))
    }
    assert not bad, (
        f"smsgw imports simulators: {bad}. smsgw must not depend on its simulators: put what both "
        "need in smsgw (as smsgw.apiclient), and hand smsgw what it runs from the simulators through "
        "a seam (as smsgw.companion) filled in by the command table, main() in smsgw/cli.py, the one "
        "place that may import simulators (lazily, inside main())"
    )
