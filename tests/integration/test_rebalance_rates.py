"""A rebalance under a real Prometheus: rates never overshoot, no burn-rate alert (issue 11).

History with many breached first responses sits in the state of four partitions; live
traffic then answers everything in time. Two workers share the partitions: the second
joins mid-stream and the first is killed. Were a partition's counters to drop on one worker
and jump on the other, `increase()` would count its breached history again and the
first-response burn-rate alert (test windows: 60 s and 20 s, objective 50 %) would page.
With the `partition` label each series moves whole: increases stay within the true ones.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Deployment, WorkerProcess, free_port, value, wait_until
from tests.integration.test_prometheus import ALERT, Prometheus, fast_rules

pytestmark = pytest.mark.integration

BRAND = "AcmeSupport"
HISTORY = 1200  # conversations breached before Prometheus looks
LIVE_PER_SECOND = 6  # conversations answered within the target


def stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def conversation(name: str, opened: float, answered: float | None) -> list[dict[str, Any]]:
    base = {"conversation_id": name, "brand": BRAND, "channel": "twitter", "schema_version": 1}
    events = [{**base, "event_id": f"{name}-m", "type": "mention", "occurred_at": stamp(opened),
               "author_id": f"cust-{name}"}]  # fmt: skip
    if answered is not None:
        events.append({**base, "event_id": f"{name}-r", "type": "reply",
                       "occurred_at": stamp(answered), "agent_id": "agent-1"})  # fmt: skip
    return events


def test_a_worker_joins_and_one_dies_without_rate_overshoot(
    tmp_path: Path,
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
) -> None:
    if shutil.which("prometheus") is None or shutil.which("promtool") is None:
        pytest.skip("needs Debian's prometheus and promtool: apt-get install -y prometheus")
    sla = tmp_path / "sla.yaml"
    sla.write_text("default: {first_response: 60, resolution: 86400}\n")
    deployment = deployment_factory(partitions=4, SOCIALCARE_SLA_CONFIG=str(sla))
    now = time.time()
    history = [event for n in range(HISTORY)
               for event in conversation(f"old-{n}", now - 900 + n * 0.1, None)]  # fmt: skip
    deployment.produce(history)
    first_port, second_port = free_port(), free_port()
    first = workers(deployment, name="first", port=first_port)
    first.wait_ready()
    wait_until(lambda: value(first.scrape(), "socialcare_first_response_sla_total",
                             outcome="breached") == HISTORY,
               60, "the history breached", first.log_tail)  # fmt: skip
    prometheus = Prometheus(
        tmp_path, fast_rules(tmp_path, partitions=4),
        {"socialcare": [first_port, second_port]}, interval="1s",
    )  # fmt: skip
    live_sent = [0]
    stop = threading.Event()

    def live_traffic() -> None:
        n = 0
        while not stop.is_set():
            at = time.time()
            batch = [event for k in range(LIVE_PER_SECOND)
                     for event in conversation(f"live-{n + k}", at - 2, at - 1)]  # fmt: skip
            deployment.produce(batch)
            n += LIVE_PER_SECOND
            live_sent[0] = n
            time.sleep(max(0.0, 1.0 - (time.time() - at)))

    feeder = threading.Thread(target=live_traffic, daemon=True)
    alerts_seen: list[str] = []

    def watch(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if prometheus.firing(ALERT):
                alerts_seen.append(time.strftime("%X"))
            time.sleep(1)

    try:
        started = time.time()
        feeder.start()
        watch(25)  # warm-up: the live windows fill with answered conversations
        second = workers(deployment, name="second", port=second_port)
        second.wait_ready()
        watch(20)
        first.kill()
        wait_until(lambda: value(second.scrape(), "socialcare_owned_partitions") == 4, 60,
                   "the survivor owns every partition", second.log_tail)  # fmt: skip
        watch(25)
        stop.set()
        feeder.join(timeout=10)
        live = live_sent[0]
        wait_until(lambda: value(second.scrape(), "socialcare_first_response_sla_total",
                                 outcome="met") == live,
                   60, "every live conversation counted", second.log_tail)  # fmt: skip
        time.sleep(3)  # two more scrapes
        span = f"{int(time.time() - started) + 5}s"
        met = prometheus.query(
            f'sum(increase(socialcare_first_response_sla_total{{outcome="met"}}[{span}]))'
        )
        breached = prometheus.query(
            f'sum(increase(socialcare_first_response_sla_total{{outcome="breached"}}[{span}]))'
        )
        met_increase = float(met[0]["value"][1]) if met else 0.0
        breached_increase = float(breached[0]["value"][1]) if breached else 0.0
        print(f"live {live}, increase met {met_increase:.1f}, breached {breached_increase:.1f}")
        # Extrapolation to the range's ends may add a fraction of a scrape interval's worth.
        assert met_increase <= live * 1.05, (met_increase, live)
        assert met_increase >= live * 0.5
        assert breached_increase <= 1.0, breached_increase  # no live breach; history not again
        assert alerts_seen == [], f"{ALERT} fired at {alerts_seen}"
    finally:
        stop.set()
        prometheus.stop()
