"""Online reviews through `socialcare replay`, the webhook, the broker, Redis and a worker;
exact /metrics values.

Brand RevCo, channel reviews, T = 3 hours ago, no resolution by inactivity:
  R1 google      1 star @T, human reply @T+3600, updated to 5 stars @T+7200
                 -> negative, answered in 3600 s, recovered
  R2 trustpilot  4 stars @T+100, no reply
  R3 (no site)   2 stars @T+200, bot reply @T+260, updated to 3 stars @T+700
                 -> site other, negative, not answered, not recovered
  R4 app_store   2 stars @T+8000, human reply @T+8600 (through the webhook)
                 -> negative, answered in 600 s
and, through the webhook, a review of 6 stars: rejected (schema_violation), never counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.conftest import (
    Deployment,
    WorkerProcess,
    processed_all,
    value,
    wait_until,
)
from tests.integration.test_scenario import event
from tests.integration.test_webhook import signed

pytestmark = pytest.mark.integration

B = "RevCo"


def review(eid: str, conv: str, at: float, stars: int, source: str | None) -> dict[str, Any]:
    extra = {} if source is None else {"review_source": source}
    return event("mention", eid, conv, B, "reviews", at, author_id=f"reviewer-{conv}",
                 rating=stars, text="a review", **extra)  # fmt: skip


def answer(eid: str, conv: str, at: float, **fields: Any) -> dict[str, Any]:
    return event("reply", eid, conv, B, "reviews", at, agent_id="agent-1", **fields)


def test_review_volume_ratings_answers_and_recovery(
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
    webhooks: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    deployment = deployment_factory(
        partitions=2, SOCIALCARE_CLOCK="event", SOCIALCARE_INACTIVITY_RESOLUTION_SECONDS="0"
    )
    worker = workers(deployment)
    webhook = webhooks(deployment)
    worker.wait_ready()
    T = time.time() - 3 * 3600
    replayed = [
        review("r1-m", "r1", T, 1, "google"),
        answer("r1-a", "r1", T + 3600),
        review("r1-u", "r1", T + 7200, 5, "google"),
        review("r2-m", "r2", T + 100, 4, "trustpilot"),
        review("r3-m", "r3", T + 200, 2, None),
        answer("r3-bot", "r3", T + 260, automated=True),
        review("r3-u", "r3", T + 700, 3, None),
    ]
    path = tmp_path / "reviews.jsonl"
    path.write_bytes(b"".join(orjson.dumps(item) + b"\n" for item in replayed))
    result = deployment.cli("replay", str(path))
    assert result.returncode == 0, result.stderr
    wait_until(lambda: processed_all(worker.scrape(), len(replayed)), 60, "the replay counted",
               worker.log_tail)  # fmt: skip

    posted = [
        review("r4-m", "r4", T + 8000, 2, "app_store"),
        answer("r4-a", "r4", T + 8600),
        review("r5-m", "r5", T + 8100, 6, "google"),
    ]
    body = orjson.dumps(posted)
    status, answered = webhook.post_events(body, **signed(body))
    assert status == 207, answered
    assert [(r["status"], r.get("reason")) for r in answered["results"]] == [
        ("accepted", None), ("accepted", None), ("rejected", "schema_violation")
    ]  # fmt: skip
    wait_until(lambda: processed_all(worker.scrape(), len(replayed) + 2), 60,
               "the webhook's reviews counted", worker.log_tail)  # fmt: skip
    m = worker.scrape()

    def v(name: str, **labels: str) -> float:
        return value(m, name, brand=B, **labels)

    by_site = {
        source: (
            v("socialcare_reviews_total", source=source),
            v("socialcare_review_stars_total", source=source),
            v("socialcare_reviews_answered_total", source=source),
            v("socialcare_negative_reviews_total", source=source),
            v("socialcare_negative_reviews_answered_total", source=source),
            v("socialcare_review_recoveries_total", source=source),
            v("socialcare_review_response_seconds_sum", source=source),
        )
        for source in ("google", "trustpilot", "other", "app_store")
    }
    assert by_site == {
        "google": (1, 1, 1, 1, 1, 1, 3600),
        "trustpilot": (1, 4, 0, 0, 0, 0, 0),
        "other": (1, 2, 0, 1, 0, 0, 0),
        "app_store": (1, 2, 1, 1, 1, 0, 600),
    }
    assert {
        rating: v("socialcare_reviews_by_rating_total", rating=rating) for rating in "12345"
    } == {"1": 1, "2": 2, "3": 0, "4": 1, "5": 0}
    # The windows (the partitions' event-time "now" is within 3 hours of T): 24h holds all.
    assert v("socialcare_window_reviews", window="24h") == 4
    assert v("socialcare_window_review_stars", window="24h") == 1 + 4 + 2 + 2
    assert v("socialcare_window_negative_reviews", window="24h") == 3
    # A review is a conversation: its first response on channel reviews (R1 and R4).
    assert v("socialcare_first_response_seconds_count", channel="reviews") == 2
    assert v("socialcare_first_response_seconds_sum", channel="reviews") == 3600 + 600
    hooked = webhook.scrape()
    assert value(hooked, "socialcare_webhook_events_total", outcome="accepted") == 2
    assert value(hooked, "socialcare_webhook_events_total", outcome="rejected") == 1
    letters = deployment.dead_letters(expected=1)
    assert [(d["reason"], d["event_id"]) for d in letters] == [("schema_violation", "r5-m")]
