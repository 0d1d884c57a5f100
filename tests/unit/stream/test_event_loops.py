"""The worker's event loops: `SOCIALCARE_EVENT_LOOP` decides the main thread's loop and the
loops its threads make for themselves (Faust's consumer thread, the changelog writer's)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import uvloop

from processor.settings import EventLoop
from processor.stream.event_loops import new_event_loop


@pytest.fixture(autouse=True)
def default_policy() -> Iterator[None]:
    yield
    asyncio.set_event_loop_policy(None)


def loop_made_on_a_thread() -> asyncio.AbstractEventLoop:
    """What a library's thread gets from `asyncio.new_event_loop()` (mode's ServiceThread,
    `processor.state.writer_thread`)."""
    made: list[asyncio.AbstractEventLoop] = []
    thread = threading.Thread(target=lambda: made.append(asyncio.new_event_loop()))
    thread.start()
    thread.join()
    return made[0]


def test_uvloop_for_the_main_loop_and_the_threads_loops() -> None:
    main = new_event_loop(EventLoop.UVLOOP)
    threaded = loop_made_on_a_thread()
    try:
        assert isinstance(main, uvloop.Loop)
        assert isinstance(threaded, uvloop.Loop)
    finally:
        main.close()
        threaded.close()


def test_the_standard_loop_everywhere_when_asked() -> None:
    new_event_loop(EventLoop.UVLOOP).close()  # a policy left by an earlier choice goes
    main = new_event_loop(EventLoop.ASYNCIO)
    threaded = loop_made_on_a_thread()
    try:
        assert not isinstance(main, uvloop.Loop)
        assert not isinstance(threaded, uvloop.Loop)
        assert isinstance(threaded, asyncio.SelectorEventLoop)
    finally:
        main.close()
        threaded.close()
