"""The aligner hands records over in event-time order per partition, whatever the fetch order."""

from __future__ import annotations

import random

from processor.stream.alignment import Aligner, event_time_of

TOPICS = ("mentions", "replies", "redirections", "surveys")


def lags(**known: int | None) -> object:
    """lag_of with the given lags (topic=lag), 0 for the others."""
    return lambda topic, partition: known.get(topic, 0)


def polled(at: float | None) -> object:
    """polled_of: every topic-partition's last fetch response came at `at`."""
    return lambda topic, partition: at


def test_event_time_is_read_from_the_raw_payload() -> None:
    raw = b'{"event_id":"e","occurred_at":"2017-10-31T22:10:47Z","type":"mention"}'
    assert event_time_of(raw) == 1509487847.0
    assert event_time_of(b'{"occurred_at": "2017-10-31T23:10:47+01:00"}') == 1509487847.0
    for bad in (None, b"", b"{not json", b'{"occurred_at": 12}', b'{"occurred_at":"soon"}'):
        assert event_time_of(bad) == float("-inf")


def test_records_of_several_topics_come_out_in_event_time_order() -> None:
    aligner: Aligner[str] = Aligner(TOPICS)
    # The replies topic was fetched first and is ahead: nothing goes while mentions has
    # records on the broker (lag 3).
    for at in (10.0, 30.0, 50.0):
        aligner.add("replies", 0, at, f"r{at:g}")
    assert aligner.release(0.0, lags(mentions=3)).items == []
    for at in (5.0, 20.0, 40.0):
        aligner.add("mentions", 0, at, f"m{at:g}")
    # Now mentions and replies have records, redirections and surveys are caught up (lag 0):
    # merged by time until a topic with lag > 0 runs dry.
    released = aligner.release(1.0, lags())
    assert released.items == ["m5", "r10", "m20", "r30", "m40", "r50"]
    assert released.enforced == 0
    assert aligner.stream_time(0) == 50.0


def test_a_topic_with_unread_records_holds_its_partition_until_the_max_wait() -> None:
    aligner: Aligner[str] = Aligner(TOPICS, max_wait=30.0)
    aligner.add("replies", 1, 100.0, "r")
    waiting = lags(mentions=5)
    assert aligner.release(0.0, waiting).items == []
    assert aligner.release(29.9, waiting).items == []
    released = aligner.release(30.0, waiting)
    assert (released.items, released.enforced) == (["r"], 1)


def test_an_unknown_lag_holds_like_unread_records() -> None:
    aligner: Aligner[str] = Aligner(TOPICS, max_wait=10.0)
    aligner.add("mentions", 0, 1.0, "m")
    assert aligner.release(0.0, lags(surveys=None)).items == []
    assert aligner.release(10.0, lags(surveys=None)).items == ["m"]


def test_a_caught_up_quiet_topic_holds_nothing_back_by_default() -> None:
    aligner: Aligner[str] = Aligner(TOPICS)
    aligner.add("mentions", 0, 1.0, "m")
    released = aligner.release(0.0, lags())
    assert (released.items, released.enforced) == (["m"], 0)


def test_the_idle_wait_delays_only_while_a_topic_is_empty() -> None:
    aligner: Aligner[str] = Aligner(TOPICS, idle_wait=2.0)
    aligner.add("mentions", 0, 1.0, "m1")
    assert aligner.release(0.0, lags()).items == []
    assert aligner.release(1.9, lags()).items == []
    assert aligner.release(2.0, lags()).items == ["m1"]


def test_partitions_are_independent() -> None:
    aligner: Aligner[str] = Aligner(TOPICS)
    aligner.add("replies", 0, 10.0, "p0")
    aligner.add("replies", 1, 10.0, "p1")
    # partition 0's mentions have unread records, partition 1's do not
    released = aligner.release(0.0, lambda topic, partition: 4 if partition == 0 else 0)
    assert released.items == ["p1"]
    assert aligner.buffered(0) == 1


