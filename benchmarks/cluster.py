"""``python -m benchmarks.cluster``: smsgw nodes on one PostgreSQL database (docs/cluster.md).

Starts a throwaway PostgreSQL server (``tests/postgres.py``), then per round:

- **one node**: ``smsgw serve --store … --node a``, one load generator, N submit_sm with
  receipts at window W;
- **two nodes**: nodes a and b on one database, two load generators at once, N/2 each, one per
  node; the rate is N over the slower one's time, the CPU both nodes' together;

and for every load run what it asked of PostgreSQL (:class:`DatabaseMeter`: commits, rows
written, WAL bytes, notifications), and once, **takeover**: node a (lease L) accepts K messages from an ESME that answers none
of its receipts, is killed with ``kill -9``, and a receiver binds to node b at once: the time
from the kill to the last of the K receipts arriving at b. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import report, servers
from smsgw.smpp import codec
from smsgw.smpp.framing import PduBuffer
from smsgw.smpp.pdu import BindReceiver, BindTransceiver
from smsgw.smpp.sm import DeliverSm, DeliverSmResp, SubmitSm


class DatabaseMeter:
    """What a load run asks of the database: commits, rows inserted and updated, WAL bytes
    (pg_stat_database, pg_stat_wal), notifications on smsgw's channels (counted by a
    listener of its own) and the server's CPU time (every PostgreSQL process, the nodes'
    backends included once they ended), between :meth:`start` and :meth:`stop`."""

    _STATS = (
        "SELECT d.xact_commit, d.tup_inserted, d.tup_updated, w.wal_bytes"
        " FROM pg_stat_database d, pg_stat_wal w WHERE d.datname = current_database()"
    )

    def __init__(self, url: str, data_dir: Path) -> None:
        import psycopg

        from smsgw.store.nodes import CHANGED_CHANNEL, EVENTS_CHANNEL

        self._stats = psycopg.connect(url, autocommit=True)
        self._listener = psycopg.connect(url, autocommit=True)
        for channel in (CHANGED_CHANNEL, EVENTS_CHANNEL):
            self._listener.execute(f"LISTEN {channel}")
        self._notified = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._count, daemon=True)
        self._before: tuple[Any, ...] = ()
        self._postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])

    def _count(self) -> None:
        while not self._stop.is_set():
            self._notified += sum(1 for _ in self._listener.notifies(timeout=0.2))

    def _cpu_seconds(self) -> float:
        """The postmaster's CPU, its reaped children's and its live children's."""
        ticks = 0
        for proc in Path("/proc").iterdir():
            try:
                stat = (proc / "stat").read_text() if proc.name.isdigit() else ""
            except OSError:
                continue  # ended between the listing and the read
            fields = stat[stat.rfind(")") + 2 :].split()
            if proc.name == str(self._postmaster):
                ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
            elif fields and fields[1] == str(self._postmaster):
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def _read(self) -> tuple[Any, ...]:
        time.sleep(0.5)  # an ended backend's last report
        self._stats.execute("SELECT pg_stat_clear_snapshot()")
        row = self._stats.execute(self._STATS).fetchone()
        assert row is not None
        return (*row, self._cpu_seconds())

    def start(self) -> None:
        """Count from now: after the warm-up's counts are in, which a backend that went idle
        within a second of its last report gives only after ten."""
        time.sleep(10.5)
        self._before = self._read()
        self._thread.start()

    def stop(self, messages: int, seconds: float) -> dict[str, float]:
        """The counts since :meth:`start`, per message and (commits, notifications) per second
        of the load's ``seconds``."""
        after = self._read()
        self._stop.set()
        self._thread.join()
        self._stats.close()
        self._listener.close()
        commits, inserted, updated, wal, cpu = (float(a - b) for a, b in zip(after, self._before))
        return {
            "commits_per_s": commits / seconds,
            "rows_inserted_per_msg": inserted / messages,
            "rows_updated_per_msg": updated / messages,
            "wal_bytes_per_msg": wal / messages,
            "database_cpu_us_per_msg": cpu / messages * 1e6,
            "notifications_per_msg": self._notified / messages,
            "notifications_per_s": self._notified / seconds,
        }


def _nodes(
    postgres: Any, workdir: Path, database: str, names: list[str], lease: float
) -> list[servers.Server]:
    directory = workdir / database
    directory.mkdir()
    return servers.start_nodes(directory, postgres.create_database(database), names, lease)


def load_round(
    postgres: Any, workdir: Path, round_no: int, nodes: int, n: int, window: int
) -> dict[str, Any]:
    """One load run on ``nodes`` nodes, the load split evenly among them."""
    database = f"load{round_no}n{nodes}"
    started = _nodes(postgres, workdir, database, ["a", "b", "c", "d"][:nodes], 10.0)
    try:
        timeout = 120 + n / 200
        for server in started:  # warm each node up, as the main benchmark does
            servers.run_client("benchmarks.loadgen", server, ["-n", "2000", "--window", "100"], timeout)
        meter = DatabaseMeter(postgres.database_url(database), postgres.data_dir)
        meter.start()
        results, cpu = servers.load_split(started, n, ["--window", str(window)], timeout)
    finally:
        for server in started:
            server.stop()
    merged = report.merge_loads(results)
    total = merged["ok_responses"]
    # Read once the nodes are gone: a backend reports its counts when it ends, where a busy
    # one reports at most once a second and an idle one only after ten.
    database_load = meter.stop(total or 1, max(merged["submit_seconds"], merged["receipt_seconds"]))
    return {
        "nodes": nodes,
        "submit_rate": merged["submit_rate"],
        "receipts": merged["receipts"],
        "server_cpu_us_per_msg": cpu / total * 1e6 if total else 0.0,
        "errors": merged["errors"],
        **database_load,
    }


