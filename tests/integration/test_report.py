"""`socialcare report` on a real Prometheus holding two weeks of history, rendered in Chromium.

Prometheus only scrapes the present, so the history is made the way operators backfill:
two weeks of synthetic traffic go through the real pipeline in process (in-memory tables),
the worker's own exposition (`BusinessCollector`) is taken every hour of event time and
written as OpenMetrics with those timestamps, `promtool tsdb create-blocks-from openmetrics`
turns it into blocks, and a Prometheus serves them. The report of the second week against
the first must show, for every KPI, exactly what Prometheus gives for the recording rule's
expression (read from the generated rule file, its window replaced by the week) summed by
brand; the volumes agree with the pipeline's own totals; the page renders in headless
Chromium with every chart drawn.
"""

from __future__ import annotations

import asyncio
import math
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import yaml

from processor.domain.sla import SlaPolicyCache
from processor.ingest.synthetic import SyntheticTraffic, TrafficProfile
from processor.metrics.collectors import BusinessCollector
from processor.settings import Settings
from processor.stream.deadletters import TopicDeadLetters
from processor.stream.interfaces import Message
from processor.stream.pipeline import Pipeline
from processor.stream.tables import Tables
from processor.tools.report.kpis import KPIS, expressions
from tests.unit.stream.test_pipeline import RecordingHealth, SetDedup

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DAY = 86400
BRAND = "ReportCo"
TOPICS = {"mention": "social.mentions", "reply": "social.replies",
          "redirection": "social.redirections", "survey": "social.surveys"}  # fmt: skip


def read_families() -> set[str]:
    """The families the report reads (its rules' expressions and its own queries)."""
    exprs = " ".join(expressions(7 * DAY, "socialcare", "brand").values())
    names = set(re.findall(r"socialcare_[a-z0-9_]+", exprs))
    names |= {
        "socialcare_mentions_total",
        "socialcare_first_response_sla_total",
        "socialcare_first_response_seconds_bucket",
        "socialcare_resolution_seconds_bucket",
    }
    return {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in names}


READ = read_families()


def history(start: float, days: int) -> tuple[str, dict[int, dict[str, float]]]:
    """OpenMetrics of the pipeline's exposition every hour from `start`, and its totals."""
    settings = Settings(clock="event", partitions=1, allowed_lateness_seconds=3600,
                        earliest_event_time=datetime(2000, 1, 1, tzinfo=UTC))  # fmt: skip
    health = RecordingHealth()

    async def nowhere(partition: int, key: bytes | None, value: bytes) -> None:
        raise AssertionError(f"dead letter {value!r}")

    tables = Tables.in_memory()
    pipeline = Pipeline(settings, tables=tables, policies=SlaPolicyCache(), dedup=SetDedup(),
                        health=health, dead_letters=TopicDeadLetters(nowhere, health),
                        wall_clock=lambda: start + days * DAY)  # fmt: skip
    pipeline.assign({0})
    profile = TrafficProfile(
        brands=(BRAND,), channels=("twitter", "facebook"), conversations_per_minute=0.4
    )
    traffic = SyntheticTraffic(start, seed=11, profile=profile)
    families: dict[str, tuple[str, list[str]]] = {}
    offset = 0
    # The pipeline's own mentions_total per channel after each hour.
    mentions: dict[int, dict[str, float]] = {}
    for hour in range(1, days * 24 + 1):
        batch = traffic.advance(start + hour * 3600)
        messages = []
        for event in batch:
            offset += 1
            key = str(event["conversation_id"]).encode()
            messages.append(Message(TOPICS[str(event["type"])], 0, offset, key,
                                    orjson.dumps(event)))  # fmt: skip
        asyncio.run(pipeline.handle_batch(messages))
        at = start + hour * 3600
        mentions[hour] = {channel: values.get("mentions_total", 0.0)
                          for _, _, channel, values in pipeline.view.owned_totals({0})}  # fmt: skip
        for family in BusinessCollector(pipeline.view).collect():
            if family.name not in READ:
                continue
            kind, lines = families.setdefault(family.name, (family.type, []))
            for sample in family.samples:
                labels = {**sample.labels, "job": "socialcare", "instance": "backfill:8000"}
                text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
                lines.append(f"{sample.name}{{{text}}} {sample.value!r} {at:.0f}")
    out = []
    for name, (kind, lines) in families.items():
        out.append(f"# TYPE {name} {kind}")
        # OpenMetrics wants a series' samples together, in time order.
        out.extend(
            sorted(lines, key=lambda line: (line.rsplit(" ", 2)[0], float(line.rsplit(" ", 1)[1])))
        )
    out.append("# EOF")
    return "\n".join(out) + "\n", mentions


def rule_expression(rules: dict[str, str], key: str, seconds: int) -> str:
    """A recording rule of the rule file (its 1h version) over `seconds`, summed by brand."""
    name, kind = key.split(":")
    record = next(record for record in rules
                  if record.startswith(f"brand_channel:{name}:{kind}_rate1h")
                  or record.startswith(f"brand_channel_team:{name}:{kind}_rate1h"))  # fmt: skip
    expr = rules[record].replace("[1h]", f"[{seconds}s]")
    return expr.replace("brand, channel", "brand")


