"""The README's command table against the command line itself: every command is there with
every option it takes, and nothing the table names is missing from the CLI (issue 14)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import typer.main

from processor.tools.cli import app

README = (Path(__file__).resolve().parents[3] / "README.md").read_text()


def cli_commands() -> dict[str, set[str]]:
    """'sla set' -> its options (`--help` aside), from the CLI's own definition."""
    root = typer.main.get_command(app)
    context = click.Context(root)

    def walk(command: Any, path: list[str]) -> Iterator[tuple[str, set[str]]]:
        if hasattr(command, "list_commands"):
            for name in command.list_commands(context):
                yield from walk(command.get_command(context, name), [*path, name])
            return
        options = {
            name for param in command.params if param.param_type_name == "option"
            for name in param.opts if name.startswith("--")  # not --no-x (a flag's off)
        }  # fmt: skip
        yield " ".join(path), options - {"--help"}

    return dict(walk(root, []))


def readme_commands() -> dict[str, set[str]]:
    """The README's table: command -> the options its first cell names."""
    table = README.split("| command | what it does |", 1)[1].split("\n\n", 1)[0]
    rows: dict[str, set[str]] = {}
    for line in table.splitlines()[2:]:
        cell = line.split("`", 2)[1]
        assert cell.startswith("socialcare "), line
        words = cell.removeprefix("socialcare ").split()
        path = []
        for word in words:
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            path.append(word)
        rows[" ".join(path)] = set(re.findall(r"--[a-z][a-z-]*", cell))
    return rows


def test_every_command_is_in_the_readme_with_all_its_options() -> None:
    cli, readme = cli_commands(), readme_commands()
    assert sorted(cli) == sorted(readme)
    for command, options in cli.items():
        assert options == readme[command], (
            f"socialcare {command}: the CLI has {sorted(options)}, the README "
            f"{sorted(readme[command])}"
        )
