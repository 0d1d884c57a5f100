"""Arithmetic of processor/metrics: histogram buckets, sliding windows, retention, series."""

from __future__ import annotations

import itertools

import pytest

from processor.metrics import families as f
from processor.metrics.collectors import cumulative_buckets
from processor.metrics.families import FIRST_RESPONSE_BUCKETS
from processor.metrics.series import SeriesKey, add_into, bucket_index, count, field_of, parse_field
from processor.metrics.windows import (
    COARSE_BUCKET_SECONDS,
    FINE_BUCKET_SECONDS,
    WINDOWS,
    bucket_start,
    retention_seconds,
    sum_windows,
    window_covers,
)

B = FIRST_RESPONSE_BUCKETS


def test_first_response_bounds() -> None:
    # 16 bounds, 30 s .. 7 days (7 * 86400 = 604800), strictly increasing
    assert len(B) == 16
    assert B[0] == 30
    assert B[-1] == 604800
    assert all(low < high for low, high in itertools.pairwise(B))


@pytest.mark.parametrize(
    ("value", "index"),
    [
        (0, 0),
        (29.999, 0),
        (30, 0),  # le="30" includes 30
        (30.5, 1),
        (60, 1),
        (60.001, 2),
        (899, 5),  # bounds 30,60,120,300,600,900 -> 900 is index 5
        (900, 5),
        (901, 6),
        (3600, 7),
        (86400, 12),
        (604799, 15),
        (604800, 15),
        (604801, 16),  # +Inf is index len(bounds)
        (10**9, 16),
    ],
)
def test_bucket_index(value: float, index: int) -> None:
    assert bucket_index(B, value) == index


def test_cumulative_buckets() -> None:
    bounds = (1.0, 5.0, 10.0)
    # per-bucket counts: 2 in le=1, none in (1,5], 3 in (5,10], 1 above 10
    counts = {0: 2.0, 2: 3.0, 3: 1.0}
    assert cumulative_buckets(counts, bounds) == [
        ("1.0", 2.0),
        ("5.0", 2.0),
        ("10.0", 5.0),
        ("+Inf", 6.0),
    ]


def test_cumulative_buckets_empty_and_labels() -> None:
    out = cumulative_buckets({}, B)
    assert len(out) == 17
    assert all(value == 0.0 for _, value in out)
    assert [label for label, _ in out[:3]] == ["30.0", "60.0", "120.0"]
    assert out[-2][0] == "604800.0"
    assert out[-1][0] == "+Inf"


def test_cumulative_buckets_only_inf() -> None:
    out = cumulative_buckets({16: 4.0}, B)
    assert out[-1] == ("+Inf", 4.0)
    assert out[-2] == ("604800.0", 0.0)


def test_bucket_start() -> None:
    assert bucket_start(1000, 60) == 960  # 16 * 60 = 960
    assert bucket_start(960, 60) == 960
    assert bucket_start(959.9, 60) == pytest.approx(900)
    assert bucket_start(1000, 900) == 900


def test_window_definitions() -> None:
    assert WINDOWS == {"5m": (300.0, 60.0), "1h": (3600.0, 60.0), "24h": (86400.0, 900.0)}


def test_five_minute_window_at_1000() -> None:
    # now=1000: current fine bucket starts at 960. A 300 s window is the current bucket and
    # the 300/60 - 1 = 4 before it: 720, 780, 840, 900, 960 (event time [720, 1000)).
    covered = [start for start in range(0, 2000, 60) if window_covers(start, 60.0, 300.0, 1000.0)]
    assert covered == [720, 780, 840, 900, 960]


@pytest.mark.parametrize(
    ("start", "covered"),
    [
        (660, False),  # just outside: the bucket before 720
        (720, True),  # oldest bucket of the window
        (960, True),  # current bucket (now=1000 is inside it)
        (1020, False),  # a future bucket: nothing after now counts
    ],
)
def test_window_edges(start: float, covered: bool) -> None:
    assert window_covers(start, 60.0, 300.0, 1000.0) is covered


