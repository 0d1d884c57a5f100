"""Grafana dashboards as code: writes grafana/dashboards/*.json.

The JSON files are the build output, committed so that Grafana's file provisioning reads
them directly (`grafana/provisioning/dashboards/socialcare.yaml`); `--check` lets CI fail
when a board was edited here but not regenerated.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from grafana.boards import operations, pipeline, quality, team
from grafana.boards.panels import Json

DASHBOARDS_DIR = Path(__file__).resolve().parents[1] / "dashboards"

# File name -> board; the file names are what provisioning and the tests know.
BOARDS: dict[str, Callable[[], Json]] = {
    "operations.json": operations.board,
    "quality.json": quality.board,
    "team.json": team.board,
    "pipeline.json": pipeline.board,
}


def build() -> dict[str, Json]:
    """File name -> dashboard model."""
    return {name: board() for name, board in BOARDS.items()}


def render(model: Json) -> str:
    """The file text: stable indentation and real UTF-8, so that diffs stay readable."""
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="fail if a file differs instead of writing it"
    )
    args = parser.parse_args(argv)
    stale = []
    for name, model in build().items():
        path = DASHBOARDS_DIR / name
        text = render(model)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if args.check:
            stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)} (run python grafana/build_dashboards.py)")
        return 1
    return 0
