"""`socialcare deadletters list|republish` against a worker's real dead-letter topic."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from processor.domain.customers import ContactFacts
from processor.domain.deadletters import envelope
from processor.domain.events import Rejection
from processor.stream.customers import encode_facts, partition_for
from tests.integration.conftest import Deployment, WorkerProcess, value, wait_until

pytestmark = pytest.mark.integration


def mention(name: str, at: float) -> dict[str, Any]:
    return {
        "event_id": name, "type": "mention", "conversation_id": "conv-1",
        "occurred_at": datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z"),
        "brand": "Acme", "channel": "twitter", "author_id": "u-1",
    }  # fmt: skip


def test_list_then_republish_after_a_fix(
    deployment_factory: Callable[..., Deployment], workers: Callable[..., WorkerProcess]
) -> None:
    deployment = deployment_factory(
        partitions=2, SOCIALCARE_CLOCK="event", SOCIALCARE_ALLOWED_LATENESS_SECONDS="60"
    )
    worker = workers(deployment, name="strict")
    worker.wait_ready()
    start = time.time() - 7200
    late = [mention(f"late-{n}", start + 100 + n) for n in range(3)]
    bad = b'{"event_id": "no-brand", "type": "mention"}'
    deployment.produce([mention("first", start), mention("second", start + 1000)])
    wait_until(lambda: value(worker.scrape(), "socialcare_mentions_total") == 2, 60,
               "the first mentions", worker.log_tail)  # fmt: skip
    # 900 s behind the partition's latest event time, lateness 60 s: too late.
    deployment.produce([*late, (deployment.topics["mentions"], b"conv-1", bad)])
    wait_until(
        lambda: value(worker.scrape(), "socialcare_deadletters_total") == 4, 60,
        "the dead letters", worker.log_tail,
    )  # fmt: skip

    listed = deployment.cli("deadletters", "list", "--output", "json")
    assert listed.returncode == 0, listed.stderr
    letters = [orjson.loads(line) for line in listed.stdout.splitlines()]
    assert sorted((d["reason"], d["event_id"]) for d in letters) == [
        ("schema_violation", "no-brand"), ("too_late", "late-0"), ("too_late", "late-1"),
        ("too_late", "late-2"),
    ]  # fmt: skip
    assert "4 dead letters: schema_violation 1, too_late 3" in listed.stderr
    table = deployment.cli("deadletters", "list", "--reason", "too_late")
    assert table.returncode == 0, table.stderr
    assert "3 dead letters: too_late 3" in table.stderr
    assert table.stdout.count("too_late") == 3 and "late-2" in table.stdout
    originals = deployment.cli("deadletters", "list", "--reason", "schema_violation",
                               "--output", "originals")  # fmt: skip
    assert originals.stdout.encode() == bad + b"\n"

    # The fix: a worker with a lateness that covers the backfill (same app, state recovered).
    worker.stop()
    fixed = workers(deployment, name="fixed", SOCIALCARE_ALLOWED_LATENESS_SECONDS="86400")
    fixed.wait_ready()
    wait_until(lambda: value(fixed.scrape(), "socialcare_mentions_total") == 2, 60,
               "the recovered state", fixed.log_tail)  # fmt: skip
    refused = deployment.cli("deadletters", "republish")
    assert refused.returncode == 2 and "select what to republish" in refused.stderr
    dry = deployment.cli("deadletters", "republish", "--reason", "too_late", "--dry-run")
    assert "would send 3 of 3 dead letters" in dry.stderr, dry.stderr
    sent = deployment.cli("deadletters", "republish", "--reason", "too_late")
    assert sent.returncode == 0, sent.stderr
    assert f"{deployment.topics['mentions']}: 3" in sent.stderr
    wait_until(lambda: value(fixed.scrape(), "socialcare_mentions_total") == 5, 60,
               "the republished mentions counted", fixed.log_tail)  # fmt: skip
    # Republished twice: duplicates, nothing changes. Still-bad input is dead-lettered again.
    again = deployment.cli("deadletters", "republish", "--reason", "too_late")
    assert again.returncode == 0, again.stderr
    still_bad = deployment.cli("deadletters", "republish", "--event-id", "no-brand")
    assert "sent 1 of 1" in still_bad.stderr, still_bad.stderr
    wait_until(
        lambda: value(fixed.scrape(), "socialcare_events_processed_total", outcome="duplicate")
        == 3 and value(fixed.scrape(), "socialcare_deadletters_total") == 1,
        60, "the second republish read", fixed.log_tail,
    )  # fmt: skip
    assert value(fixed.scrape(), "socialcare_mentions_total") == 5
    final = deployment.cli("deadletters", "list", "--output", "json")
    reasons = sorted(orjson.loads(line)["reason"] for line in final.stdout.splitlines())
    assert reasons == ["schema_violation", "schema_violation", "too_late", "too_late", "too_late"]


def test_a_dead_lettered_contact_record_goes_back_to_the_partition_it_was_read_from(
    deployment_factory: Callable[..., Deployment], workers: Callable[..., WorkerProcess]
) -> None:
    """Contact records a worker of an earlier version dead-lettered (it could not read a
    batch of facts, during an upgrade done worker by worker): republished once every worker
    reads them, to the partition they were read from, their customers are counted there."""
    deployment = deployment_factory(partitions=2, SOCIALCARE_CLOCK="event")
    worker = workers(deployment, name="upgraded")
    worker.wait_ready()
    contacts = f"{deployment.app_id}-customer-contacts"
    customers = [f"u-{n}" for n in range(40) if partition_for(f"Acme|u-{n}".encode(), 2) == 1][:3]
    opened = time.time() - 3600
    facts = [
        ContactFacts(f"c-{customer}", "Acme", "twitter", customer, opened, None)
        for customer in customers
    ]
    letter = envelope(
        Rejection("schema_violation", "customer contact record: Expected `str`, got `array`"),
        topic=contacts, partition=1, offset=0, key=b"0", value=encode_facts(facts),
        now=time.time(),
    )  # fmt: skip
    deployment.produce([(deployment.topics["deadletters"], b"0", letter)])
    sent = deployment.cli("deadletters", "republish", "--reason", "schema_violation")
    assert sent.returncode == 0, sent.stderr
    assert f"{contacts}: 1" in sent.stderr and "sent 1 of 1" in sent.stderr, sent.stderr

    def counted() -> float:
        return value(worker.scrape(), "socialcare_customer_conversations_total", partition="1")

    wait_until(lambda: counted() == 3, 60, "the republished facts counted", worker.log_tail)
    page = worker.scrape()
    assert value(page, "socialcare_customer_conversations_total", partition="0") == 0
    assert value(page, "socialcare_deadletters_total") == 0
