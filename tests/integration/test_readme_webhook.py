"""The README's webhook example, run as a new user would, on any day: its events show on /metrics.

The console block of the README's "Webhook" section is read from README.md and its commands
run in bash (openssl and curl, as written), against a real webhook and worker; only the
addresses and the secret are this test's. The example stamps its events with `date`, so it
holds on any day: before issue 10 it carried fixed dates and a worker dead-lettered them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from tests.integration.conftest import (
    REPO,
    WEBHOOK_SECRET,
    Deployment,
    WorkerProcess,
    value,
    wait_until,
)

pytestmark = pytest.mark.integration


def readme_webhook_commands() -> list[str]:
    """The shell commands of the example, in order (heredocs and continuations kept whole)."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Webhook") :]
    block = re.search(r"```console\n(.*?)```", section, re.S)
    assert block is not None, "no console block in the README's Webhook section"
    commands: list[str] = []
    lines = block.group(1).splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.startswith("$ "):
            continue  # output
        command = [line[2:]]
        if "<<EOF" in line:
            while lines[index] != "EOF":
                command.append(lines[index])
                index += 1
            command.append("EOF")
            index += 1
        while command[-1].endswith("\\"):
            command.append(lines[index])
            index += 1
        commands.append("\n".join(command))
    return commands


@pytest.mark.skipif(
    shutil.which("openssl") is None or shutil.which("curl") is None,
    reason="the README example needs openssl and curl",
)
def test_the_readme_webhook_example_shows_its_events_on_metrics(
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
    webhooks: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    deployment = deployment_factory(partitions=2)  # README defaults: wall clock, 1 h lateness
    worker = workers(deployment)
    worker.wait_ready()
    webhook = webhooks(deployment)
    commands = readme_webhook_commands()
    assert any(command.startswith("NOW=$(date") for command in commands)
    posting = next(c for c in commands if "X-Socialcare-Signature" in c)
    script = []
    for command in commands:
        if command.startswith(("curl -s http://127.0.0.1:8000", ".venv/bin/socialcare")):
            continue  # read below, with a wait and the test's deployment
        command = command.replace("http://127.0.0.1:8080", webhook.base)
        command = re.sub(r"^SECRET=\S+", f"SECRET={WEBHOOK_SECRET}", command)
        if command == posting.replace("http://127.0.0.1:8080", webhook.base):
            command += " > posted.json"
        script.append(command)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(script)],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    answer = orjson.loads((tmp_path / "posted.json").read_bytes())
    assert (answer["accepted"], answer["rejected"]) == (2, 1), answer
    assert "401 Unauthorized" in result.stdout

    def shown() -> bool:
        m = worker.scrape()
        return (
            value(m, "socialcare_mentions_total", brand="ExampleBrand") == 1
            and value(m, "socialcare_conversations_opened_total", brand="ExampleBrand") == 1
            and value(m, "socialcare_replies_total", brand="ExampleBrand", kind="human") == 1
        )

    wait_until(shown, 20, "the README's events on /metrics", worker.log_tail)
    m = worker.scrape()
    assert value(m, "socialcare_first_response_sla_total", brand="ExampleBrand", outcome="met") == 1
    assert value(m, "socialcare_deadletters_total") == 0  # the worker's; tw-3 was the webhook's
    letters = deployment.dead_letters(expected=1)
    assert [(letter["reason"], letter["event_id"]) for letter in letters] == [
        ("schema_violation", "tw-3")
    ]
