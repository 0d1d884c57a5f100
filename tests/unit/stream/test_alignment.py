"""The aligner hands records over in event-time order per partition, whatever the fetch order."""

from __future__ import annotations

import random

from processor.stream.alignment import Aligner, event_time_of

TOPICS = ("mentions", "replies", "redirections", "surveys")


def lags(**known: int | None) -> object:
    """lag_of with the given lags (topic=lag), 0 for the others."""
    return lambda topic, partition: known.get(topic, 0)


def polled(at: float | None) -> object:
    """polled_of: every topic-partition was answered a fetch sent after `at`."""
    return lambda topic, partition: at


# Every topic-partition answered a fetch sent after any record here was on the broker.
SHOWN = polled(float("inf"))


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
    assert aligner.release(0.0, lags(mentions=3), SHOWN).items == []
    for at in (5.0, 20.0, 40.0):
        aligner.add("mentions", 0, at, f"m{at:g}")
    # Now mentions and replies have records, redirections and surveys are caught up (lag 0):
    # merged by time until a topic with lag > 0 runs dry.
    released = aligner.release(1.0, lags(), SHOWN)
    assert released.items == ["m5", "r10", "m20", "r30", "m40", "r50"]
    assert released.enforced == 0
    assert aligner.stream_time(0) == 50.0


def test_a_topic_with_unread_records_holds_its_partition_until_the_max_wait() -> None:
    aligner: Aligner[str] = Aligner(TOPICS, max_wait=30.0)
    aligner.add("replies", 1, 100.0, "r")
    waiting = lags(mentions=5)
    assert aligner.release(0.0, waiting, SHOWN).items == []
    assert aligner.release(29.9, waiting, SHOWN).items == []
    released = aligner.release(30.0, waiting, SHOWN)
    assert (released.items, released.enforced) == (["r"], 1)


def test_an_unknown_lag_holds_like_unread_records() -> None:
    aligner: Aligner[str] = Aligner(TOPICS, max_wait=10.0)
    aligner.add("mentions", 0, 1.0, "m")
    assert aligner.release(0.0, lags(surveys=None), SHOWN).items == []
    assert aligner.release(10.0, lags(surveys=None), SHOWN).items == ["m"]


def test_a_caught_up_quiet_topic_holds_nothing_back_once_a_fetch_showed_it() -> None:
    aligner: Aligner[str] = Aligner(TOPICS)
    aligner.add("mentions", 0, 1.0, "m")
    released = aligner.release(0.0, lags(), SHOWN)
    assert (released.items, released.enforced) == (["m"], 0)


def test_the_idle_wait_delays_only_while_a_topic_is_empty() -> None:
    aligner: Aligner[str] = Aligner(TOPICS, idle_wait=2.0)
    aligner.add("mentions", 0, 1.0, "m1")
    assert aligner.release(0.0, lags(), SHOWN).items == []
    assert aligner.release(1.9, lags(), SHOWN).items == []
    assert aligner.release(2.0, lags(), SHOWN).items == ["m1"]


def test_partitions_are_independent() -> None:
    aligner: Aligner[str] = Aligner(TOPICS)
    aligner.add("replies", 0, 10.0, "p0")
    aligner.add("replies", 1, 10.0, "p1")
    # partition 0's mentions have unread records, partition 1's do not
    released = aligner.release(0.0, lambda topic, partition: 4 if partition == 0 else 0, SHOWN)
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

        out += aligner.release(0.0, lag, SHOWN).items
    assert out == sorted(at for _, at in records)


def test_a_topic_far_ahead_is_paused_and_resumed() -> None:
    aligner: Aligner[str] = Aligner(TOPICS, max_buffered=4)
    for n in range(5):
        aligner.add("replies", 2, float(n), f"r{n}")
    assert aligner.backpressure() == ({("replies", 2)}, set())
    assert aligner.backpressure() == (set(), set())  # already paused
    for n in range(4):
        aligner.add("mentions", 2, float(n) - 0.5, f"m{n}")
    aligner.release(0.0, lags(mentions=1), SHOWN)
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


