"""A prune by hand: ``DELETE /api/messages?before=`` on a running carrier, and ``smsgw prune``
through it or on a store file no smsgw holds. Final messages that owe nothing go; what is
owed, the newest message and the last to reach a phone stay."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from smsgw.web.render import iso
from tests.e2e.conftest import DEMO, Smsgw, call_json, needs_sqlite_file, wait_until
from tests.e2e.test_cli import smsgw_command
from tests.e2e.test_metrics import scrape, value

pytestmark = pytest.mark.e2e

OFF = "8617200000001"


def racing_prunes(base_url: str, before: str, tries: int = 20) -> dict[int, tuple[int, Any, Any]]:
    """Two ``DELETE /api/messages`` at once, until one is answered 409 because the other's
    pass runs (a pass starts at the carrier's next tick, a quarter of a second away at most,
    so both land before it nearly always); the answers by status: 200 and 409."""
    url = f"{base_url}/api/messages?before={before}"
    for _ in range(tries):
        barrier = threading.Barrier(2)
        answers: list[tuple[int, Any, Any]] = []

        def prune(barrier: threading.Barrier, answers: list[tuple[int, Any, Any]]) -> None:
            barrier.wait(5)
            answers.append(call_json(url, "DELETE", timeout=30))

        threads = [threading.Thread(target=prune, args=(barrier, answers)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        statuses = sorted(answer[0] for answer in answers)
        assert statuses in ([200, 200], [200, 409]), answers
        if statuses == [200, 409]:
            return {answer[0]: answer for answer in answers}
    raise AssertionError(f"no 409 in {tries} pairs of prunes sent at once")


def _delivered(server: Smsgw, count: int) -> None:
    wait_until(
        lambda: len(server.get("/api/messages?state=delivrd&limit=1000")["messages"]) >= count,
        what=f"{count} messages delivered",
    )


def _fill(server: Smsgw, connect: Any, count: int, text: str = "m") -> tuple[str, str, list[str]]:
    """A message held for a phone that is off, one whose receipt is owed (a transmitter takes
    no receipt), then ``count`` delivered that owe nothing: their message_ids."""
    server.set_phone(OFF, "off")
    esme = connect(server)
    esme.bind("transmitter")
    held = esme.submit_ok(OFF, "held", registered_delivery=0)
    owed = esme.submit_ok(DEMO[0], "receipt owed", registered_delivery=1)
    delivered = [esme.submit_ok(f"86173{n:08d}", f"{text}{n}", registered_delivery=0) for n in range(count)]
    _delivered(server, count + 1)
    return held, owed, delivered


def test_delete_without_a_time_or_with_a_row_id_is_refused(server: Smsgw) -> None:
    """No ?before= removes nothing; GET's row-id cursor given to DELETE is refused, saying so."""
    status, payload = server.api("DELETE", "/api/messages")
    assert (status, payload["error"]["code"]) == (400, "bad_query")
    assert "?before= is missing" in payload["error"]["message"]
    status, payload = server.api("DELETE", "/api/messages?before=12345")
    assert (status, payload["error"]["code"]) == (400, "bad_query")
    assert payload["error"]["message"] == (
        "?before=12345 looks like a row id (GET's cursor); DELETE takes a time: ISO 8601 or epoch "
        "seconds (or now)"
    )
    status, payload = server.api("DELETE", "/api/messages?before=yesterday")
    assert (status, payload["error"]["code"]) == (400, "bad_query")


def test_delete_removes_final_messages_and_keeps_the_owed_and_the_newest(start_server, connect) -> None:
    """Retention off: a DELETE before now removes the delivered messages that owe nothing,
    but not the one held for a phone that is off, the one whose receipt is owed, nor the
    newest; /metrics counts them under rule manual."""
    server = start_server()
    held, owed, delivered = _fill(server, connect, 20)
    status, none = server.api("DELETE", f"/api/messages?before={iso(time.time() - 3600)}")
    assert status == 200 and none["deleted"] == {"messages": 0}
    status, pruned = server.api("DELETE", "/api/messages?before=now")
    assert status == 200, pruned
    assert pruned["deleted"] == {"messages": 19}
    assert pruned["store"]["messages"] == 3 and pruned["store"]["bytes"] > 0
    assert pruned["before"].endswith("Z")
    assert server.api("GET", f"/api/messages/{delivered[0]}")[0] == 404
    assert server.message(delivered[-1])["state"] == "DELIVRD"
    assert server.message(held)["state"] == "ENROUTE"
    assert server.message(owed)["state"] == "DELIVRD"
    assert value(scrape(server), "smsgw_messages_pruned_total", rule="manual") == 19


