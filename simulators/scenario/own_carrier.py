"""The carrier a run starts for itself: ``smsgw serve`` with the user's ``--config`` and ``--seed``."""

from __future__ import annotations

import re
import tempfile
import tomllib
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from simulators.carrier_process import CarrierProcess, CarrierStartError

_MERCHANT_TABLE = re.compile(r"^[ \t]*\[[ \t]*merchant[ \t]*\][ \t]*(#.*)?$", re.MULTILINE)


def with_seed(text: str, seed: int, where: Path) -> str:
    """``text`` (a configuration) with ``[merchant] seed`` set to ``seed``.

    TOML has no writer in the standard library, so the key goes in as a line: under the file's
    own ``[merchant]`` header, or in a new one at the end.

    :raises CarrierStartError: the file sets a seed already, or keeps ``merchant`` in a form a
        line cannot go into (an inline table).
    """
    parsed = tomllib.loads(text)
    merchant = parsed.get("merchant")
    if isinstance(merchant, dict) and "seed" in merchant:
        raise CarrierStartError(f"{where} sets [merchant] seed already: give --seed or the key, not both")
    header = _MERCHANT_TABLE.search(text)
    if header is None:
        merged = text + ("" if text.endswith("\n") or not text else "\n") + f"[merchant]\nseed = {seed}\n"
    else:
        merged = text[: header.end()] + f"\nseed = {seed}" + text[header.end() :]
    try:
        ok = tomllib.loads(merged).get("merchant", {}).get("seed") == seed
    except tomllib.TOMLDecodeError:
        ok = False
    if not ok:
        raise CarrierStartError(f"cannot add --seed to {where}: write seed = {seed} under its [merchant]")
    return merged


def start(stack: ExitStack, *, config: Path | None, seed: int | None) -> dict[str, Any]:
    """Start the run's carrier (stopped when ``stack`` closes); its endpoints once it is ready.

    :raises CarrierStartError: it did not come up; the message names the user's file.
    """
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="smsgw-scenarios-")))
    text: str | None = None
    if seed is not None and config is None:
        text = f"[merchant]\nseed = {seed}\n"
    elif seed is not None and config is not None:
        try:
            text = with_seed(config.read_text(encoding="utf-8"), seed, config)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            text = None  # smsgw serve says what is wrong with the file, naming it
    if config is not None and not config.is_file():
        raise CarrierStartError(f"--config {config}: no such file")
    carrier = (
        CarrierProcess(workdir, config=text)
        if text is not None
        else CarrierProcess(workdir, config_path=config)
    )
    stack.callback(carrier.stop)
    try:
        return carrier.wait_ready()
    except CarrierStartError as error:
        if config is not None and text is not None:
            raise CarrierStartError(str(error).replace(str(workdir / "smsgw.toml"), str(config))) from None
        raise
