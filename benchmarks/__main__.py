"""`python -m benchmarks`: the whole-worker benchmark, from a source checkout.

    .venv/bin/python -m benchmarks [--events 50000] [--partitions 4] [--broker tansu|kafka]
                                   [--profile worker-profile.txt]

It lives outside the `processor` package because a deployment never needs it; `socialcare
bench` runs this same code when started from a checkout. Output (progress bars, the tables)
goes to stderr like the rest of the `socialcare` command's output.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from benchmarks.run import run_benchmark


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="One worker against raw aiokafka and a do-nothing Faust agent, same data.",
    )
    parser.add_argument(
        "--events", type=int, default=50_000, help="events to push through the broker"
    )
    parser.add_argument("--partitions", type=int, default=4, help="partitions of the input topics")
    parser.add_argument(
        "--broker", choices=("tansu", "kafka"), default="tansu",
        help="tansu (embedded default) or kafka (Apache Kafka: the worker uses transactions)",
    )  # fmt: skip
    parser.add_argument(
        "--profile", type=Path, metavar="FILE",
        help="sample the worker with py-spy during the backlog; collapsed stacks to FILE",
    )  # fmt: skip
    parser.add_argument(
        "--pairs", type=int, default=3,
        help="alternated runs of the no-op agent and the worker with and without predictions; "
             "target 1 takes each's best; issue 16 the median of the two taking turns, "
             "twice a pair; as many scale-out rounds, target 3 takes the median",
    )  # fmt: skip
    arguments = parser.parse_args(argv)
    return run_benchmark(
        arguments.events, arguments.partitions, Console(stderr=True), arguments.broker,
        arguments.profile, arguments.pairs,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
