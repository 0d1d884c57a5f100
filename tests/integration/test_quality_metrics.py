"""Quality metrics through the real broker, Redis and a worker; exact /metrics values."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.integration.conftest import Deployment, WorkerProcess, processed_all, value, wait_until
from tests.integration.test_scenario import event, mention, reply

pytestmark = pytest.mark.integration


def test_csat_nps_sentiment_recovery_and_complaints(
    deployment_factory: Callable[..., Deployment], workers: Callable[..., WorkerProcess]
) -> None:
    deployment = deployment_factory(
        partitions=2, SOCIALCARE_CLOCK="event", SOCIALCARE_SENTIMENT_SCORER="vader"
    )
    worker = workers(deployment)
    worker.wait_ready()
    T = time.time() - 3600
    B = "QualityCo"
    C = "ChurnCo"
    events = [
        # q1: negative complaint (-0.8), answered, customer thanks (+0.7): recovered. CSAT 5.
        mention("q1-m1", "q1", B, "twitter", T, sentiment=-0.8, inquiry_type="complaint"),
        reply("q1-r1", "q1", B, "twitter", T + 60, resolves=True),
        mention("q1-m2", "q1", B, "twitter", T + 120, sentiment=0.7, inquiry_type="praise"),
        event("survey", "q1-s", "q1", B, "twitter", T + 600, kind="csat", score=5),
        # q2: negative complaint with no sentiment given: VADER scores the text (-0.6249).
        # A later negative post (-0.4) and a CSAT 2 would not recover it, but an NPS 9
        # (produced first, out of order) does: NPS >= 7.
        event("survey", "q2-n", "q2", B, "twitter", T + 900, kind="nps", score=9),
        mention("q2-m1", "q2", B, "twitter", T + 10, inquiry_type="complaint",
                text="@QualityCo is the worst customer service"),
        mention("q2-m2", "q2", B, "twitter", T + 200, sentiment=-0.4),
        event("survey", "q2-s", "q2", B, "twitter", T + 700, kind="csat", score=2),
        # q3: neutral question (0.0) on facebook, NPS 6 (detractor), CSAT 3: not negative.
        mention("q3-m1", "q3", B, "facebook", T + 30, sentiment=0.0, inquiry_type="question"),
        event("survey", "q3-n", "q3", B, "facebook", T + 800, kind="nps", score=6),
        event("survey", "q3-s", "q3", B, "facebook", T + 810, kind="csat", score=3),
        # q4: negative (-0.5), only a later negative post: negative, not recovered.
        mention("q4-m1", "q4", B, "facebook", T + 40, sentiment=-0.5),
        mention("q4-m2", "q4", B, "facebook", T + 400, sentiment=-0.9),
        # Churn, brand C (default phrase list). c1: says it in text, in a follow-up that
        # arrives first; resolved; CSAT 4: at risk, resolved, recovered.
        mention("c1-m2", "c1", C, "twitter", T + 100, sentiment=-0.5,
                text="Fine. I'm cancelling my subscription and SWITCHING to RivalCo"),
        mention("c1-m1", "c1", C, "twitter", T, sentiment=-0.2, text="my bill is wrong again"),
        reply("c1-r1", "c1", C, "twitter", T + 300, resolves=True),
        event("survey", "c1-s", "c1", C, "twitter", T + 900, kind="csat", score=4),
        # c2: the classifier's inquiry type, no text; an NPS 3: at risk only.
        mention("c2-m1", "c2", C, "facebook", T + 50, sentiment=-0.6, inquiry_type="churn_risk"),
        event("survey", "c2-n", "c2", C, "facebook", T + 950, kind="nps", score=3),
        # c3: a negated phrase is no churn signal; resolved, CSAT 5.
        mention("c3-m1", "c3", C, "twitter", T + 70, sentiment=0.1,
                text="I'm not leaving you, just tell me when the outage ends"),
        reply("c3-r1", "c3", C, "twitter", T + 200, resolves=True),
        event("survey", "c3-s", "c3", C, "twitter", T + 990, kind="csat", score=5),
    ]  # fmt: skip
    deployment.produce(events)
    wait_until(
        lambda: processed_all(worker.scrape(), len(events)),
        30, "all quality events processed", worker.log_tail,
    )  # fmt: skip
    m = worker.scrape()

    def v(name: str, **labels: str) -> float:
        return value(m, name, brand=B, **labels)

    # Sentiment classes of the 7 posts: negative q1-m1, q2-m1 (VADER), q2-m2, q4-m1, q4-m2 = 5;
    # positive q1-m2 = 1; neutral q3-m1 = 1; none unknown.
    assert v("socialcare_mentions_by_sentiment_total", sentiment="negative") == 5
    assert v("socialcare_mentions_by_sentiment_total", sentiment="positive") == 1
    assert v("socialcare_mentions_by_sentiment_total", sentiment="neutral") == 1
    assert v("socialcare_mentions_by_sentiment_total", sentiment="unknown") == 0
    assert v("socialcare_mentions_by_inquiry_type_total", inquiry_type="complaint") == 2
    assert v("socialcare_mentions_by_inquiry_type_total", inquiry_type="unknown") == 3
    assert v("socialcare_complaints_total", channel="twitter") == 2
    assert v("socialcare_window_complaints", channel="twitter", window="1h") == 2
    # CSAT: 5, 2, 3 -> 3 responses, sum 10, satisfied 1, follow-up 2.
    assert v("socialcare_csat_responses_total") == 3
    assert v("socialcare_csat_score_total") == 10
    assert v("socialcare_csat_satisfied_total") == 1
    assert v("socialcare_csat_followup_needed_total") == 2
    # NPS: 9 promoter (twitter), 6 detractor (facebook).
    assert v("socialcare_nps_responses_total", channel="twitter", category="promoter") == 1
    assert v("socialcare_nps_responses_total", channel="facebook", category="detractor") == 1
    assert v("socialcare_nps_responses_total", category="passive") == 0
    # Negative openings: q1, q2 (twitter), q4 (facebook). Recovered: q1 (later +0.7),
    # q2 (NPS 9); q4 not.
    assert v("socialcare_negative_conversations_total", channel="twitter") == 2
    assert v("socialcare_negative_conversations_total", channel="facebook") == 1
    assert v("socialcare_recovered_conversations_total", channel="twitter") == 2
    assert v("socialcare_recovered_conversations_total", channel="facebook") == 0
    # Churn: c1 (phrases) and c2 (inquiry type) at risk; c1 resolved and recovered (CSAT 4);
    # c3's phrase is negated; QualityCo's texts say nothing of leaving.
    churn = {
        (name, channel): value(m, f"socialcare_churn_risk_{name}_total", brand=C, channel=channel)
        for name in ("conversations", "resolved", "recovered")
        for channel in ("twitter", "facebook")
    }
    assert churn == {
        ("conversations", "twitter"): 1, ("conversations", "facebook"): 1,
        ("resolved", "twitter"): 1, ("resolved", "facebook"): 0,
        ("recovered", "twitter"): 1, ("recovered", "facebook"): 0,
    }  # fmt: skip
    assert value(m, "socialcare_mentions_by_inquiry_type_total", brand=C,
                 inquiry_type="churn_risk") == 1  # fmt: skip
    assert v("socialcare_churn_risk_conversations_total") == 0