def test_any_fetch_order_gives_the_event_time_order() -> None:
    rng = random.Random(7)
    records = [(rng.choice(TOPICS), rng.uniform(0, 1000)) for _ in range(400)]
    by_topic = {topic: sorted(at for t, at in records if t == topic) for topic in TOPICS}
    aligner: Aligner[float] = Aligner(TOPICS)
    cursors = dict.fromkeys(TOPICS, 0)
    out: list[float] = []
    while any(cursors[topic] < len(by_topic[topic]) for topic in TOPICS):
        # fetch a random chunk of a random topic, as a consumer's fetches do
        topic = rng.choice([t for t in TOPICS if cursors[t] < len(by_topic[t])])
        start = cursors[topic]
        cursors[topic] = min(len(by_topic[topic]), start + rng.randint(1, 40))
        for at in by_topic[topic][start : cursors[topic]]:
            aligner.add(topic, 0, at, at)

        def lag(topic: str, partition: int) -> int:
            return len(by_topic[topic]) - cursors[topic]

        out += aligner.release(0.0, lag).items
    assert out == sorted(at for _, at in records)


def test_a_topic_far_ahead_is_paused_and_resumed() -> None:
    aligner: Aligner[str] = Aligner(TOPICS, max_buffered=4)
    for n in range(5):
        aligner.add("replies", 2, float(n), f"r{n}")
    assert aligner.backpressure() == ({("replies", 2)}, set())
    assert aligner.backpressure() == (set(), set())  # already paused
    for n in range(4):
        aligner.add("mentions", 2, float(n) - 0.5, f"m{n}")
    aligner.release(0.0, lags(mentions=1))
    assert aligner.buffered(2) == 2  # r3, r4 wait for the unread mentions
    assert aligner.backpressure() == (set(), {("replies", 2)})
    assert aligner.paused == frozenset()


def test_revoked_partitions_are_dropped() -> None:
    aligner: Aligner[str] = Aligner(TOPICS, max_buffered=1)
    aligner.add("replies", 3, 1.0, "a")
    aligner.add("replies", 3, 2.0, "b")
    aligner.backpressure()
    assert aligner.drop({3}) == ["a", "b"]
    assert (aligner.buffered(3), aligner.paused) == (0, frozenset())


def test_a_jump_far_ahead_waits_for_fetches_not_yet_seen() -> None:
    # Lags are known from fetch responses: records produced to the replies topic an instant
    # ago may still look like lag 0. A mention that would move stream time an hour ahead
    # waits until the quiet topics were answered a fetch sent after it was fetched
    # (`polled`: a time a request was sent after); an ordinary step does not wait.
    aligner: Aligner[str] = Aligner(TOPICS, far_ahead=1800.0)
    aligner.add("mentions", 0, 1000.0, "m1", fetched_at=0.0)
    assert aligner.release(0.0, lags(), polled(0.0)).items == ["m1"]
    aligner.add("mentions", 0, 1060.0, "m2", fetched_at=0.1)  # one minute later: at once
    assert aligner.release(0.1, lags(), polled(0.0)).items == ["m2"]
    aligner.add("mentions", 0, 1060.0 + 7200, "m3", fetched_at=0.2)  # two hours ahead: waits
    assert aligner.release(0.2, lags(), polled(0.1)).items == []
    aligner.add("replies", 0, 1100.0, "r1", fetched_at=1.0)  # the reply arrives meanwhile
    assert aligner.release(1.0, lags(), polled(0.15)).items == ["r1"]
    assert aligner.release(2.1, lags(), polled(0.15)).items == []  # the clock alone: no
    assert aligner.release(2.3, lags(), polled(0.25)).items == ["m3"]