def kpi_cells(page: str) -> dict[str, float]:
    return {key: float(value) for key, value in
            re.findall(r'<tr data-kpi="([^"]+)">.*?data-value="([^"]*)"', page, re.S)}  # fmt: skip


def volume_cells(page: str) -> dict[str, float]:
    table = page.split('<table id="volume">', 1)[1].split("</table>", 1)[0]
    return {channel: float(value) for channel, value in
            re.findall(r'<td>([^<]+)</td><td class="num" data-value="([^"]+)"', table)}  # fmt: skip


def drawn_share(png: Path) -> float:
    """The share of a screenshot's pixels that are not white."""
    from PIL import Image

    with Image.open(png) as image:
        counts = image.convert("L").histogram()  # pixels per grey level, 0 black .. 255 white
    return sum(counts[:245]) / sum(counts)


def screenshot(chromium: str, page: Path, png: Path, size: str) -> None:
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={size}", f"--screenshot={png}", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian prometheus) absent")
def test_a_week_against_the_week_before(tmp_path: Path) -> None:
    from tests.integration.test_prometheus import Prometheus

    start = (int(time.time()) // DAY - 15) * DAY
    text, mentions = history(start, 14)
    (tmp_path / "history.om").write_text(text)
    (tmp_path / "tsdb").mkdir()
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q",
                    str(tmp_path / "history.om"), str(tmp_path / "tsdb")],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    rules_file = REPO / "prometheus" / "rules" / "socialcare.rules.yml"
    prometheus = Prometheus(tmp_path, rules_file, {}, interval="1m",
                            extra_args=("--storage.tsdb.retention.time=90d",))  # fmt: skip
    try:
        week = datetime.fromtimestamp(start + 7 * DAY, UTC)
        end = datetime.fromtimestamp(start + 14 * DAY, UTC)
        url = f"http://127.0.0.1:{prometheus.port}"
        output = tmp_path / "report.html"
        done = subprocess.run(
            [sys.executable, "-m", "processor", "report", "--prometheus", url,
             "--from", week.isoformat(), "--to", end.isoformat(), "--brand", BRAND,
             "--output", str(output)],
            capture_output=True, text=True, timeout=300, cwd=REPO,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        page = output.read_text()

        # Every KPI is its recording rule's expression over the week (rule file, by brand).
        rules = {rule["record"]: rule["expr"]
                 for group in yaml.safe_load(rules_file.read_text())["groups"]
                 for rule in group["rules"] if "record" in rule}  # fmt: skip
        cells = kpi_cells(page)
        assert set(cells) == {kpi.key for kpi in KPIS}
        for kpi in KPIS:
            result = prometheus.api("query", query=rule_expression(rules, kpi.key, 7 * DAY),
                                    time=f"{end.timestamp():.0f}")["result"]  # fmt: skip
            mine = [float(item["value"][1]) for item in result if item["metric"]["brand"] == BRAND]
            assert len(mine) == 1, (kpi.key, result)
            assert math.isclose(cells[kpi.key], mine[0], rel_tol=1e-9), (kpi.key, cells, mine)
            assert not math.isnan(cells[kpi.key]), kpi.key  # the history has every kind
        # The volumes are the pipeline's own counts over the week.
        expected = {channel: mentions[14 * 24][channel] - mentions[7 * 24].get(channel, 0.0)
                    for channel in mentions[14 * 24]}  # fmt: skip
        got = volume_cells(page)
        assert set(got) == set(expected)
        for channel, posts in expected.items():
            assert math.isclose(got[channel], posts, rel_tol=0.01), (channel, got, expected)
        # The baseline is the week before: its column has the rules' values at its end.
        assert "2026" in page and page.count("<svg") == 5

        # PDF from the same page.
        pdf = tmp_path / "report.pdf"
        done = subprocess.run(
            [sys.executable, "-m", "processor", "report", "--prometheus", url,
             "--from", week.isoformat(), "--to", end.isoformat(), "--brand", BRAND,
             "--output", str(pdf), "--format", "pdf"],
            capture_output=True, text=True, timeout=300, cwd=REPO,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 20_000
    finally:
        prometheus.stop()

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian chromium absent: the rendering check needs it (.ci/run installs it)")
    whole = tmp_path / "report.png"
    screenshot(chromium, output, whole, "1100,3600")
    assert drawn_share(whole) > 0.03
    # Every chart alone, drawn: its axes, labels and marks cover a fair part of its box.
    charts = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(charts) == 5
    for number, svg in enumerate(charts):
        alone = tmp_path / f"chart{number}.html"
        alone.write_text(f"<!doctype html><body style='margin:0'>{svg}</body>")
        png = tmp_path / f"chart{number}.png"
        screenshot(chromium, alone, png, "700,320")
        assert drawn_share(png) > 0.04, f"chart {number} looks empty"
