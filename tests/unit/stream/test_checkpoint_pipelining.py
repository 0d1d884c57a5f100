"""A batch is written while the next one is processed: order, fencing and failures.

The writer here is a gate the test opens (the real writers are exercised against Kafka and
Tansu by the integration tests); what is checked is the checkpoint's own contract: one
write at a time, the next batch's changes taken only after the previous write, a batch's
reads seeing the changes still being written, fenced partitions left out and failures
raised to the next batch.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence

import pytest

from processor.state.records import Outgoing, decode_key
from processor.state.store import StateStore
from processor.state.writer import Written
from processor.state.writer_thread import ThreadedWriter
from processor.stream.checkpoint import ChangelogWriteFailed, StateCheckpoint


def partition_of(key: str) -> int:
    return int(key.split("|", 1)[0])


class GatedWriter:
    """Writes nothing until released; records what each write carried, and when."""

    transactional = True

    def __init__(self) -> None:
        self.writes: list[dict[int, list[str]]] = []
        self.gates: list[asyncio.Event] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.fence: set[int] = set()
        self.fail = False
        self.threads: set[int] = set()

    async def start(self, partitions: set[int]) -> None:
        self.threads.add(threading.get_ident())

    async def stop(self, partitions: set[int]) -> None: ...

    async def close(self) -> None: ...

    async def write(self, batches: Mapping[int, Sequence[Outgoing]]) -> Written:
        self.threads.add(threading.get_ident())
        gate = asyncio.Event()
        self.gates.append(gate)
        self.writes.append(
            {
                partition: [decode_key(record.key or b"")[1] for record in records]
                for partition, records in batches.items()
            }
        )
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await gate.wait()
            if self.fail:
                raise OSError("broker gone")
            written = Written()
            for partition in batches:
                if partition in self.fence:
                    written.fenced.add(partition)
                else:
                    written.offsets[partition] = len(self.writes)
            return written
        finally:
            self.in_flight -= 1


def new_checkpoint() -> tuple[StateCheckpoint, StateStore, GatedWriter]:
    store = StateStore({"t": partition_of})
    store.offsets.update({0: -1, 1: -1})
    writer = GatedWriter()
    return StateCheckpoint(store, writer, "dead-letters"), store, writer


async def settle_soon() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_the_next_batch_is_processed_while_one_is_written_and_written_after_it() -> None:
    async def scenario() -> None:
        checkpoint, store, writer = new_checkpoint()
        table = store["t"]
        table["0|a"] = {"n": 1}
        first = await checkpoint.begin()
        await settle_soon()
        assert not first.written.done()
        # The next batch reads the change being written and changes more.
        assert table["0|a"] == {"n": 1}
        table["0|a"] = {"n": 2}
        table["1|b"] = {"n": 1}
        second_begun = asyncio.ensure_future(checkpoint.begin())
        await settle_soon()
        assert not second_begun.done()  # waits for the first write
        assert len(writer.writes) == 1
        writer.gates[0].set()
        second = await second_begun
        assert await first.written == set()
        assert writer.writes == [{0: ["0|a"]}, {0: ["0|a"], 1: ["1|b"]}]
        assert writer.most_in_flight == 1
        assert store.offsets == {0: 1, 1: -1}  # the first write is on disk, not the second
        writer.gates[1].set()
        assert await second.written == set()
        assert store.offsets == {0: 2, 1: 2}
        assert table["0|a"] == {"n": 2}

    asyncio.run(scenario())


def test_a_partition_fenced_off_is_left_out_of_the_next_write() -> None:
    async def scenario() -> None:
        checkpoint, store, writer = new_checkpoint()
        table = store["t"]
        writer.fence = {1}
        table["0|a"] = {"n": 1}
        table["1|b"] = {"n": 1}
        first = await checkpoint.begin()
        table["0|a"] = {"n": 2}
        table["1|b"] = {"n": 2}  # processed before the fencing is known
        await settle_soon()
        writer.gates[0].set()
        second = await checkpoint.begin()
        await settle_soon()
        assert await first.written == {1}
        assert second.fenced_earlier == frozenset({1})
        assert writer.writes[1] == {0: ["0|a"]}  # partition 1's change is the worker's to drop
        assert store.changed_partitions() == {1}
        writer.gates[1].set()
        assert await second.written == set()

    asyncio.run(scenario())


def test_a_failed_write_is_raised_to_the_next_batch_and_not_acknowledged() -> None:
    async def scenario() -> None:
        checkpoint, store, writer = new_checkpoint()
        store["t"]["0|a"] = {"n": 1}
        first = await checkpoint.begin()
        await settle_soon()
        writer.fail = True
        writer.gates[0].set()
        with pytest.raises(ChangelogWriteFailed, match="OSError: broker gone") as failed:
            await checkpoint.begin()
        assert isinstance(failed.value.__cause__, OSError)
        assert isinstance(first.written, asyncio.Future)
        assert first.written.exception() is not None
        assert store.offsets == {0: -1, 1: -1}  # nothing persisted
        assert await checkpoint.settle() == set()  # raised once; nothing in flight since

    asyncio.run(scenario())


def test_the_threaded_writer_runs_the_writer_on_its_own_thread() -> None:
    async def scenario() -> None:
        inner = GatedWriter()
        threaded = ThreadedWriter(inner)
        await threaded.start({0})
        records = [Outgoing("", b'["t","0|a"]', b"{}")]
        writing = asyncio.ensure_future(threaded.write({0: records}))
        while not inner.gates:
            await asyncio.sleep(0.001)
        assert not writing.done()
        gate = inner.gates[0]
        loop = threaded._loop
        loop.call_soon_threadsafe(gate.set)
        written = await writing
        assert written.offsets == {0: 1}
        assert inner.threads and threading.get_ident() not in inner.threads
        inner.fail = True
        failing = asyncio.ensure_future(threaded.write({0: records}))
        while len(inner.gates) < 2:
            await asyncio.sleep(0.001)
        loop.call_soon_threadsafe(inner.gates[1].set)
        with pytest.raises(OSError, match="broker gone"):
            await failing
        await threaded.close()
        assert loop.is_closed()

    asyncio.run(scenario())
