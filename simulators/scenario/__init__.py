"""Scenario files: handset, merchant, carrier and ESME steps in YAML, run against a fake carrier.

``smsgw scenario run PATH…`` (``simulators.scenario.cli``) loads them (``document``),
checks them against ``schema.json``, runs each with its own handsets (``runner``, ``steps``)
and reports progress, a summary and JUnit XML (``report``). The format is in docs/scenarios.md.
"""
