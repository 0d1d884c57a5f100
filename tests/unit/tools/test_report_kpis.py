"""The report's pure arithmetic: change against the baseline, targets, formats, rule keys."""

from __future__ import annotations

import math

from processor.tools.report.kpis import (
    KPIS,
    change,
    duration,
    expressions,
    formatted,
    formatted_change,
    meets,
    rule_key,
)


def test_the_change_says_which_way_and_whether_it_is_good_news() -> None:
    up = change(0.96, 0.90, "higher")
    assert up is not None and (up.arrow, up.good) == ("▲", True)
    assert math.isclose(up.delta, 0.06)
    worse = change(1200.0, 900.0, "lower")
    assert worse is not None and (worse.arrow, worse.good) == ("▲", False)
    better = change(600.0, 900.0, "lower")
    assert better is not None and (better.arrow, better.good) == ("▼", True)
    neutral = change(0.3, 0.2, None)
    assert neutral is not None and (neutral.arrow, neutral.good) == ("▲", None)
    # Within 0.5 % of the baseline: no change.
    flat = change(100.4, 100.0, "higher")
    assert flat is not None and (flat.arrow, flat.good) == ("▶", None)
    assert change(math.nan, 1.0, "higher") is None
    assert change(1.0, math.nan, "higher") is None


def test_targets() -> None:
    assert meets(0.96, 0.95, "higher") is True
    assert meets(0.94, 0.95, "higher") is False
    assert meets(3500.0, 3600.0, "lower") is True
    assert meets(3700.0, 3600.0, "lower") is False
    assert meets(0.5, None, "higher") is None
    assert meets(math.nan, 0.95, "higher") is None


def test_formats() -> None:
    assert formatted(0.9567, "share") == "95.7 %"
    assert formatted(245.0, "seconds") == "4 min 05 s"
    assert formatted(7800.0, "seconds") == "2 h 10 min"
    assert formatted(3 * 86400 + 4 * 3600 + 59, "seconds") == "3 d 4 h"
    assert formatted(-12.4, "nps") == "-12"
    assert formatted(6.0, "nps") == "+6"
    assert formatted(12345.0, "count") == "12,345"
    assert formatted(math.nan, "share") == "–"
    assert duration(59.4) == "59 s"
    drop = change(0.88, 0.90, "higher")
    assert drop is not None and formatted_change(drop, "share") == "-2.0 pt"
    slower = change(1000.0, 900.0, "lower")
    assert slower is not None and formatted_change(slower, "seconds") == "+1 min 40 s"


def test_every_kpi_reads_a_rule_of_the_generator() -> None:
    assert rule_key("brand_channel:socialcare_nps:score_rate1h") == "socialcare_nps:score"
    exprs = expressions(7 * 86400, "socialcare", "brand")
    for kpi in KPIS:
        assert kpi.key in exprs, kpi.key
        assert "[604800s]" in exprs[kpi.key] and "channel" not in exprs[kpi.key], kpi.key