def test_a_record_waits_until_a_fetch_sent_after_it_shows_the_empty_topics() -> None:
    # A replay into a live worker (seen in test_predicted_csat): the producer split the
    # burst over two requests; the first fetch brought all of partition 3's mentions but
    # only its first reply, and the other topics' lags (from that response) were 0. The
    # records wait for a response to a fetch sent after they were fetched (`polled`: the
    # earlier of the last two responses), which brings the rest.
    aligner: Aligner[str] = Aligner(TOPICS)
    for minute in range(0, 21):
        aligner.add("mentions", 3, 60.0 * minute, f"m{minute}", fetched_at=1.0)
    aligner.add("replies", 3, 150.0, "r2", fetched_at=1.0)
    assert aligner.release(1.0, lags(), polled(0.9)).items == []
    assert aligner.release(1.05, lags(), polled(0.95)).items == []  # sent too early
    for minute in (5, 9, 14):
        aligner.add("replies", 3, 60.0 * minute + 30, f"r{minute}", fetched_at=1.1)
    aligner.add("surveys", 3, 60.0 * 10 + 30, "s10", fetched_at=1.1)
    released = aligner.release(1.1, lags(), polled(1.02))
    # Those fetched at 1.0 go, up to the first fetched at 1.1 (its own wait).
    assert released.items == ["m0", "m1", "m2", "r2", "m3", "m4", "m5"]
    assert released.enforced == 0
    released = aligner.release(1.2, lags(), polled(1.15))
    assert released.items == ["r5", "m6", "m7", "m8", "m9", "r9", "m10", "s10"] + [
        f"m{minute}" for minute in range(11, 15)] + ["r14"] + [
        f"m{minute}" for minute in range(15, 21)]  # fmt: skip


def test_a_burst_s_replies_fetched_before_its_mentions_wait_for_them() -> None:
    # A worker taking a partition over: a burst a day later, its replies four hours into
    # it are fetched while the response shows the mentions caught up. The reply waits
    # for a fetch sent after it was fetched, which brings the mention: mention first.
    day, later = 86_400.0, 4 * 3600.0
    aligner: Aligner[str] = Aligner(TOPICS)
    aligner.add("replies", 0, 1000.0 + day + later, "r", fetched_at=5.0)
    assert aligner.release(5.0, lags(), polled(4.9)).items == []
    aligner.add("mentions", 0, 1000.0 + day, "m", fetched_at=5.05)
    assert aligner.release(5.05, lags(), polled(5.0)).items == []  # it waits as well
    assert aligner.release(5.1, lags(), polled(5.06)).items == ["m", "r"]
    assert aligner.stream_time(0) == 1000.0 + day + later


def test_the_clock_alone_releases_nothing_until_the_max_wait() -> None:
    # A starved CPU: seconds pass with no fetch response handled. The record waits for one
    # answering a request sent after it was fetched; with none at all, `max_wait` after
    # its hold began lets it go, and the next ones too until a fetch shows the topics.
    aligner: Aligner[str] = Aligner(TOPICS, max_wait=30.0)
    aligner.add("mentions", 0, 1000.0, "m1", fetched_at=1.0)
    assert aligner.release(1.0, lags(), polled(0.5)).items == []
    assert aligner.release(5.0, lags(), polled(0.5)).items == []  # no fetch since
    assert aligner.release(5.1, lags(), polled(0.9)).items == []  # a request sent too early
    assert aligner.release(30.9, lags(), polled(None)).items == []
    released = aligner.release(31.0, lags(), polled(None))
    assert (released.items, released.enforced) == (["m1"], 0)
    aligner.add("mentions", 0, 1001.0, "m2", fetched_at=32.0)
    assert aligner.release(32.0, lags(), polled(None)).items == ["m2"]
    # A fetch shows them again: from then on each record waits for one.
    aligner.add("mentions", 0, 1002.0, "m3", fetched_at=33.0)
    assert aligner.release(33.0, lags(), polled(33.5)).items == ["m3"]
    aligner.add("mentions", 0, 1003.0, "m4", fetched_at=34.0)
    assert aligner.release(34.0, lags(), polled(33.5)).items == []
    assert aligner.release(34.2, lags(), polled(34.1)).items == ["m4"]