def _send(sock: socket.socket, pdu: Any) -> None:
    sock.sendall(codec.encode(pdu))


def _pdus(sock: socket.socket, buffer: PduBuffer, timeout: float) -> list[Any]:
    sock.settimeout(timeout)
    try:
        data = sock.recv(1 << 16)
    except TimeoutError:
        return []
    if not data:
        raise ConnectionError("the node closed the connection")
    return [codec.decode(raw) for raw in buffer.feed(data)]


def takeover(postgres: Any, workdir: Path, messages: int, lease: float) -> dict[str, Any]:
    """Seconds from kill -9 of node a to the last of its owed receipts arriving at node b."""
    a, b = _nodes(postgres, workdir, "takeover", ["a", "b"], lease)
    try:
        esme = socket.create_connection((a.host, a.port))
        buffer = PduBuffer()
        _send(esme, BindTransceiver(1, system_id=a.system_id, password=a.password))
        if not _pdus(esme, buffer, 5.0):
            raise RuntimeError("node a did not answer the bind within 5 s")
        for sequence in range(2, messages + 2):
            _send(esme, SubmitSm(sequence, source_addr="12345", destination_addr="8613800000001",
                                 short_message=b"takeover", registered_delivery=1))  # fmt: skip
        answered = 0
        while answered < messages:  # receipts are read and never answered: a keeps them owed
            answered += sum(1 for pdu in _pdus(esme, buffer, 5.0) if not isinstance(pdu, DeliverSm))
        a.process.kill()
        killed = time.monotonic()
        a.process.wait()
        esme.close()
        receiver = socket.create_connection((b.host, b.port))
        buffer = PduBuffer()
        _send(receiver, BindReceiver(1, system_id=b.system_id, password=b.password))
        receipted: set[object] = set()
        deadline = killed + lease * 10 + 30
        while len(receipted) < messages and time.monotonic() < deadline:
            for pdu in _pdus(receiver, buffer, 0.5):
                if isinstance(pdu, DeliverSm):
                    receipted.add(pdu.receipted_message_id)
                    _send(receiver, DeliverSmResp(pdu.sequence_number))
        took = time.monotonic() - killed
        receiver.close()
    finally:
        a.stop()
        b.stop()
    return {"lease": lease, "owed": messages, "delivered_by_b": len(receipted), "seconds": took}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see ``benchmarks/README.md``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cluster", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="submit_sm per load run (default 20000)")
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--takeover-messages", type=int, default=200)
    parser.add_argument(
        "--lease", type=float, default=10.0, help="node a's lease in the takeover (default 10)"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(servers.REPO_DIR))
    from tests.postgres import PostgresServer, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        print(f"skipped: {reason}")
        return 1
    with tempfile.TemporaryDirectory(prefix="smsgw-cluster-") as tmp, PostgresServer() as postgres:
        workdir = Path(tmp)
        runs = []
        for round_no in range(1, args.rounds + 1):
            for nodes in (1, 2) if round_no % 2 else (2, 1):
                run = load_round(postgres, workdir, round_no, nodes, args.n, args.window)
                runs.append(run)
                print(
                    f"round {round_no}: {nodes} node(s) {run['submit_rate']:>9,.0f} submits/s "
                    f"srv {run['server_cpu_us_per_msg']:.1f} µs/msg  receipts {run['receipts']}  errors {run['errors']}  "
                    f"db {run['commits_per_s']:,.0f} commits/s, per message {run['rows_inserted_per_msg']:.2f} rows "
                    f"inserted {run['rows_updated_per_msg']:.2f} updated {run['wal_bytes_per_msg']:,.0f} WAL bytes "
                    f"{run['notifications_per_msg']:.2f} notifications, db CPU {run['database_cpu_us_per_msg']:.1f} µs"
                )
        moved = takeover(postgres, workdir, args.takeover_messages, args.lease)
    print(f"\nwindow {args.window}, {args.n} submit_sm a run, medians of {args.rounds} rounds")
    columns = {
        "submit_rate": ("submits/s", 10, ",.0f"),
        "server_cpu_us_per_msg": ("srv CPU µs/msg", 15, ".1f"),
        "commits_per_s": ("commits/s", 10, ",.0f"),
        "rows_inserted_per_msg": ("rows ins/msg", 13, ".2f"),
        "rows_updated_per_msg": ("rows upd/msg", 13, ".2f"),
        "wal_bytes_per_msg": ("WAL B/msg", 10, ",.0f"),
        "database_cpu_us_per_msg": ("db CPU µs/msg", 14, ".1f"),
        "notifications_per_s": ("notifies/s", 11, ",.0f"),
    }
    print(f"{'nodes':>5}" + "".join(f" {label:>{width}}" for label, width, _ in columns.values()))
    summary = {}
    for nodes in (1, 2):
        mine = [r for r in runs if r["nodes"] == nodes]
        summary[nodes] = {key: statistics.median(r[key] for r in mine) for key in columns}
        print(
            f"{nodes:>5}"
            + "".join(
                f" {format(summary[nodes][key], spec):>{width}}" for key, (_, width, spec) in columns.items()
            )
        )
    print(f"two nodes / one node: {summary[2]['submit_rate'] / summary[1]['submit_rate']:.2f}")
    print(
        f"takeover: kill -9 of node a (lease {moved['lease']:g} s) with {moved['owed']} receipts owed; "
        f"node b delivered {moved['delivered_by_b']} of them, the last {moved['seconds']:.1f} s after the kill"
    )
    print(json.dumps({"runs": runs, "summary": summary, "takeover": moved}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
