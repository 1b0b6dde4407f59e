"""``GET /api/openapi.json``: the OpenAPI 3.1 description of this API, as shipped in the package.

The document (``smsgw/web/openapi.json``) is read once, on first use, and served as it is;
``tests/e2e/test_openapi.py`` checks every real answer of the server against it.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from typing import Any

from twisted.web import server

from smsgw.web.api import Route


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI document, parsed (the same object every time: do not change it)."""
    text = importlib.resources.files("smsgw.web").joinpath("openapi.json").read_text(encoding="utf-8")
    parsed: dict[str, Any] = json.loads(text)
    return parsed


class OpenApiRoutes:
    """``/api/openapi.json``."""

    def routes(self) -> list[Route]:
        """The routes, for :class:`~smsgw.web.api.Api`."""
        return [("GET", r"openapi\.json", self.openapi)]

    def openapi(self, request: server.Request) -> dict[str, Any]:
        """The OpenAPI 3.1 document of this API."""
        return document()