def test_a_wait_ended_by_records_does_not_count_towards_a_later_one() -> None:
    aligner: Aligner[str] = Aligner(TOPICS, max_wait=30.0)
    aligner.add("mentions", 0, 1.0, "m1", fetched_at=0.0)
    assert aligner.release(0.0, lags(), polled(-1.0)).items == []  # waits from 0 s
    for topic in ("replies", "redirections", "surveys"):  # they bring records at 20 s
        aligner.add(topic, 0, 2.0, f"{topic[:3]}2", fetched_at=20.0)
    # m1 goes (every topic has a record); r2 waits for a fetch, from 20 s, not from 0 s.
    assert aligner.release(20.0, lags(), polled(-1.0)).items == ["m1"]
    assert aligner.release(30.0, lags(), polled(-1.0)).items == []
    assert aligner.release(50.0, lags(), polled(-1.0)).items == ["rep2", "red2", "sur2"]


def test_a_backlog_read_ahead_long_ago_does_not_wait() -> None:
    # A backlog fetched into the buffers (lag 0 everywhere, the broker has nothing more):
    # the quiet topics were fetched again well after these records, so nothing can be in
    # flight and they go at once.
    aligner: Aligner[str] = Aligner(TOPICS)
    for hour in range(10):
        aligner.add("mentions", 0, 3600.0 * hour, f"m{hour}", fetched_at=0.0)
    assert aligner.release(30.0, lags(), polled(29.0)).items == [f"m{h}" for h in range(10)]


def test_records_produced_long_ago_do_not_wait_for_a_new_fetch() -> None:
    # A backlog after an outage: records produced an hour ago, fetched just now. What was
    # produced before them was on the broker long before any recent fetch: no wait. A
    # record produced an instant ago waits for a fetch sent after it was fetched.
    aligner: Aligner[str] = Aligner(TOPICS, clock_margin=2.0)
    aligner.add("mentions", 0, 9000.0, "m1", fetched_at=3600.0, created_at=10.0)
    assert aligner.release(3600.0, lags(), polled(12.0)).items == ["m1"]
    aligner.add("mentions", 0, 20000.0, "m2", fetched_at=3601.0, created_at=3600.5)
    assert aligner.release(3601.0, lags(), polled(3600.9)).items == []
    assert aligner.release(3602.0, lags(), polled(3601.0)).items == ["m2"]


def test_a_record_waits_for_a_quiet_topic_while_a_busy_one_still_has_records_to_read() -> None:
    # An import in progress: mentions have records on the broker not read yet (lag 50) and
    # buffered ones two hours ahead; redirections looks caught up (lag 0) by a fetch
    # response older than them. The mention waits for a fresher one.
    aligner: Aligner[str] = Aligner(TOPICS)
    aligner.add("redirections", 0, 1000.0, "d1", fetched_at=0.0)
    assert aligner.release(0.0, lags(), polled(0.0)).items == ["d1"]
    aligner.add("mentions", 0, 1000.0 + 7200, "m1", fetched_at=1.0)
    assert aligner.release(1.0, lags(mentions=50), polled(0.5)).items == []
    aligner.add("redirections", 0, 1100.0, "d2", fetched_at=1.5)  # it had one more
    assert aligner.release(1.5, lags(mentions=50), polled(1.1)).items == []  # d2 waits too
    assert aligner.release(1.7, lags(mentions=50), polled(1.6)).items == ["d2", "m1"]


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
        released = aligner.release(float(second), lags(replies=100), SHOWN)
        assert (released.items, released.enforced) == ([f"m{second}", f"r{second}"], 0)
    assert aligner.release(68.9, lags(replies=7), SHOWN).items == []
    released = aligner.release(69.0, lags(replies=7), SHOWN)
    assert (released.items, released.enforced) == (["m40"], 1)


def test_a_topic_that_brings_records_resets_its_wait() -> None:
    aligner: Aligner[str] = Aligner(TOPICS, max_wait=30.0)
    aligner.add("mentions", 0, 1.0, "m1")
    assert aligner.release(0.0, lags(replies=2), SHOWN).items == []
    aligner.add("replies", 0, 2.0, "r2")
    aligner.add("mentions", 0, 3.0, "m3")
    # replies brought a record, then ran dry again at 20 s with one more unread: m3 is
    # held until 50 s, not 30 s.
    assert aligner.release(20.0, lags(replies=1), SHOWN).items == ["m1", "r2"]
    assert aligner.release(49.9, lags(replies=1), SHOWN).items == []
    released = aligner.release(50.0, lags(replies=1), SHOWN)
    assert (released.items, released.enforced) == (["m3"], 1)


