"""docs/openapi.yaml against the running webhook: schemathesis generates requests (valid and
invalid bodies, headers, encodings) and checks every answer is documented (status, content
type, headers, body schema) and never a 500."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS

from tests.integration.conftest import WEBHOOK_SECRET, Deployment, WorkerProcess

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCHEMA = schemathesis.openapi.from_path(REPO / "docs" / "openapi.yaml")
SCHEMA.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
# The request body schema is deliberately open (any JSON: the event contract, not HTTP,
# decides what counts), so "valid data must be accepted" and "invalid data must be
# refused" do not apply; every other check does.
_OPEN_BODY = ("positive_data_acceptance", "negative_data_rejection")
EXCLUDED = [check for check in CHECKS.get_all() if check.__name__ in _OPEN_BODY]


@schemathesis.serializer("application/x-ndjson")
def _json_lines(context: schemathesis.SerializationContext, value: object) -> bytes:
    """JSON lines are a string body: sent as its UTF-8 bytes."""
    return str(value).encode("utf-8", "surrogatepass")


@pytest.fixture
def webhook(
    deployment_factory: Callable[..., Deployment], webhooks: Callable[..., WorkerProcess]
) -> WorkerProcess:
    return webhooks(deployment_factory(partitions=1), SOCIALCARE_WEBHOOK_MAX_EVENTS="50")


@SCHEMA.parametrize()
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])  # fmt: skip
def test_the_webhook_answers_as_documented(case: schemathesis.Case, webhook: WorkerProcess) -> None:
    headers = (
        {"Authorization": f"Bearer {WEBHOOK_SECRET}"} if case.operation.path == "/v1/events" else {}
    )
    case.call_and_validate(base_url=webhook.base, headers=headers, excluded_checks=EXCLUDED,
                           timeout=30)  # fmt: skip
    assert webhook.alive


def test_no_500_was_served(webhook: WorkerProcess) -> None:
    """The webhook's own count of 500s after a run of garbage (the schemathesis runs above
    each have their own process; this one takes the hand-made worst)."""
    for body, headers in (
        (b"\x1f\x8b\x08\x00junk", {"Content-Encoding": "gzip"}),
        (b"[" * 100_000, {}),
        (b'{"event_id": "\xff"}', {"Content-Type": "application/x-ndjson"}),
    ):
        request = urllib.request.Request(
            f"{webhook.base}/v1/events", data=body, method="POST",
            headers={"Authorization": f"Bearer {WEBHOOK_SECRET}",
                     "Content-Type": "application/json", **headers},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status < 500
        except urllib.error.HTTPError as error:
            assert error.code < 500, error.read()
    with urllib.request.urlopen(f"{webhook.base}/metrics", timeout=5) as response:
        assert 'socialcare_webhook_requests_total{code="500"}' not in response.read().decode()
