"""A fixed file through a real worker gives, line for line, the recorded `/metrics` exposition.

The guard of refactorings that must not change behaviour: `tests/golden/events.jsonl.gz`
(one synthetic day of three brands, made once by the project's generator and kept) plus a
few bad and duplicate records go through the broker into a worker on the event clock with
the example SLA policies (rules, a business-hours calendar), listed agents and staffing.
The business families, the processed and dead-letter counts are compared with
`tests/golden/exposition.txt` twice: when the file is processed (windows and backlog live)
and after one sentinel per partition has pushed every watermark past every deadline
(breaches by silence, inactivity resolutions).

The numbers are order independent by design, so any fetch order gives the same text. After
an intended change of the numbers, record them again with
`SOCIALCARE_GOLDEN_RECORD=1 .venv/bin/pytest -n0 tests/integration/test_golden_exposition.py`
and review the diff of `tests/golden/exposition.txt`.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.partitioner import murmur2
from prometheus_client.parser import text_string_to_metric_families

from processor.metrics import families as f
from processor.metrics.prediction_families import PREDICTION_FAMILIES
from tests.integration.conftest import (
    REPO,
    Deployment,
    WorkerProcess,
    customers_caught_up,
    value,
    wait_until,
)

pytestmark = pytest.mark.integration

GOLDEN = REPO / "tests" / "golden"
PARTITIONS = 4
DAY = 86400.0
LATENESS = 2 * DAY  # above the file's span: fetch order can make nothing late
# The business families, and the processed and dead-letter counts; health families (lags,
# latencies, the aligned input's gauges) depend on the process and the wall clock, and the
# predicted CSAT on the order a partition met answers and resolutions (an online model; the
# fetch order here is free within the wide lateness): checked apart, below.
PREDICTED = frozenset(family.name for family in PREDICTION_FAMILIES)
COMPARED = frozenset(
    family.name
    for family in (
        *f.BUSINESS_FAMILIES, *f.WINDOW_FAMILIES.values(), f.TEAM_STAFFING_COST_PER_HOUR,
        f.EVENTS_PROCESSED, f.DEADLETTERS,
    )
) - PREDICTED  # fmt: skip


def golden_events() -> list[dict[str, Any]]:
    with gzip.open(GOLDEN / "events.jsonl.gz", "rb") as lines:
        return [orjson.loads(line) for line in lines]


def bad_records(deployment: Deployment, events: list[dict[str, Any]]) -> list[Any]:
    """Three redeliveries and three kinds of bad input, each with a known outcome."""
    mention = next(event for event in events if event["type"] == "mention")
    reply = next(event for event in events if event["type"] == "reply")
    missing_author = {key: item for key, item in mention.items() if key != "author_id"}
    missing_author["event_id"] = "golden-no-author"
    return [
        *events[:3],  # duplicates
        (deployment.topics["mentions"], b"golden-bad", b"{not json"),
        (deployment.topics["mentions"], b"golden-bad", orjson.dumps(missing_author)),
        (deployment.topics["mentions"], reply["conversation_id"].encode(), orjson.dumps(reply)),
    ]


def sentinels(at: float) -> list[dict[str, Any]]:
    """One mention per partition at `at` (keys picked with the producer's partitioner)."""
    by_partition: dict[int, str] = {}
    for n in count():
        key = f"golden-sentinel-{n}"
        by_partition.setdefault((int(murmur2(key.encode())) & 0x7FFFFFFF) % PARTITIONS, key)
        if len(by_partition) == PARTITIONS:
            break
    stamp = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
    return [
        {"event_id": key, "type": "mention", "occurred_at": stamp, "conversation_id": key,
         "brand": "Sentinel", "channel": "twitter", "schema_version": 1, "author_id": "s"}
        for _, key in sorted(by_partition.items())
    ]  # fmt: skip


def business_lines(exposition: str) -> list[str]:
    """The exposition's samples of the compared families, sorted."""
    lines: list[str] = []
    for family in text_string_to_metric_families(exposition):
        if family.name not in COMPARED:
            continue
        for sample in family.samples:
            labels = ",".join(f'{name}="{label}"' for name, label in sorted(sample.labels.items()))
            lines.append(f"{sample.name}{{{labels}}} {sample.value!r}")
    return sorted(lines)


def compare(section: str, got: list[str], recorded: dict[str, list[str]]) -> None:
    want = recorded[section]
    missing = sorted(set(want) - set(got))
    unexpected = sorted(set(got) - set(want))
    assert not missing and not unexpected, (
        f"{section}: {len(missing)} recorded lines missing, {len(unexpected)} new lines\n"
        + "\n".join([*(f"- {line}" for line in missing[:40]),
                     *(f"+ {line}" for line in unexpected[:40])])
    )  # fmt: skip


def read_recorded(path: Path) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in path.read_text().splitlines():
        if line.startswith("# section "):
            current = sections.setdefault(line.removeprefix("# section "), [])
        elif line and not line.startswith("#"):
            current.append(line)
    return sections


@pytest.mark.parametrize(
    "broker_name", [pytest.param("kafka"), pytest.param("tansu", marks=pytest.mark.tansu)]
)
def test_a_fixed_file_gives_the_recorded_exposition(
    broker_name: str,
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
) -> None:
    deployment = deployment_factory(
        partitions=PARTITIONS, SOCIALCARE_CLOCK="event",
        SOCIALCARE_ALLOWED_LATENESS_SECONDS=str(LATENESS),
        SOCIALCARE_MAX_FUTURE_SECONDS=str(30 * DAY),
        SOCIALCARE_SLA_CONFIG=str(REPO / "config" / "sla.yaml"),
        SOCIALCARE_AGENT_LABELS='["agent-AcmeSupport-1", "agent-ZephyrCare-2"]',
        SOCIALCARE_TEAM_STAFFING='{"tier1": {"hourly_cost": 40, "agents": 4}}',
        SOCIALCARE_ONE_RECORD_PER_BATCH="false",
    )  # fmt: skip
    events = golden_events()
    extra = bad_records(deployment, events)
    worker = workers(deployment)
    worker.wait_ready()
    deployment.produce([*events, *extra])

    def processed() -> float:
        page = worker.scrape()
        # Not done until the customers' side has caught up too.
        done = value(page, "socialcare_events_processed_total")
        return done if customers_caught_up(page) else -1

    total = len(events) + len(extra)
    wait_until(lambda: processed() == total, 120, "the golden file processed", worker.log_tail)
    sections = {"processed": business_lines(worker.raw())}
    latest = max(datetime.fromisoformat(event["occurred_at"]).timestamp() for event in events)
    marks = sentinels(latest + 3 * DAY + LATENESS)
    deployment.produce(marks)
    total += len(marks)
    wait_until(lambda: processed() == total, 60, "the sentinels processed", worker.log_tail)
    # The sweep after the sentinels runs in the same batch: its results are in this scrape.
    sections["after_deadlines"] = business_lines(worker.raw())

    path = GOLDEN / "exposition.txt"
    if os.environ.get("SOCIALCARE_GOLDEN_RECORD"):
        text = [
            "# Recorded by tests/integration/test_golden_exposition.py: do not edit by hand.",
            *(line for name, lines in sections.items() for line in [f"# section {name}", *lines]),
        ]
        path.write_text("\n".join(text) + "\n")
    recorded = read_recorded(path)
    m = worker.scrape()
    assert value(m, "socialcare_deadletters_total") == 3
    assert value(m, "socialcare_events_processed_total", outcome="duplicate") == 3
    for name, lines in sections.items():
        assert len(lines) > 1000, f"{name}: only {len(lines)} lines: the file did not count"
        compare(name, lines, recorded)
    # The model scored the brand's resolutions and was checked against answers: never more
    # checks than CSAT answers, never more predictions than resolutions.
    scored = value(m, "socialcare_predicted_csat_count", how="explicit")
    checks = value(m, "socialcare_predicted_csat_checks_total")
    assert 0 < scored <= value(m, "socialcare_resolutions_total", how="explicit")
    assert 0 < checks <= value(m, "socialcare_csat_responses_total")
    assert value(m, "socialcare_predicted_csat_within_one_point_total") <= checks
