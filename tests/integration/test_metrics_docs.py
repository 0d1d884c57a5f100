"""docs/metrics.md against what the two endpoints serve: every family the worker's and the
webhook's `/metrics` export is documented, no `_created` series, and every `socialcare_`
name the document mentions is one a process declares (issue 14: docs that match what runs)."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from processor.metrics import families as f
from tests.integration.conftest import WEBHOOK_SECRET, Deployment, WorkerProcess, wait_until
from tests.integration.test_webhook import mention

pytestmark = pytest.mark.integration

DOC = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()


def page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        text: str = response.read().decode()
        return text


def documented(name: str) -> bool:
    return f"`{name}`" in DOC or f"`{name}{{" in DOC


def test_both_endpoints_export_only_documented_families(
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
    webhooks: Callable[..., WorkerProcess],
) -> None:
    deployment = deployment_factory(partitions=1)
    worker = workers(deployment)
    worker.wait_ready()
    webhook = webhooks(deployment)
    body = orjson.dumps([mention("md-1", "md-c1", time.time() - 60), {"event_id": "md-bad"}])
    request = urllib.request.Request(
        f"{webhook.base}/v1/events", data=body, method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {WEBHOOK_SECRET}"},
    )  # fmt: skip
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        assert error.code == 207
    wait_until(lambda: "socialcare_mentions_total{" in page(worker.url), 60,
               "the mention counted", worker.log_tail)  # fmt: skip
    for name, url in (("worker", worker.url), ("webhook", f"{webhook.base}/metrics")):
        text = page(url)
        assert "_created" not in text, f"{name} exports _created series"
        families = {family.name: family.type for family in text_string_to_metric_families(text)}
        assert len(families) > (30 if name == "worker" else 8), families
        undocumented = []
        for family, kind in families.items():
            exposed = f"{family}_total" if kind == "counter" else family
            if family.startswith(("process_", "python_")):
                exposed = family if family == "python_info" else exposed
            if not documented(exposed):
                undocumented.append(exposed)
        assert undocumented == [], f"{name}: not in docs/metrics.md: {undocumented}"
    # The other way: every socialcare_ name the document gives exists in the code.
    declared = {family.name for family in f.all_families()}
    mentioned = set(re.findall(r"`(socialcare_[a-z0-9_]+?)(?:_total|_bucket|_sum|_count)?[`{]",
                               DOC))  # fmt: skip
    unknown = sorted(name for name in mentioned if name not in declared)
    assert unknown == [], f"docs/metrics.md names families no process declares: {unknown}"
