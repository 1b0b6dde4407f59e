"""The fresh ESME: a new connection, bind_transceiver, one submit_sm, unbind; timed.

Each probe is what an application starting up meets: its connect and bind (timed from
``connect()`` to bind_resp) and its first submit (submit_sm to submit_sm_resp). A stage with
no answer within the timeout is a timeout and counts as infinitely slow in the percentiles;
a refusal, a generic_nack or a closed connection is a failure of its own.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks import wire
from benchmarks.abuse.wirekit import Closed, PduReader, bind, drain, smpp_connect, submit_sm

#: Seconds a stage may take before it counts as a timeout.
TIMEOUT = 2.0
#: Seconds between the starts of two probes.
INTERVAL = 0.02
DESTINATION = b"8613800000003"


@dataclass
class Probe:
    """One probe: seconds per stage (None: not reached, ``inf``: no answer) and what went wrong."""

    bind: float | None = None
    submit: float | None = None
    failure: str | None = None


def probe_once(
    address: tuple[str, int], bind_pdu: bytes, submit_pdu: bytes, timeout: float = TIMEOUT
) -> Probe:
    """Run one probe against the SMPP listener at ``address``."""
    result = Probe()
    start = time.perf_counter()
    try:
        sock = smpp_connect(address, timeout)
    except TimeoutError:
        return Probe(math.inf, None, "timeout: connect")
    except OSError as error:
        return Probe(None, None, f"connect: {error.strerror or error}")
    reader = PduReader(sock)
    stage = "bind"
    try:
        sock.sendall(bind_pdu)
        answer = reader.until(wire.BIND_TRANSCEIVER_RESP, start + timeout)
        if answer is None:
            return Probe(math.inf, None, "timeout: bind")
        result.bind = time.perf_counter() - start
        if answer[0] != wire.BIND_TRANSCEIVER_RESP or answer[1] != 0:
            result.failure = f"bind refused: status 0x{answer[1]:08x}"
            return result
        stage = "submit"
        sent = time.perf_counter()
        sock.sendall(submit_pdu)
        answer = reader.until(wire.SUBMIT_SM_RESP, sent + timeout)
        if answer is None:
            result.submit = math.inf
            result.failure = "timeout: submit"
            return result
        result.submit = time.perf_counter() - sent
        if answer[0] != wire.SUBMIT_SM_RESP or answer[1] != 0:
            result.failure = f"submit refused: status 0x{answer[1]:08x}"
            return result
        stage = "unbind"
        # Take the receipt if it comes at once, so it does not wait in the store for the next probe.
        sock.sendall(wire.header_only(wire.UNBIND, 3))
        reader.until(wire.UNBIND_RESP, time.perf_counter() + 0.5)
    except (Closed, OSError) as error:
        if stage != "unbind":
            result.failure = f"{stage}: connection closed ({error})"
    finally:
        drain(sock)
    return result


@dataclass
class Stats:
    """What the probes of one abuse saw."""

    probes: list[Probe] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.probes)

    def times(self, stage: str) -> list[float]:
        """The stage's times in seconds, timeouts as ``inf``; probes that did not reach it left out."""
        return sorted(t for p in self.probes if (t := getattr(p, stage)) is not None)

    def percentile(self, stage: str, q: float) -> float | None:
        """Nearest-rank percentile of the stage in seconds (``inf`` when a timeout is that rank)."""
        values = self.times(stage)
        if not values:
            return None
        return values[max(math.ceil(q / 100 * len(values)) - 1, 0)]

    @property
    def failures(self) -> Counter[str]:
        return Counter(p.failure for p in self.probes if p.failure)

    @property
    def timeouts(self) -> int:
        return sum(n for why, n in self.failures.items() if why.startswith("timeout"))

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


def run_probes(
    address: tuple[str, int],
    system_id: str,
    password: str,
    seconds: float,
    *,
    interval: float = INTERVAL,
    timeout: float = TIMEOUT,
    between: Callable[[], None] | None = None,
) -> Stats:
    """Probe every ``interval`` s for ``seconds`` s (a slow probe delays the next, never overlaps).

    :param between: called after each probe (the RSS sampler), off the timed path.
    """
    bind_pdu = bind(wire.BIND_TRANSCEIVER, system_id, password, 1)
    submit_pdu = submit_sm(DESTINATION, b"probe", 2)
    stats = Stats()
    end = time.perf_counter() + seconds
    while True:
        started = time.perf_counter()
        if started >= end:
            return stats
        stats.probes.append(probe_once(address, bind_pdu, submit_pdu, timeout))
        if between is not None:
            between()
        pause = started + interval - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
