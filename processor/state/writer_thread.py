"""The changelog writer on an event loop and thread of its own.

A batch's write is mostly waiting on the broker: a transaction adds its partitions, produces
with acks=all and ends (three round trips and the broker's disk), about as long as
processing a batch. The worker processes the next batch while one is written
(`processor.stream.checkpoint`), but on the worker's event loop the write's responses are
only handled when the processing awaits something, which folding a batch rarely does: the
two took turns, and the worker waited on the broker for up to half of a backlog. On a loop
of its own the producers' requests and responses are handled while the main thread
computes: they share the GIL, which the interpreter hands over every switch interval
(5 ms), so a round trip waits a few milliseconds for it instead of a whole batch.

The writer's producers are created by its `start`, so they belong to this loop; the
records handed over are immutable and not touched by the caller afterwards.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, TypeVar

from processor.state.records import Outgoing
from processor.state.writer import ChangelogWriter, Written

T = TypeVar("T")


class ThreadedWriter:
    """A `ChangelogWriter` whose calls run on a dedicated thread's event loop."""

    def __init__(self, writer: ChangelogWriter) -> None:
        self._writer = writer
        self.transactional = writer.transactional
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="changelog-writer", daemon=True
        )
        self._thread.start()

    async def _call(self, call: Coroutine[Any, Any, T]) -> T:
        # Cancelling the wait cancels the call on the writer's loop.
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call, self._loop))

    async def start(self, partitions: set[int]) -> None:
        await self._call(self._writer.start(partitions))

    async def stop(self, partitions: set[int]) -> None:
        await self._call(self._writer.stop(partitions))

    async def write(self, batches: Mapping[int, Sequence[Outgoing]]) -> Written:
        return await self._call(self._writer.write(batches))

    async def close(self) -> None:
        """Close the writer, then stop its loop and thread."""
        if not self._thread.is_alive():
            return
        try:
            await self._call(self._writer.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join, 10.0)
            if not self._thread.is_alive():
                self._loop.close()
