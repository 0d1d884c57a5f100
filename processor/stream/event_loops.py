"""The worker's asyncio event loops (`SOCIALCARE_EVENT_LOOP`)."""

from __future__ import annotations

import asyncio

import uvloop

from processor.settings import EventLoop


def new_event_loop(kind: EventLoop) -> asyncio.AbstractEventLoop:
    """uvloop by default: the worker's consumer, producer, Redis and web server all wait
    on sockets, and libuv's loop costs less per callback than the standard one.

    uvloop's policy too, so that the loops the worker's threads make for themselves (Faust's
    consumer thread, the changelog writer's) are uvloop's as well: with the standard loop
    there, their sockets' reads and writes and the loop's turns were Python code sharing
    the main thread's GIL (as Faust's `-L uvloop` does)."""
    if kind is EventLoop.UVLOOP:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        return uvloop.new_event_loop()
    asyncio.set_event_loop_policy(None)
    return asyncio.new_event_loop()
