"""What a fresh ESME sees while a client abuses the carrier.

``python -m benchmarks.abuse`` starts ``smsgw serve`` (file store, mock merchant), then for
each abuse runs the abuser in a process of its own and, meanwhile, a probe that opens a new
connection every few milliseconds, binds, submits one message and unbinds. It prints the
probe's bind and submit latencies, its failures, whether the merchant stayed bound and the
carrier's RSS, one row per abuse. ``tests/e2e/test_abuse.py`` runs the same pieces as tests.

Modules: :mod:`.carrier` (the server process), :mod:`.probe` (the fresh ESME),
:mod:`.abusers` (the abuses, each run as ``python -m benchmarks.abuse.abusers NAME``),
:mod:`.wirekit` (the raw SMPP and HTTP the abusers and the probe speak) and :mod:`.run`
(one abuse measured, and the table).
"""
