"""The worker process: the Faust app, its tables and topics, the agent, timers and pages.

The agent stays thin: it turns Kafka records into `Message`s and hands batches to the
pipeline. All four input topics (and the internal clock-tick topic) are consumed by one
agent, so they are co-partitioned and every event of a conversation reaches the same
worker. Partition changes reach the pipeline as `assign` (after table recovery) and
`revoke`; the scrape reads through the pipeline's read-only view.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
import redis.asyncio as aioredis
from aiohttp import web
from faust.types import TP
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from processor.domain.sla import SlaPolicyCache
from processor.errors import SocialcareError
from processor.metrics.collectors import BusinessCollector
from processor.metrics.health import (
    AlignmentCollector,
    AlignmentSnapshot,
    ConsumerLagCollector,
    HealthMetrics,
    new_registry,
)
from processor.metrics.series import partition_of
from processor.settings import Settings
from processor.stream.aligned_input import AlignedInput
from processor.stream.deadletters import TopicDeadLetters
from processor.stream.dedup import DedupWindow
from processor.stream.pipeline import Pipeline
from processor.stream.policy_store import SlaPolicyStore
from processor.stream.tables import BufferedTable, Tables
from processor.stream.topics import ensure_topics

log = logging.getLogger(__name__)


def broker_url(bootstrap_servers: str) -> str:
    return ";".join(f"kafka://{server.strip()}" for server in bootstrap_servers.split(","))


class Worker:
    """Everything one worker process holds; `app` is the Faust application."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = faust.App(
            settings.app_id,
            broker=broker_url(settings.kafka_bootstrap_servers),
            store=settings.store,
            datadir=str(settings.data_dir),
            key_serializer="raw",
            value_serializer="raw",
            table_key_serializer="json",
            table_value_serializer="json",
            topic_partitions=settings.partitions,
            topic_replication_factor=1,
            web_enabled=True,
            web_port=settings.metrics_port,
            web_bind=settings.metrics_bind,
            web_host=settings.metrics_bind,
            broker_session_timeout=settings.session_timeout_seconds,
            broker_heartbeat_interval=max(0.5, settings.session_timeout_seconds / 10),
            broker_rebalance_timeout=settings.rebalance_timeout_seconds,
            stream_wait_empty=False,
            # Tansu 0.6 reports the end offset of a partition as the base offset of its last
            # batch + 1, so Faust's changelog recovery stops short when a batch holds several
            # records. One record per batch keeps recovery exact on such brokers.
            producer_max_batch_size=1 if settings.one_record_per_batch else 16384,
        )
        # Table writes queue changelog records; Faust pauses the stream past this many.
        self.app.producer.buffer.max_messages = 2000
        self.redis = aioredis.Redis.from_url(settings.redis_url)
        self.registry = new_registry()
        self.health = HealthMetrics(self.registry)
        self.policy_store = SlaPolicyStore(self.redis, settings.redis_prefix)
        self.policies = SlaPolicyCache()

        table_options: dict[str, Any] = {"partitions": settings.partitions}
        # Every key knows its input partition: conversation states carry it, aggregate keys
        # start with it, the clock is keyed by it.
        self.tables = Tables(
            conversations=BufferedTable(
                self.app.Table("conversations", **table_options),
                lambda key, value: int(value["partition"]),
            ),
            totals=BufferedTable(
                self.app.Table("totals", **table_options), lambda key, value: partition_of(key)
            ),
            windows=BufferedTable(
                self.app.Table("windows", **table_options), lambda key, value: partition_of(key)
            ),
            clocks=BufferedTable(
                self.app.Table("clocks", **table_options), lambda key, value: int(key)
            ),
        )
        self.deadletters = self.app.topic(
            settings.topic_deadletters, partitions=settings.partitions
        )
        self.ticks = self.app.topic(settings.topic_ticks, partitions=settings.partitions)
        self.source = self.app.topic(
            *settings.input_topics, settings.topic_ticks, partitions=settings.partitions
        )
        self.pipeline = Pipeline(
            settings,
            tables=self.tables,
            policies=self.policies,
            dedup=DedupWindow(self.redis, settings.redis_prefix, settings.dedup_window_seconds),
            health=self.health,
            dead_letters=TopicDeadLetters(self._send_dead_letter, self.health),
            catching_up=lambda partition: self.input.catching_up(partition),
        )
        self.input = AlignedInput(self.app, settings, self.pipeline.handle_batch, self.health)
        self.registry.register(BusinessCollector(self.pipeline.view))
        self.registry.register(ConsumerLagCollector(self.consumer_lag))
        self.registry.register(AlignmentCollector(self.alignment))
        self.health.owned_partitions.set_function(
            lambda: len(self._input_partitions(self.app.assignor.assigned_actives()))
        )
        self._register()

    def _input_partitions(self, tps: set[TP]) -> set[int]:
        topic = self.settings.topic_mentions
        return {tp.partition for tp in tps if tp.topic == topic}

    def consumer_lag(self) -> dict[str, int] | None:
        """Per input topic: records on the broker not yet taken, over owned partitions.

        From the highwater the last fetch reported; None while partitions are in flux.
        """
        owned = self.pipeline.view.exported_partitions()
        return None if owned is None else self.input.lags(owned)

    def alignment(self) -> AlignmentSnapshot | None:
        owned = self.pipeline.view.exported_partitions()
        return None if owned is None else self.input.snapshot(owned)

    async def _send_dead_letter(self, key: bytes | None, value: bytes) -> None:
        await self.deadletters.send(key=key, value=value)

    def _register(self) -> None:
        app, pipeline, settings = self.app, self.pipeline, self.settings

        @app.agent(self.source, name="socialcare-events")
        async def process(stream: faust.StreamT[bytes]) -> None:
            # Batches amortise the Redis round trip and the changelog writes; `within`
            # bounds the latency a quiet stream adds. The input aligns the four topics.
            batches = stream.take_events(settings.batch_max_events, within=0.02)  # type: ignore[attr-defined]
            async for events in batches:
                await self.input.take(events)

        @app.timer(settings.sweep_interval_seconds)  # type: ignore[untyped-decorator]
        async def send_ticks() -> None:
            # Idle partitions still need their deadlines checked: a tick per owned
            # partition runs the sweep inside the agent, where table writes are allowed.
            if app.rebalancing:
                return
            try:
                for partition in sorted(self._input_partitions(app.assignor.assigned_actives())):
                    await self.ticks.send(key=b"tick", value=b"", partition=partition)
            except Exception:
                log.exception("could not send clock ticks; deadlines are checked on next event")

        @app.timer(settings.sla_refresh_seconds)  # type: ignore[untyped-decorator]
        async def refresh_policies() -> None:
            await self.refresh_policies()

        async def on_revoked(sender: Any, revoked: set[TP], **_: Any) -> None:
            lost = self._input_partitions(revoked)
            self.input.revoke(lost)
            pipeline.revoke(lost)

        async def on_assigned(sender: Any, assigned: set[TP], **_: Any) -> None:
            # What this worker held of them may be stale (another worker owned them
            # meanwhile): drop it; the indexes are rebuilt once the tables are recovered.
            gained = self._input_partitions(assigned)
            self.input.revoke(gained)
            pipeline.revoke(gained)

        async def on_rebalance_complete(sender: Any, **_: Any) -> None:
            # Tables are recovered and streams not yet resumed: index what is owned now,
            # so neither the agent nor a scrape ever builds an index.
            pipeline.assign(self._input_partitions(app.assignor.assigned_actives()))

        app.on_partitions_revoked.connect(on_revoked)  # type: ignore[arg-type]
        app.on_partitions_assigned.connect(on_assigned)  # type: ignore[arg-type]
        app.on_rebalance_complete.connect(on_rebalance_complete)  # type: ignore[arg-type]

        registry = self.registry

        @app.page("/metrics")
        class Metrics(View):
            async def get(self, request: Request) -> Response:
                # aiohttp refuses a charset inside content_type=, so set the header whole.
                return web.Response(  # type: ignore[return-value]
                    body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
                )

        @app.page("/ready")
        class Ready(View):
            async def get(self, request: Request) -> Response:
                ready = not (app.rebalancing or app.in_recovery)
                return self.json({"ready": ready}, status=200 if ready else 503)

    async def refresh_policies(self) -> None:
        """Pick up `socialcare sla set` changes: reload when the version in Redis moved."""
        try:
            version = await self.policy_store.version()
            if version != self.policies.version:
                policy, version = await self.policy_store.load()
                self.policies.replace(policy, version)
                self.health.sla_policy_version.set(version)
                self.health.sla_policy_reloads.inc()
                log.info("SLA policy version %d in force", version)
        except Exception:
            log.exception(
                "could not refresh SLA policies from Redis; keeping version %d",
                self.policies.version,
            )

    async def prepare(self) -> None:
        """Before consuming: apply the policy file if it changed, load policies."""
        path = self.settings.sla_config
        if path is not None and await self.policy_store.apply_file(path):
            log.info("applied SLA policy file %s", path)
        await self.refresh_policies()


def run_worker(settings: Settings) -> int:
    """Create topics, apply the SLA file, then run the Faust worker until stopped."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    worker = Worker(settings)
    try:
        loop.run_until_complete(ensure_topics(settings))
        loop.run_until_complete(worker.prepare())
    except (SocialcareError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    except OSError as exc:
        log.error(
            "cannot reach Kafka or Redis (%s): check KAFKA_BOOTSTRAP_SERVERS and REDIS_URL", exc
        )
        return 2
    faust_worker = faust.Worker(worker.app, loglevel=settings.log_level.upper(), loop=loop)
    # Faust's terminal spinner sets the root logger to DEBUG at level WARNING and above,
    # which makes every library debug call build a log record (about 10% of the CPU).
    faust_worker.spinner = None
    try:
        faust_worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
