"""The commit interval: batches that end within it of the last write are written once,
with the next write, and acknowledged only then (`StateCheckpoint(interval=...)`)."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from processor.settings import Settings
from processor.state.store import StateStore
from processor.stream.checkpoint import CatchUp, ChangelogWriteFailed, StateCheckpoint
from tests.unit.stream.test_checkpoint_pipelining import GatedWriter, partition_of, settle_soon


class ManualClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def new_checkpoint(
    interval: float = 1.0,
) -> tuple[StateCheckpoint, StateStore, GatedWriter, ManualClock]:
    store = StateStore({"t": partition_of})
    store.offsets.update({0: -1, 1: -1})
    writer, clock = GatedWriter(), ManualClock()
    checkpoint = StateCheckpoint(store, writer, "dead-letters", interval=interval, clock=clock)
    return checkpoint, store, writer, clock


def test_batches_within_the_interval_are_written_once_with_the_next_write() -> None:
    async def scenario() -> None:
        checkpoint, store, writer, clock = new_checkpoint()
        table = store["t"]
        table["0|totals"] = {"n": 1}
        first = await checkpoint.begin()  # the first batch: written at once
        await settle_soon()
        writer.gates[0].set()
        assert await first.written == set()
        clock.now += 0.3
        table["0|totals"] = {"n": 2}
        table["0|a"] = {"n": 1}
        second = await checkpoint.begin()
        clock.now += 0.3
        table["0|totals"] = {"n": 3}
        table["1|b"] = {"n": 1}
        third = await checkpoint.begin()
        await settle_soon()
        assert len(writer.writes) == 1  # nothing written for the two deferred batches
        assert second.written is third.written and not second.written.done()
        assert not checkpoint.overdue()
        clock.now += 0.5  # 1.1 s after the first write began
        assert checkpoint.overdue()
        table["0|totals"] = {"n": 4}
        fourth = await checkpoint.begin()
        await settle_soon()
        # One write of the three batches: each changed key once, at its last value.
        assert writer.writes[1] == {0: ["0|totals", "0|a"], 1: ["1|b"]}
        assert not second.written.done()  # acknowledged once written, not before
        writer.gates[1].set()
        assert await fourth.written == set()
        assert await second.written == set() and await third.written == set()
        assert store.offsets == {0: 2, 1: 2}
        assert not checkpoint.overdue()

    asyncio.run(scenario())


def test_the_timer_and_a_rebalance_write_what_was_deferred() -> None:
    async def scenario() -> None:
        checkpoint, store, writer, clock = new_checkpoint()
        store["t"]["0|a"] = {"n": 1}
        await checkpoint.begin()
        await settle_soon()
        writer.gates[0].set()
        store["t"]["0|a"] = {"n": 2}
        deferred = await checkpoint.begin()
        clock.now += 5.0
        assert checkpoint.overdue()
        forced = await checkpoint.begin(force=True)  # the worker's timer
        await settle_soon()
        assert len(writer.writes) == 2
        writer.gates[-1].set()
        assert await forced.written == set() and await deferred.written == set()
        # Deferred again, then settled before the partitions move: written first.
        store["t"]["1|b"] = {"n": 1}
        clock.now += 0.1
        again = await checkpoint.begin()
        settling = asyncio.ensure_future(checkpoint.settle())
        await settle_soon()
        assert writer.writes[-1] == {1: ["1|b"]}
        writer.gates[-1].set()
        assert await settling == set()
        assert await again.written == set()

    asyncio.run(scenario())


def test_a_partition_fenced_off_while_batches_wait_is_not_acknowledged_for_them() -> None:
    async def scenario() -> None:
        checkpoint, store, writer, clock = new_checkpoint()
        writer.fence = {1}
        store["t"]["1|b"] = {"n": 1}
        await checkpoint.begin()  # its write will find partition 1 fenced off
        store["t"]["0|a"] = {"n": 1}
        store["t"]["1|b"] = {"n": 2}
        clock.now += 0.1
        deferred = await checkpoint.begin()  # the write still in flight
        await settle_soon()
        writer.gates[0].set()
        await settle_soon()
        store["t"]["0|a"] = {"n": 2}
        clock.now += 0.1
        later = await checkpoint.begin()  # the write is over: fenced partition 1 found
        assert later.fenced_earlier == frozenset({1})
        assert later.written is deferred.written
        clock.now += 1.0
        forced = await checkpoint.begin(force=True)
        await settle_soon()
        assert writer.writes[-1] == {0: ["0|a"]}  # partition 1's changes are left out
        writer.gates[-1].set()
        assert await forced.written == set()
        assert await deferred.written == {1}  # its records of partition 1: not acknowledged

    asyncio.run(scenario())


def test_after_a_failed_write_nothing_deferred_is_written() -> None:
    async def scenario() -> None:
        checkpoint, store, writer, clock = new_checkpoint()
        store["t"]["0|a"] = {"n": 1}
        first = await checkpoint.begin()
        store["t"]["0|a"] = {"n": 2}
        clock.now += 0.1
        deferred = await checkpoint.begin()
        await settle_soon()
        writer.fail = True
        writer.gates[0].set()
        await settle_soon()
        clock.now += 0.1
        with pytest.raises(ChangelogWriteFailed, match="OSError: broker gone"):
            await checkpoint.begin()  # deferring finds the failure
        assert first.written.exception() is not None
        for attempt in (checkpoint.settle(), checkpoint.begin(force=True)):
            with pytest.raises(ChangelogWriteFailed):
                await attempt
        assert len(writer.writes) == 1  # the later changes never written after the lost ones
        assert not deferred.written.done()  # never acknowledged: the worker stops
        assert store.offsets == {0: -1, 1: -1}

    asyncio.run(scenario())


def test_without_an_interval_every_batch_is_written() -> None:
    async def scenario() -> None:
        checkpoint, store, writer, _ = new_checkpoint(interval=0.0)
        for number in range(3):
            store["t"]["0|a"] = {"n": number}
            begun = asyncio.ensure_future(checkpoint.begin())
            await settle_soon()
            if number:
                writer.gates[number - 1].set()
            await begun
        assert len(writer.writes) == 3
        assert not checkpoint.overdue()
        writer.gates[-1].set()

    asyncio.run(scenario())


def test_catching_up_the_longer_interval_defers_caught_up_the_live_one() -> None:
    """Far behind, batches within the catch-up interval of the last write wait for the
    next write; caught up again, the live interval decides (and the timer with it)."""

    async def scenario() -> None:
        store = StateStore({"t": partition_of})
        store.offsets.update({0: -1})
        writer, clock = GatedWriter(), ManualClock()
        behind = [True]
        checkpoint = StateCheckpoint(
            store, writer, "dead-letters", interval=0.1, clock=clock,
            catch_up_interval=1.0, catching_up=lambda: behind[0],
        )  # fmt: skip
        table = store["t"]
        table["0|a"] = {"n": 1}
        await checkpoint.begin()  # the first write
        await settle_soon()
        writer.gates[0].set()
        assert checkpoint.current_interval() == 1.0
        deferred = []
        for step in range(1, 5):  # four batches 0.2 s apart: past 0.1, within 1.0
            clock.now += 0.2
            table["0|a"] = {"n": 1 + step}
            deferred.append(await checkpoint.begin())
            await settle_soon()
        assert len(writer.writes) == 1
        assert not checkpoint.overdue()  # 0.8 s since the last write: not for 1.0
        clock.now += 0.25
        assert checkpoint.overdue()
        table["0|a"] = {"n": 6}
        await checkpoint.begin()
        await settle_soon()
        assert writer.writes[1] == {0: ["0|a"]}  # five batches, one write, the last value
        writer.gates[1].set()
        for committing in deferred:
            assert await committing.written == set()
        # Caught up: 0.2 s after a write is past the live interval, written at once.
        behind[0] = False
        assert checkpoint.current_interval() == 0.1
        clock.now += 0.2
        table["0|a"] = {"n": 7}
        live = await checkpoint.begin()
        await settle_soon()
        assert len(writer.writes) == 3
        writer.gates[2].set()
        assert await live.written == set()

    asyncio.run(scenario())


def test_without_a_catch_up_interval_the_live_one_holds_whatever_the_lag() -> None:
    checkpoint, _, _, _ = new_checkpoint(interval=0.1)
    assert checkpoint.current_interval() == 0.1
    far_behind = StateCheckpoint(
        StateStore({"t": partition_of}), checkpoint.writer, "dead-letters", interval=0.1,
        catching_up=lambda: True,
    )  # fmt: skip
    assert far_behind.current_interval() == 0.1


def test_catching_up_starts_at_one_lag_and_ends_below_the_other() -> None:
    """A backlog's tail keeps the catch-up interval until nearly caught up; a lag that
    never reaches the start (live traffic) never switches."""
    catch_up = CatchUp(start=10_000, end=1_000)
    lags = [500, 9_999, 10_000, 40_000, 9_999, 1_000, 999, 5_000, 9_999, 10_000, 0]
    assert [catch_up.update(lag) for lag in lags] == [
        False, False, True, True, True, True, False, False, False, True, False,
    ]  # fmt: skip
    catch_up.update(20_000)
    assert catch_up.update(None) is False  # no input owned (a rebalance): live again
    assert catch_up.update(5_000) is False


def test_the_catch_up_thresholds_must_be_in_order() -> None:
    with pytest.raises(ValidationError, match="SOCIALCARE_CAUGHT_UP_LAG_RECORDS"):
        Settings.model_validate({"catch_up_lag_records": 100, "caught_up_lag_records": 101})
    same = Settings.model_validate({"catch_up_lag_records": 100, "caught_up_lag_records": 100})
    assert CatchUp(same.catch_up_lag_records, same.caught_up_lag_records).update(100)
