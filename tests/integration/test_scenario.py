"""Hand-made conversations through the real broker, Redis and a worker; exact /metrics values.

Event clock (replay mode), one partition so that the partition's event time is the whole
stream's. The expected numbers are worked out by hand in the comments from the event
times below and the SLA file (default first response 600 s; AcmeSupport urgent 120 s).
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Deployment, WorkerProcess, value, wait_until

# Also the smoke test of the embedded Tansu broker: it covers a restart's recovery too.
pytestmark = pytest.mark.integration

BROKERS = [pytest.param("kafka"), pytest.param("tansu", marks=pytest.mark.tansu)]

SLA_FILE = """
default:
  first_response: 600
  resolution: 86400
rules:
  - brand: AcmeSupport
    priority: urgent
    first_response: 120
"""


def stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def event(event_type: str, event_id: str, conversation: str, brand: str, channel: str, at: float,
          **fields: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "event_id": event_id, "type": event_type, "occurred_at": stamp(at),
        "conversation_id": conversation, "brand": brand, "channel": channel,
        "schema_version": 1, **fields,
    }  # fmt: skip


def mention(eid: str, conv: str, brand: str, channel: str, at: float, **f: Any) -> dict[str, Any]:
    return event("mention", eid, conv, brand, channel, at, author_id=f"cust-{conv}", **f)


def reply(eid: str, conv: str, brand: str, channel: str, at: float, **f: Any) -> dict[str, Any]:
    return event("reply", eid, conv, brand, channel, at, agent_id="agent-1", team="tier1", **f)


@pytest.mark.parametrize("broker_name", BROKERS)
def test_hand_made_conversations_exact_metrics(
    broker_name: str,
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    sla = tmp_path / "sla.yaml"
    sla.write_text(SLA_FILE)
    deployment = deployment_factory(
        partitions=1,
        SOCIALCARE_CLOCK="event",
        SOCIALCARE_ALLOWED_LATENESS_SECONDS="1800",
        SOCIALCARE_SLA_CONFIG=str(sla),
    )
    worker = workers(deployment)
    print("app id", deployment.app_id)
    worker.wait_ready()

    # T: an hour boundary three hours ago, so window buckets start at T + k*60.
    T = (int(time.time()) // 3600 - 3) * 3600.0
    A, N = "AcmeSupport", "NimbusHelp"
    phase_one = [
        # c1 Acme/twitter normal: bot at +10 (does not count), customer follow-up at +150,
        # human reply at +120 -> FRT 120 s, met (deadline +600).
        mention("c1-m1", "c1", A, "twitter", T + 0),
        reply("c1-bot", "c1", A, "twitter", T + 10, automated=True),
        reply("c1-r1", "c1", A, "twitter", T + 120),
        mention("c1-m2", "c1", A, "twitter", T + 150, in_reply_to="c1-r1"),
        # c2 Acme/twitter normal: opened +60, deadline +660, reply +960 -> FRT 900, breached
        # (counted at the deadline +660).
        mention("c2-m1", "c2", A, "twitter", T + 60),
        reply("c2-r1", "c2", A, "twitter", T + 960),
        # c3 Acme/facebook urgent: deadline +220 (urgent rule 120 s), only a bot reply:
        # breached by silence once the watermark passes +220.
        mention("c3-m1", "c3", A, "facebook", T + 100, priority="urgent"),
        reply("c3-bot", "c3", A, "facebook", T + 105, automated=True),
        # c4 Nimbus/twitter normal: reply + redirection to DM at +300 (FRT 100, met),
        # resolved at +1000.
        mention("c4-m1", "c4", N, "twitter", T + 200),
        reply("c4-r1", "c4", N, "twitter", T + 300),
        event("redirection", "c4-x", "c4", N, "twitter", T + 300, to_channel="dm"),
        reply("c4-r2", "c4", N, "twitter", T + 1000, resolves=True),
        # c5 Nimbus/twitter high, out of order across topics: reply, survey, resolution
        # before the mention. Opened +350, reply +400 -> FRT 50 (met), resolved +1200.
        reply("c5-r1", "c5", N, "twitter", T + 400),
        event("survey", "c5-s", "c5", N, "twitter", T + 1300, kind="csat", score=5),
        reply("c5-r2", "c5", N, "twitter", T + 1200, resolves=True),
        mention("c5-m1", "c5", N, "twitter", T + 350, priority="high"),
        # The same reply delivered twice: counted once.
        reply("c1-r1", "c1", A, "twitter", T + 120),
    ]
    deployment.produce(phase_one)
    wait_until(
        lambda: value(worker.scrape(), "socialcare_events_processed_total") >= len(phase_one),
        30, "phase one processed", worker.log_tail,
    )  # fmt: skip

    # Phase two: c6 at +2400 moves the watermark to +2400 - 1800 = +600 (c3 breaches, c2
    # already decided); a mention at +100 is now too late (< +600); garbage is dead-lettered.
    phase_two: list[Any] = [
        mention("c6-m1", "c6", N, "facebook", T + 2400, priority="low"),
        mention("late-m1", "late", N, "facebook", T + 100),
        (deployment.topics["replies"], b"c7", b'{"event_id": "broken", "type": '),
    ]
    deployment.produce(phase_two)
    total = len(phase_one) + len(phase_two)
    wait_until(
        lambda: value(worker.scrape(), "socialcare_events_processed_total") >= total,
        30, "phase two processed", worker.log_tail,
    )  # fmt: skip
    wait_until(
        lambda: value(worker.scrape(), "socialcare_open_conversations", state="breached") == 1,
        10, "breach by silence of c3", worker.log_tail,
    )  # fmt: skip
    m = worker.scrape()

    def v(name: str, **labels: str) -> float:
        return value(m, name, **labels)

    # Health: 17 + 3 inputs = 16 counted + 1 duplicate + 2 dead letters (+1 counted: c6).
    assert v("socialcare_events_processed_total", outcome="counted") == 17
    assert v("socialcare_events_processed_total", outcome="duplicate") == 1
    assert v("socialcare_events_processed_total", outcome="deadlettered") == 2
    assert v("socialcare_deadletters_total", reason="too_late") == 1
    assert v("socialcare_deadletters_total", reason="invalid_json") == 1

    # Inbound posts: Acme/twitter c1 x2 + c2 = 3; Acme/facebook 1; Nimbus/twitter 2; Nimbus/fb 1.
    assert v("socialcare_mentions_total", brand=A, channel="twitter") == 3
    assert v("socialcare_mentions_total", brand=A, channel="facebook") == 1
    assert v("socialcare_mentions_total", brand=N, channel="twitter") == 2
    assert v("socialcare_mentions_total", brand=N, channel="facebook") == 1
    assert v("socialcare_conversations_opened_total", brand=A, channel="twitter") == 2
    assert v("socialcare_conversations_opened_total", brand=A, channel="facebook") == 1
    assert v("socialcare_conversations_opened_total", brand=N) == 3

    assert v("socialcare_replies_total", brand=A, channel="twitter", kind="human") == 2
    assert v("socialcare_replies_total", brand=A, channel="twitter", kind="automated") == 1
    assert v("socialcare_replies_total", brand=A, channel="facebook", kind="automated") == 1
    assert v("socialcare_replies_total", brand=N, channel="twitter", kind="human") == 4

    # First response: Acme/twitter 120 + 900; Nimbus/twitter 100 + 50.
    assert v("socialcare_first_response_seconds_count", brand=A, channel="twitter") == 2
    assert v("socialcare_first_response_seconds_sum", brand=A, channel="twitter") == 1020
    acme_buckets = {"60.0": 0, "120.0": 1, "600.0": 1, "900.0": 2, "+Inf": 2}
    for le, count in acme_buckets.items():
        assert (
            v("socialcare_first_response_seconds_bucket", brand=A, channel="twitter", le=le)
            == count
        )
    assert v("socialcare_first_response_seconds_sum", brand=N, channel="twitter") == 150
    nimbus_buckets = {"30.0": 0, "60.0": 1, "120.0": 2, "+Inf": 2}
    for le, count in nimbus_buckets.items():
        assert (
            v("socialcare_first_response_seconds_bucket", brand=N, channel="twitter", le=le)
            == count
        )
    assert v("socialcare_first_response_seconds_count", brand=A, channel="facebook") == 0

    sla = "socialcare_first_response_sla_total"
    assert v(sla, brand=A, channel="twitter", priority="normal", outcome="met") == 1
    assert v(sla, brand=A, channel="twitter", priority="normal", outcome="breached") == 1
    assert v(sla, brand=A, channel="facebook", priority="urgent", outcome="breached") == 1
    assert v(sla, brand=N, channel="twitter", priority="normal", outcome="met") == 1
    assert v(sla, brand=N, channel="twitter", priority="high", outcome="met") == 1
    assert v(sla, outcome="breached") == 2
    assert v(sla, outcome="met") == 3

    assert v("socialcare_resolutions_total", brand=N, channel="twitter") == 2
    assert v("socialcare_resolutions_total", brand=A) == 0
    assert v("socialcare_redirections_total", brand=N, channel="twitter", to_channel="dm") == 1
    assert v("socialcare_surveys_total", brand=N, channel="twitter", kind="csat") == 1

    # Open at watermark +600: c3 breached by silence; c6 awaiting its first response
    # (deadline +3000, at risk from +2400); c1 awaiting a next response (follow-up at +150,
    # default next-response target 1 h: deadline +3750); c2 answered, awaiting the customer
    # (resolution by inactivity after 24 h). c4 and c5 are resolved.
    opened = "socialcare_open_conversations"
    assert v(opened, brand=A, channel="facebook", state="breached") == 1
    assert v(opened, brand=N, channel="facebook", state="awaiting_first_response") == 1
    assert v(opened, brand=A, channel="twitter", state="awaiting_next_response") == 1
    assert v(opened, brand=A, channel="twitter", state="awaiting_customer") == 1
    assert v(opened) == 4
    # All four opened within the hour before the latest event time (+2400): age lt_1h.
    assert v("socialcare_open_conversations_by_age", age="lt_1h") == 4
    assert v("socialcare_open_conversations_by_age") == 4
    # Resolution SLA (default 86400 s): c4 (+800 after opening) and c5 (+850) met.
    assert v("socialcare_resolution_sla_total", brand=N, outcome="met") == 2
    assert v("socialcare_resolution_sla_total", outcome="breached") == 0
    assert v("socialcare_resolutions_total", brand=N, how="explicit") == 2
    # Response rate: customer posts followed by a human reply: c1-m1 (c1-m2 at +150 is
    # after the last reply), c2, c4, c5 = 4 of 7 (c3 only bot, c6 none).
    assert v("socialcare_mentions_answered_total") == 4
    # First contact resolution: c5 (one human reply before +1200? no: r1 +400 and the
    # resolving r2 +1200 are two) -> none; c4: r1 +300 then r2 +1000, redirected -> none.
    assert v("socialcare_first_contact_resolutions_total") == 0
    # Tweets to resolution, c4: customer 1, brand 2 (r1, r2); c5: customer 1, brand 2.
    assert v("socialcare_posts_to_resolution_sum", brand=N, side="brand") == 4
    assert v("socialcare_posts_to_resolution_sum", brand=N, side="customer") == 2
    # Customer effort in channels: c4 twitter + dm = 2, c5 twitter = 1.
    assert v("socialcare_customer_effort_channels_sum", brand=N) == 3
    assert v("socialcare_customer_effort_channels_count", brand=N) == 2
    # CSAT 5 of c5 (not redirected).
    assert v("socialcare_csat_satisfied_total", brand=N, redirected="false") == 1
    # Resolution time: c4 800 s (redirected), c5 850 s (not redirected).
    assert v("socialcare_resolution_seconds_sum", brand=N, redirected="true") == 800
    assert v("socialcare_resolution_seconds_sum", brand=N, redirected="false") == 850

    # Windows end at the latest event time, +2400: the 5m window holds buckets from
    # +2160 to +2400 (only c6); 1h and 24h hold everything.
    wm = "socialcare_window_mentions"
    assert v(wm, brand=N, channel="facebook", window="5m") == 1
    assert v(wm, brand=A, channel="twitter", window="5m") == 0
    assert v(wm, brand=A, channel="twitter", window="1h") == 3
    assert v(wm, brand=A, channel="twitter", window="24h") == 3
    assert v(wm, window="1h") == 7
    ws = "socialcare_window_first_response_sla"
    assert v(ws, window="5m") == 0
    assert v(ws, outcome="met", window="1h") == 3
    assert v(ws, outcome="breached", window="1h") == 2
    assert (
        v(ws, brand=A, channel="facebook", priority="urgent", outcome="breached", window="24h") == 1
    )
    assert v("socialcare_window_resolutions", brand=N, channel="twitter", window="1h") == 2
    assert v("socialcare_window_resolutions", window="5m") == 0

    # Dead letters carry the original bytes, the source and a reason.
    letters = deployment.dead_letters(expected=2)
    assert sorted(letter["reason"] for letter in letters) == ["invalid_json", "too_late"]
    broken = next(letter for letter in letters if letter["reason"] == "invalid_json")
    assert broken["source_topic"] == deployment.topics["replies"]
    import base64

    assert base64.b64decode(broken["original_value_b64"]) == b'{"event_id": "broken", "type": '
    late = next(letter for letter in letters if letter["reason"] == "too_late")
    assert late["event_id"] == "late-m1"

    # Restart: the numbers come back from the changelogs, not from the process.
    worker.stop()
    again = workers(deployment, name="worker-restarted")
    again.wait_ready()
    wait_until(
        lambda: value(again.scrape(), "socialcare_mentions_total") == 7,
        30, "state recovered after restart", again.log_tail,
    )  # fmt: skip
    r = again.scrape()
    recovered = ("socialcare_mentions", "socialcare_first_response", "socialcare_open",
                 "socialcare_window", "socialcare_resolutions", "socialcare_replies")  # fmt: skip
    mismatches = [
        (key[0], sorted(key[1]), expected, r.get(key))
        for key, expected in m.items()
        if key[0].startswith(recovered) and r.get(key, 0.0) != expected
    ]
    assert mismatches == [], "\n".join(map(str, mismatches))

    # `?name[]=` restricts the page to the samples named (a cheap probe: no business series).
    probe = f"{again.url}?name[]=socialcare_events_processed_total&name[]=socialcare_mentions_total"
    with urllib.request.urlopen(probe, timeout=5) as response:
        lines = [line for line in response.read().decode().splitlines() if line[:1] != "#"]
    assert lines and all(
        line.startswith(("socialcare_events_processed_total{", "socialcare_mentions_total{"))
        for line in lines
    ), lines
    counted = sum(
        float(line.rsplit(" ", 1)[1])
        for line in lines
        if line.startswith("socialcare_events_processed_total{") and 'outcome="counted"' in line
    )
    assert counted == value(r, "socialcare_events_processed_total", outcome="counted")
    mentions = [line for line in lines if line.startswith("socialcare_mentions_total{")]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in mentions) == 7