def test_a_quiet_topic_with_new_records_waits_from_when_they_showed() -> None:
    # surveys, caught up, was passed for a minute; then a survey is on the broker, unread:
    # that is a new wait, held the whole max wait from then.
    aligner: Aligner[str] = Aligner(TOPICS, max_wait=30.0)
    for second in range(60):
        aligner.add("mentions", 0, float(second), f"m{second}")
        assert aligner.release(float(second), lags(), SHOWN).items == [f"m{second}"]
    aligner.add("mentions", 0, 60.0, "m60")
    assert aligner.release(60.0, lags(surveys=1), SHOWN).items == []
    assert aligner.release(89.9, lags(surveys=1), SHOWN).items == []
    released = aligner.release(90.0, lags(surveys=1), SHOWN)
    assert (released.items, released.enforced) == (["m60"], 1)


def asked(per_topic: dict[str, float]) -> object:
    """polled_of: each topic-partition last asked at its own time."""
    return lambda topic, partition: per_topic[topic]


def test_a_far_record_waits_for_the_rest_of_its_produce_request() -> None:
    # Kafka appends a produce request's partitions one after the other; a fetch answered by
    # its wait's end in between shows the replies of a burst and not the mentions sent
    # before them, and on a loaded broker the next fetch, sent after the replies were seen,
    # may be answered before the mentions are appended too (found in the log segments of a
    # CI run: 146 ms). A reply four hours past the settled stream time waits until every
    # empty topic was asked `settle` (1 s) after it was on the broker.
    hours = 3600.0
    aligner: Aligner[str] = Aligner(TOPICS, settle=1.0)
    aligner.add("replies", 3, 4 * hours, "r-slow", fetched_at=10.0)
    assert aligner.release(10.1, lags(), polled(10.05)).items == []  # the quick proof: no
    assert aligner.release(10.9, lags(), polled(10.8)).items == []
    aligner.add("mentions", 3, 60.0, "m", fetched_at=10.95)  # appended late
    # The mention, far past nothing settled, waits its own settle time, then both go.
    assert aligner.release(11.2, lags(), polled(11.1)).items == []
    assert aligner.release(12.0, lags(), polled(11.96)).items == ["m", "r-slow"]
    # Without the settle time the reply went on the first fetch after it: mention too late.
    quick: Aligner[str] = Aligner(TOPICS)
    quick.add("replies", 3, 4 * hours, "r-slow", fetched_at=10.0)
    assert quick.release(10.1, lags(), polled(10.05)).items == ["r-slow"]


def test_live_traffic_near_the_settled_stream_time_pays_nothing_more() -> None:
    # Live: one mention a second, each fetched as it comes; the other topics quiet. Once the
    # first ones settled, every next record goes on the fetch after it, as before.
    aligner: Aligner[str] = Aligner(TOPICS, settle=1.0)
    aligner.add("mentions", 0, 1000.0, "m0", fetched_at=0.0)
    assert aligner.release(0.1, lags(), polled(0.05)).items == []  # nothing settled yet
    assert aligner.release(1.1, lags(), polled(1.05)).items == ["m0"]
    for second in range(2, 30):
        aligner.add("mentions", 0, 1000.0 + second, f"m{second}", fetched_at=float(second))
        released = aligner.release(second + 0.1, lags(), polled(second + 0.05))
        assert released.items == [f"m{second}"]
    assert aligner.stream_time(0) == 1029.0


