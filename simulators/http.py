"""The carrier's JSON API call and its error, for the simulators and QA scripts (they live in
:mod:`smsgw.apiclient`, which the ``smsgw`` command uses too)."""

from smsgw.apiclient import SmsgwError, call_api

__all__ = ["SmsgwError", "call_api"]
