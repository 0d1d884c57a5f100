"""The phases that measure issue 12's targets beyond the first run of the worker.

6. Long threads: the same number of events as threads of `LONG_THREAD_POSTS` posts, through
   a fresh worker on their own topics: events/s and changelog bytes per event, to set against
   the short threads of the main backlog (target 2).
7. Scale-out: the backlog on 8-partition topics, read by one worker, then by two worker
   processes of another application (target 3). The backlog is produced once the workers
   own their partitions, so no rebalance falls inside the timed window; the CPU of the
   broker and of each worker is printed, since two cores bound this machine. First, the
   machine's own ceiling for two processes of this work (`benchmarks.parallel`: the
   processing code alone, two copies at once against one). `--pairs` rounds, each on
   topics of its own, in alternated order; the target takes the median round.
8. Latency at `TARGET_RATE` events/s on the main worker, caught up (target 4; see
   `benchmarks.latency`, whose raw consumer gives the broker's fetch-wait floor beside it;
   on Kafka, Tansu's floor at the same rate too, on a Tansu broker of its own).
9. Scrape: a whole /metrics page with `SCRAPE_OPEN` open conversations, in-process
   (`benchmarks.scrape`, target 5).
"""

from __future__ import annotations

import asyncio
import time

from benchmarks.data import backlog_events, produce, thread_events
from benchmarks.harness import START_TIMEOUT, BenchError, BenchRun, progress_bar
from benchmarks.latency import Floor, fresh_latency, probe_floor
from benchmarks.parallel import measure_parallel
from benchmarks.report import Results
from benchmarks.scrape import scrape_cost
from benchmarks.worker_metrics import MetricsClient, Snapshot
from benchmarks.worker_run import start_worker, workers_throughput
from processor.settings import Settings
from processor.stream.topics import ensure_topics
from processor.tools.local_services import ChildProcess, free_port, start_tansu

LONG_THREAD_POSTS = 2_000
SCALE_PARTITIONS = 8
SCALE_NAME = "scale"  # the workers of the scale-out runs: scale1-0, then scale2-0 and -1
TARGET_RATE = 5_000.0  # events/s of target 4
TARGET_SECONDS = 10.0
SCRAPE_OPEN = 100_000


def variant(settings: Settings, bench: BenchRun, name: str, **changes: object) -> Settings:
    """The run's settings for another application on its own topics and port."""
    app_id = f"{bench.app_id}-{name}"
    return settings.model_copy(
        update={
            "app_id": app_id,
            "topic_mentions": f"{app_id}.mentions",
            "topic_replies": f"{app_id}.replies",
            "topic_redirections": f"{app_id}.redirections",
            "topic_surveys": f"{app_id}.surveys",
            "topic_deadletters": f"{app_id}.deadletters",
            "metrics_port": free_port(),
            **changes,
        }
    )


def changelog_bytes_per_event(snapshots: list[Snapshot]) -> float:
    processed = sum(snapshot.processed_total for snapshot in snapshots)
    return sum(snapshot.changelog_bytes for snapshot in snapshots) / max(1.0, processed)


async def measure_long_threads(bench: BenchRun, settings: Settings, results: Results) -> None:
    """Step 6: threads of LONG_THREAD_POSTS posts through a fresh worker (target 2)."""
    bench.console.rule(f"[bold]6. Long threads ({LONG_THREAD_POSTS:,} posts each)")
    long = variant(settings, bench, "long")
    await ensure_topics(long, timeout=30.0)
    backlog = thread_events(results.events, LONG_THREAD_POSTS, seed=bench.seed)
    with progress_bar(bench.console, "producing", len(backlog)) as advance:
        await produce(long, backlog, advance)
    worker = start_worker(bench, long, "worker-long")
    metrics = MetricsClient(long.metrics_port)
    try:
        with progress_bar(bench.console, "worker (long threads)", len(backlog)) as advance:
            eps, _, snapshots, cpu = await workers_throughput(
                [metrics], [worker], len(backlog), advance, bench.meter
            )
    finally:
        await metrics.close()
    worker.stop(timeout=10)
    results.long_eps = eps
    results.long_bytes_per_event = changelog_bytes_per_event(snapshots)
    results.cpu["worker, long threads"] = cpu
    bench.console.print(
        f"long threads: {eps:,.0f} events/s, {results.long_bytes_per_event:,.0f} changelog "
        f"bytes per event (short threads: {results.worker_eps:,.0f} events/s, "
        f"{results.short_bytes_per_event:,.0f} bytes per event)"
    )


