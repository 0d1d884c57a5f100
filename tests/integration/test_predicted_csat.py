"""Predicted CSAT through the broker: the model learns what the answers say, and a worker
started afresh on another machine (no local state) predicts with the models it restored.

Brand PredCo, event clock, 4 partitions. Training (two days ago): 40 conversations answered
after 2 minutes and resolved, each surveyed 5 (twitter); 40 answered after 4 hours and
resolved, each surveyed 1 (facebook). Then the worker is killed and another one, with an
empty data folder, takes over: 12 fast conversations (instagram) and 12 slow ones (youtube),
resolved, never surveyed. The model never saw a channel: only the service tells them apart.

The counts are computed here on their own: a partition predicts a resolution once its pooled
model has learned from 10 answers (answers of its own conversations surveyed before that
resolution), and every answer of a predicted conversation is checked.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable

import pytest

from processor.predict.csat_model import MIN_POOLED_SURVEYS
from processor.stream.customers import partition_for
from tests.integration.conftest import (
    Deployment,
    Samples,
    WorkerProcess,
    customers_caught_up,
    processed_all,
    value,
    wait_until,
)
from tests.integration.test_scenario import event, mention, reply

pytestmark = pytest.mark.integration

B = "PredCo"
PARTITIONS = 4
FAST, SLOW = 120.0, 4 * 3600.0


class Conversation:
    """Opened at `start`, answered `wait` later, resolved 5 minutes after, surveyed 5 more."""

    def __init__(self, cid: str, channel: str, start: float, wait: float, answer: int | None):
        self.cid = cid
        self.resolved_at = start + wait + 300
        self.answered_at = None if answer is None else self.resolved_at + 300
        self.events = [
            mention(f"{cid}-m", cid, B, channel, start, sentiment=0.1, inquiry_type="question"),
            reply(f"{cid}-r", cid, B, channel, start + wait),
            reply(f"{cid}-x", cid, B, channel, self.resolved_at, resolves=True),
        ]
        if self.answered_at is not None:
            self.events.append(event("survey", f"{cid}-s", cid, B, channel, self.answered_at,
                                     kind="csat", score=answer))  # fmt: skip

    @property
    def partition(self) -> int:
        return partition_for(self.cid.encode(), PARTITIONS)


def counted_all(samples: Samples, events: int) -> bool:
    return value(samples, "socialcare_events_processed_total", outcome="counted") == events and (
        customers_caught_up(samples)
    )


def expected_predictions(training: list[Conversation], later: list[Conversation]) -> set[str]:
    """The conversations whose resolution gets a prediction (training ones and `later`)."""
    answered_at: dict[int, list[float]] = defaultdict(list)
    for item in training:
        if item.answered_at is not None:
            answered_at[item.partition].append(item.answered_at)
    learned = {
        item.cid for item in training
        if sum(1 for at in answered_at[item.partition] if at < item.resolved_at)
        >= MIN_POOLED_SURVEYS
    }  # fmt: skip
    ready = {p for p, answers in answered_at.items() if len(answers) >= MIN_POOLED_SURVEYS}
    return learned | {item.cid for item in later if item.partition in ready}


def test_the_score_follows_the_answers_and_survives_a_new_worker(
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
) -> None:
    deployment = deployment_factory(
        partitions=PARTITIONS,
        SOCIALCARE_CLOCK="event",
        SOCIALCARE_INACTIVITY_RESOLUTION_SECONDS="0",
    )
    first = workers(deployment, name="first")
    first.wait_ready()
    T = time.time() - 2 * 86400
    training = []
    for n in range(40):
        training.append(Conversation(f"fast-{n}", "twitter", T + n * 90, FAST, 5))
        training.append(Conversation(f"slow-{n}", "facebook", T + n * 90, SLOW, 1))
    # In event time, as a source sends them (a topic out of order by hours would be late).
    produced = sorted((item for conversation in training for item in conversation.events),
                      key=lambda item: item["occurred_at"])  # fmt: skip
    deployment.produce(produced)
    wait_until(lambda: processed_all(first.scrape(), len(produced)), 120,
               "the training conversations counted", first.log_tail)  # fmt: skip
    m = first.scrape()
    predicted = expected_predictions(training, [])
    assert 20 < len(predicted) < 80  # the warm-up left some unscored, not all
    assert value(m, "socialcare_predicted_csat_count", brand=B, how="explicit") == len(predicted)
    # Each predicted training conversation has one answer, checked before it was learned.
    assert value(m, "socialcare_predicted_csat_checks_total", brand=B, sample="learned") == len(
        predicted
    )
    first.kill()

    # Another worker, nothing local: the models come back from the changelog.
    second = workers(deployment, name="second")
    second.wait_ready()
    later_start = T + 86400
    cohort = [Conversation(f"new-fast-{n}", "instagram", later_start + n * 60, FAST, None)
              for n in range(12)] + [
              Conversation(f"new-slow-{n}", "youtube", later_start + n * 60, SLOW, None)
              for n in range(12)]  # fmt: skip
    deployment.produce(sorted((item for conversation in cohort for item in conversation.events),
                              key=lambda item: item["occurred_at"]))  # fmt: skip
    # The killed worker's last records come again (skipped: the state has them): count the
    # new ones only.
    wait_until(lambda: counted_all(second.scrape(), 3 * len(cohort)), 120,
               "the new conversations counted", second.log_tail)  # fmt: skip
    m = second.scrape()
    expected = expected_predictions(training, cohort) & {item.cid for item in cohort}
    for channel, prefix in (("instagram", "new-fast"), ("youtube", "new-slow")):
        scored = value(m, "socialcare_predicted_csat_count", brand=B, channel=channel)
        assert scored == sum(1 for cid in expected if cid.startswith(prefix)) > 6, channel
    mean = {
        channel: value(m, "socialcare_predicted_csat_sum", brand=B, channel=channel)
        / value(m, "socialcare_predicted_csat_count", brand=B, channel=channel)
        for channel in ("instagram", "youtube")
    }
    # The answers said 5 after a fast answer and 1 after a slow one: so does the model.
    assert mean["instagram"] > 4.5, mean
    assert mean["youtube"] < 1.5, mean
    # All fast ones predicted 4.5 or more, all slow ones under 1.5 (the histogram's buckets).
    assert value(m, "socialcare_predicted_csat_bucket", brand=B, channel="instagram",
                 le="3.5") == 0  # fmt: skip
    assert value(m, "socialcare_predicted_csat_bucket", brand=B, channel="youtube",
                 le="1.5") == value(m, "socialcare_predicted_csat_count", brand=B,
                                    channel="youtube")  # fmt: skip