def test_a_record_after_a_quiet_spell_waits_the_settle_time_once() -> None:
    # A partition quiet for ten minutes of event time: its next record is far past the
    # settled stream time and waits `settle`; the one after it does not.
    aligner: Aligner[str] = Aligner(TOPICS, settle=1.0, jump=60.0)
    aligner.add("mentions", 0, 0.0, "m0", fetched_at=0.0)
    assert aligner.release(1.1, lags(), polled(1.05)).items == ["m0"]
    assert aligner.release(2.2, lags(), polled(2.1)).items == []  # settles m0
    aligner.add("mentions", 0, 600.0, "m600", fetched_at=600.0)
    assert aligner.release(600.1, lags(), polled(600.05)).items == []
    assert aligner.release(601.1, lags(), polled(601.05)).items == ["m600"]
    assert aligner.release(602.2, lags(), polled(602.1)).items == []  # settles m600
    aligner.add("replies", 0, 630.0, "r630", fetched_at=603.0)
    assert aligner.release(603.1, lags(), polled(603.05)).items == ["r630"]


def test_a_topic_not_asked_again_keeps_the_settled_stream_time_back() -> None:
    # Settling needs every input topic asked after the release: one not asked since (its
    # records still buffered in the consumer, say) keeps the partition's settled stream
    # time where it was, and far records keep waiting the settle time.
    aligner: Aligner[str] = Aligner(TOPICS, settle=1.0)
    aligner.add("mentions", 0, 0.0, "m0", fetched_at=0.0)
    assert aligner.release(1.1, lags(), polled(1.05)).items == ["m0"]
    stale = {"mentions": 5.0, "replies": 5.0, "redirections": 5.0, "surveys": 0.5}
    aligner.add("mentions", 0, 30.0, "m30", fetched_at=3.0)
    assert aligner.release(5.1, lags(), asked(stale)).items == []  # surveys asked too early
    # Asked 3.5 s after m0 and 1.5 s after m30: m0 settles, m30 needs only the quick proof.
    assert aligner.release(5.2, lags(), asked({**stale, "surveys": 3.5})).items == ["m30"]


def test_once_a_far_record_passed_the_records_near_it_go_at_once() -> None:
    # A fresh partition live: its first record waits the settle time (nothing settled);
    # passing it settles the quiet topics up to it, so the next ones, a second later in
    # event time, go on the fetch after them, not a settle time each.
    aligner: Aligner[str] = Aligner(TOPICS, settle=1.0)
    aligner.add("mentions", 0, 5000.0, "m0", fetched_at=0.0)
    aligner.add("mentions", 0, 5000.5, "m1", fetched_at=0.5)
    assert aligner.release(0.6, lags(), polled(0.55)).items == []
    assert aligner.release(1.1, lags(), polled(1.05)).items == ["m0", "m1"]
    aligner.add("mentions", 0, 5001.2, "m2", fetched_at=1.2)
    assert aligner.release(1.3, lags(), polled(1.25)).items == ["m2"]


def test_the_settled_stream_time_never_goes_back() -> None:
    # A release's entry settling after a later record passed with its own settle time must
    # not pull the settled time back behind that record (surveys, not asked for a while,
    # keeps the entries from settling while the empty topics prove the far reply).
    aligner: Aligner[str] = Aligner(TOPICS, settle=1.0, jump=60.0)
    aligner.add("mentions", 0, 0.0, "m0", fetched_at=0.0)
    assert aligner.release(1.1, lags(), polled(1.05)).items == ["m0"]  # settled: 0
    aligner.add("mentions", 0, 10.0, "m10", fetched_at=1.2)
    assert aligner.release(1.3, lags(), polled(1.25)).items == ["m10"]  # near: no wait
    aligner.add("replies", 0, 700.0, "r700", fetched_at=1.4)
    aligner.add("surveys", 0, 720.0, "s720", fetched_at=1.4)
    aligner.add("mentions", 0, 750.0, "m750", fetched_at=1.5)
    stale = {"mentions": 2.45, "replies": 2.45, "redirections": 2.45, "surveys": 0.5}
    # r700 passes with its settle time; m750 waits for surveys to be asked after it.
    assert aligner.release(2.5, lags(), asked(stale)).items == ["r700", "s720"]
    # m10's release settles now (every topic asked a second after it), not s720's: the
    # settled time stays at r700's, so m750, near it, needs no settle time of its own.
    later = {"mentions": 3.05, "replies": 3.05, "redirections": 3.05, "surveys": 2.3}
    assert aligner.release(3.1, lags(), asked(later)).items == ["m750"]
