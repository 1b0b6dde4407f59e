"""The carrier as one test sees it: its endpoints and a namespace of the test's own (the
pytest plugin's ``carrier`` fixture, and :meth:`SmsgwContainer.new_namespace
<simulators.container.SmsgwContainer.new_namespace>`)."""

from __future__ import annotations

from typing import Any

import attrs

from simulators.handset import Phone
from simulators.http import SmsgwError, call_api

#: The built-in account (system_id and password) of a carrier without configuration.
DEFAULT_ACCOUNT = "smsgw"


@attrs.define
class Carrier:
    """The carrier as one test sees it.

    :ivar smpp: ``(host, port)`` of its SMPP listener, as ``smpp_host`` and ``smpp_port`` too.
    :ivar system_id: with ``password``, the account an ESME of the test binds as: the carrier's
        first account when the session started it (``smsgw`` unless ``--smsgw-config`` says
        otherwise), the built-in ``smsgw``/``smsgw`` at ``--smsgw-url``.
    :ivar namespace: this test's world: its handsets and faults carry it, and it is reset after.
    """

    http_url: str
    merchant_url: str | None
    smpp: tuple[str, int]
    namespace: str
    system_id: str = DEFAULT_ACCOUNT
    password: str = DEFAULT_ACCOUNT
    timeout: float = 10.0
    _shared_faults: list[str] = attrs.Factory(list)

    @property
    def smpp_host(self) -> str:
        return self.smpp[0]

    @property
    def smpp_port(self) -> int:
        return self.smpp[1]

    def api(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        """One call to the carrier's HTTP API (``/api/...``); the decoded JSON."""
        return call_api(self.http_url, method, path, body=body, query=query or None, timeout=self.timeout)

    def advance_clock(self, seconds: float, *, whole_carrier: bool = False) -> dict[str, Any]:
        """Move this test's time forward (validity, retries, USSD and OTP expiry of its
        handsets): its namespace's clock, so tests running at the same time keep theirs.

        :param whole_carrier: move the carrier's clock instead, every test's time (what a
            handset on a fixed number, in no namespace, needs).
        """
        body: dict[str, Any] = {"advance_seconds": seconds}
        if not whole_carrier:
            body["namespace"] = self.namespace
        try:
            moved: dict[str, Any] = self.api("POST", "/api/clock", body)
        except SmsgwError as error:
            if whole_carrier or error.code != "bad_field" or "namespace" not in error.message:
                raise
            # A carrier older than namespace clocks: it has one clock for all.
            moved = self.api("POST", "/api/clock", {"advance_seconds": seconds})
        return moved

    def messages(self, **filters: Any) -> list[dict[str, Any]]:
        """This test's messages in the carrier's log, newest first (filters as ``GET /api/messages``)."""
        found: list[dict[str, Any]] = self.api("GET", "/api/messages", namespace=self.namespace, **filters)[
            "messages"
        ]
        return found

    def add_fault(
        self, name: str, effect: str, *, msisdn: Phone | str | None = None, **rule: Any
    ) -> dict[str, Any]:
        """A fault rule for this test's handsets only (keys as in docs/faults.md); removed when
        the test ends.

        :param msisdn: one handset (a :class:`Phone`) or a glob over numbers. A number given to
            ``phone()`` is in no namespace: a rule on it strikes it for every test.
        """
        body: dict[str, Any] = {"name": f"{self.namespace}:{name}", "effect": effect, **rule}
        shared = False
        if isinstance(msisdn, Phone):
            shared = self.api("GET", f"/api/handsets/{msisdn.msisdn}")["namespace"] != self.namespace
            msisdn = msisdn.msisdn
        if msisdn is not None:
            body["msisdn"] = msisdn
        if not shared:
            body["namespace"] = self.namespace
        else:
            self._shared_faults.append(body["name"])
        added: dict[str, Any] = self.api("POST", "/api/faults", body)
        return added

    def reset(self) -> None:
        """Clear this test's world: its handsets and faults."""
        for name in self._shared_faults:
            try:
                self.api("DELETE", f"/api/faults/{name}")
            except SmsgwError as error:
                if error.status != 404:
                    raise
        try:
            self.api("DELETE", f"/api/namespaces/{self.namespace}")
        except SmsgwError as error:
            if error.status != 404:
                raise
