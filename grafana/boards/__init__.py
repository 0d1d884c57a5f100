"""The Grafana boards as code, one module per board; `build` writes grafana/dashboards/*.json.

Run `python grafana/build_dashboards.py` (or `python -m grafana.boards` from the repository
root) after editing a panel; the JSON files are the build output that Grafana provisions.
`tests/unit/dashboards` checks that they are up to date and that every panel follows the
rules of issue 5: a title, a description, a unit, and only declared, documented metrics.

Modules: `promql` (metric names from `processor.metrics.families`, PromQL building blocks),
`panels` (panel types, units, thresholds, overrides, grid and dashboard envelope),
`operations`, `quality`, `team`, `pipeline` (the boards), `build` (files and CLI).

PromQL conventions (see the PromQL sections of docs/metrics.md):
* business sums are `sum by (...)` over all workers; ratios and quantiles after the sum;
* SLA compliance and volume read the event-time window gauges (the `window_*` families);
* no `offset` and no recording rules: every expression works minutes after a start;
* a count that may be legitimately absent (no breach yet, no reopen yet) is completed with
  `or <a present series of the same labels> * 0`, so a panel shows 0 rather than no data.

Why not grafana-foundation-sdk (evaluated at 1769699998!10.1.0, the newest on PyPI): its
builders emit different JSON (schemaVersion 36 instead of 39, `editable: true`, `style`,
`transparent`, `repeatDirection`, empty `transformations` and `options: null` on each panel,
targets with an empty refId, no panel ids, height 9 by default and its own key order), so
all four files would change and each panel would need explicit settings or a
post-processing pass to get back to today's boards. Its versions are a timestamp epoch plus
a Grafana version, so the release pip picks first targets the oldest Grafana (10.1, we run
11.3) and the dev extra would need an exact pin to move with each Grafana upgrade. The
boards use five panel types and a few dozen options that `panels` covers in under 400
lines, checked byte for byte by the tests; the SDK would add schema types without removing
that code.
"""
