"""One JSON call to smsgw's HTTP API, and the one error it raises.

Shared by the ``smsgw inbox`` command and the simulators (the handset client, the terminal
phone, the scenario runner), so each reads the error envelope (``{"error": {"code",
"message"}}``) the same way.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

#: Tokens by the base URL they are for (:func:`use_token`); others send ``$SMSGW_TOKEN``.
_TOKENS: dict[str, str] = {}


def use_token(base_url: str, token: str | None) -> None:
    """Send ``token`` on every call to ``base_url`` (a carrier's or merchant's API, such as
    a container's started with its own token); None forgets it."""
    if token is None:
        _TOKENS.pop(base_url.rstrip("/"), None)
    else:
        _TOKENS[base_url.rstrip("/")] = token


class SmsgwError(Exception):
    """smsgw answered with its error envelope, or could not be reached.

    :ivar status: the HTTP status, or ``None`` when no HTTP answer came.
    :ivar code: the envelope's ``code`` (``unknown_handset``, ``bad_field``, ...), or
        ``unreachable`` / ``timeout`` / ``http_error`` when there was no envelope.
    :ivar message: the server's explanation.
    """

    def __init__(self, status: int | None, code: str, message: str) -> None:
        super().__init__(status, code, message)
        self.status = status
        self.code = code
        self.message = message

    def __str__(self) -> str:
        prefix = f"{self.status} " if self.status is not None else ""
        return f"{prefix}{self.code}: {self.message}"


def call_api(
    base_url: str,
    method: str,
    path: str,
    *,
    body: Mapping[str, Any] | None = None,
    query: Mapping[str, object] | None = None,
    timeout: float,
    token: str | None = None,
) -> Any:
    """One API request; return the decoded JSON answer.

    :param token: sent as ``Authorization: Bearer``; None: the one given to :func:`use_token`
        for ``base_url``, else ``$SMSGW_TOKEN``, else none.

    :raises SmsgwError: for an error envelope, a non-JSON answer, or no answer at all.
    """
    url = base_url + path
    if query:
        url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method, headers={"Accept": "application/json"})
    token = token or _TOKENS.get(base_url.rstrip("/")) or os.environ.get("SMSGW_TOKEN")
    if token:  # a carrier that wants its token (listening beyond loopback, or [http] token)
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            raw = error.read()
        try:
            envelope = json.loads(raw)["error"]
            raise SmsgwError(error.code, str(envelope["code"]), str(envelope["message"])) from None
        except (ValueError, KeyError, TypeError):
            text = raw.decode("utf-8", "replace").strip()[:200]
            raise SmsgwError(error.code, "http_error", f"{method} {url}: {text or error.reason}") from None
    except urllib.error.URLError as error:
        raise SmsgwError(None, "unreachable", f"cannot reach smsgw at {base_url}: {error.reason}") from None
    except TimeoutError:
        raise SmsgwError(None, "timeout", f"{method} {url} got no answer within {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as error:  # resets, cut bodies
        raise SmsgwError(None, "unreachable", f"{method} {url}: {error or type(error).__name__}") from None
