"""Throughput and latency benchmark of smsgw against a null SMSC and node-smpp.

Run it with ``python -m benchmarks`` (see ``benchmarks/README.md``). The package is
deliberately independent of :mod:`smsgw`: it speaks SMPP with its own few fixed-layout
encoders in :mod:`benchmarks.wire`, so a bug in smsgw's codec cannot hide itself.
"""
