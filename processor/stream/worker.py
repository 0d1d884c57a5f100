"""The worker process: the Faust app, its state and topics, the agent, timers and pages.

The agent stays thin: it hands each fetch of the input topics (and of the internal
clock-tick and customer-contact topics), delivered whole by the consumer
(`processor.stream.fetch`), to the aligned input and the pipeline. The app subscribes to
the topics together, so they are co-partitioned and every event of a conversation reaches
the same worker. Faust runs the consumer group; the state is `processor.state`'s: on an
assignment the worker fences the partitions' previous writers, takes up their local copy
(its own from before, or a standby copy) and reads the changelog after it, then the
pipeline indexes them (`assign`).
A lock keeps rebalances and batches apart, so a batch never straddles a change of
ownership. The scrape reads through the pipeline's read-only view.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import Callable
from typing import Any

import faust
import redis.asyncio as aioredis
from aiohttp import web
from aiokafka.errors import KafkaError
from faust.types import TP
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from threadpoolctl import threadpool_limits

from processor.domain.sla import SlaPolicyCache
from processor.errors import SocialcareError
from processor.metrics.collectors import BusinessCollector
from processor.metrics.exposition import TextWriter
from processor.metrics.health import (
    AlignmentCollector,
    AlignmentSnapshot,
    ConsumerLagCollector,
    HealthMetrics,
    new_registry,
)
from processor.settings import Settings
from processor.state.local import LocalState
from processor.state.records import changelog_topic
from processor.state.recovery import recover
from processor.state.standby import StandbyCopies
from processor.state.store import StateStore
from processor.state.writer import ChangelogWriter, changelog_writer, check_transactions
from processor.state.writer_thread import ThreadedWriter
from processor.stream.aligned_input import AlignedInput
from processor.stream.checkpoint import CatchUp, ChangelogWriteFailed, StateCheckpoint
from processor.stream.deadletters import TopicDeadLetters
from processor.stream.dedup import DedupWindow
from processor.stream.event_loops import new_event_loop
from processor.stream.fetch import App, Fetched, FetchWait, Route
from processor.stream.fetch_times import FetchTimes
from processor.stream.interfaces import Message
from processor.stream.labels import RedisLabelRegistry
from processor.stream.pipeline import Pipeline
from processor.stream.policy_store import SlaPolicyStore
from processor.stream.preflight import (
    check_port,
    quiet_kafka_client,
    redacted,
    wait_for_kafka,
    wait_for_redis,
)
from processor.stream.reachability import Reachability
from processor.stream.tables import ON_DISK, PARTITION_OF, Tables
from processor.stream.topics import ensure_topics

log = logging.getLogger(__name__)


def broker_url(bootstrap_servers: str) -> str:
    return ";".join(f"kafka://{server.strip()}" for server in bootstrap_servers.split(","))


class Worker:
    """Everything one worker process holds; `app` is the Faust application."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = App(
            settings.app_id,
            broker=broker_url(settings.kafka_bootstrap_servers),
            datadir=str(settings.data_dir),
            key_serializer="raw",
            value_serializer="raw",
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
            # A fetch is the agent's batch: this bounds it.
            broker_max_poll_records=settings.batch_max_events,
            # Faust's assignor (standby replicas > 0) keeps the agent's topics co-partitioned;
            # the round-robin one it falls back to without tables would not.
            table_standby_replicas=1,
        )
        # Short timeouts: a Redis that went away must not hold a batch for long. A pooled
        # connection to a Redis that restarted fails once: redis-py retries it on a new one.
        self.redis = aioredis.Redis.from_url(
            settings.redis_url,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            health_check_interval=10,
        )
        self.registry = new_registry()
        self.health = HealthMetrics(self.registry)
        self.redis_state = Reachability(
            "Redis",
            "counting goes on (the state dedups within the allowed lateness); SLA policy "
            "changes wait until it is back",
            lambda up: self.health.redis_reachable.set(1 if up else 0),
        )
        self.policy_store = SlaPolicyStore(self.redis, settings.redis_prefix)
        self.policies = SlaPolicyCache()

        self.changelog = changelog_topic(settings.app_id)
        self.local = LocalState(settings.data_dir / settings.app_id / "state")
        self.store = StateStore(PARTITION_OF, self.local, on_disk=ON_DISK)
        # On a thread of its own: a batch's write waits on the broker while the next
        # batch is processed (`processor.state.writer_thread`).
        self.writer: ChangelogWriter = ThreadedWriter(
            changelog_writer(
                settings.kafka_bootstrap_servers, settings.app_id, self.changelog,
                transactional=settings.processing_guarantee == "exactly_once",
                one_record_per_batch=settings.one_record_per_batch,
                compression=settings.changelog_compression,
            )
        )  # fmt: skip
        self.catch_up = CatchUp(settings.catch_up_lag_records, settings.caught_up_lag_records)
        self.checkpoint = StateCheckpoint(
            self.store, self.writer, settings.topic_deadletters, self.health,
            interval=settings.commit_interval_seconds,
            catch_up_interval=settings.catch_up_commit_interval_seconds,
            catching_up=self._far_behind,
        )  # fmt: skip
        # Batches and partition changes take turns: a batch never sees its partitions move.
        self.lock = asyncio.Lock()
        self.assigned = asyncio.Event()
        # Set once the current assignment's partitions are taken up, cleared on a revocation.
        self.taken = asyncio.Event()
        # Why the worker must stop (a changelog write failed), and how it stops (set by
        # `run_worker`: the Faust worker's stop).
        self.fatal: ChangelogWriteFailed | None = None
        self.on_fatal: Callable[[], object] = lambda: None
        # Kafka's end offsets are exact; Tansu's are only with one record per batch.
        self.exact_end_offsets = self.writer.transactional or settings.one_record_per_batch
        self.standby = StandbyCopies(
            self.store, self.local, bootstrap_servers=settings.kafka_bootstrap_servers,
            topic=self.changelog, partitions=settings.partitions,
            transactional=self.writer.transactional, lock=self.lock, report=self._standby_report,
            exact_end_offsets=self.exact_end_offsets,
        )  # fmt: skip
        self.ticks = self.app.topic(settings.topic_ticks, partitions=settings.partitions)
        self.source = self.app.topic(
            *settings.input_topics,
            settings.topic_ticks,
            settings.topic_customer_contacts,
            partitions=settings.partitions,
        )
        self.pipeline = Pipeline(
            settings,
            tables=Tables.of_store(self.store),
            policies=self.policies,
            dedup=DedupWindow(
                self.redis, settings.redis_prefix, settings.dedup_window_seconds, self.redis_state
            ),
            health=self.health,
            dead_letters=TopicDeadLetters(self.checkpoint.stage_dead_letter, self.health),
            checkpoint=self.checkpoint,
            catching_up=lambda partition: self.input.catching_up(partition),
            label_registry=RedisLabelRegistry(self.redis, settings.redis_prefix, self.redis_state),
            send_contact=self.checkpoint.stage,
        )
        self.app.fetch_wait = FetchWait.of(settings)
        fetch_times = self.app.fetch_times = FetchTimes()
        self.input = AlignedInput(
            self.app, settings, self.handle_batch,
            lambda messages: self.app.batch_consumer().ack_messages(messages), self.health,
            fetch_times,
        )  # fmt: skip
        # One Faust event per fetch: the consumer hands fetches to this channel, the agent
        # reads it; at most one fetch waits while the agent works on another.
        self.fetches = self.app.channel(maxsize=1)
        routed = (*settings.input_topics, settings.topic_ticks, settings.topic_customer_contacts)
        self.app.route = Route(frozenset(routed), self._deliver)
        # The business families have a registry of their own: the whole page writes them
        # with the exposition's `TextWriter` (a third of prometheus-client's time).
        self.business = BusinessCollector(self.pipeline.view)
        self.business_registry = CollectorRegistry(auto_describe=False)
        self.business_registry.register(self.business)
        self.page_writer = TextWriter()
        self.registry.register(ConsumerLagCollector(self.consumer_lag))
        self.registry.register(AlignmentCollector(self.alignment))
        # The partitions exported: assigned, recovered and indexed (not merely assigned).
        self.health.owned_partitions.set_function(
            lambda: len(self.pipeline.view.exported_partitions() or ())
        )
        self._register()

    def _standby_report(self, partitions: int, lag: int) -> None:
        self.health.standby_partitions.set(partitions)
        self.health.standby_lag.set(lag)

    async def _deliver(self, fetched: Fetched) -> None:
        # An empty fetch still matters while records wait for alignment (a wait may be over).
        if not (fetched.messages or self.input.waiting()):
            return
        try:
            await self.fetches.send(value=fetched)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the fetcher itself is stopping
            # A rebalance cleared the agent's queue while this fetch waited for room: it is
            # dropped unacknowledged, read again from the committed offsets.

    async def take_fetch(self, fetched: Fetched) -> None:
        """One fetch through the aligned input, once the partitions of the assignment it was
        fetched under are taken up; a fetch of an earlier consumer generation is dropped
        unacknowledged (the partitions were sought back to their committed offsets since,
        its records come again)."""
        # Faust resumes fetching before its partitions-assigned signal has run our takeover:
        # processing now would find the partitions unowned and leave their records behind.
        await self.taken.wait()
        if fetched.generation != self.app.consumer_generation_id:
            log.info(
                "dropped a fetch of %d records of consumer generation %d (now %d)",
                len(fetched.messages), fetched.generation, self.app.consumer_generation_id,
            )  # fmt: skip
            return
        await self.input.take(fetched.messages)

    def stop_for(self, failure: ChangelogWriteFailed) -> None:
        """A write failed: stop, with exit status 3, rather than go on from a state ahead
        of its changelog (what a batch after it wrote would then lose on a takeover). The
        restarted worker takes its partitions up from the changelog and processes the
        unwritten batches again."""
        self.fatal = failure
        log.critical(
            "%s; stopping (exit status 3): the state in memory is ahead of the changelog. "
            "Restart the worker (a supervisor's restart policy does): it reads its "
            "partitions' state from the changelog and processes the unwritten input again. "
            "The broker's log says why the write failed.", failure,
        )  # fmt: skip
        self.on_fatal()

    def _input_partitions(self, tps: set[TP]) -> set[int]:
        topic = self.settings.topic_mentions
        return {tp.partition for tp in tps if tp.topic == topic}

    def consumer_lag(self) -> dict[str, int] | None:
        """Per input topic: records on the broker not yet taken, over owned partitions.

        From the highwater the last fetch reported; None while partitions are in flux.
        """
        owned = self.pipeline.view.exported_partitions()
        return None if owned is None else self.input.lags(owned)

    def _far_behind(self) -> bool:
        """The owned input not processed yet is a backlog (the catch-up commit interval)."""
        owned = self.pipeline.owned
        return self.catch_up.update(self.input.unprocessed(owned) if owned else None)

    def alignment(self) -> AlignmentSnapshot | None:
        owned = self.pipeline.view.exported_partitions()
        return None if owned is None else self.input.snapshot(owned)

    async def handle_batch(
        self, messages: list[Message]
    ) -> tuple[frozenset[int], asyncio.Future[set[int]]]:
        """A batch through the pipeline, its write started.

        Returns the partitions whose records must not be acknowledged (messages of
        partitions this worker no longer owns, taken before a rebalance that moved them, are
        left to their owner; partitions the previous write found fenced off are given up),
        and the write, which completes with the partitions it could not write.
        """
        async with self.lock:
            stale = frozenset(m.partition for m in messages if not self.store.has(m.partition))
            mine = [m for m in messages if m.partition not in stale] if stale else messages
            committing = await self.pipeline.process(mine)
            if committing.fenced_earlier:
                self._give_up(set(committing.fenced_earlier))
            return stale | committing.fenced_earlier, committing.written

    async def write_deferred(self) -> None:
        """Write the batches the commit interval deferred, once it is over."""
        async with self.lock:
            if self.fatal is not None or not self.checkpoint.overdue():
                return
            try:
                committing = await self.checkpoint.begin(force=True)
            except ChangelogWriteFailed as exc:
                self.stop_for(exc)
                return
            if committing.fenced_earlier:
                self._give_up(set(committing.fenced_earlier))

    async def settle_writes(self) -> None:
        """Wait for the batch being written (before partitions move or the worker stops);
        give up what it could not write. A failed write gives up every partition held:
        their state in memory is ahead of the changelog, they are taken up from it again."""
        try:
            fenced = await self.checkpoint.settle()
        except Exception:
            log.exception(
                "the last batch could not be written; its partitions are read again from "
                "the changelog"
            )
            fenced = set(self.store.offsets)
        if fenced:
            self._give_up(fenced)

    def _give_up(self, partitions: set[int]) -> None:
        """Forget everything of partitions another worker owns now (or will)."""
        self.input.revoke(partitions)
        self.pipeline.revoke(partitions)
        self.checkpoint.discard(partitions)
        self.store.drop(partitions)

    async def take_partitions(self, owned: set[int]) -> None:
        """A new assignment: drop what went, fence and catch up what is owned now."""
        async with self.lock:
            await self._take_partitions(owned)
        self.assigned.set()
        self.taken.set()

    async def _take_partitions(self, owned: set[int]) -> None:
        # Also here, not only at the revocation: a batch that had passed `taken` before it
        # was cleared may have run (and started a write) since.
        await self.settle_writes()
        gone = {p for p in self.store.offsets if p not in owned}
        if gone:
            await self.writer.stop(gone)
            self._give_up(gone)
        fresh = {p for p in owned if not self.store.has(p)}
        # Fencing first: the previous writers' open transactions are aborted, so the
        # changelog's end is final when it is read.
        await self.writer.start(owned)
        recovered = await recover(
            self.store,
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            topic=self.changelog,
            partitions=owned,
            transactional=self.writer.transactional,
            exact_end_offsets=self.exact_end_offsets,
        )
        self.health.recovery_seconds.set(recovered.seconds)
        self.health.recovery_records.inc(sum(recovered.applied.values()))
        # Index what changed (the rest kept its indexes) and export the owned partitions.
        self.pipeline.revoke(fresh | recovered.changed)
        self.pipeline.assign(owned)
        log.info(
            "partitions %s ready: %d changelog records read in %.2fs (%d new, %d from the "
            "local copy, %d caught up)", sorted(owned), sum(recovered.applied.values()),
            recovered.seconds, len(fresh), len(recovered.local), len(recovered.changed - fresh),
        )  # fmt: skip

    def _register(self) -> None:
        app, pipeline, settings = self.app, self.pipeline, self.settings

        # Subscribed as one group of topics (co-partitioned); their records come as fetches.
        app.topics.add(self.source)

        @app.agent(self.fetches, name="socialcare-events")
        async def process(stream: faust.StreamT[Fetched]) -> None:
            # A fetch at a time amortises the Redis round trip and the changelog writes;
            # the input aligns the four topics.
            async for fetched in stream:
                if self.fatal is not None:
                    continue  # stopping: nothing more is processed
                try:
                    await self.take_fetch(fetched)
                except ChangelogWriteFailed as exc:
                    self.stop_for(exc)

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

        if settings.standby_copies:

            @app.task  # type: ignore[untyped-decorator]
            async def follow_standby_copies() -> None:
                # After the first assignment: until then every partition looks unowned.
                await self.assigned.wait()
                await self.standby.run()

        @app.timer(settings.sla_refresh_seconds)  # type: ignore[untyped-decorator]
        async def refresh_policies() -> None:
            await self.refresh_policies()

        if settings.commit_interval_seconds > 0:

            @app.timer(settings.commit_interval_seconds)  # type: ignore[untyped-decorator]
            async def write_deferred() -> None:  # input gone quiet: not with the next tick
                await self.write_deferred()

        async def on_revoked(sender: Any, revoked: set[TP], **_: Any) -> None:
            # Export nothing until the assignment. The state and the records buffered for
            # the partitions stay until it says which are gone: a kept partition goes on
            # in offset order (dropping its buffer and reading again from the committed
            # offset could not, with later records already fetched), a gone one is
            # dropped then, its next owner reading from the committed offset.
            self.taken.clear()
            async with self.lock:
                # The batch being written is acknowledged before the offsets are committed.
                await self.settle_writes()
                pipeline.revoke(set())

        async def on_assigned(sender: Any, assigned: set[TP], **_: Any) -> None:
            await self.take_partitions(self._input_partitions(assigned))

        app.on_partitions_revoked.connect(on_revoked)  # type: ignore[arg-type]
        app.on_partitions_assigned.connect(on_assigned)  # type: ignore[arg-type]

        registry, business_registry = self.registry, self.business_registry
        business, page_writer = self.business, self.page_writer

        @app.page("/metrics")
        class Metrics(View):
            async def get(self, request: Request) -> Response:
                # `?name[]=family` restricts the page to those families, as prometheus
                # client's own handlers do: a cheap probe skips the business collector.
                names = request.query.getall("name[]", [])  # type: ignore[attr-defined]
                if names:
                    body = generate_latest(registry.restricted_registry(names)) + (
                        generate_latest(business_registry.restricted_registry(names))
                    )
                else:
                    body = generate_latest(registry) + page_writer.text(business.page())
                # aiohttp refuses a charset inside content_type=, so set the header whole.
                return web.Response(  # type: ignore[return-value]
                    body=body, headers={"Content-Type": CONTENT_TYPE_LATEST}
                )

        redis_state = self.redis_state

        @app.page("/ready")
        class Ready(View):
            async def get(self, request: Request) -> Response:
                assigned = not (app.rebalancing or app.in_recovery)
                ready = assigned and redis_state.reachable
                body = {"ready": ready, "partitions_assigned": assigned,
                        "redis_reachable": redis_state.reachable}  # fmt: skip
                return self.json(body, status=200 if ready else 503)

    async def refresh_policies(self) -> None:
        """Pick up `socialcare sla set` changes: reload when the version in Redis moved.

        Redis away is one warning for the outage (`Reachability`), not one per refresh;
        the policies in force stay.
        """
        try:
            version = await self.policy_store.version()
            if version != self.policies.version:
                policy, version = await self.policy_store.load()
                self.policies.replace(policy, version)
                self.health.sla_policy_version.set(version)
                self.health.sla_policy_reloads.inc()
                log.info("SLA policy version %d in force", version)
        except (RedisError, OSError) as exc:
            self.redis_state.failed(exc)
            return
        except Exception:
            log.exception(
                "could not refresh SLA policies from Redis; keeping version %d",
                self.policies.version,
            )
            return
        self.redis_state.ok()

    async def close(self) -> None:
        async with self.lock:
            await self.settle_writes()
        await self.writer.close()
        self.local.close()

    async def prepare(self) -> None:
        """Before consuming: apply the policy file if it changed, load policies."""
        path = self.settings.sla_config
        if path is not None and await self.policy_store.apply_file(path):
            log.info("applied SLA policy file %s", path)
        await self.refresh_policies()


