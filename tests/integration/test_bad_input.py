"""A corpus of bad input through the topics and through the webhook: nothing lost, no crash.

One worker (one partition, event clock, lateness 600 s) and one webhook. Phase 1 sends good
events on both paths and waits until they are counted (it sets the partition's event time
and opens the conversations the order checks need). Phase 2 sends the corpus: every kind of
bad input below, each between good events, once straight onto the topics and once in a
JSON-lines webhook request (the 10 MB body as a request of its own). Then:

- the worker is still up and counts a last event;
- every bad input is in the dead-letter topic exactly once per path, with its original bytes
  (the head and SHA-256 for the 10 MB one) and the expected reason; nothing else is there;
- every good event is counted: the business counters equal the good events sent;
- input events = counted + duplicates + dead-lettered, from the worker's and the webhook's
  own counters (a duplicate is not bad input: it is counted as `outcome="duplicate"`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.conftest import (
    WEBHOOK_SECRET,
    Deployment,
    WorkerProcess,
    value,
    wait_until,
)
from tests.schemas import validators

pytestmark = pytest.mark.integration

LATENESS = 600
MAX_EVENT_BYTES = 65536
TEN_MB = 10 * 1024 * 1024


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Case:
    """One kind of bad input: its bytes on the wire, the event type whose topic carries it,
    and the dead-letter reason expected (None: a duplicate, counted as such)."""

    kind: str
    raw: bytes
    topic_type: str
    reason: str | None
    paths: tuple[str, ...] = ("topic", "webhook")


class Corpus:
    """Good and bad events of one path; `tag` keeps the two paths' event ids apart."""

    def __init__(self, tag: str, base: float) -> None:
        self.tag = tag
        self.base = base
        self.latest = base + 3000  # the partition's event time after phase 1

    def mention(self, name: str, at: float, **fields: Any) -> dict[str, Any]:
        return {
            "event_id": f"{self.tag}-{name}", "type": "mention",
            "conversation_id": f"{self.tag}-conv-{name}", "occurred_at": iso(at),
            "brand": "Acme", "channel": "twitter", "author_id": f"u-{name}", **fields,
        }  # fmt: skip

    def reply(self, name: str, conversation: str, at: float, **fields: Any) -> dict[str, Any]:
        return {
            "event_id": f"{self.tag}-{name}", "type": "reply", "conversation_id": conversation,
            "occurred_at": iso(at), "brand": "Acme", "channel": "twitter",
            "agent_id": "agent-1", "in_reply_to": conversation, **fields,
        }  # fmt: skip

    def phase_one(self) -> list[dict[str, Any]]:
        """Good events: the opening post answered early in phase 2, the duplicate's original,
        and the latest event time."""
        return [
            self.mention("open", self.latest - 100),
            self.mention("first", self.latest - 200),
            self.mention("latest", self.latest),
        ]

    def good(self, index: int) -> dict[str, Any]:
        """A good event of phase 2 (within the lateness of the partition's event time)."""
        return self.mention(f"good-{index}", self.latest + index)

    def cases(self) -> list[Case]:
        t = self.tag
        m = self.mention
        now = self.latest

        def broken(name: str, **changes: Any) -> bytes:
            document = m(name, now)
            for field_name, field_value in changes.items():
                if field_value is DROP:
                    del document[field_name]
                else:
                    document[field_name] = field_value
            return orjson.dumps(document)

        survey = {"event_id": f"{t}-survey", "type": "survey", "conversation_id": f"{t}-c",
                  "occurred_at": iso(now), "brand": "Acme", "channel": "twitter",
                  "kind": "csat", "score": 5}  # fmt: skip
        valid = orjson.dumps(m("template", now))
        emoji_text = "\U0001f620" * 18000  # 72,000 bytes, under the 20,000-character limit
        text_too_long = "x" * 20001
        return [
            Case("truncated JSON", valid[: len(valid) // 2], "mention", "invalid_json"),
            Case("plain text", f"hello from {t}, not JSON".encode(), "mention", "invalid_json"),
            Case(
                "invalid UTF-8",
                valid.replace(b'"Acme"', b'"Ac\xff\xfeme"'),
                "mention",
                "invalid_json",
            ),
            Case(
                "UTF-8 byte order mark", b"\xef\xbb\xbf" + broken("bom"), "mention", "invalid_json"
            ),
            Case(
                "NaN",
                broken("nan", sentiment=0.5).replace(b"0.5", b"NaN"),
                "mention",
                "invalid_json",
            ),
            Case(
                "Infinity",
                broken("inf", customer_value=7.0).replace(b"7.0", b"Infinity"),
                "mention",
                "invalid_json",
            ),
            Case(
                "number out of range",
                broken("big", customer_value=7.0).replace(b"7.0", b"1e400"),
                "mention",
                "invalid_json",
            ),
            Case(
                "JSON nested 2,000 deep",
                broken("deep")[:-1] + b',"x":' + b"[" * 2000 + b"]" * 2000 + b"}",
                "mention",
                "invalid_json",
            ),
            Case("JSON array", f'[1, 2, "{t}"]'.encode(), "mention", "schema_violation"),
            Case("JSON string", f'"{t}-string"'.encode(), "mention", "schema_violation"),
            Case("JSON number", b"42", "mention", "schema_violation"),
            Case("JSON null", b"null", "mention", "schema_violation"),
            Case("missing event_id", broken("no-id", event_id=DROP), "mention", "schema_violation"),
            Case("missing type", broken("no-type", type=DROP), "mention", "schema_violation"),
            Case(
                "missing conversation_id",
                broken("no-conv", conversation_id=DROP),
                "mention",
                "schema_violation",
            ),
            Case("missing brand", broken("no-brand", brand=DROP), "mention", "schema_violation"),
            Case(
                "missing occurred_at",
                broken("no-time", occurred_at=DROP),
                "mention",
                "schema_violation",
            ),
            Case(
                "mention without author_id",
                broken("no-author", author_id=DROP),
                "mention",
                "schema_violation",
            ),
            Case("unknown type", broken("retweet", type="retweet"), "mention", "schema_violation"),
            Case(
                "event_id a number",
                broken("num-id", event_id=42, author_id=f"{t}-n"),
                "mention",
                "schema_violation",
            ),
            Case(
                "unknown priority",
                broken("prio", priority="critical"),
                "mention",
                "schema_violation",
            ),
            Case(
                "sentiment out of range",
                broken("senti", sentiment=2.5),
                "mention",
                "schema_violation",
            ),
            Case(
                "negative customer value",
                broken("value", customer_value=-5),
                "mention",
                "schema_violation",
            ),
            Case("schema_version 2", broken("v2", schema_version=2), "mention", "schema_violation"),
            Case("empty brand", broken("brand", brand=""), "mention", "schema_violation"),
            Case(
                "brand with spaces",
                broken("brand-sp", brand="Acme Support"),
                "mention",
                "schema_violation",
            ),
            Case(
                "event_id of 300 characters",
                broken("long-id", event_id="i" * 300, author_id=f"{t}-l"),
                "mention",
                "schema_violation",
            ),
            Case(
                "text over 20,000 characters",
                broken("long-text", text=text_too_long),
                "mention",
                "schema_violation",
            ),
            Case(
                "occurred_at not a time",
                broken("when", occurred_at="yesterday"),
                "mention",
                "schema_violation",
            ),
            Case(
                "occurred_at without offset",
                broken("naive", occurred_at=iso(now)[:-1]),
                "mention",
                "schema_violation",
            ),
            Case(
                "occurred_at February 30",
                broken("feb30", occurred_at="2026-02-30T10:00:00Z"),
                "mention",
                "schema_violation",
            ),
            Case(
                "reply with public as a string",
                orjson.dumps(self.reply("pub", f"{t}-conv-open", now, public="true")),
                "reply",
                "schema_violation",
            ),
            Case(
                "redirection to an unknown channel",
                orjson.dumps(
                    {
                        "event_id": f"{t}-redir",
                        "type": "redirection",
                        "conversation_id": f"{t}-c",
                        "occurred_at": iso(now),
                        "brand": "Acme",
                        "channel": "twitter",
                        "to_channel": "carrier_pigeon",
                    }
                ),
                "redirection",
                "schema_violation",
            ),
            Case(
                "survey score as text",
                orjson.dumps({**survey, "score": "five"}),
                "survey",
                "schema_violation",
            ),
            Case(
                "CSAT score 9",
                orjson.dumps({**survey, "event_id": f"{t}-csat9", "score": 9}),
                "survey",
                "schema_violation",
            ),
            Case(
                "NPS score -1",
                orjson.dumps({**survey, "event_id": f"{t}-nps", "kind": "nps", "score": -1}),
                "survey",
                "schema_violation",
            ),
            Case(
                "contact count without a contacts topic",
                orjson.dumps(
                    {
                        "event_id": f"{t}-contacts",
                        "type": "contact_count",
                        "occurred_at": iso(now),
                        "brand": "Acme",
                        "channel": "phone",
                        "count": 12,
                    }
                ),
                "mention",
                "wrong_topic",
            ),
            Case(
                "event over SOCIALCARE_MAX_EVENT_BYTES",
                broken("big-text", text=emoji_text),
                "mention",
                "oversized",
            ),
            Case(
                "timestamp in 1970",
                broken("epoch", occurred_at="1970-01-01T00:00:00Z"),
                "mention",
                "before_retention_horizon",
            ),
            Case(
                "timestamp in 2100",
                broken("future", occurred_at="2100-01-01T00:00:00Z"),
                "mention",
                "future_timestamp",
            ),
            Case(
                "too late for its window",
                orjson.dumps(m("late", now - LATENESS - 60)),
                "mention",
                "too_late",
            ),
            Case(
                "reply before its mention",
                orjson.dumps(self.reply("early", f"{t}-conv-open", now - 101)),
                "reply",
                "reply_before_mention",
            ),
            Case("duplicate event_id", orjson.dumps(m("first", now - 200)), "mention", None),
            # Only a Kafka record can be these:
            Case(
                "reply on the mentions topic",
                orjson.dumps(self.reply("misrouted", f"{t}-conv-open", now)),
                "mention",
                "wrong_topic",
                ("topic",),
            ),
            Case("tombstone (no value)", b"", "mention", "invalid_json", ("topic",)),
        ]


DROP = object()


def ten_megabytes(tag: str) -> bytes:
    """A 10 MB event: a mention whose text field is padded far beyond every limit."""
    head = f'{{"event_id": "{tag}-10mb", "type": "mention", "text": "'.encode()
    return head + b"a" * (TEN_MB - len(head) - 2) + b'"}'


def key_of(raw: bytes) -> str:
    """How a dead letter is matched to its input: the bytes, or the hash of a huge one."""
    return hashlib.sha256(raw).hexdigest()


def letter_key(letter: dict[str, Any]) -> str:
    if letter.get("truncated"):
        return str(letter["original_sha256"])
    return key_of(base64.b64decode(letter["original_value_b64"]))


async def send_records(broker: str, records: list[tuple[str, bytes | None, bytes | None]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=broker, acks="all", max_request_size=2 * TEN_MB, linger_ms=2
    )
    await producer.start()
    try:
        for topic, key, raw in records:
            await producer.send_and_wait(topic, value=raw, key=key)
    finally:
        await producer.stop()


def post_lines(webhook: WorkerProcess, lines: list[bytes]) -> tuple[int, dict[str, Any]]:
    body = b"\n".join(lines) + b"\n"
    return webhook.post_events(
        body, "application/x-ndjson", Authorization=f"Bearer {WEBHOOK_SECRET}"
    )


def test_bad_input_corpus_through_topics_and_webhook(
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
    webhooks: Callable[..., WorkerProcess],
) -> None:
    deployment = deployment_factory(
        partitions=1, SOCIALCARE_CLOCK="event",
        SOCIALCARE_ALLOWED_LATENESS_SECONDS=str(LATENESS),
        SOCIALCARE_MAX_EVENT_BYTES=str(MAX_EVENT_BYTES),
    )  # fmt: skip
    worker = workers(deployment)
    webhook = webhooks(deployment)
    worker.wait_ready()
    base = time.time() - 6 * 3600
    by_topic, by_webhook = Corpus("t", base), Corpus("w", base)
    topics = {
        kind: deployment.topic_for(kind) for kind in ("mention", "reply", "redirection", "survey")
    }

    # Phase 1: good events on both paths, all counted before the corpus comes.
    asyncio.run(send_records(deployment.broker, [
        (topics["mention"], e["conversation_id"].encode(), orjson.dumps(e))
        for e in by_topic.phase_one()
    ]))  # fmt: skip
    status, answer = post_lines(webhook, [orjson.dumps(e) for e in by_webhook.phase_one()])
    assert (status, answer["accepted"]) == (200, 3), answer
    wait_until(
        lambda: value(worker.scrape(), "socialcare_events_processed_total", outcome="counted")
        == 6,
        60, "phase 1 counted", worker.log_tail,
    )  # fmt: skip

    # Phase 2: the corpus, every bad input between two good events.
    topic_cases = [case for case in by_topic.cases() if "topic" in case.paths]
    webhook_cases = [case for case in by_webhook.cases() if "webhook" in case.paths]
    assert len({case.kind for case in topic_cases}) >= 30
    assert len({case.kind for case in webhook_cases}) >= 30
    records: list[tuple[str, bytes | None, bytes | None]] = []
    for index, case in enumerate(topic_cases):
        good = by_topic.good(index)
        records.append((topics["mention"], b"k", orjson.dumps(good)))
        records.append((topics[case.topic_type], b"k", case.raw if case.raw else None))
    records.append((topics["mention"], b"k", ten_megabytes("t")))
    asyncio.run(send_records(deployment.broker, records))

    lines: list[bytes] = []
    for index, case in enumerate(webhook_cases):
        lines += [orjson.dumps(by_webhook.good(index)), case.raw]
    status, answer = post_lines(webhook, lines)
    assert status == 207, answer
    results = answer["results"]
    # Rejected at the webhook: what needs no conversation state; the worker sees the rest.
    worker_side = {"too_late", "reply_before_mention", None}
    for index, case in enumerate(webhook_cases):
        result = results[2 * index + 1]
        assert results[2 * index]["status"] == "accepted"
        if case.reason in worker_side:
            assert result["status"] == "accepted", (case.kind, result)
        else:
            assert (result["status"], result["reason"]) == ("rejected", case.reason), case.kind
    status, answer = post_lines(webhook, [ten_megabytes("w")])
    assert status == 413, answer

    # Expected: every good event counted, every bad one dead-lettered once with its reason.
    goods = len(topic_cases) + len(webhook_cases)
    bad = [case for case in topic_cases + webhook_cases if case.reason is not None]
    expected_letters = Counter((key_of(case.raw), case.reason) for case in bad)
    expected_letters[(key_of(ten_megabytes("t")), "oversized")] += 1
    # the webhook keeps the hash of the whole body: the line and its newline
    expected_letters[(key_of(ten_megabytes("w") + b"\n"), "oversized")] += 1
    webhook_rejected = sum(
        1 for case in webhook_cases if case.reason is not None and case.reason not in worker_side
    ) + 1  # fmt: skip
    worker_dead = sum(expected_letters.values()) - webhook_rejected

    def settled() -> bool:
        m = worker.scrape()
        return (
            value(m, "socialcare_events_processed_total", outcome="counted") == 6 + goods
            and value(m, "socialcare_events_processed_total", outcome="deadlettered") == worker_dead
        )

    wait_until(settled, 120, "the corpus processed", worker.log_tail)
    letters = deployment.dead_letters(expected=sum(expected_letters.values()), timeout=60)
    assert Counter((letter_key(d), d["reason"]) for d in letters) == expected_letters
    for letter in letters:
        validators()["deadletter"].validate(letter)
    from_webhook = [d for d in letters if d["source"] == "webhook"]
    assert len(from_webhook) == webhook_rejected
    assert all(d["request_id"] and d["source_offset"] is None for d in from_webhook)
    assert [d["original_size"] for d in letters if d.get("truncated")].count(TEN_MB) == 1

    # The worker is up and still counts.
    last = by_topic.mention("last", by_topic.latest + 500)
    deployment.produce([last])
    wait_until(
        lambda: value(worker.scrape(), "socialcare_events_processed_total", outcome="counted")
        == 7 + goods,
        60, "the last event counted", worker.log_tail,
    )  # fmt: skip
    m, w = worker.scrape(), webhook.scrape()
    assert value(m, "socialcare_mentions_total") == 7 + goods
    assert value(m, "socialcare_replies_total") == 0
    assert value(m, "socialcare_surveys_total") == 0
    # Inputs = counted + duplicates + dead-lettered (webhook and worker dead letters).
    inputs = 6 + 1 + 2 * len(topic_cases) + 1 + 2 * len(webhook_cases) + 1
    counted = value(m, "socialcare_events_processed_total", outcome="counted")
    duplicates = value(m, "socialcare_events_processed_total", outcome="duplicate")
    dead = value(m, "socialcare_deadletters_total") + value(w, "socialcare_deadletters_total")
    assert duplicates == 2
    assert inputs == counted + duplicates + dead
    for reason in {reason for _, reason in expected_letters if reason is not None}:
        exported = value(m, "socialcare_deadletters_total", reason=reason) + value(
            w, "socialcare_deadletters_total", reason=reason
        )
        assert exported == sum(n for (_, r), n in expected_letters.items() if r == reason), reason
    assert worker.process.poll() is None and webhook.process.poll() is None
