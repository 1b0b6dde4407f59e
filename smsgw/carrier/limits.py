"""How long the carrier keeps trying, and the longest message it takes."""

from __future__ import annotations

import attrs


@attrs.frozen
class Limits:
    """How long the carrier keeps trying, and the longest message it takes."""

    default_validity: float = 48 * 3600.0
    max_validity: float = 7 * 86400.0
    max_payload: int = 64 * 1024
