"""`socialcare webhook`: authentication, per-event results, idempotency, through the broker."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from processor.ingest.webhook_auth import sign
from tests.integration.conftest import (
    WEBHOOK_SECRET,
    Deployment,
    WorkerProcess,
    value,
    wait_until,
)

pytestmark = pytest.mark.integration

ROTATED_SECRET = "next-secret-fedcba9876543210"


def bearer(secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def signed(body: bytes, secret: str = WEBHOOK_SECRET, at: float | None = None) -> dict[str, str]:
    return {"X-Socialcare-Signature": sign(secret, int(at or time.time()), body)}


def mention(event_id: str, conversation: str, at: float, brand: str = "Acme") -> dict[str, Any]:
    return {
        "event_id": event_id, "type": "mention", "conversation_id": conversation,
        "occurred_at": datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z"),
        "brand": brand, "channel": "twitter", "author_id": f"u-{conversation}",
    }  # fmt: skip


def reply(event_id: str, conversation: str, at: float, brand: str = "Acme") -> dict[str, Any]:
    return {
        "event_id": event_id, "type": "reply", "conversation_id": conversation,
        "occurred_at": datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z"),
        "brand": brand, "channel": "twitter", "agent_id": "agent-1", "in_reply_to": conversation,
    }  # fmt: skip


def test_refused_credentials_publish_nothing(
    deployment_factory: Callable[..., Deployment], webhooks: Callable[..., WorkerProcess]
) -> None:
    deployment = deployment_factory(partitions=2)
    webhook = webhooks(
        deployment, SOCIALCARE_WEBHOOK_SECRET=f"{WEBHOOK_SECRET},{ROTATED_SECRET}",
        SOCIALCARE_WEBHOOK_SIGNATURE_TOLERANCE_SECONDS="300",
    )  # fmt: skip
    now = time.time()
    body = orjson.dumps(mention("m-refused", "c-refused", now - 60))
    refusals = {
        "no credentials": {},
        "wrong bearer token": bearer("wrong-secret-0123456789"),
        "another scheme": {"Authorization": f"Basic {WEBHOOK_SECRET}"},
        "bad signature": signed(body, "wrong-secret-0123456789"),
        "signature of another body": signed(body + b" "),
        "malformed signature header": {"X-Socialcare-Signature": "v1=abc"},
        # a valid signature captured and replayed 10 minutes later (tolerance 5 min)
        "replayed outside the tolerance": signed(body, at=now - 600),
        "timestamp ahead of the tolerance": signed(body, at=now + 600),
    }
    for what, headers in refusals.items():
        status, answer = webhook.post_events(body, **headers)
        assert status == 401, (what, answer)
        assert answer["error"], what
    # Then the accepted ways: both secrets, as bearer and as signature, inside the tolerance.
    accepted = [
        (mention("m-bearer", "c-1", now - 50), bearer()),
        (mention("m-rotated", "c-2", now - 40), bearer(ROTATED_SECRET)),
        (mention("m-signed", "c-3", now - 30), None),
        (mention("m-signed-old", "c-4", now - 20), None),
    ]
    for index, (event, given) in enumerate(accepted):
        payload = orjson.dumps(event)
        # None: signed, the second one 4 minutes ago (inside 5)
        headers = given if given is not None else signed(payload, at=now - 240 * (index - 2))
        status, answer = webhook.post_events(payload, **headers)
        assert status == 200, answer
        assert answer["results"] == [{
            "index": 0, "event_id": event["event_id"], "status": "accepted",
            "topic": deployment.topics["mentions"],
        }]  # fmt: skip
    published = deployment.records(deployment.topics["mentions"])
    assert sorted(orjson.loads(v)["event_id"] for _, v in published) == sorted(
        e["event_id"] for e, _ in accepted
    )
    assert {key for key, _ in published} == {b"c-1", b"c-2", b"c-3", b"c-4"}
    assert deployment.records(deployment.topics["deadletters"], quiet=1.0) == []
    metrics = webhook.scrape()
    assert value(metrics, "socialcare_webhook_requests_total", code="401") == len(refusals)
    assert value(metrics, "socialcare_webhook_requests_total", code="200") == len(accepted)
    assert value(metrics, "socialcare_webhook_events_total", outcome="accepted") == 4


def test_batch_results_and_idempotent_resend(
    deployment_factory: Callable[..., Deployment],
    webhooks: Callable[..., WorkerProcess],
    workers: Callable[..., WorkerProcess],
) -> None:
    deployment = deployment_factory(partitions=2, SOCIALCARE_CLOCK="event")
    worker = workers(deployment)
    webhook = webhooks(deployment)
    worker.wait_ready()
    start = time.time() - 3600
    batch = [
        mention("b-m1", "b-c1", start), mention("b-m2", "b-c2", start + 10),
        reply("b-r1", "b-c1", start + 100),
        {"event_id": "b-bad", "type": "mention", "conversation_id": "b-c3"},  # no brand...
        reply("b-r2", "b-c2", start + 2000),
    ]  # fmt: skip
    body = orjson.dumps(batch)
    status, answer = webhook.post_events(body, **signed(body))
    assert status == 207, answer
    assert (answer["accepted"], answer["rejected"]) == (4, 1)
    assert [r["status"] for r in answer["results"]] == ["accepted"] * 3 + ["rejected", "accepted"]
    assert answer["results"][3]["reason"] == "schema_violation"
    assert answer["results"][3]["event_id"] == "b-bad"

    def settled() -> bool:
        return value(worker.scrape(), "socialcare_events_processed_total", outcome="counted") == 4

    wait_until(settled, 60, "the batch counted", worker.log_tail)
    before = {
        name: value(worker.scrape(), name)
        for name in ("socialcare_mentions_total", "socialcare_replies_total",
                     "socialcare_first_response_seconds_sum",
                     "socialcare_first_response_seconds_count")
    }  # fmt: skip
    # b-c1 answered after 100 s, b-c2 after 1990 s
    assert before == {
        "socialcare_mentions_total": 2, "socialcare_replies_total": 2,
        "socialcare_first_response_seconds_sum": 2090,
        "socialcare_first_response_seconds_count": 2,
    }  # fmt: skip
    # The same batch again (a platform retry), as JSON lines this time: nothing changes.
    lines = b"\n".join(orjson.dumps(event) for event in batch) + b"\n"
    status, answer = webhook.post_events(lines, "application/x-ndjson", **bearer())
    assert status == 207, answer
    wait_until(
        lambda: value(worker.scrape(), "socialcare_events_processed_total", outcome="duplicate")
        == 4,
        60, "the re-sent batch read", worker.log_tail,
    )  # fmt: skip
    after = {name: value(worker.scrape(), name) for name in before}
    assert after == before
    letters = deployment.dead_letters(expected=2)
    assert [(d["reason"], d["source"], d["event_id"], d["item_index"]) for d in letters] == [
        ("schema_violation", "webhook", "b-bad", 3)
    ] * 2
    assert orjson.loads(base64.b64decode(letters[0]["original_value_b64"])) == batch[3]