def test_window_now_on_a_bucket_boundary() -> None:
    # now=960 is the first instant of bucket 960, so 960 is current: 720..960
    covered = [s for s in range(0, 2000, 60) if window_covers(s, 60.0, 300.0, 960.0)]
    assert covered == [720, 780, 840, 900, 960]


def test_24h_window_uses_coarse_buckets() -> None:
    # now=100000, size 900: 100000 = 111*900 + 100 -> current bucket 99900;
    # oldest = 99900 - 86400 + 900 = 14400; 86400/900 = 96 buckets
    now = 100000.0
    covered = [s for s in range(0, 200000, 900) if window_covers(s, 900.0, 86400.0, now)]
    assert covered[0] == 14400
    assert covered[-1] == 99900
    assert len(covered) == 96
    assert not window_covers(13500, 900.0, 86400.0, now)
    assert not window_covers(100800, 900.0, 86400.0, now)


def test_sum_windows() -> None:
    now = 1000.0
    buckets = [
        (960.0, FINE_BUCKET_SECONDS, {"mentions_total": 1.0}),  # 5m, 1h
        (720.0, FINE_BUCKET_SECONDS, {"mentions_total": 2.0, "resolutions_total": 1.0}),  # 5m, 1h
        (660.0, FINE_BUCKET_SECONDS, {"mentions_total": 4.0}),  # 1h only
        # 1h: current 960 - 3600 + 60 = -2580 is the oldest start
        (-2580.0, FINE_BUCKET_SECONDS, {"mentions_total": 8.0}),  # 1h only
        (-2640.0, FINE_BUCKET_SECONDS, {"mentions_total": 16.0}),  # none
        (1020.0, FINE_BUCKET_SECONDS, {"mentions_total": 32.0}),  # future: none
        # coarse: current 900; oldest 900 - 86400 + 900 = -84600
        (900.0, COARSE_BUCKET_SECONDS, {"mentions_total": 64.0}),  # 24h
        (-84600.0, COARSE_BUCKET_SECONDS, {"mentions_total": 128.0}),  # 24h
        (-85500.0, COARSE_BUCKET_SECONDS, {"mentions_total": 256.0}),  # none
    ]
    assert sum_windows(buckets, now) == {
        "5m": {"mentions_total": 3.0, "resolutions_total": 1.0},  # 1 + 2
        "1h": {"mentions_total": 15.0, "resolutions_total": 1.0},  # 1 + 2 + 4 + 8
        "24h": {"mentions_total": 192.0},  # 64 + 128
    }


def test_sum_windows_empty() -> None:
    assert sum_windows([], 1000.0) == {"5m": {}, "1h": {}, "24h": {}}


@pytest.mark.parametrize(
    ("size", "lateness", "expected"),
    [
        (60.0, 0.0, 3660.0),  # longest fine window 1h = 3600, + 0 + 60
        (60.0, 60.0, 3720.0),  # 3600 + 60 + 60
        (900.0, 60.0, 87360.0),  # 86400 + 60 + 900
        (900.0, 3600.0, 90900.0),  # 86400 + 3600 + 900
    ],
)
def test_retention_seconds(size: float, lateness: float, expected: float) -> None:
    assert retention_seconds(size, lateness) == expected


def test_stored_fields_of_series() -> None:
    L = ("Acme", "twitter")
    assert field_of(count(f.REPLIES, (*L, "human"))) == "replies_total|human"
    assert field_of(count(f.MENTIONS, L, 12.0)) == "mentions_total"
    assert field_of(count(f.OPEN_CONVERSATIONS, (*L, "breached"))) == "open_conversations|breached"
    bucket = SeriesKey(f.RESOLUTION_SECONDS.name, (*L, "true"), None, "bucket", 7)
    assert field_of(bucket) == "resolution_seconds_bucket|true|7"
    assert parse_field(*L, "resolution_seconds_bucket|true|7") == bucket
    assert parse_field(*L, "first_response_sla_total|high|met") == count(
        f.FIRST_RESPONSE_SLA, (*L, "high", "met")
    )


