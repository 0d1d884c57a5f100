"""The pipeline health board: workers, throughput, dead letters, latency, webhook, processes.

Health families are process-local (no brand or channel), so this board has no variables and
sums over all workers; `up` and `process_*` come from Prometheus and the client library.
"""

from __future__ import annotations

from grafana.boards.panels import (
    COUNT,
    NUMBER,
    OPS,
    SECONDS,
    SHARE,
    Format,
    Json,
    Panel,
    Q,
    Row,
    Stat,
    Timeseries,
    dashboard,
    fixed_colors,
    steps,
)
from grafana.boards.promql import (
    JOBS,
    eq,
    increase,
    m,
    quantile,
    ratio,
    sel,
    sum_by,
    sum_rate,
)

SMALL = 6  # height of the one-number panels at the top


def _workers() -> list[Panel | Row]:
    return [
        Row("Workers"),
        Stat(
            "Targets up",
            "Scrape targets up, per job: the processor workers (socialcare) and the ingest "
            "webhook (socialcare-webhook). Red when a target is down or missing.",
            NUMBER,
            [Q(sum_by("job", sel("up", JOBS)), "{{job}}")],
            w=6,
            h=SMALL,
            thresholds=steps("red", (1, "green")),
        ),
        Stat(
            "Owned input partitions",
            "Input partitions assigned to the workers, in total: it should equal the partition "
            "count of the input topics (SOCIALCARE_PARTITIONS); less means some are unowned.",
            NUMBER,
            [Q(sum_by("", m("owned_partitions")), "partitions")],
            w=6,
            h=SMALL,
        ),
        Stat(
            "SLA policy version",
            "Version of the SLA policy set in force on each worker. All workers should show the "
            "same version; a difference lasts at most a refresh interval after a change.",
            NUMBER,
            [Q(f"max by (instance) ({m('sla_policy_version')})", "{{instance}}")],
            w=6,
            h=SMALL,
        ),
        Stat(
            "Processing errors and policy reloads (1h)",
            "Valid events whose processing raised in the last hour (each one is dead-lettered "
            "with reason processing_error; should be 0), and SLA policy reloads.",
            COUNT,
            [
                Q(sum_by("", increase(m("processing_errors"), "1h")), "errors"),
                Q(sum_by("", increase(m("sla_policy_reloads"), "1h")), "policy reloads"),
            ],
            w=6,
            h=SMALL,
        ),
        Timeseries(
            "Owned partitions per worker",
            "Input partitions each worker owns over time: a rebalance moves them between "
            "workers; the total should stay constant.",
            NUMBER,
            [Q(sum_by("instance", m("owned_partitions")), "{{instance}}")],
            stacked=True,
        ),
        Timeseries(
            "Consumer lag (records)",
            "Records not yet read in the input partitions the workers own, per input topic, "
            "summed over workers. Growing lag means the workers do not keep up with the input.",
            COUNT,
            [Q(sum_by("topic", m("consumer_lag_records")), "{{topic}}")],
            stacked=True,
        ),
    ]


def _throughput() -> list[Panel | Row]:
    processed = m("events_processed")

    def outcome(value: str) -> str:
        return sel(processed, eq("outcome", value))

    return [
        Row("Throughput and rejects"),
        Timeseries(
            "Throughput by event type (events/s)",
            "Input events counted (applied to the metrics) per second, by type, averaged over "
            "1 minute, summed over workers.",
            OPS,
            [Q(sum_rate("type", outcome("counted"), "1m"), "{{type}}")],
            stacked=True,
        ),
        Timeseries(
            "Input by outcome (events/s)",
            "Every input message per second by outcome: counted, duplicate (event id already "
            "seen, counted once) or deadlettered (sent to social.deadletters).",
            OPS,
            [Q(sum_rate("outcome", processed, "5m"), "{{outcome}}")],
            stacked=True,
            overrides=fixed_colors(counted="green", duplicate="blue", deadlettered="red"),
        ),
        Timeseries(
            "Dead letters by reason (msg/s)",
            "Messages written to social.deadletters per second by reason (invalid_json, "
            "schema_violation, too_late, ...), from the workers and the webhook. Should stay "
            "at 0; the dead-letter topic holds each message and its detail.",
            OPS,
            [Q(sum_rate("reason", m("deadletters"), "5m"), "{{reason}}")],
            w=8,
        ),
        Stat(
            "Dead-letter share of input (5m)",
            "Share of the input messages of the last 5 minutes that were dead-lettered by the "
            "workers. A sudden rise usually means a producer sends a broken format.",
            Format("percentunit", decimals=2),
            [
                Q(
                    ratio(
                        sum_rate("", outcome("deadlettered"), "5m"),
                        sum_rate("", processed, "5m"),
                    ),
                    "dead-letter share",
                )
            ],
            w=8,
            thresholds=steps("green", (0.001, "orange"), (0.01, "red")),
        ),
        Timeseries(
            "Duplicates by event type (events/s)",
            "Redelivered or re-sent events (event id already in the dedup window) per second, "
            "by type. Expected after a restart or a platform retry; they are counted once.",
            OPS,
            [Q(sum_rate("type", outcome("duplicate"), "5m"), "{{type}}")],
            w=8,
        ),
    ]


