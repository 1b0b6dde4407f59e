"""``GET /metrics``: Prometheus metrics, read from the carrier's own counts at scrape time.

The carrier counts with plain dict increments as it works (a PDU costs one); the prometheus
client only turns those counts into the exposition format when Prometheus asks, so a load
test pays nothing for metrics nobody scrapes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from twisted.web import resource, server

from smsgw.carrier.carrier import Carrier
from smsgw.frontend.smpp.link import SessionTotals, SmppLink
from smsgw.server.lag import LagMonitor
from smsgw.smpp.constants import MessageState, command_name, status_name
from smsgw.smpp.session import ANSWER_BUCKETS


class CarrierCollector:
    """What a load tester watches: binds, PDUs by command and status, queues, deliveries,
    message states and USSD dialogues."""

    def __init__(self, carrier: Carrier, totals: SessionTotals) -> None:
        self.carrier = carrier
        self.totals = totals

    def collect(self) -> Iterator[Metric]:
        carrier = self.carrier
        bindings = list(carrier.binds.bound.values())
        sessions = [b.link.session for b in bindings if isinstance(b.link, SmppLink)]

        bound = GaugeMetricFamily(
            "smsgw_sessions_bound", "ESME sessions bound now", labels=["system_id", "bind_type"]
        )
        now_bound = Counter((b.account.system_id, b.mode) for b in bindings)
        for (system_id, bind_type), count in sorted(now_bound.items()):
            bound.add_metric([system_id, bind_type], count)
        yield bound
        yield _counter(
            "smsgw_binds", "ESME binds accepted", ["system_id", "bind_type"], carrier.binds.binds_total
        )

        totals = self.totals
        pdus_in = Counter(totals.pdus_in)
        pdus_out = Counter(totals.pdus_out)
        for session in sessions:
            pdus_in.update(session.pdus_in)
            pdus_out.update(session.pdus_out)
        yield _counter(
            "smsgw_pdus_received", "SMPP PDUs received from ESMEs", ["command"],
            {(command_name(c),): n for c, n in pdus_in.items()},
        )  # fmt: skip
        yield _counter(
            "smsgw_pdus_sent", "SMPP PDUs sent to ESMEs (status: of a response; empty for a request)",
            ["command", "status"],
            {_sent_labels(key): n for key, n in pdus_out.items()},
        )  # fmt: skip

        times = list(totals.answer_times)
        seconds = totals.answer_seconds
        for session in sessions:
            seconds += session.answer_seconds
            for bucket, count in enumerate(session.answer_times):
                times[bucket] += count
        cumulative, buckets = 0, []
        for bound, count in zip([*map(str, ANSWER_BUCKETS), "+Inf"], times, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        yield HistogramMetricFamily(
            "smsgw_esme_answer_seconds",
            "How long ESMEs took to answer deliver_sm and data_sm (receipts, MO, USSD)",
            buckets=buckets,
            sum_value=seconds,
        )

        center = carrier.center
        yield _counter(
            "smsgw_messages_accepted",
            "Messages accepted",
            ["direction"],
            {(d,): n for d, n in center.accepted.items()},
        )
        yield _counter(
            "smsgw_message_states", "Messages reaching a state", ["direction", "state"],
            {("MO" if key & 0x100 else "MT", MessageState(key & 0xFF).name): n for key, n in center.final_states.items()},
        )  # fmt: skip
        yield _counter(
            "smsgw_deliveries", "Receipts and MO deliver_sm ended at an ESME", ["kind", "outcome"],
            carrier.outbox.finished,
        )  # fmt: skip

        queued = GaugeMetricFamily(
            "smsgw_deliveries_pending", "Receipts and MO not yet accepted by their ESME", labels=["system_id"]
        )
        for account in carrier.accounts:
            queued.add_metric([account.system_id], carrier.outbox.pending(account.system_id))
        yield queued
        yield GaugeMetricFamily(
            "smsgw_messages_held", "MT messages waiting for their phone", value=center.held
        )

        retention = carrier.retention
        yield _counter(
            "smsgw_messages_pruned",
            "Final messages removed by retention ([store] keep_days, keep_messages) and by hand (manual)",
            ["rule"],
            {(rule,): n for rule, n in retention.pruned.items()},
        )
        yield _counter(
            "smsgw_timeline_steps_pruned",
            "Steps removed from the timeline ([timeline] max_steps, [store] keep_days)",
            [],
            {(): retention.steps_pruned},
        )
        yield GaugeMetricFamily(
            "smsgw_messages_stored",
            "Messages in the store, as this node counts them (at start, plus accepted, less pruned)",
            value=retention.stored_at_start + sum(center.accepted.values()) - sum(retention.pruned.values()),
        )
        size, free = carrier.store.store_size()
        yield GaugeMetricFamily(
            "smsgw_store_bytes", "Bytes the store takes on disk (SQLite: with its log)", value=size
        )
        yield GaugeMetricFamily(
            "smsgw_store_free_bytes",
            "Bytes free inside the store's file, which compaction gives back",
            value=free,
        )

        ussd = carrier.ussd
        yield GaugeMetricFamily(
            "smsgw_ussd_dialogues_open", "USSD dialogues in progress", value=ussd.open_dialogues
        )
        yield _counter(
            "smsgw_ussd_dialogues_opened",
            "USSD dialogues opened",
            ["origin"],
            {(o,): n for o, n in ussd.opened.items()},
        )
        yield _counter(
            "smsgw_ussd_dialogues_ended",
            "USSD dialogues ended",
            ["end"],
            {(c,): n for c, n in ussd.ended.items()},
        )

        faults = CounterMetricFamily(
            "smsgw_faults_fired", "Injected faults that struck", labels=["rule", "effect"]
        )
        for rule in carrier.faults.rules:
            faults.add_metric([rule.name, rule.effect.value], carrier.faults.counts(rule.name)[1])
        yield faults


class LagCollector:
    """How late the reactor ran a timer asked for every 50 ms: time everyone else waited."""

    def __init__(self, lag: LagMonitor) -> None:
        self.lag = lag

    def collect(self) -> Iterator[Metric]:
        yield HistogramMetricFamily(
            "smsgw_reactor_lag_seconds",
            "How late the reactor ran a periodic call: how long one turn held every connection",
            buckets=self.lag.buckets(),
            sum_value=self.lag.sum,
        )


def _sent_labels(key: int) -> tuple[str, str]:
    command_id, status = key >> 32, key & 0xFFFFFFFF
    is_response = bool(command_id & 0x80000000)
    return command_name(command_id), status_name(status) if is_response else ""


def _counter(name: str, documentation: str, labels: list[str], counts: Any) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for values, count in sorted(counts.items()):
        family.add_metric(list(values), count)
    return family


class MetricsResource(resource.Resource):
    """``/metrics`` in the Prometheus text format."""

    isLeaf = True

    def __init__(self, carrier: Carrier, totals: SessionTotals, lag: LagMonitor | None = None) -> None:
        super().__init__()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(CarrierCollector(carrier, totals))  # type: ignore[arg-type]
        if lag is not None:
            self.registry.register(LagCollector(lag))  # type: ignore[arg-type]

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode())
        request.setHeader(b"cache-control", b"no-store")
        return generate_latest(self.registry)
