"""Team and agent performance, customer value at stake and staffing cost, exact values."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Deployment, WorkerProcess, value, wait_until
from tests.integration.test_scenario import event, mention

pytestmark = pytest.mark.integration


def test_team_agent_value_and_cost(
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    sla = tmp_path / "sla.yaml"
    sla.write_text("default: {first_response: 3600, resolution: 3000}\n")
    deployment = deployment_factory(
        partitions=1,
        SOCIALCARE_CLOCK="event",
        SOCIALCARE_SLA_CONFIG=str(sla),
        SOCIALCARE_TEAMS='["tier1", "tier2"]',
        SOCIALCARE_AGENT_LABELS='["agent-a"]',
        SOCIALCARE_TEAM_STAFFING='{"tier1": {"hourly_cost": 40, "agents": 5}}',
    )
    worker = workers(deployment)
    worker.wait_ready()
    T = time.time() - 4 * 3600
    B = "TeamCo"

    def reply(
        eid: str, conv: str, at: float, team: str, agent: str, **f: object
    ) -> dict[str, object]:
        return event("reply", eid, conv, B, "twitter", at, team=team, agent_id=agent, **f)

    deployment.produce([
        # t1 (value 1200): tier1/agent-a answers at +120, tier2 resolves at +600.
        mention("t1-m", "t1", B, "twitter", T, customer_value=1200),
        reply("t1-r1", "t1", T + 120, "tier1", "agent-a"),
        reply("t1-r2", "t1", T + 600, "tier2", "agent-b", resolves=True),
        # t2 (value max(500, 300) = 500): never answered; breached once the watermark passes
        # its deadline T+10+3600 (t3 at T+7300 with 1 h lateness -> watermark T+3700).
        mention("t2-m1", "t2", B, "twitter", T + 10, customer_value=500),
        mention("t2-m2", "t2", B, "twitter", T + 20, customer_value=300),
        # t4: answered at +90 by a team outside the allowlist and an unlisted agent.
        mention("t4-m", "t4", B, "twitter", T + 30),
        reply("t4-r", "t4", T + 90, "night-shift", "agent-z"),
        # t4 follow-up at +200 answered at +260: a next response of 60 s (met, 1 h target).
        mention("t4-m2", "t4", B, "twitter", T + 200),
        reply("t4-r2", "t4", T + 260, "night-shift", "agent-z"),
        mention("t3-m", "t3", B, "twitter", T + 7300),
    ])  # fmt: skip
    wait_until(
        lambda: value(worker.scrape(), "socialcare_events_processed_total") == 10,
        30, "all processed", worker.log_tail,
    )  # fmt: skip
    wait_until(
        lambda: value(worker.scrape(), "socialcare_breached_customer_value_total") == 500,
        10, "t2 breached by silence", worker.log_tail,
    )  # fmt: skip
    m = worker.scrape()

    def v(name: str, **labels: str) -> float:
        return value(m, name, brand=B, **labels)

    assert v("socialcare_team_replies_total", team="tier1") == 1
    assert v("socialcare_team_replies_total", team="tier2") == 1
    assert v("socialcare_team_replies_total", team="other") == 2  # night-shift, twice
    assert v("socialcare_next_response_seconds_sum") == 60
    assert v("socialcare_next_response_seconds_count") == 1
    assert v("socialcare_next_response_sla_total", outcome="met") == 1
    assert v("socialcare_agent_replies_total", agent="agent-a") == 1
    assert v("socialcare_agent_replies_total") == 1  # agent-b and agent-z are not labelled
    assert v("socialcare_team_first_response_seconds_sum", team="tier1") == 120
    assert v("socialcare_team_first_response_seconds_sum", team="other") == 60
    assert v("socialcare_team_resolution_seconds_sum", team="tier2") == 600
    assert v("socialcare_open_customer_value", state="breached") == 500
    assert v("socialcare_open_customer_value") == 500  # t1 resolved, t3/t4 carry no value
    assert value(m, "socialcare_team_staffing_cost_per_hour", team="tier1") == 200  # 40 x 5
    # Ages at the latest event time T+7300: t2 (opened T+10) and t4 (T+30, awaiting the
    # customer) are 2 h old (1h_4h); t3 was opened at T+7300 (lt_1h).
    assert v("socialcare_open_conversations_by_age", age="1h_4h") == 2
    assert v("socialcare_open_conversations_by_age", age="lt_1h") == 1
    # Resolution SLA (3000 s): t1 resolved at +600: met. t2 unresolved, deadline T+3010
    # <= watermark T+3700: breached by silence. t4 waits on the customer since its reply at
    # +260 (before its deadline T+3030): a resolution by inactivity may still date back to
    # it, so no breach yet. t3's deadline is later than the watermark.
    assert v("socialcare_resolution_sla_total", outcome="met") == 1
    assert v("socialcare_resolution_sla_total", outcome="breached") == 1
    text = worker.raw()
    assert "agent-z" not in text and "night-shift" not in text
