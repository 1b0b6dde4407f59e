"""Reduce the raw runs to medians and print them as plain-text tables.

The machine is shared and absolute figures drift by ±30% (benchmarks/README.md), so every table
has the reference in it and the summary quotes smsgw as a ratio of the reference.
"""

from __future__ import annotations

import statistics
from typing import Any

LABELS = {
    "null": "generator ceiling (null server)",
    "reference": "node-smpp reference",
    "smsgw": "smsgw",
    "smsgw-pg": "smsgw on PostgreSQL",
    "smsgw-pg2": "smsgw, 2 nodes on PostgreSQL",
    "smsgw-cmpp": "smsgw over CMPP 3.0",
}
#: In the ping-pong the null server bounds smpplib, not the load generator.
PINGPONG_LABELS = {
    **LABELS,
    "null": "null server (smpplib's ceiling)",
    "null-delayed-ack": "null server, delayed ACKs",
}

_LOAD_COLUMNS = (
    ("server", 31),
    ("submits/s", 10),
    ("receipts/s", 10),
    ("p50 ms", 7),
    ("p99 ms", 7),
    ("srv CPU µs/msg", 14),
    ("gen CPU µs/msg", 14),
    ("peak RSS MiB", 12),
    ("errors", 6),
    ("unmatched", 9),
    ("rounds", 6),
)


