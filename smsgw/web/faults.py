"""``/api/faults``: the injected faults in force, read and changed while smsgw runs.

A rule posted here has the keys of ``[[faults]]`` in the config and goes through the same
checks, so a wrong value is refused with the config's words (422, naming the key). ``null``
is the same as leaving a key out, so a rule as ``GET`` shows it can be posted back without
its ``source``, ``counted`` and ``fired``. Rules from the config and the magic numbers can be
deleted as well; they come back at the next start, and rules posted here do not.

A rule with a ``namespace`` strikes only that namespace's handsets (one test's world), and
goes when the namespace is reset (``DELETE /api/namespaces/{name}``).
"""

from __future__ import annotations

from typing import Any

from twisted.web import server

from smsgw.carrier.accounts import AccountRegistry
from smsgw.carrier.faults import FAULT_KEYS, FaultBook, FaultRule, InvalidFaultRule
from smsgw.carrier.subscribers import NAMESPACE_PATTERN, NAMESPACE_RULE, in_namespace
from smsgw.web.api import ApiError, Route, json_body, query


class FaultRoutes:
    """``GET``/``POST``/``DELETE`` ``/api/faults`` and ``DELETE /api/faults/{name}``.

    :param accounts: the accounts a rule may name.
    :param country_code: how a rule's national numbers are read.
    """

    def __init__(self, faults: FaultBook, accounts: AccountRegistry, country_code: str) -> None:
        self.faults = faults
        self.accounts = accounts
        self.country_code = country_code

    def routes(self) -> list[Route]:
        """The routes, for :class:`~smsgw.web.api.Api`."""
        return [
            ("GET", r"faults", self.list),
            ("POST", r"faults", self.add),
            ("DELETE", r"faults", self.clear),
            ("DELETE", r"faults/([^/]+)", self.delete),
        ]

    def list(self, request: server.Request) -> dict[str, Any]:
        """Every rule in force (config, magic numbers, API), in the order they are asked."""
        return {"faults": [self._json(rule) for rule in self.faults.rules]}

    def add(self, request: server.Request) -> tuple[int, dict[str, Any]]:
        """Put a rule in force now, after the others."""
        body = json_body(request, FAULT_KEYS)
        try:
            rule = FaultRule.from_mapping(
                {key: value for key, value in body.items() if value is not None},
                source="api",
                country_code=self.country_code,
            )
        except InvalidFaultRule as error:
            raise ApiError(422, "bad_fault", "; ".join(error.problems)) from None
        accounts = self.accounts
        if rule.account is not None and accounts.get(rule.account) is None:
            known = ", ".join(sorted(a.system_id for a in accounts))
            raise ApiError(422, "bad_fault", f"account: {rule.account!r} is not an account ({known})")
        if self.faults.get(rule.name) is not None:
            raise ApiError(
                409,
                "exists",
                f"a fault rule named {rule.name!r} exists; DELETE /api/faults/{rule.name} first",
            )
        self.faults.add(rule)
        return 201, self._json(rule)

    def delete(self, request: server.Request, name: str) -> dict[str, Any]:
        """Take one rule out of force, whatever its source."""
        try:
            rule = self.faults.remove(name)
        except KeyError:
            raise ApiError(
                404, "unknown_fault", f"no fault rule named {name!r}; GET /api/faults lists them"
            ) from None
        return {"name": rule.name, "source": rule.source, "deleted": True}

    def clear(self, request: server.Request) -> dict[str, Any]:
        """Take the rules added through the API out of force (config and magic ones stay):
        with ``?namespace=``, only that namespace's (and those inside it), so that one test
        sharing the carrier does not clear another's; without, every one."""
        namespace = query(request, "namespace")
        if namespace is None:
            return {"deleted": [rule.name for rule in self.faults.remove_from("api")]}
        if not namespace or not NAMESPACE_PATTERN.fullmatch(namespace):
            raise ApiError(400, "bad_query", f"?namespace={namespace!r}: {NAMESPACE_RULE}")
        faults = self.faults
        gone = [
            rule.name
            for rule in faults.rules
            if rule.source == "api" and rule.namespace is not None and in_namespace(rule.namespace, namespace)
        ]
        for name in gone:
            faults.remove(name)
        return {"deleted": gone}

    def _json(self, rule: FaultRule) -> dict[str, Any]:
        counted, fired = self.faults.counts(rule.name)
        mapping = rule.as_mapping()
        name, effect = mapping.pop("name"), mapping.pop("effect")
        return {
            "name": name,
            "effect": effect,
            "source": rule.source,
            **mapping,
            "counted": counted,
            "fired": fired,
        }