async def owning(clients: list[MetricsClient], workers: list[ChildProcess], total: int) -> None:
    """Wait until the workers together own `total` partitions (assigned and recovered)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        snapshots = [await client.scrape() for client in clients]
        owned = [s.owned_partitions if s is not None else 0.0 for s in snapshots]
        if sum(owned) == total and all(owned):
            return
        for worker in workers:
            if not worker.alive:
                raise BenchError(f"{worker.name} exited with code {worker.returncode}")
        await asyncio.sleep(0.5)
    raise BenchError(f"workers did not take up {total} partitions in {START_TIMEOUT:.0f}s")


async def _scale_run(
    bench: BenchRun, settings: Settings, results: Results, count: int, round_number: int
) -> tuple[float, dict[str, float]]:
    """One application of `count` workers on the 8-partition topics, a round of its own
    (topics, group, data folders and backlog); events/s and the processes' CPU."""
    name = f"{SCALE_NAME}{count}"  # its workers: scale1-0, or scale2-0 and scale2-1
    app = variant(settings, bench, f"{name}r{round_number}", partitions=SCALE_PARTITIONS)
    await ensure_topics(app, timeout=30.0)
    workers: list[ChildProcess] = []
    clients: list[MetricsClient] = []
    for number in range(count):
        port_settings = app.model_copy(update={"metrics_port": free_port()})
        data = bench.workdir / f"{app.app_id}-{number}-data"
        workers.append(
            start_worker(
                bench, port_settings, f"{name}-{number}", {"SOCIALCARE_DATA_DIR": str(data)}
            )
        )
        clients.append(MetricsClient(port_settings.metrics_port))
    try:
        await owning(clients, workers, SCALE_PARTITIONS)
        backlog = backlog_events(results.events, seed=bench.seed + 10 + count + 100 * round_number)
        producing = asyncio.ensure_future(produce(app, backlog, lambda _: None))
        with progress_bar(bench.console, f"{count} worker(s)", len(backlog)) as advance:
            eps, _, snapshots, cpu = await workers_throughput(
                clients, workers, len(backlog), advance, bench.meter
            )
        await producing
    finally:
        for client in clients:
            await client.close()
    for worker in workers:
        worker.stop(timeout=10)
    outcomes: dict[str, float] = {}
    for snapshot in snapshots:
        for outcome, value in snapshot.outcomes().items():
            outcomes[outcome] = outcomes.get(outcome, 0.0) + value
    bench.console.print(
        f"{count} worker(s): {eps:,.0f} events/s; outcomes "
        + ", ".join(f"{k} {v:,.0f}" for k, v in sorted(outcomes.items()))
    )
    return eps, cpu


def median_round(rounds: list[tuple[float, float]]) -> int:
    """The index of the round whose ratio (two workers over one) is the median (the lower
    of the middle two for an even count)."""
    ranked = sorted(range(len(rounds)), key=lambda index: rounds[index][1] / rounds[index][0])
    return ranked[(len(ranked) - 1) // 2]


async def measure_scale_out(bench: BenchRun, settings: Settings, results: Results) -> None:
    """Step 7: one worker, then two, on 8 partitions (target 3), `bench.pairs` rounds in
    alternated order (one run's spread is wider than a setting's effect); the median
    round's figures are the target's."""
    bench.console.rule(f"[bold]7. Scale-out on {SCALE_PARTITIONS} partitions")
    results.parallel = await measure_parallel(bench.console)
    cpus: list[dict[int, dict[str, float]]] = []
    for round_number in range(bench.pairs):
        eps: dict[int, float] = {}
        cpu: dict[int, dict[str, float]] = {}
        for count in (1, 2) if round_number % 2 == 0 else (2, 1):
            eps[count], cpu[count] = await _scale_run(bench, settings, results, count, round_number)
        results.scale_rounds.append((eps[1], eps[2]))
        cpus.append(cpu)
        bench.console.print(
            f"round {round_number + 1}: one worker {eps[1]:,.0f} events/s, two workers "
            f"{eps[2]:,.0f} events/s ({eps[2] / eps[1]:.2f}x)"
        )
    chosen = median_round(results.scale_rounds)
    results.scale_one_eps, results.scale_two_eps = results.scale_rounds[chosen]
    for count, used in cpus[chosen].items():
        results.cpu[f"{count} worker(s), {SCALE_PARTITIONS} partitions"] = used


async def measure_target_latency(
    bench: BenchRun,
    settings: Settings,
    worker: ChildProcess,
    metrics: MetricsClient,
    results: Results,
) -> None:
    """Step 5c: latency at TARGET_RATE events/s, whatever the worker's throughput."""
    caught_up = await metrics.scrape()
    if caught_up is None:
        raise BenchError("the worker's /metrics did not answer before the target latency phase")
    count = int(TARGET_RATE * TARGET_SECONDS)
    results.target_latency = await fresh_latency(
        bench, settings, metrics, worker, caught_up, TARGET_RATE, count, bench.seed + 2, "lat5k"
    )
    if bench.broker == "kafka":
        results.tansu_floor = await tansu_floor(bench, settings, count)


async def tansu_floor(bench: BenchRun, settings: Settings, count: int) -> Floor:
    """Tansu's fetch-wait floor at TARGET_RATE, beside target 4: a Tansu broker of its own
    for the while, a raw consumer with the worker's fetch settings, no worker."""
    folder = bench.workdir / "tansu-floor"
    folder.mkdir(exist_ok=True)
    tansu, bootstrap = start_tansu(folder)
    bench.adopt(tansu)
    try:
        on_tansu = variant(settings, bench, "floor", kafka_bootstrap_servers=bootstrap)
        floor = await probe_floor(bench, on_tansu, "tansu", TARGET_RATE, count, bench.seed + 3)
    finally:
        tansu.stop(timeout=10)
    bench.console.print(
        f"tansu floor at {TARGET_RATE:,.0f}/s: raw consumer p50 {1e3 * floor.p50:,.0f} ms, "
        f"p99 {1e3 * floor.p99:,.0f} ms ({floor.seen:,} seen)"
    )
    return floor


async def measure_scrape(bench: BenchRun, results: Results) -> None:
    """Step 8: a whole /metrics page with SCRAPE_OPEN open conversations (target 5)."""
    bench.console.rule(f"[bold]8. Scrape with {SCRAPE_OPEN:,} open conversations")
    results.scrape = await scrape_cost(SCRAPE_OPEN, 3.0, 20, bench.console)
    bench.console.print(
        f"whole page: median {results.scrape.median_seconds * 1e3:.1f} ms over "
        f"{results.scrape.scrapes} scrapes ({results.scrape.lines:,} lines)"
    )