def _p50_p99(short: str) -> list[Q]:
    buckets = m(short, "bucket")
    return [Q(quantile(0.5, buckets, "5m"), "p50"), Q(quantile(0.99, buckets, "5m"), "p99")]


def _latency() -> list[Panel | Row]:
    return [
        Row("Latency and lag"),
        Timeseries(
            "Pipeline latency p50 / p99",
            "Time from the Kafka record timestamp (produce time) to the end of processing, "
            "median and 99th percentile over 5 minutes, all workers.",
            SECONDS,
            _p50_p99("pipeline_latency_seconds"),
            w=8,
        ),
        Timeseries(
            "Event-time lag p50 / p99",
            "Wall clock at processing minus the event's occurred_at, median and 99th percentile "
            "over 5 minutes: seconds live, up to years while a history is replayed.",
            SECONDS,
            _p50_p99("event_time_lag_seconds"),
            w=8,
        ),
        Stat(
            "Stream event-time lag",
            "Now minus the latest event time counted by any worker: how far behind live the "
            "stream is (a quiet stream also grows it).",
            SECONDS,
            [Q(f"time() - max ({m('last_event_timestamp_seconds')} > 0)", "lag")],
            w=8,
            thresholds=steps("green", (300, "orange"), (3600, "red")),
        ),
    ]


def _alignment() -> list[Panel | Row]:
    return [
        Row("Aligned input"),
        Timeseries(
            "Records waiting for other topics",
            "Input records fetched and waiting in the aligned input for the other topics of "
            "their partition, per partition: high while one topic runs ahead in a backlog, "
            "about 0 live (SOCIALCARE_ALIGNMENT_MAX_BUFFERED bounds each topic-partition).",
            COUNT,
            [Q(sum_by("partition", m("alignment_buffered_records")), "partition {{partition}}")],
            w=8,
            stacked=True,
        ),
        Timeseries(
            "Partitions catching up, paused, idle",
            "Owned partitions still catching up (their deadlines wait at their stream time), "
            "input topic-partitions paused as too far ahead, and topic-partitions caught up "
            "with nothing buffered (idle: they hold nothing back).",
            NUMBER,
            [
                Q(sum_by("", m("catching_up_partitions")), "catching up"),
                Q(sum_by("", m("alignment_paused_partitions")), "paused"),
                Q(sum_by("", m("alignment_idle_partitions")), "idle"),
            ],
            w=8,
        ),
        Stat(
            "Enforced records (1h)",
            "Records processed while another topic of their partition still had unread "
            "records, after SOCIALCARE_ALIGNMENT_MAX_WAIT_SECONDS: not in event-time order, "
            "so later records may be too_late. Should be 0 (alert SocialcareAlignmentEnforced).",
            COUNT,
            [Q(sum_by("", increase(m("alignment_enforced_records"), "1h")), "enforced")],
            w=8,
            thresholds=steps("green", (1, "red")),
        ),
    ]


