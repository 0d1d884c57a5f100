"""Import the public Twitter support sample into a worker (skips without the sample)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from processor.ingest.twitter_support import is_redirect_to_dm, read_twcs
from processor.metrics.families import FIRST_RESPONSE_BUCKETS
from tests.integration.conftest import REPO, Deployment, Samples, WorkerProcess, value, wait_until
from tests.support_thread_reference import Reference, expected_per_brand

pytestmark = pytest.mark.integration

SAMPLE = REPO.parent / "shared" / "data" / "twcs_sample.csv"


def disagreements(m: Samples, reference: Reference) -> list[str]:
    """Every per-brand value where the worker's metrics differ from the reference."""
    found: list[str] = []
    exported = {dict(labels)["brand"] for name, labels in m if name == "socialcare_mentions_total"}
    if exported != set(reference.brands):
        found.append(f"brands: worker {sorted(exported)}, reference {sorted(reference.brands)}")
    buckets = [*FIRST_RESPONSE_BUCKETS, math.inf]
    for brand, want in sorted(reference.brands.items()):
        counts: list[tuple[str, dict[str, str], float]] = [
            ("conversations_opened_total", {}, want.conversations),
            ("mentions_total", {}, want.mentions),
            ("replies_total", {}, want.replies),
            ("replies_total", {"kind": "human"}, want.replies),
            ("redirections_total", {}, want.redirections),
            ("redirections_total", {"to_channel": "dm"}, want.redirections),
            ("first_response_seconds_count", {}, len(want.first_responses)),
            *(
                ("first_response_seconds_bucket", {"le": "+Inf" if le == math.inf else repr(le)},
                 want.bucket(le))
                for le in map(float, buckets)
            ),
        ]  # fmt: skip
        for name, labels, expected in counts:
            got = value(m, f"socialcare_{name}", brand=brand, channel="twitter", **labels)
            if got != expected:
                found.append(f"{brand} {name}{labels}: worker {got}, reference {expected}")
        got = value(m, "socialcare_first_response_seconds_sum", brand=brand, channel="twitter")
        expected_sum = math.fsum(want.first_responses)
        if not math.isclose(got, expected_sum, rel_tol=1e-6, abs_tol=1e-3):
            found.append(f"{brand} first_response_seconds_sum: worker {got}, "
                         f"reference {expected_sum}")  # fmt: skip
    return found


def test_import_twcs_sample_into_a_worker(
    deployment_factory: Callable[..., Deployment], workers: Callable[..., WorkerProcess]
) -> None:
    if not SAMPLE.exists():
        pytest.skip(f"the TWCS sample is not at {SAMPLE} (it is never committed)")
    _, report = read_twcs(SAMPLE)  # its report: totals and the CLI's summary line
    # The test's own reading of the CSV: nothing of the importer but its DM phrase matcher
    # (`is_redirect_to_dm`, which has its own unit tests).
    reference = expected_per_brand(SAMPLE, is_redirect_to_dm)
    # A reply to the opening post stamped before it is dead-lettered or counted depending on
    # arrival order across topics: the expectations below hold only for a file without one.
    assert reference.replies_before_opening == []
    # Years of history (a few roots from 2011-2016) at the default lateness: the worker
    # aligns the topics by event time, as the README's import promises.
    deployment = deployment_factory(partitions=2, SOCIALCARE_CLOCK="event")
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
    lettered = value(m, "socialcare_deadletters_total")
    if lettered:  # say which and why: a rare failure must leave its evidence
        letters = deployment.dead_letters(expected=int(lettered))
        raise AssertionError(
            f"{lettered:g} dead letters: "
            + "; ".join(f"{d['reason']} {d['event_id']}: {d['detail']}" for d in letters)
            + f"\n{worker.log_tail(80)}"
        )
    assert value(m, "socialcare_mentions_total") == report.mentions
    assert value(m, "socialcare_replies_total") == report.replies
    assert value(m, "socialcare_redirections_total", to_channel="dm") == report.redirections
    # The importer's conversations are threads; the worker's, threads cut at 30 days of
    # silence (the conversation TTL): the sample has 3 such threads, from 2011 and 2016.
    opened = sum(figures.conversations for figures in reference.brands.values())
    assert opened == report.conversations + 3
    assert value(m, "socialcare_conversations_opened_total") == opened
    # Every brand, against the test's own reading of the CSV (tests/support_thread_reference).
    assert disagreements(m, reference) == []
