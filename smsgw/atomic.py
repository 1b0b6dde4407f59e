"""Files other programs poll: written whole or not at all."""

from __future__ import annotations

import json
import os
from typing import Any


def write_json(path: str, data: Any) -> None:
    """Write ``data`` as JSON through a temporary file and a rename, so a reader (a CI script
    waiting for the ports file) never sees half of it."""
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(data, file, indent=2)
        file.write("\n")
    os.replace(temporary, path)