def _state() -> list[Panel | Row]:
    return [
        Row("State changelog"),
        Timeseries(
            "Waiting for changelog writes",
            "Share of each worker's time spent waiting, before writing a batch, for the "
            "previous batch's changelog write (each batch is written while the next is "
            "processed). Near 100 % the broker, not the processing, bounds the worker: check "
            "the broker's disk and load.",
            SHARE,
            [Q(sum_rate("instance", m("state_write_wait_seconds"), "5m"), "{{instance}}")],
            w=12,
        ),
        Timeseries(
            "Changelog bytes per event",
            "Key and value bytes written to the state changelog per event processed, over 5 "
            "minutes, all workers: how much state an event rewrites (about 1.2-1.4 kB on "
            "short conversations in the benchmark); a rise means larger states per event.",
            Format("bytes"),
            [
                Q(
                    ratio(
                        sum_rate("", m("state_changelog_bytes"), "5m"),
                        sum_rate("", m("events_processed"), "5m"),
                    ),
                    "bytes per event",
                )
            ],
            w=12,
        ),
        Timeseries(
            "Garbage collection",
            "Share of each worker's time Python's cyclic garbage collector held it "
            "(the pauses histogram). Every event in flight waits for a collection; "
            "about a tenth while a fresh worker fills its state cache in a backlog, far less "
            "once the cache is full.",
            SHARE,
            [Q(sum_rate("instance", m("gc_pause_seconds", "sum"), "5m"), "{{instance}}")],
            w=12,
        ),
        Timeseries(
            "Garbage collection pauses p50 / p99",
            "Duration of the collector's pauses over 5 minutes, all processes and "
            "generations: a p99 near the pipeline latency's says the collector is why.",
            SECONDS,
            _p50_p99("gc_pause_seconds"),
            w=12,
        ),
    ]


def _webhook() -> list[Panel | Row]:
    return [
        Row("Webhook"),
        Timeseries(
            "Webhook requests by status code (req/s)",
            "Requests answered by the ingest webhook per second, by HTTP status: 200 all "
            "accepted, 207 some, 4xx refused (401 bad credentials), 503 Kafka unavailable.",
            Format("reqps"),
            [Q(sum_rate("code", m("webhook_requests"), "5m"), "{{code}}")],
            w=8,
            stacked=True,
        ),
        Timeseries(
            "Webhook events by outcome (events/s)",
            "Events received in authenticated webhook requests per second: accepted (published "
            "to their topic) or rejected (dead-lettered by the webhook).",
            OPS,
            [Q(sum_rate("outcome", m("webhook_events"), "5m"), "{{outcome}}")],
            w=8,
            stacked=True,
            overrides=fixed_colors(accepted="green", rejected="red"),
        ),
        Timeseries(
            "Webhook request duration p50 / p99",
            "Time to answer a webhook request, publishing to Kafka included, median and 99th "
            "percentile over 5 minutes (empty while no request arrives).",
            SECONDS,
            _p50_p99("webhook_request_duration_seconds"),
            w=8,
        ),
    ]


def _processes() -> list[Panel | Row]:
    # Client-library process metrics: not socialcare families, so their names stay literal.
    return [
        Row("Processes"),
        Timeseries(
            "CPU per process",
            "CPU time used per second by each worker and webhook process (100 % = one core), "
            "over 5 minutes (process_cpu_seconds_total).",
            Format("percentunit"),
            [
                Q(
                    sum_rate("job, instance", sel("process_cpu_seconds_total", JOBS), "5m"),
                    "{{job}} {{instance}}",
                )
            ],
        ),
        Timeseries(
            "Resident memory per process",
            "Resident memory of each worker and webhook process (process_resident_memory_bytes)."
            " Steady growth under a constant load points at a leak.",
            Format("bytes"),
            [
                Q(
                    sum_by("job, instance", sel("process_resident_memory_bytes", JOBS)),
                    "{{job}} {{instance}}",
                )
            ],
        ),
    ]


def board() -> Json:
    return dashboard(
        "socialcare-pipeline",
        "Social care — pipeline health",
        "Health of the processing pipeline: workers and partitions, throughput, dead letters "
        "and duplicates, latency and lag, the aligned input, the state changelog, the ingest "
        "webhook and process resources.",
        [
            *_workers(),
            *_throughput(),
            *_latency(),
            *_alignment(),
            *_state(),
            *_webhook(),
            *_processes(),
        ],
        [],
        "now-1h",
        "10s",
    )
