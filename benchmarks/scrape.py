"""Scrape cost with a large open backlog: how long a whole /metrics page takes to build.

    .venv/bin/python benchmarks/scrape.py [--open 100000] [--hours 3] [--scrapes 20]

Opens that many conversations (mentions, none answered, spread over the last hours, three
brands, three channels, three priorities, four partitions) through the real `Pipeline`
over dict tables, then times `generate_latest` over the business collector, as the worker's
/metrics does: the page Prometheus reads every scrape interval. Issue 12 asks for under
100 ms with 100,000 open conversations.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from rich.console import Console
from rich.progress import Progress

from processor.domain.sla import SlaPolicyCache
from processor.metrics.collectors import BusinessCollector
from processor.settings import Settings
from processor.stream.deadletters import TopicDeadLetters
from processor.stream.interfaces import Message
from processor.stream.pipeline import Pipeline
from processor.stream.tables import Tables

if __package__:
    from processor.tools.backtest.offline import MemoryDedup, NoHealth
else:  # `python benchmarks/scrape.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from pipeline import MemoryDedup, NoHealth  # type: ignore[no-redef]

PARTITIONS = 4


def mentions(count: int, hours: float, topic: str) -> list[Message]:
    rng = random.Random(1)
    now = time.time()
    messages = []
    for n in range(count):
        at = now - hours * 3600 * (1 - n / count)
        document = {
            "schema_version": 1, "event_id": f"m{n}", "type": "mention",
            "conversation_id": f"c{n}", "author_id": f"u{n}",
            "brand": rng.choice(("AcmeSupport", "NimbusHelp", "ZephyrCare")),
            "channel": rng.choice(("twitter", "facebook", "instagram")),
            "priority": rng.choice(("low", "normal", "high")),
            "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + ".000Z",
        }  # fmt: skip
        messages.append(
            Message(topic, n % PARTITIONS, n, f"c{n}".encode(), orjson.dumps(document), None)
        )
    return messages


@dataclass
class ScrapeCost:
    """Whole-page scrapes of a pipeline holding `open_conversations` open conversations."""

    open_conversations: int
    lines: int
    page_bytes: int
    median_seconds: float
    max_seconds: float
    scrapes: int


async def scrape_cost(
    open_count: int, hours: float, scrapes: int, console: Console | None = None
) -> ScrapeCost:
    """Open `open_count` conversations through the real pipeline, then time whole pages."""
    settings = Settings.model_validate({"clock": "event", "partitions": PARTITIONS})
    topic = next(topic for topic, kind in settings.input_topics.items() if kind == "mention")

    async def nowhere(partition: int, key: bytes | None, value: bytes) -> None: ...

    pipeline = Pipeline(
        settings, tables=Tables.in_memory(), policies=SlaPolicyCache(), dedup=MemoryDedup(),
        health=NoHealth(), dead_letters=TopicDeadLetters(nowhere, NoHealth()),
    )  # fmt: skip
    pipeline.assign(set(range(PARTITIONS)))
    messages = mentions(open_count, hours, topic)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("opening conversations", total=len(messages))
        for first in range(0, len(messages), 2000):
            await pipeline.handle_batch(messages[first : first + 2000])
            progress.update(task, completed=first + 2000)
    registry = CollectorRegistry()
    registry.register(BusinessCollector(pipeline.view))
    page = generate_latest(registry)
    held = sum(len(pipeline.conversations.backlog(p)) for p in range(PARTITIONS))
    seconds = []
    for _ in range(scrapes):
        began = time.perf_counter()
        generate_latest(registry)
        seconds.append(time.perf_counter() - began)
    return ScrapeCost(held, page.count(b"\n"), len(page), statistics.median(seconds),
                      max(seconds), len(seconds))  # fmt: skip


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=100_000, help="open conversations")
    parser.add_argument("--hours", type=float, default=3.0, help="spread of their openings")
    parser.add_argument("--scrapes", type=int, default=20, help="scrapes timed")
    arguments = parser.parse_args()
    console = Console(stderr=True)
    cost = await scrape_cost(arguments.open, arguments.hours, arguments.scrapes, console)
    console.print(
        f"{cost.open_conversations:,} open conversations, {cost.lines:,} exposition lines "
        f"({cost.page_bytes / 1e3:,.0f} kB): whole scrape median "
        f"{cost.median_seconds * 1e3:.1f} ms, max {cost.max_seconds * 1e3:.1f} ms "
        f"over {cost.scrapes} scrapes (target: under 100 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