# A batch allocates tens of thousands of short-lived dicts, lists and tuples (decoded events,
# states, contributions): with the default threshold (700) the collector ran every few
# events, about 15 % of the worker's time; at 50,000 a backlog's batch of a thousand
# records, alive until the batch ends, was still traversed at every collection (18 of
# 10 ms each in 50,000 events, 4 % of the time). At 500,000 that backlog pauses for 1 ms
# (`socialcare_gc_pause_seconds`). Reference cycles are rare on the hot path.
GC_THRESHOLDS = (500_000, 20, 100)


def tune_garbage_collector() -> None:
    """Collect less often, and leave what start-up built (modules, the app) out of it."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


# How long the main thread may hold the GIL while another thread waits for it (CPython's
# default is 5 ms). The changelog writer's and the consumer's threads need it for a moment
# at every step of a request (a transaction takes dozens): at 5 ms each, a batch's write
# outlasted the processing of the next batch and the worker waited on it for 40 % of a
# backlog (9-13 s of 25 s); at 0.5 ms, 3 s.
GIL_SWITCH_SECONDS = 0.0005


def one_blas_thread() -> None:
    """The CSAT models' algebra on one thread: their 20 x 20 matrices gain nothing from
    OpenBLAS's pools (numpy's and scipy's, a thread per core each), whose threads otherwise
    compete with the broker and the event loop for the cores (on two cores a month replay
    under load found its partitions misaligned)."""
    threadpool_limits(limits=1, user_api="blas")


def run_worker(settings: Settings) -> int:
    """Check the port, Kafka and Redis, create topics, apply the SLA file, then run the
    Faust worker until stopped. What a user can get wrong at start is one line and 2."""
    loop = new_event_loop(settings.event_loop)
    asyncio.set_event_loop(loop)
    debug = settings.log_level.lower() == "debug"
    try:
        check_port(settings.metrics_bind, settings.metrics_port, "METRICS_PORT")
        with quiet_kafka_client():
            loop.run_until_complete(
                wait_for_kafka(settings.kafka_bootstrap_servers, settings.startup_timeout_seconds)
            )
            loop.run_until_complete(
                wait_for_redis(settings.redis_url, settings.startup_timeout_seconds)
            )
            worker = Worker(settings)
            loop.run_until_complete(ensure_topics(settings, settings.startup_timeout_seconds))
            if settings.processing_guarantee == "exactly_once":
                loop.run_until_complete(
                    check_transactions(settings.kafka_bootstrap_servers, settings.app_id)
                )
        loop.run_until_complete(worker.prepare())
    except (SocialcareError, ValueError) as exc:
        log.error("%s", exc, exc_info=debug)
        return 2
    except (OSError, KafkaError, RedisError) as exc:
        log.error(
            "Kafka or Redis failed at start (%s: %s): check KAFKA_BOOTSTRAP_SERVERS (%s) and "
            "REDIS_URL (%s)", type(exc).__name__, exc, settings.kafka_bootstrap_servers,
            redacted(settings.redis_url), exc_info=debug,
        )  # fmt: skip
        return 2
    tune_garbage_collector()
    one_blas_thread()
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    faust_worker = faust.Worker(worker.app, loglevel=settings.log_level.upper(), loop=loop)
    # Faust's terminal spinner sets the root logger to DEBUG at level WARNING and above,
    # which makes every library debug call build a log record (about 10% of the CPU).
    faust_worker.spinner = None
    worker.on_fatal = lambda: loop.create_task(faust_worker.stop())
    code = 0
    try:
        faust_worker.execute_from_commandline()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        if not loop.is_closed():
            loop.run_until_complete(worker.close())
    return WRITE_FAILED if worker.fatal is not None else code


# The exit status of a worker stopped by a failed changelog write (2: a start-up error).
WRITE_FAILED = 3