def test_a_jump_far_ahead_waits_for_a_fetch_not_only_for_the_clock() -> None:
    # A starved CPU: seconds pass with no fetch response handled. The jump waits for one
    # answering a request sent after it was fetched; with none known at all, `max_wait`
    # after its hold began lets it go.
    aligner: Aligner[str] = Aligner(TOPICS, far_ahead=1800.0, max_wait=30.0)
    aligner.add("mentions", 0, 1000.0, "m1", fetched_at=0.0)
    assert aligner.release(0.0, lags(), polled(0.0)).items == ["m1"]
    aligner.add("mentions", 0, 9000.0, "m2", fetched_at=1.0)
    assert aligner.release(1.0, lags(), polled(0.5)).items == []
    assert aligner.release(5.0, lags(), polled(0.5)).items == []  # no fetch since
    assert aligner.release(5.1, lags(), polled(0.9)).items == []  # a request sent too early
    # The next fetch brings a reply and shows the other topics quiet: the reply goes
    # first, then the jump.
    aligner.add("replies", 0, 1500.0, "r1", fetched_at=5.3)
    assert aligner.release(5.3, lags(), polled(1.2)).items == ["r1", "m2"]
    aligner.add("mentions", 0, 20000.0, "m3", fetched_at=6.0)
    assert aligner.release(6.0, lags()).items == []  # no fetch time known at all
    assert aligner.release(35.0, lags()).items == []
    assert aligner.release(36.0, lags()).items == ["m3"]  # `max_wait` after its hold


def test_a_jump_read_ahead_long_ago_does_not_wait() -> None:
    # A backlog fetched into the buffers (lag 0 everywhere, the broker has nothing more):
    # the quiet topics were fetched again well after these records, so nothing can be in
    # flight and a jump far ahead goes at once.
    aligner: Aligner[str] = Aligner(TOPICS, far_ahead=1800.0)
    for hour in range(10):
        aligner.add("mentions", 0, 3600.0 * hour, f"m{hour}", fetched_at=0.0)
    assert aligner.release(30.0, lags(), polled(29.0)).items == [f"m{h}" for h in range(10)]


def test_a_jump_produced_long_ago_does_not_wait_for_a_new_fetch() -> None:
    # A backlog after an outage: records produced an hour ago, fetched just now. What was
    # produced before them was on the broker long before any recent fetch: no wait. A
    # record produced an instant ago waits for a fetch sent after it was fetched.
    aligner: Aligner[str] = Aligner(TOPICS, far_ahead=1800.0, clock_margin=2.0)
    aligner.add("mentions", 0, 1000.0, "m1", fetched_at=0.0)
    assert aligner.release(0.0, lags(), polled(0.0)).items == ["m1"]
    aligner.add("mentions", 0, 9000.0, "m2", fetched_at=3600.0, created_at=10.0)
    assert aligner.release(3600.0, lags(), polled(12.0)).items == ["m2"]
    aligner.add("mentions", 0, 20000.0, "m3", fetched_at=3601.0, created_at=3600.5)
    assert aligner.release(3601.0, lags(), polled(3600.9)).items == []
    assert aligner.release(3602.0, lags(), polled(3601.0)).items == ["m3"]


def test_a_jump_waits_for_a_quiet_topic_while_a_busy_one_still_has_records_to_read() -> None:
    # An import in progress: mentions have records on the broker not read yet (lag 50) and
    # buffered ones two hours ahead; redirections looks caught up (lag 0) by a fetch
    # response older than them. The jump waits for a fresher one.
    aligner: Aligner[str] = Aligner(TOPICS, far_ahead=1800.0)
    aligner.add("redirections", 0, 1000.0, "d1", fetched_at=0.0)
    assert aligner.release(0.0, lags(), polled(0.0)).items == ["d1"]
    aligner.add("mentions", 0, 1000.0 + 7200, "m1", fetched_at=1.0)
    assert aligner.release(1.0, lags(mentions=50), polled(0.5)).items == []
    aligner.add("redirections", 0, 1100.0, "d2", fetched_at=1.5)  # it had one more
    assert aligner.release(1.5, lags(mentions=50), polled(1.1)).items == ["d2", "m1"]


