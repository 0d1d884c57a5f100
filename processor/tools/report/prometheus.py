"""The Prometheus HTTP API, as the report reads it: instant vectors and range matrices.

httpx for the requests, tenacity for the retries of a connection that failed; an answer
Prometheus gives as an error is not retried (it says what is wrong with the query).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, NamedTuple

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from processor.errors import SocialcareError


class PrometheusError(SocialcareError):
    """Prometheus could not be reached or refused a query; the message says what to do."""


class Sample(NamedTuple):
    labels: dict[str, str]
    value: float  # NaN when the expression has no value (0 / 0)


class Series(NamedTuple):
    labels: dict[str, str]
    points: list[tuple[float, float]]  # (POSIX time, value)


def _number(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else math.nan


class PrometheusApi:
    """A Prometheus server's `/api/v1` (for example http://localhost:9090)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=f"{self.url}/api/v1", timeout=timeout)

    def close(self) -> None:
        self._client.close()

    @retry(
        retry=retry_if_exception_type(httpx.TransportError),
        stop=stop_after_attempt(4),
        wait=wait_exponential(multiplier=0.5, max=4),
        reraise=True,
    )
    def _request(self, path: str, params: dict[str, str]) -> httpx.Response:
        return self._client.post(path, data=params)

    def _data(self, path: str, params: dict[str, str]) -> Any:
        try:
            response = self._request(path, params)
        except httpx.TransportError as exc:
            raise PrometheusError(
                f"cannot reach Prometheus at {self.url} ({exc}): check --prometheus"
            ) from None
        try:
            document = response.json()
        except ValueError:
            raise PrometheusError(
                f"{self.url} answered HTTP {response.status_code} without JSON: is it "
                "Prometheus (the server's base URL, e.g. http://localhost:9090)?"
            ) from None
        if document.get("status") != "success":
            raise PrometheusError(
                f"Prometheus refused a query ({document.get('errorType')}: "
                f"{document.get('error')}): {params.get('query', '')[:200]}"
            )
        return document["data"]

    def instant(self, expr: str, at: datetime) -> list[Sample]:
        """The vector of `expr` at `at`."""
        data = self._data("query", {"query": expr, "time": f"{at.timestamp():.3f}"})
        if data["resultType"] == "scalar":
            return [Sample({}, _number(data["result"][1]))]
        return [Sample(item["metric"], _number(item["value"][1])) for item in data["result"]]

    def series(self, expr: str, start: datetime, end: datetime, step: float) -> list[Series]:
        """The matrix of `expr` from `start` to `end`, a point every `step` seconds."""
        data = self._data("query_range", {
            "query": expr, "start": f"{start.timestamp():.3f}", "end": f"{end.timestamp():.3f}",
            "step": f"{step:g}",
        })  # fmt: skip
        return [
            Series(item["metric"], [(float(at), _number(value)) for at, value in item["values"]])
            for item in data["result"]
        ]
