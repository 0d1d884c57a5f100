"""The counted ids: one table record per batch and partition, exact answers per id.

The reference is the plain model: a dict of id -> (time, digest) per partition, an id
forgotten when an expiry's horizon passes its time. `SeenEvents` must answer as it does at
every step, and so must a copy rebuilt from its table (a restart) with the horizon the
partition's clock had.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from processor.stream.seen import SeenEvents

IDS = [f"e{number}" for number in range(6)]
step = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 1), st.sampled_from(IDS), st.integers(0, 20)),
    st.tuples(st.just("batch_end"), st.just(0), st.just(""), st.just(0)),
    st.tuples(st.just("expire"), st.integers(0, 1), st.just(""), st.integers(0, 20)),
    st.tuples(st.just("restart"), st.just(0), st.just(""), st.just(0)),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(step, max_size=60))
def test_answers_as_the_plain_model_through_batches_expiries_and_restarts(
    steps: list[tuple[str, int, str, int]],
) -> None:
    table: dict[str, object] = {}
    seen = SeenEvents(table)
    model: dict[int, dict[str, tuple[float, str]]] = {0: {}, 1: {}}
    horizons: dict[int, float] = {}
    for action, partition, event_id, time in steps:
        if action == "add":
            if event_id in model[partition] or time < horizons.get(partition, -1.0):
                continue  # the pipeline counts neither a duplicate nor a late event
            seen.add(partition, event_id, float(time), f"d{time}")
            model[partition][event_id] = (float(time), f"d{time}")
        elif action == "batch_end":
            seen.seal()
        elif action == "expire":
            horizon = max(float(time), horizons.get(partition, float(time)))
            horizons[partition] = horizon
            seen.expire(partition, horizon)
            model[partition] = {k: v for k, v in model[partition].items() if v[0] >= horizon}
        else:  # a restart: what the table holds after the last batch, read back
            seen.seal()
            seen = SeenEvents(table)
            seen.index({0, 1}, horizons)
        for number in (0, 1):
            for candidate in IDS:
                entry = model[number].get(candidate)
                assert seen.digest_of(number, candidate) == (None if entry is None else entry[1])
    seen.seal()
    # No record outlives its ids: every record holds an id not yet behind its horizon.
    for stored in table.values():
        assert isinstance(stored, list)
        partition, latest = stored[0], stored[1]
        assert latest >= horizons.get(partition, float("-inf"))


def test_a_batch_is_one_record_and_goes_once_all_its_ids_are_behind() -> None:
    table: dict[str, object] = {}
    seen = SeenEvents(table)
    for number in range(5):
        seen.add(3, f"e{number}", 100.0 + number, f"d{number}")
    seen.seal()
    assert list(table) == ["3|@100.0|e0"]
    assert table["3|@100.0|e0"] == [3, 104.0, [[f"e{n}", 100.0 + n, f"d{n}"] for n in range(5)]]
    seen.expire(3, 103.0)  # e0-e2 behind: forgotten, the record stays for e3 and e4
    assert [seen.digest_of(3, f"e{n}") for n in range(5)] == [None, None, None, "d3", "d4"]
    assert list(table) == ["3|@100.0|e0"]
    seen.expire(3, 104.5)
    assert table == {} and seen.digest_of(3, "e4") is None


def test_the_records_of_earlier_versions_one_per_id_are_read_and_expired() -> None:
    table: dict[str, object] = {"2|old-1": [2, 50.0, "digest-1"], "2|old-2": [2, 70.0]}
    seen = SeenEvents(table)
    assert seen.index({2}, {2: 40.0}) == 2
    assert seen.digest_of(2, "old-1") == "digest-1"
    assert seen.digest_of(2, "old-2") == ""  # counted before digests were kept
    seen.expire(2, 60.0)
    assert seen.digest_of(2, "old-1") is None and list(table) == ["2|old-2"]


def test_a_restart_leaves_out_the_ids_already_behind_the_horizon() -> None:
    """A record outlives the ids of it that expired (its later ids hold it): rebuilt from
    the table, those must stay forgotten (a copy of one is late, not a duplicate)."""
    table: dict[str, object] = {}
    seen = SeenEvents(table)
    seen.add(0, "early", 10.0, "d10")
    seen.add(0, "later", 50.0, "d50")
    seen.seal()
    seen.expire(0, 30.0)
    restarted = SeenEvents(table)
    assert restarted.index({0}, {0: 30.0}) == 1
    assert restarted.digest_of(0, "early") is None
    assert restarted.digest_of(0, "later") == "d50"
