"""Import the public Twitter support sample into a worker (skips without the sample)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from processor.twitter_support import read_twcs
from tests.integration.conftest import REPO, Deployment, WorkerProcess, value, wait_until

pytestmark = pytest.mark.integration

SAMPLE = REPO.parent / "shared" / "data" / "twcs_sample.csv"


def test_import_twcs_sample_into_a_worker(
    deployment_factory: Callable[..., Deployment], workers: Callable[..., WorkerProcess]
) -> None:
    if not SAMPLE.exists():
        pytest.skip(f"the TWCS sample is not at {SAMPLE} (it is never committed)")
    events, report = read_twcs(SAMPLE)
    # Years of history (a few roots from 2011-2016): lateness covers the cross-topic reading.
    deployment = deployment_factory(partitions=2, SOCIALCARE_CLOCK="event",
                                    SOCIALCARE_ALLOWED_LATENESS_SECONDS=str(3650 * 86400),
                                    SOCIALCARE_MAX_FUTURE_SECONDS="300")  # fmt: skip
    worker = workers(deployment)
    worker.wait_ready()
    result = deployment.cli("import-twcs", str(SAMPLE))
    assert result.returncode == 0, result.stderr
    assert f"{report.rows} rows -> {report.events} events" in result.stderr
    wait_until(
        lambda: value(worker.scrape(), "socialcare_events_processed_total") == report.events,
        120, "the import processed", worker.log_tail,
    )  # fmt: skip
    m = worker.scrape()
    assert value(m, "socialcare_deadletters_total") == 0
    assert value(m, "socialcare_mentions_total") == report.mentions
    assert value(m, "socialcare_replies_total") == report.replies
    assert value(m, "socialcare_redirections_total", to_channel="dm") == report.redirections
    assert value(m, "socialcare_conversations_opened_total") == report.conversations
    opened = Counter(
        str(e["brand"])
        for e in events
        if e["type"] == "mention" and e["event_id"] == e["conversation_id"]
    )
    for brand, count in opened.most_common(5):
        assert value(m, "socialcare_conversations_opened_total", brand=brand) == count
