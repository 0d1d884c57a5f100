"""The business families as plain series, and their Prometheus text, as prometheus-client
writes it.

A worker's page after a backlog holds about 17,500 business samples. Built as
prometheus-client families, each is a `Sample` with a labels dict, and `generate_latest`
formats each on its own: it sorts the sample's labels, checks every label name against
the legacy pattern, escapes every value, one `format` per label. That was most of a 300 ms
page, scraped every 5 s. Here a family holds its series as tuples of label values
(`PageFamily`), and the writer makes a series' whole line prefix (name and label string)
once and keeps it: the series of a page hardly change between scrapes (new buckets, new
brands), so a scrape mostly formats values. Names are the catalogue's, which the
metric-name tests hold to the legacy pattern, so they need no escaping. The text is byte
for byte what `generate_latest` writes for the same families as prometheus-client's
(`PageFamily.to_metric`, tested against it); registries (`?name[]=`) read those.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

# Line prefixes and value texts kept between scrapes; each cache is cleared when a page's
# churn (new buckets, label values, values) has made this many, so memory stays bounded.
MAX_LABEL_STRINGS = 500_000
MAX_VALUE_STRINGS = 100_000

_KINDS = frozenset({"counter", "gauge", "histogram"})

Bucket = tuple[str, float]  # (`le` bound as written, cumulative count)


class PageFamily:
    """One family's series: label values (in `labels` order) and values, nothing else."""

    __slots__ = ("documentation", "histograms", "kind", "labels", "name", "series")

    def __init__(self, name: str, documentation: str, kind: str, labels: Sequence[str]) -> None:
        if kind not in _KINDS:
            raise ValueError(f"{name}: {kind} families are not written here")
        self.name = name
        self.documentation = documentation
        self.kind = kind
        self.labels = tuple(labels)
        self.series: list[tuple[tuple[str, ...], float]] = []  # counters and gauges
        self.histograms: list[tuple[tuple[str, ...], list[Bucket], float]] = []

    def add(self, values: tuple[str, ...], value: float) -> None:
        self.series.append((values, value))

    def add_histogram(self, values: tuple[str, ...], buckets: list[Bucket], total: float) -> None:
        """Cumulative buckets (+Inf last, its count the `_count`) and the sum."""
        self.histograms.append((values, buckets, total))

    def to_metric(self) -> Metric:
        """The same family as prometheus-client's, for its registries and parsers."""
        if self.kind == "histogram":
            histogram = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
            for values, buckets, total in self.histograms:
                histogram.add_metric(list(values), buckets=buckets, sum_value=total)
            return histogram
        family = (CounterMetricFamily if self.kind == "counter" else GaugeMetricFamily)(
            self.name, self.documentation, labels=self.labels
        )
        for values, value in self.series:
            family.add_metric(list(values), value)
        return family


def go_float(value: float) -> str:
    """A sample value as prometheus-client writes it (Go's float formatting)."""
    text: str = floatToGoString(value)  # type: ignore[no-untyped-call]
    return text


def _escape(value: str) -> str:
    # prometheus-client escapes label values so (UTF-8 allowed): backslash, newline, quote.
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _line_prefix(sample: str, names: tuple[str, ...], values: tuple[str, ...]) -> str:
    """`name{label="value",...} `, the labels sorted by name as prometheus-client writes them."""
    pairs = sorted(zip(names, values, strict=True))
    inner = ",".join(f'{name}="{_escape(value)}"' for name, value in pairs)
    return f"{sample}{{{inner}}} " if inner else sample + " "


class TextWriter:
    """Writes page families in the text format 0.0.4."""

    def __init__(self) -> None:
        # Per sample name, label values -> "name{labels} "; for a histogram's buckets, the
        # series' label values -> its bounds and their prefixes; value -> its text.
        self._prefixes: dict[str, dict[tuple[str, ...], str]] = {}
        self._buckets: dict[str, dict[tuple[str, ...], tuple[tuple[str, ...], list[str]]]] = {}
        self._kept = 0
        self._values: dict[float, str] = {}

    def _room(self, more: int) -> None:
        self._kept += more
        if self._kept > MAX_LABEL_STRINGS:
            self._prefixes.clear()
            self._buckets.clear()
            self._kept = more

    def _prefix(self, sample: str, names: tuple[str, ...], values: tuple[str, ...]) -> str:
        self._room(1)
        text = self._prefixes.setdefault(sample, {})[values] = _line_prefix(sample, names, values)
        return text

    def _bucket_prefixes(
        self, sample: str, names: tuple[str, ...], values: tuple[str, ...], bounds: tuple[str, ...]
    ) -> list[str]:
        self._room(len(bounds))
        with_le = (*names, "le")
        prefixes = [_line_prefix(sample, with_le, (*values, bound)) for bound in bounds]
        self._buckets.setdefault(sample, {})[values] = (bounds, prefixes)
        return prefixes

    def _value(self, value: float) -> str:
        text = go_float(value)
        # Not kept: NaN (never found again) and zeros (-0.0 finds 0.0's text, and its own
        # is "-0.0").
        if value == value and value != 0:
            if len(self._values) >= MAX_VALUE_STRINGS:
                self._values.clear()
            self._values[value] = text
        return text

    def text(self, families: Iterable[PageFamily]) -> bytes:
        """The families' HELP, TYPE and sample lines."""
        out: list[str] = []
        append = out.append
        values_text, value_text = self._values, self._value
        for family in families:
            kind, name, names = family.kind, family.name, family.labels
            sample = name + "_total" if kind == "counter" else name
            documentation = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
            append(f"# HELP {sample} {documentation}\n# TYPE {sample} {kind}\n")
            prefixes = self._prefixes.get(sample) or {}
            for values, value in family.series:
                prefix = prefixes.get(values) or self._prefix(sample, names, values)
                append(prefix + (values_text.get(value) or value_text(value)) + "\n")
            if not family.histograms:
                continue
            bucket, count, total = name + "_bucket", name + "_count", name + "_sum"
            bucket_prefixes = self._buckets.get(bucket) or {}
            counts, totals = self._prefixes.get(count) or {}, self._prefixes.get(total) or {}
            for values, buckets, sum_value in family.histograms:
                bounds = tuple(bound for bound, _ in buckets)
                kept = bucket_prefixes.get(values)
                lines = (
                    kept[1]
                    if kept is not None and kept[0] == bounds
                    else self._bucket_prefixes(bucket, names, values, bounds)
                )
                for prefix, (_, cumulative) in zip(lines, buckets, strict=True):
                    append(prefix + (values_text.get(cumulative) or value_text(cumulative)) + "\n")
                if float(buckets[0][0]) < 0:
                    continue  # prometheus-client writes no sum and count then
                prefix = counts.get(values) or self._prefix(count, names, values)
                value = buckets[-1][1]
                append(prefix + (values_text.get(value) or value_text(value)) + "\n")
                prefix = totals.get(values) or self._prefix(total, names, values)
                append(prefix + (values_text.get(sum_value) or value_text(sum_value)) + "\n")
        return "".join(out).encode("utf-8")
