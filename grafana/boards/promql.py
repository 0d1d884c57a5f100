"""PromQL building blocks of the boards, and metric names from the family declarations.

Every exported metric name comes from `processor.metrics.families` through `m()`, so that a
renamed or removed family fails the build instead of leaving a panel without data. The
blocks keep the conventions of docs/metrics.md in one place: business sums are `sum by` over
all workers, ratios and quantiles come after the sum, and a count that may legitimately be
absent is completed with `or <present series> * 0`.
"""

from __future__ import annotations

from typing import Literal

from processor.metrics.families import family

# Label filter of the business boards' template variables.
BC = 'brand=~"$brand",channel=~"$channel"'
# Jobs of prometheus/prometheus.yml: the workers and the ingest webhook.
JOBS = 'job=~"socialcare|socialcare-webhook"'

Part = Literal["", "bucket", "sum", "count"]


def m(short: str, part: Part = "") -> str:
    """The sample name PromQL reads for a declared family (`_total`, `_bucket`... included)."""
    return family(short).sample(part)


def eq(label: str, value: str) -> str:
    return f'{label}="{value}"'


def le(bound: float) -> str:
    """A bucket matcher, the bound written as the exporter writes it (`300.0`)."""
    return eq("le", repr(float(bound)))


def sel(metric: str, *matchers: str) -> str:
    """A selector: `metric{a,b}`, or the bare name when there is no matcher."""
    inner = ",".join(matcher for matcher in matchers if matcher)
    return f"{metric}{{{inner}}}" if inner else metric


def bc(metric: str, *matchers: str) -> str:
    """A selector filtered by the business boards' brand and channel variables."""
    return sel(metric, BC, *matchers)


def rate(selector: str, window: str) -> str:
    return f"rate({selector}[{window}])"


def increase(selector: str, window: str) -> str:
    return f"increase({selector}[{window}])"


def sum_by(by: str, expr: str) -> str:
    """`sum by (by) (expr)`, or `sum (expr)` over everything when `by` is empty."""
    return f"sum by ({by}) ({expr})" if by else f"sum ({expr})"


def sum_rate(by: str, selector: str, window: str) -> str:
    return sum_by(by, rate(selector, window))


def sum_increase(by: str, selector: str, window: str) -> str:
    return sum_by(by, increase(selector, window))


def inc(metric: str, by: str, window: str = "24h", *matchers: str) -> str:
    """Increase of a business counter over `window`, filtered by brand and channel."""
    return sum_increase(by, bc(metric, *matchers), window)


def ratio(numerator: str, denominator: str) -> str:
    return f"{numerator} / {denominator}"


def zero_fill(expr: str, base: str) -> str:
    """`expr`, or 0 for each series of `base` (same labels) where `expr` has none."""
    return f"({expr} or {base} * 0)"


def filled_ratio(numerator: str, denominator: str) -> str:
    """A ratio that is 0, not absent, while nothing was counted in the numerator yet."""
    return ratio(zero_fill(numerator, denominator), denominator)


def share_of_total(by: str, inner: str) -> str:
    """Each `by` value's part of the sum over all of them (the parts add up to 100 %)."""
    return f"sum by ({by}) ({inner}) / ignoring ({by}) group_left sum ({inner})"


def quantile(q: float, selector: str, window: str, by: str = "") -> str:
    """A quantile over all workers: buckets summed by `le` (and `by`) before the estimate."""
    by_le = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, {sum_rate(by_le, selector, window)})"


def mean(short: str, by: str, window: str, *matchers: str) -> str:
    """Average observation of a histogram: rate of its sum over rate of its count."""
    return ratio(
        sum_rate(by, sel(m(short, "sum"), *matchers), window),
        sum_rate(by, sel(m(short, "count"), *matchers), window),
    )


def window_sum(short: str, by: str, *matchers: str, window: str = "") -> str:
    """Sum of the event-time window gauge of a business counter (`window_<short>`)."""
    return sum_by(by, bc(m("window_" + short), *matchers, eq("window", window) if window else ""))


def compliance(short: str, by: str, window: str = "") -> str:
    """Met / decided of an SLA, from its event-time window gauge."""
    return ratio(
        window_sum(short, by, eq("outcome", "met"), window=window),
        window_sum(short, by, window=window),
    )