def test_every_business_family_part_round_trips() -> None:
    for family in f.BUSINESS_FAMILIES:
        labels = tuple(f"v{n}" for n in range(len(family.labels)))
        parts = ["bucket", "sum", "count"] if family.kind == "histogram" else [""]
        for part in parts:
            key = SeriesKey(family.name, labels, None, part, 3 if part == "bucket" else -1)  # type: ignore[arg-type]
            assert parse_field(labels[0], labels[1], field_of(key)) == key


def test_an_undeclared_family_fails_at_once() -> None:
    from processor.metrics.series import UnknownSeries

    with pytest.raises(UnknownSeries):
        field_of(SeriesKey("socialcare_not_declared", ("a", "b")))
    with pytest.raises(UnknownSeries):
        parse_field("a", "b", "not_declared_total")


def test_add_into() -> None:
    L = ("Acme", "twitter")
    target: dict[str, float] = {}
    add_into(target, count(f.REPLIES, (*L, "human")), 2.0)
    add_into(target, count(f.REPLIES, (*L, "human")), 1.0)
    add_into(target, count(f.MENTIONS, L), 1.0)
    assert target == {"replies_total|human": 3.0, "mentions_total": 1.0}
    # a series brought back to zero is removed, not kept as 0.0
    add_into(target, count(f.MENTIONS, L), -1.0)
    assert target == {"replies_total|human": 3.0}
    add_into(target, count(f.OPEN_CONVERSATIONS, (*L, "breached")), 1.0)
    add_into(target, count(f.OPEN_CONVERSATIONS, (*L, "breached")), -1.0)
    assert "open_conversations|breached" not in target
    # adding zero to a missing series does not create it
    add_into(target, count(f.SURVEYS, (*L, "csat")), 0.0)
    assert target == {"replies_total|human": 3.0}


def age_label(age: float) -> str:
    """The age bucket one conversation at a time (the reference; upper bounds exclusive)."""
    for bound, label in zip(f.AGE_BOUNDS, f.AGE_LABELS, strict=False):
        if age < bound:
            return label
    return f.AGE_LABELS[-1]


def test_age_buckets_of_open_conversations() -> None:
    # Upper bounds exclusive: exactly 1 h old is in 1h_4h.
    assert [age_label(a) for a in (0, 3599.9, 3600, 14399, 14400, 86400, 259199, 259200)] == [
        "lt_1h", "lt_1h", "1h_4h", "1h_4h", "4h_24h", "1d_3d", "1d_3d", "gt_3d",
    ]  # fmt: skip


def test_open_ages_by_bisection_match_one_by_one() -> None:
    import random
    from collections import Counter

    from processor.settings import Settings
    from processor.stream.conversations import ConversationStore, OpenConversation
    from processor.stream.pipeline import StateView

    class Fixed:
        """A pipeline's parts as the view reads them: a store and a wall clock."""

        settings = Settings.model_validate({"clock": "wall", "partitions": 2})
        conversations = ConversationStore({})

        class clock:
            @staticmethod
            def window_now(partition: int) -> float:
                return 1_000_000.0

    pipeline = StateView(Fixed)  # type: ignore[arg-type]
    store = Fixed.conversations
    rng = random.Random(3)
    expected: Counter[tuple[str, str, str]] = Counter()
    by_priority: Counter[tuple[str, str, str, str]] = Counter()
    bounds = (0, 3600, 14400, 86400, 259200)
    for n in range(2000):
        partition, brand = n % 2, ("A", "B")[n % 3 % 2]
        priority, backlog = ("normal", "urgent")[n % 5 == 0], ("at_risk", "breached")[n % 7 == 0]
        # ages around every bound, exact bounds included, and a few in the future
        age = rng.choice(bounds) + rng.choice((-1.0, 0.0, 1.0, 500.0))
        store.backlog(partition).put(
            f"c{n}", OpenConversation(brand, "twitter", 1_000_000.0 - age, priority, backlog)
        )
        expected[(brand, "twitter", age_label(max(0.0, age)))] += 1
        by_priority[(brand, "twitter", priority, backlog)] += 1
    assert pipeline.open_ages({0, 1}) == expected
    assert pipeline.open_by_priority({0, 1}) == by_priority
    # partition 0 holds the even conversations only
    assert sum(pipeline.open_by_priority({0}).values()) == 1000
