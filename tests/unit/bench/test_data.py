"""The long-thread backlog: valid v1 events, threads of the asked length, in event time."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import orjson

from benchmarks.data import thread_events
from processor.domain.events import AnyEvent, decode_event


def test_threads_have_the_asked_length_and_come_in_event_time_order() -> None:
    events = thread_events(6_000, 2_000, seed=3)
    assert len(events) == 6_000
    assert Counter(e["conversation_id"] for e in events) == {
        "thread-3-0": 2_000, "thread-3-1": 2_000, "thread-3-2": 2_000,
    }  # fmt: skip
    times = [datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00")) for e in events]
    assert times == sorted(times)
    assert len({e["event_id"] for e in events}) == 6_000
    for event in events[:50]:
        assert isinstance(decode_event(orjson.dumps(event), event["type"], 10**6), AnyEvent)
    thread = [e for e in events if e["conversation_id"] == "thread-3-0"]
    assert [e["type"] for e in thread[:4]] == ["mention", "reply", "mention", "reply"]
    assert sum(1 for e in thread if e.get("resolves")) == 10  # every 100th reply