def _median(runs: list[dict[str, Any]], key: str) -> float:
    values = [float(r[key]) for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else float("nan")


def shape_of(run: dict[str, Any]) -> str:
    """What a load run was: ``window 100``, or ``10 binds × window 10``."""
    binds = int(run.get("binds", 1))
    return f"window {run['window']}" if binds == 1 else f"{binds} binds × window {run['window']}"


def merge_loads(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One load run out of several generators run at once, one per node: all the messages over
    the slowest generator's time; latencies are the worst generator's percentiles (a merged
    percentile would need every sample), counts are summed."""
    failed = [r["error"] for r in results if "error" in r]
    if failed:
        return {"error": "; ".join(failed)}
    submit_s = max(r["submit_seconds"] for r in results)
    receipt_s = max(r["receipt_seconds"] for r in results)
    n = sum(r["n"] for r in results)
    responses = sum(r["responses"] for r in results)
    receipts = sum(r["receipts"] for r in results)
    summed = (
        "n",
        "responses",
        "ok_responses",
        "receipts",
        "errors",
        "matched",
        "unmatched",
        "orphan_receipts",
    )
    merged: dict[str, Any] = {key: sum(int(r.get(key, 0)) for r in results) for key in summed}
    merged.update(
        submit_seconds=submit_s,
        receipt_seconds=receipt_s,
        submit_rate=responses / submit_s if submit_s else 0.0,
        receipt_rate=receipts / receipt_s if receipt_s else 0.0,
        p50_ms=max(r["p50_ms"] for r in results),
        p99_ms=max(r["p99_ms"] for r in results),
        max_ms=max(r["max_ms"] for r in results),
        client_cpu_us_per_msg=sum(r["client_cpu_us_per_msg"] * r["n"] for r in results) / n if n else 0.0,
        stopped=next((r.get("stopped") for r in results if r.get("stopped") != "complete"), "complete"),
        generators=len(results),
    )
    return merged


def summarize_load(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Medians over rounds per shape (binds, window) and server; errors and unmatched are summed.

    :param runs: load runs as recorded by ``__main__`` (keys of :func:`loadgen.run_load` plus
        ``server``, ``server_cpu_us_per_msg`` and ``peak_rss_mib``); failed runs count as failed.
    """
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for run in runs:
        grouped.setdefault(shape_of(run), {}).setdefault(str(run["server"]), []).append(run)
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for shape, by_server in grouped.items():  # in the order they ran: one bind first
        summary[shape] = {}
        for server, group in by_server.items():
            good = [r for r in group if "error" not in r]
            summary[shape][server] = {
                "submit_rate": _median(good, "submit_rate"),
                "receipt_rate": _median(good, "receipt_rate"),
                "p50_ms": _median(good, "p50_ms"),
                "p99_ms": _median(good, "p99_ms"),
                "server_cpu_us_per_msg": _median(good, "server_cpu_us_per_msg"),
                "client_cpu_us_per_msg": _median(good, "client_cpu_us_per_msg"),
                "peak_rss_mib": max((float(r["peak_rss_mib"]) for r in good), default=float("nan")),
                "errors": float(sum(int(r["errors"]) for r in good)),
                "unmatched": float(sum(int(r["unmatched"]) + int(r["orphan_receipts"]) for r in good)),
                "rounds": float(len(good)),
                "failed_rounds": float(len(group) - len(good)),
            }
    return summary


def ratios(summary: dict[str, dict[str, dict[str, float]]], server: str = "smsgw") -> dict[str, float]:
    """``server``'s submits/s divided by the reference's, per shape where both ran."""
    out: dict[str, float] = {}
    for shape, by_server in summary.items():
        if server in by_server and "reference" in by_server:
            ref = by_server["reference"]["submit_rate"]
            if ref and ref == ref:  # skip zero and NaN
                out[shape] = by_server[server]["submit_rate"] / ref
    return out


def _fmt(value: float, digits: int = 0) -> str:
    if value != value:  # NaN: no successful round
        return "-"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def load_table(shape: str, by_server: dict[str, dict[str, float]], order: list[str]) -> str:
    """One shape's table (``window 100``, ``10 binds × window 10``), a line per server in ``order``."""
    lines = [shape]
    lines.append(
        "  ".join(
            name.rjust(width) if i else name.ljust(width) for i, (name, width) in enumerate(_LOAD_COLUMNS)
        )
    )
    for server in order:
        if server not in by_server:
            continue
        s = by_server[server]
        cells = (
            LABELS.get(server, server),
            _fmt(s["submit_rate"]),
            _fmt(s["receipt_rate"]),
            _fmt(s["p50_ms"], 2),
            _fmt(s["p99_ms"], 2),
            _fmt(s["server_cpu_us_per_msg"], 1),
            _fmt(s["client_cpu_us_per_msg"], 1),
            _fmt(s["peak_rss_mib"], 1),
            _fmt(s["errors"]),
            _fmt(s["unmatched"]),
            f"{s['rounds']:.0f}" + (f"+{s['failed_rounds']:.0f}F" if s["failed_rounds"] else ""),
        )
        lines.append(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, (_, w)) in enumerate(zip(cells, _LOAD_COLUMNS, strict=True))
            )
        )
    return "\n".join(lines)


def summarize_pingpong(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Median smpplib ping-pong rate per server, with summed errors."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        grouped.setdefault(str(run["server"]), []).append(run)
    return {
        server: {
            "rate": _median([r for r in group if "error" not in r], "rate"),
            "sent": _median([r for r in group if "error" not in r], "sent"),
            "errors": float(sum(int(r.get("errors", 0)) for r in group if "error" not in r)),
            "failed_rounds": float(sum(1 for r in group if "error" in r)),
        }
        for server, group in grouped.items()
    }


def pingpong_table(summary: dict[str, dict[str, float]], order: list[str]) -> str:
    """The smpplib ping-pong table: one unmodified client, one message in flight."""
    lines = ["smpplib 2.2.4 ping-pong (one submit_sm in flight, receipts on)"]
    lines.append(f"{'server':<31}  {'msgs/s':>10}  {'sent':>6}  {'errors':>6}  {'failed':>6}")
    for server in order:
        if server in summary:
            s = summary[server]
            label = PINGPONG_LABELS.get(server, server)
            lines.append(
                f"{label:<31}  {_fmt(s['rate']):>10}  {_fmt(s['sent']):>6}  "
                f"{_fmt(s['errors']):>6}  {_fmt(s['failed_rounds']):>6}"
            )
    return "\n".join(lines)