def test_a_second_delete_while_one_runs_is_409(start_server, connect) -> None:
    server = start_server()
    _fill(server, connect, 3)
    answers = racing_prunes(server.ports["http_url"], "now")
    assert answers[409][2]["error"]["code"] == "prune_running"
    assert server.api("DELETE", "/api/messages?before=now")[0] == 200  # done: the next one runs
    # The first pass removed the delivered messages but the newest; the others found none.
    assert value(scrape(server), "smsgw_messages_pruned_total", rule="manual") == 2


# -- smsgw prune -------------------------------------------------------------------------


def test_prune_asks_the_running_carrier(start_server, connect) -> None:
    """smsgw prune --ports-file asks the carrier through its API and prints what went."""
    server = start_server()
    _fill(server, connect, 5)
    ports = str(server.ports_file)
    kept = smsgw_command("prune", "--ports-file", ports, "--days", "1")
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.startswith("removed 0 messages that ended before ")
    pruned = smsgw_command("prune", "--ports-file", ports, "--before", "now")
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.startswith("removed 4 messages that ended before ")
    assert "the store holds 3 messages" in pruned.stdout


def test_prune_says_what_is_wrong(tmp_path) -> None:
    """A usage error is exit 2 and says why; a carrier that does not answer is exit 1."""
    for args, said in [
        (["--before", "12345"], "looks like a row id"),
        (["--before", "soon"], "is not a time"),
        (["--days", "1", "--compact"], "--compact goes with --store"),
        (["--days", "1", "--store", str(tmp_path / "x.db"), "--api", "127.0.0.1:1"], "leave out"),
        (["--days", "1", "--store", "postgresql://smsgw@127.0.0.1/smsgw"], "takes a SQLite file"),
        (["--days", "-1"], "is not between 0 and 36500 days"),
        ([], "one of the arguments --before --days is required"),
    ]:
        result = smsgw_command("prune", *args)
        assert (result.returncode, said in result.stderr) == (2, True), (args, result.stderr)
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = smsgw_command("prune", "--api", f"127.0.0.1:{port}", "--days", "1")
    assert down.returncode == 1 and "cannot reach smsgw" in down.stderr
    missing = smsgw_command("prune", "--store", str(tmp_path / "none.db"), "--days", "1")
    assert missing.returncode == 1 and "there is no store file" in missing.stderr
    (tmp_path / "notes.db").write_text("not a database")
    other = smsgw_command("prune", "--store", str(tmp_path / "notes.db"), "--days", "1")
    assert other.returncode == 1 and "is not an smsgw store" in other.stderr


@needs_sqlite_file
def test_prune_refuses_the_file_a_running_smsgw_holds(start_server) -> None:
    server = start_server()
    held = smsgw_command("prune", "--store", str(server.db), "--days", "0")
    assert held.returncode == 1
    assert (
        f"the store {server.db} is in use by smsgw; run smsgw prune without --store to ask it through its API"
    ) in held.stderr


@needs_sqlite_file
def test_prune_of_a_stopped_carriers_file_then_compact(start_server, connect) -> None:
    """The carrier stopped, smsgw prune --store removes what it would have (with the same
    guards), --compact gives the pages back, and the carrier numbers on after a restart."""
    server = start_server()
    held, owed, delivered = _fill(server, connect, 400, text="x" * 120)
    server.stop()
    full = server.db.stat().st_size
    pruned = smsgw_command("prune", "--store", str(server.db), "--before", "now")
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.startswith("removed 399 messages that ended before "), pruned.stdout
    assert "holds 3 messages" in pruned.stdout
    assert server.db.stat().st_size < full / 2  # the pages went back beside the batches
    compacted = smsgw_command("prune", "--store", str(server.db), "--days", "0", "--compact")
    assert compacted.returncode == 0, compacted.stderr
    assert "removed 0 messages" in compacted.stdout and "compacted from" in compacted.stdout
    server.start()
    assert server.message(held)["state"] == "ENROUTE"
    assert server.message(owed)["state"] == "DELIVRD"
    assert server.api("GET", f"/api/messages/{delivered[0]}")[0] == 404
    esme = connect(server)
    esme.bind("transmitter")
    assert int(esme.submit_ok(DEMO[1], "after", registered_delivery=0)) == int(delivered[-1]) + 1