def test_a_busy_topic_creeping_ahead_of_a_caught_up_one_waits_for_it() -> None:
    # A replay: surveys' records became visible a moment before the mentions' (produce
    # order is not visibility order across topic-partitions). Each survey is a small step
    # from the last, but together they move an hour and more past the mentions' last
    # record: past half the lateness they wait, once, for fetches not yet seen.
    aligner: Aligner[str] = Aligner(TOPICS, far_ahead=1800.0)
    aligner.add("mentions", 0, 1000.0, "m1", fetched_at=0.0)
    aligner.add("surveys", 0, 1000.0, "s0", fetched_at=0.0)
    assert aligner.release(0.0, lags(), polled(0.0)).items == ["m1", "s0"]
    for minute in range(1, 61):
        aligner.add("surveys", 0, 1000.0 + 60 * minute, f"s{minute}", fetched_at=0.1)
    released = aligner.release(0.1, lags(), polled(0.0)).items
    assert released == [f"s{minute}" for minute in range(1, 31)]  # up to 1800 s ahead
    aligner.add("mentions", 0, 2900.0, "m2", fetched_at=0.5)  # the mentions' fetch meanwhile
    # The replies and redirections topics never brought a record: quiet since 1000, they
    # are waited for too, once (a fetch sent after the survey's, at 0.1).
    assert aligner.release(0.5, lags(), polled(0.05)).items == []
    assert aligner.release(0.6, lags(), polled(0.2)).items == ["s31", "m2"] + [
        f"s{m}" for m in range(32, 61)
    ]


def test_a_quiet_topic_costs_one_wait_per_half_lateness_when_caught_up() -> None:
    aligner: Aligner[str] = Aligner(TOPICS, far_ahead=1800.0)
    aligner.add("surveys", 0, 0.0, "s", fetched_at=0.0)
    assert aligner.release(0.0, lags(), polled(0.0)).items == ["s"]
    for minute in range(1, 61):
        aligner.add("mentions", 0, 60.0 * minute, f"m{minute}", fetched_at=1.0)
    released = aligner.release(1.0, lags(), polled(0.5)).items
    assert len(released) == 30  # up to 1800 s past the survey
    assert aligner.release(1.2, lags(), polled(0.9)).items == []
    # A fetch sent after theirs: then the next half hour goes at once.
    assert aligner.release(2.1, lags(), polled(1.1)).items == [f"m{m}" for m in range(31, 61)]


def test_a_topic_that_never_brought_a_record_is_anchored_where_it_was_found_empty() -> None:
    # A burst of history into a caught-up worker: the mentions' fetch shows up first, the
    # replies topic has never had a record here. Before, its quiet point crept with the
    # stream time, so the mentions ran hours ahead and the replies came too late (the
    # SIGKILL test's reference run dead-lettered surveys so). Now it is anchored where it
    # was first found empty: half the lateness past it, the mentions wait for its fetch.
    aligner: Aligner[str] = Aligner(TOPICS, far_ahead=1800.0)
    for minute in range(0, 61):
        aligner.add("mentions", 0, 1000.0 + 60 * minute, f"m{minute}", fetched_at=0.0)
    released = aligner.release(0.0, lags(), polled(-0.1)).items
    assert released == [f"m{minute}" for minute in range(0, 31)]
    aligner.add("replies", 0, 1000.0 + 60 * 31 + 1, "r", fetched_at=0.3)  # shows up meanwhile
    # The other two topics: still waited for.
    assert aligner.release(0.3, lags(), polled(-0.1)).items == []
    assert aligner.release(2.1, lags(), polled(0.1)).items == ["m31", "r"] + [
        f"m{minute}" for minute in range(32, 61)]  # fmt: skip


def test_the_max_wait_counts_from_when_the_topic_ran_dry_not_from_an_earlier_wait() -> None:
    # A backlog: each second, replies brings a record and runs dry again with more on the
    # broker, while surveys and redirections, caught up, stay empty all along (never all
    # four topics buffered at once). Each wait for replies starts when it ran dry: thirty
    # seconds of such short waits do not add up to the max wait.
    aligner: Aligner[str] = Aligner(TOPICS, max_wait=30.0)
    aligner.add("mentions", 0, 0.0, "m0")
    for second in range(40):
        aligner.add("replies", 0, second + 0.5, f"r{second}")
        aligner.add("mentions", 0, second + 1.0, f"m{second + 1}")
        released = aligner.release(float(second), lags(replies=100))
        assert (released.items, released.enforced) == ([f"m{second}", f"r{second}"], 0)
    assert aligner.release(68.9, lags(replies=7)).items == []
    released = aligner.release(69.0, lags(replies=7))
    assert (released.items, released.enforced) == (["m40"], 1)


