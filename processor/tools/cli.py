"""The `socialcare` command: worker, webhook, stack, producing events, SLA, dead letters, bench."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from processor.settings import ConfigurationError, Settings, load_settings
from processor.tools.backtest_cli import backtest_app
from processor.tools.cli_values import (
    DURATION_FORMS,
    PriorityChoice,
    ReasonChoice,
    SourceChoice,
    parse_duration,
)
from processor.tools.report_cli import report

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from processor.ingest.producer import ProduceReport
    from processor.tools.deadletters import DeadLetter, Selection

# Plain click output (rich_markup_mode=None): a bad value is one "Error: ..." line under the
# usage, not a box, and `--help` is plain text (the README's command table is checked
# against it).
app = typer.Typer(
    help="Live social customer-care metrics: Faust workers over Kafka, exported to Prometheus.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
sla_app = typer.Typer(
    help="Show and change the SLA policies in Redis (live, no restart).", rich_markup_mode=None
)
app.add_typer(sla_app, name="sla")
deadletters_app = typer.Typer(
    help="Show the dead-letter topic and send its input again after a fix.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(deadletters_app, name="deadletters")
app.add_typer(backtest_app, name="backtest")
console = Console(stderr=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


@app.command()
def worker() -> None:
    """Run one Faust worker: consume the four input topics, serve /metrics on METRICS_PORT.

    Configuration comes from the environment (README, Configuration). Start more workers
    with the same SOCIALCARE_APP_ID to share the partitions.
    """
    settings = _settings()
    from processor.stream.worker import run_worker

    sys.exit(run_worker(settings))


@app.command()
def webhook() -> None:
    """Serve the ingest webhook: POST events to /v1/events on SOCIALCARE_WEBHOOK_PORT.

    Needs SOCIALCARE_WEBHOOK_SECRET. Valid events go to their topics keyed by conversation,
    rejected ones to the dead-letter topic; the answer lists each event's result.
    """
    settings = _settings()
    if not settings.webhook_secrets:
        console.print(
            "[red]error:[/red] SOCIALCARE_WEBHOOK_SECRET is not set: give the webhook a shared "
            "secret of at least 16 characters (the same one the listening platform signs with)"
        )
        raise typer.Exit(2)
    from processor.ingest.webhook import run_webhook

    logging.getLogger().setLevel(settings.log_level.upper())
    sys.exit(run_webhook(settings))


@app.command()
def stack(
    metrics_port: Annotated[int, typer.Option(help="Port of the worker's /metrics.")] = 8000,
    rate: Annotated[
        float, typer.Option(help="Synthetic conversations per minute (bursts come on top).")
    ] = 120.0,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic traffic.")] = 1,
) -> None:
    """Local stack on this machine: a Tansu broker, Redis, one worker (4 partitions), the
    ingest webhook (with a fresh secret unless SOCIALCARE_WEBHOOK_SECRET is set) and a
    synthetic traffic generator.

    Prints the metrics and webhook URLs, then a status line every 10 s from the first
    events on; ports that are taken are replaced by free ones. Ctrl-C stops everything.
    """
    from processor.tools.stack import run_stack

    sys.exit(run_stack(metrics_port=metrics_port, rate=rate, seed=seed, console=console))


@app.command()
def produce(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="JSON lines of v1 events.")
    ],
) -> None:
    """Send the v1 events of a JSON-lines file to their topics, keyed by conversation_id."""
    settings = _settings()
    from processor.ingest.producer import produce_file

    _send_file(settings, file, lambda progress: produce_file(settings, file, progress))


def _send_file(
    settings: Settings,
    file: Path,
    run: Callable[[Callable[[int], None]], Coroutine[Any, Any, ProduceReport]],
) -> None:
    """Run a file send with a progress bar; report per topic and every line not sent."""
    with Progress(
        TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console,
    ) as progress:  # fmt: skip
        total = sum(1 for line in file.open("rb") if line.strip())
        task = progress.add_task("send", total=total)
        report = asyncio.run(run(lambda n: progress.advance(task, n)))
    for topic, count in sorted(report.by_topic.items()):
        console.print(f"{topic}: {count}")
    console.print(f"sent {report.sent} events")
    for number, problem in report.unroutable:
        console.print(f"[red]line {number}:[/red] {problem}")
    if report.unroutable:
        console.print(
            f"[red]{len(report.unroutable)} lines not sent[/red]: fix them and send them again"
        )
        raise typer.Exit(1)


@app.command()
def replay(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="JSON lines of v1 events.")
    ],
    speed: Annotated[
        float,
        typer.Option(
            min=0,
            help="0: as fast as possible; 1: real time; N: N times real time (paced by "
            "occurred_at from the first event).",
        ),
    ] = 0.0,
) -> None:
    """Replay history: send a JSON-lines file in event-time order, paced as asked.

    For correct SLA numbers from history, run the workers with SOCIALCARE_CLOCK=event (the
    clock is then the event-time watermark, not the wall clock). The workers read the four
    topics aligned by event time, so any speed works with the default lateness. Replaying
    the same file twice changes nothing: the event ids are deduplicated.
    """
    settings = _settings()
    from processor.ingest.producer import produce_file

    _send_file(settings, file, lambda progress: produce_file(settings, file, progress, speed))


@app.command("import-twcs")
def import_twcs(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A TWCS CSV export (twcs.csv).")
    ],
    output: Annotated[
        Path | None,
        typer.Option(help="Write the v1 events as JSON lines here instead of sending them."),
    ] = None,
    speed: Annotated[
        float, typer.Option(min=0, help="Replay speed when sending (see `replay`).")
    ] = 0.0,
) -> None:
    """Import the public "Customer Support on Twitter" CSV: threads -> v1 events -> topics.

    Threading and brand attribution rules: README, "Importing Twitter support data".
    Unreadable rows are listed and counted, never silently dropped.
    """
    import tempfile

    from processor.ingest.synthetic import to_json_lines
    from processor.ingest.twitter_support import read_twcs

    try:
        events, report = read_twcs(file)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(
        f"{report.rows} rows -> {report.events} events: {report.conversations} conversations, "
        f"{report.mentions} mentions, {report.replies} replies, {report.redirections} "
        f"redirections ({report.orphans} posts with a parent missing from the file)"
    )
    for number, reason in report.skipped:
        console.print(f"[yellow]row {number} skipped:[/yellow] {reason}")
    if output is not None:
        output.write_text("".join(to_json_lines(events)))
        console.print(f"wrote {output}")
        return
    settings = _settings()
    from processor.ingest.producer import produce_file

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "twcs.jsonl"
        path.write_text("".join(to_json_lines(events)))
        _send_file(settings, path, lambda progress: produce_file(settings, path, progress, speed))


@app.command()
def generate(
    rate: Annotated[float, typer.Option(help="Synthetic conversations per minute.")] = 30.0,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic traffic.")] = 1,
    history: Annotated[
        float | None,
        typer.Option(
            help="Write this many hours of history as JSON lines to stdout instead of live traffic."
        ),
    ] = None,
    time_scale: Annotated[
        float,
        typer.Option(
            min=1.0,
            help="Live: simulated seconds per real second (60: an hour of care in a minute; "
            "--rate stays per simulated minute).",
        ),
    ] = 1.0,
    unanswered_brand: Annotated[
        list[str] | None,
        typer.Option(help="Live: withhold this brand's replies and redirections (repeatable)."),
    ] = None,
) -> None:
    """Synthetic traffic: live onto the topics (default) or history as JSON lines."""
    from processor.ingest.synthetic import SyntheticTraffic, TrafficProfile, to_json_lines

    profile = TrafficProfile(conversations_per_minute=rate)
    if history is not None:
        import time

        end = time.time()
        traffic = SyntheticTraffic(start=end - history * 3600, seed=seed, profile=profile)
        sys.stdout.writelines(to_json_lines(traffic.advance(end)))
        return
    settings = _settings()
    from processor.ingest.live import run_generator

    asyncio.run(
        run_generator(
            settings, seed, profile, console, time_scale, frozenset(unanswered_brand or ())
        )
    )


@sla_app.command("list")
def sla_list() -> None:
    """Print the SLA policy set in force (version, default and rules)."""
    settings = _settings()
    from processor.tools.sla_commands import load_policies

    policy, version = asyncio.run(load_policies(settings))
    table = Table(title=f"SLA policies (version {version})")
    for column in ("brand", "channel", "priority", "first response", "next response",
                   "resolution"):  # fmt: skip
        table.add_column(column)
    table.add_row(
        "*", "*", "*", str(policy.default.first_response), str(policy.default.next_response),
        str(policy.default.resolution),
    )  # fmt: skip
    for rule in sorted(policy.rules, key=lambda r: -r.specificity):
        table.add_row(
            rule.brand or "*", rule.channel or "*", rule.priority or "*",
            str(rule.first_response or "(default)"), str(rule.next_response or "(default)"),
            str(rule.resolution or "(default)"),
        )  # fmt: skip
    Console().print(table)


@sla_app.command("set")
def sla_set(
    brand: Annotated[str | None, typer.Option(help="Brand to match (all if omitted).")] = None,
    channel: Annotated[str | None, typer.Option(help="Channel to match (all if omitted).")] = None,
    priority: Annotated[PriorityChoice | None, typer.Option(help="Priority to match.")] = None,
    first_response: Annotated[
        timedelta | None,
        typer.Option(
            parser=parse_duration,
            metavar="DURATION",
            help=f"First-response target: {DURATION_FORMS}.",
        ),
    ] = None,
    next_response: Annotated[
        timedelta | None,
        typer.Option(
            parser=parse_duration,
            metavar="DURATION",
            help="Next-response target (follow-ups), same forms.",
        ),
    ] = None,
    resolution: Annotated[
        timedelta | None,
        typer.Option(parser=parse_duration, metavar="DURATION", help="Resolution target."),
    ] = None,
    default: Annotated[bool, typer.Option("--default", help="Change the default targets.")] = False,
) -> None:
    """Add or change a rule (most specific match wins); running workers pick it up live."""
    settings = _settings()
    from processor.domain.sla import SlaRule
    from processor.tools.sla_commands import set_default_policy, set_policy_rule

    targets = {
        "first_response": first_response,
        "next_response": next_response,
        "resolution": resolution,
    }
    if all(value is None for value in targets.values()):
        console.print(
            "[red]error:[/red] give --first-response, --next-response and/or --resolution "
            f"({DURATION_FORMS})"
        )
        raise typer.Exit(2)
    try:
        if default:
            version = asyncio.run(set_default_policy(settings, targets))
        else:
            rule = SlaRule.model_validate(
                {
                    "brand": brand,
                    "channel": channel,
                    "priority": None if priority is None else str(priority),
                    **targets,
                }
            )
            version = asyncio.run(set_policy_rule(settings, rule))
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(
        f"SLA policy version {version} stored; workers apply it within "
        f"{settings.sla_refresh_seconds:g}s"
    )


@app.command()
def bench(
    events: Annotated[int, typer.Option(help="Events to push through the broker.")] = 50000,
    partitions: Annotated[int, typer.Option(help="Partitions of the input topics.")] = 4,
    broker: Annotated[
        str, typer.Option(help="tansu (embedded) or kafka (Apache Kafka, with transactions).")
    ] = "tansu",
    pairs: Annotated[
        int,
        typer.Option(help="Alternated runs of no-op agent, worker, worker without predictions."),
    ] = 3,
) -> None:
    """Benchmark one worker against raw aiokafka and a do-nothing Faust agent, same data.

    Runs the `benchmarks` package of a source checkout (it is not part of the installed
    package): the same as `python -m benchmarks` from the repository root.
    """
    import processor

    checkout = Path(processor.__file__).resolve().parent.parent
    if not (checkout / "benchmarks" / "__init__.py").is_file():
        console.print(
            "[red]error:[/red] the benchmark runs from a source checkout "
            "(python -m benchmarks in the repository)",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    sys.path.insert(0, str(checkout))
    from benchmarks.run import run_benchmark

    if broker not in ("tansu", "kafka"):
        console.print(f"[red]error:[/red] --broker must be tansu or kafka, not {broker!r}")
        sys.exit(2)
    sys.exit(
        run_benchmark(
            events=events, partitions=partitions, console=console, broker=broker, pairs=pairs
        )
    )


@app.command()
def rules(
    config: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="The alerting configuration.")
    ] = Path("prometheus/slo.yaml"),
    output: Annotated[
        Path | None, typer.Option(help="Write the rule file here (default: stdout).")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if OUTPUT differs from what CONFIG gives.")
    ] = False,
) -> None:
    """Generate the Prometheus recording and alert rules from prometheus/slo.yaml."""

    from processor.tools.alert_rules import load_config, render

    try:
        text = render(load_config(config))
    except (ValidationError, ValueError) as exc:
        console.print(f"[red]error:[/red] {config}: {exc}")
        raise typer.Exit(2) from None
    if output is None:
        sys.stdout.write(text)
    elif check:
        if not output.is_file() or output.read_text(encoding="utf-8") != text:
            console.print(f"[red]{output} is out of date[/red]: run socialcare rules --output")
            raise typer.Exit(1)
        console.print(f"{output} is up to date")
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")


ReasonOption = Annotated[
    list[ReasonChoice] | None,
    typer.Option("--reason", help="Only this reason (repeatable), e.g. too_late."),
]
SourceOption = Annotated[
    list[SourceChoice] | None,
    typer.Option("--source", help="Only input from the topics or the webhook."),
]
EventIdOption = Annotated[
    list[str] | None, typer.Option("--event-id", help="Only this event_id (repeatable).")
]
SinceOption = Annotated[
    datetime | None,
    typer.Option(help="Only dead letters written at or after this time (UTC if no offset)."),
]


def _selection(
    reason: list[ReasonChoice] | None,
    source: list[SourceChoice] | None,
    event_id: list[str] | None,
    since: datetime | None,
) -> Selection:
    from processor.tools.deadletters import Selection

    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return Selection(
        reasons=frozenset(str(r) for r in reason or ()),
        sources=frozenset(str(s) for s in source or ()),
        event_ids=frozenset(event_id or ()), since=since,
    )  # fmt: skip


def _read_letters(settings: Settings, selection: Selection) -> list[DeadLetter]:
    from processor.tools.deadletters import read_dead_letters

    logging.getLogger("aiokafka").setLevel(logging.WARNING)  # partition assignment chatter
    with Progress(
        TextColumn(f"reading {settings.topic_deadletters}"), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("read", total=None)
        letters = asyncio.run(
            read_dead_letters(
                settings.kafka_bootstrap_servers, settings.topic_deadletters,
                lambda n: progress.advance(task, n),
            )
        )  # fmt: skip
    return [letter for letter in letters if selection(letter)]


@deadletters_app.command("list")
def deadletters_list(
    reason: ReasonOption = None,
    source: SourceOption = None,
    event_id: EventIdOption = None,
    since: SinceOption = None,
    output: Annotated[
        str,
        typer.Option(
            help="table, json (the envelopes as JSON lines) or originals "
            "(the original inputs as lines, to fix and `socialcare produce`)."
        ),
    ] = "table",
    limit: Annotated[
        int, typer.Option(min=0, help="At most this many, the latest (0: all).")
    ] = 200,
) -> None:
    """Dead letters, oldest first, with a count by reason (on stderr)."""
    settings = _settings()
    from processor.domain.deadletters import original_value

    if output not in ("table", "json", "originals"):
        console.print("[red]error:[/red] --output is table, json or originals")
        raise typer.Exit(2)
    letters = _read_letters(settings, _selection(reason, source, event_id, since))
    by_reason: dict[str, int] = {}
    for letter in letters:
        by_reason[letter.reason] = by_reason.get(letter.reason, 0) + 1
    shown = letters[-limit:] if limit else letters
    if output == "json":
        for letter in shown:
            document = {"dlq_partition": letter.partition, "dlq_offset": letter.offset}
            sys.stdout.buffer.write(orjson.dumps({**document, **letter.document}) + b"\n")
    elif output == "originals":
        for letter in shown:
            sys.stdout.buffer.write(original_value(letter.document).replace(b"\n", b" ") + b"\n")
    else:
        table = Table(title=f"{settings.topic_deadletters}: {len(shown)} of {len(letters)}")
        for column in ("at", "dead-lettered", "reason", "source", "topic", "event_id", "detail"):
            table.add_column(column, overflow="fold")
        for letter in shown:
            document = letter.document
            table.add_row(
                letter.where, str(document.get("dead_lettered_at", "")), letter.reason,
                str(document.get("source", "topic")), str(document.get("source_topic", "")),
                str(document.get("event_id") or ""), str(document.get("detail", ""))[:160],
            )  # fmt: skip
        Console(width=200).print(table)
    summary = ", ".join(f"{name} {count}" for name, count in sorted(by_reason.items()))
    console.print(f"{len(letters)} dead letters" + (f": {summary}" if summary else ""))


@deadletters_app.command("republish")
def deadletters_republish(
    reason: ReasonOption = None,
    source: SourceOption = None,
    event_id: EventIdOption = None,
    since: SinceOption = None,
    dry_run: Annotated[bool, typer.Option(help="Say what would be sent; send nothing.")] = False,
    yes: Annotated[
        bool, typer.Option("--all", help="Needed to republish with no selection at all.")
    ] = False,
) -> None:
    """Send dead letters' original bytes back to their input topics, after a fix.

    Valid events already counted come back as duplicates (no change); events still bad
    are dead-lettered again. Truncated (oversized) inputs cannot be sent back.
    """
    settings = _settings()
    from processor.tools.deadletters import republish

    if not (reason or source or event_id or since or yes):
        console.print(
            "[red]error:[/red] select what to republish (--reason, --source, --event-id, "
            "--since) or pass --all"
        )
        raise typer.Exit(2)
    letters = _read_letters(settings, _selection(reason, source, event_id, since))
    with Progress(
        TextColumn("republishing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console,
    ) as progress:  # fmt: skip
        task = progress.add_task("republish", total=len(letters))
        report = asyncio.run(
            republish(settings, letters, dry_run, lambda n: progress.advance(task, n))
        )
    verb = "would send" if dry_run else "sent"
    for topic, count in sorted(report.sent.items()):
        console.print(f"{topic}: {count}")
    console.print(f"{verb} {sum(report.sent.values())} of {len(letters)} dead letters")
    for letter, why in report.skipped:
        console.print(f"[yellow]skipped {letter.where}[/yellow] ({letter.reason}): {why}")


app.command()(report)


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app()


if __name__ == "__main__":
    main()
