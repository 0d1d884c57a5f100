"""The README's run command: `socialcare stack` comes up, shows live numbers, stops on Ctrl-C."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.conftest import REPO

pytestmark = pytest.mark.integration


def test_stack_serves_live_metrics_and_stops_cleanly(tmp_path: Path) -> None:
    busy = socket.socket()  # the port asked for is taken: the stack picks another
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    asked = busy.getsockname()[1]
    output = tmp_path / "stack.out"
    with output.open("wb") as sink:
        stack = subprocess.Popen(
            [sys.executable, "-m", "processor", "stack", "--metrics-port", str(asked)],
            cwd=REPO, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        started = time.monotonic()
        url = None
        while url is None and time.monotonic() - started < 60:
            found = re.search(r"metrics: (http://\S+/metrics)", output.read_text())
            url = found.group(1) if found else None
            assert stack.poll() is None, output.read_text()
            time.sleep(0.2)
        moved = re.search(rf"port {asked} is busy: metrics on (\d+) instead", output.read_text())
        assert moved is not None, output.read_text()
        port = int(moved.group(1))
        assert port != asked and url == f"http://127.0.0.1:{port}/metrics", output.read_text()
        live: dict[str, float] = {}
        while time.monotonic() - started < 60 and not live:
            with urllib.request.urlopen(url, timeout=5) as response:
                for line in response.read().decode().splitlines():
                    name, _, number = line.rpartition(" ")
                    if name.startswith("socialcare_mentions_total") and float(number) > 0:
                        live[name] = float(number)
            time.sleep(1)
        assert live, f"no non-zero socialcare_mentions_total within 60 s\n{output.read_text()}"
        # The printed webhook takes an event, and the worker counts it.
        hook = re.search(r"webhook: (http://\S+/v1/events)\s+Authorization: Bearer (\S+)",
                         output.read_text())  # fmt: skip
        assert hook is not None, output.read_text()
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        event = {"event_id": "stack-hook-1", "type": "mention", "conversation_id": "hook-1",
                 "occurred_at": now, "brand": "WebhookDemo", "channel": "twitter",
                 "author_id": "u-1"}  # fmt: skip
        request = urllib.request.Request(
            hook.group(1), data=json.dumps(event).encode(), method="POST",
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {hook.group(2)}"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response)["accepted"] == 1
        counted = ""
        while time.monotonic() - started < 90 and not counted:
            with urllib.request.urlopen(url, timeout=5) as response:
                counted = "".join(
                    line for line in response.read().decode().splitlines()
                    if line.startswith('socialcare_mentions_total{brand="WebhookDemo"')
                )  # fmt: skip
            time.sleep(0.5)
        assert counted.endswith(" 1.0"), output.read_text()
    finally:
        stack.send_signal(signal.SIGINT)
        code = stack.wait(timeout=60)
        busy.close()
    text = output.read_text()
    # The status lines start with the first counted events, not with "processed 0 events".
    status = re.findall(r"^processed (\d+) events", text, flags=re.MULTILINE)
    assert status and int(status[0]) > 0, text
    assert code == 0, text
    assert "stopped" in text
    logs = re.search(r"logs: (\S+)", text)
    assert logs is not None
    # Every child process of the stack is gone (their logs are closed, ports free again).
    broker = re.search(r"Kafka: 127\.0\.0\.1:(\d+)", text)
    assert broker is not None
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", int(broker.group(1)))) != 0
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