def test_a_topic_that_brings_records_resets_its_wait() -> None:
    aligner: Aligner[str] = Aligner(TOPICS, max_wait=30.0)
    aligner.add("mentions", 0, 1.0, "m1")
    assert aligner.release(0.0, lags(replies=2)).items == []
    aligner.add("replies", 0, 2.0, "r2")
    aligner.add("mentions", 0, 3.0, "m3")
    # replies brought a record, then ran dry again at 20 s with one more unread: m3 is
    # held until 50 s, not 30 s.
    assert aligner.release(20.0, lags(replies=1)).items == ["m1", "r2"]
    assert aligner.release(49.9, lags(replies=1)).items == []
    released = aligner.release(50.0, lags(replies=1))
    assert (released.items, released.enforced) == (["m3"], 1)


def test_a_quiet_topic_with_new_records_waits_from_when_they_showed() -> None:
    # surveys, caught up, was passed for a minute; then a survey is on the broker, unread:
    # that is a new wait, held the whole max wait from then.
    aligner: Aligner[str] = Aligner(TOPICS, max_wait=30.0)
    for second in range(60):
        aligner.add("mentions", 0, float(second), f"m{second}")
        assert aligner.release(float(second), lags()).items == [f"m{second}"]
    aligner.add("mentions", 0, 60.0, "m60")
    assert aligner.release(60.0, lags(surveys=1)).items == []
    assert aligner.release(89.9, lags(surveys=1)).items == []
    released = aligner.release(90.0, lags(surveys=1))
    assert (released.items, released.enforced) == (["m60"], 1)


def test_a_partition_taken_up_with_its_state_holds_a_first_record_far_past_it() -> None:
    # A worker takes a partition over (a restart, a rebalance) whose state last saw event
    # time 1,000; a burst a day later is being produced: its replies four hours into it
    # are fetched while the response shows the mentions caught up (the replies' partition
    # appended first by the produce request). Resumed from the state, the reply waits for
    # a fetch sent after it was fetched, which brings the mention: mention first.
    day, later = 86_400.0, 4 * 3600.0
    resumed: Aligner[str] = Aligner(TOPICS, far_ahead=1800.0)
    resumed.resume_from(0, 1000.0)
    resumed.resume_from(1, None)  # a partition without state: nothing to resume from
    resumed.add("replies", 0, 1000.0 + day + later, "r", fetched_at=5.0)
    assert resumed.release(5.0, lags(), polled(4.9)).items == []
    resumed.add("mentions", 0, 1000.0 + day, "m", fetched_at=5.05)
    # The mention is a day past the state too: it waits for the next fetch as well.
    assert resumed.release(5.05, lags(), polled(5.0)).items == []
    assert resumed.release(5.1, lags(), polled(5.06)).items == ["m", "r"]
    assert resumed.stream_time(0) == 1000.0 + day + later
    assert resumed.stream_time(1) is None
    # Without the state's stream time the reply is its own base and went at once: the
    # mention after it would have been four hours late.
    fresh: Aligner[str] = Aligner(TOPICS, far_ahead=1800.0)
    fresh.add("replies", 0, 1000.0 + day + later, "r", fetched_at=5.0)
    assert fresh.release(5.0, lags(), polled(4.9)).items == ["r"]


def test_resuming_never_moves_a_partition_s_stream_time_back() -> None:
    aligner: Aligner[str] = Aligner(TOPICS)
    aligner.add("mentions", 0, 500.0, "m")
    assert aligner.release(0.0, lags()).items == ["m"]
    aligner.resume_from(0, 400.0)
    assert aligner.stream_time(0) == 500.0
