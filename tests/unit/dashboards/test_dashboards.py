"""The Grafana dashboards (grafana/dashboards/*.json) follow the rules of issue 5.

Every panel has a title, a description, a unit and PromQL targets that use only metric
families documented in docs/metrics.md and declared in processor.metrics.families; the
business boards have the brand and channel variables and filter by them; the layout fits
the grid; the datasource is the provisioned one; the JSON is what the `grafana.boards`
package generates (entry script grafana/build_dashboards.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from grafana.boards.build import build, render
from grafana.boards.promql import Part, m
from processor.metrics.families import family
from tests.dashboards import (
    DASHBOARDS_DIR,
    PROVISIONING_DIR,
    REPO,
    Json,
    all_panels,
    dashboard_expressions,
    data_panels,
    is_row,
    load_dashboards,
    substitute,
)

DOC = (REPO / "docs" / "metrics.md").read_text(encoding="utf-8")
DASHBOARDS = load_dashboards()
EXPECTED_BOARDS = {"operations", "quality", "team", "pipeline"}
BUSINESS_BOARDS = {"operations", "quality", "team"}

# Series that Prometheus generates itself rather than a documented exporter.
PROMETHEUS_SERIES = {"up"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

# Grafana unit ids the boards may use (a typo would silently show raw numbers).
GRAFANA_UNITS = {
    "none", "short", "percent", "percentunit", "s", "ms", "µs", "ns", "m", "h", "d",
    "dtdurations", "bytes", "decbytes", "ops", "reqps", "rps", "wps", "cps", "cpm",
    "opm", "rpm", "currencyUSD", "currencyEUR", "currencyGBP", "locale",
}  # fmt: skip

# (board, panel title) allowed not to filter a brand-labelled metric by $brand/$channel, and why.
UNFILTERED = {
    # Staffing cost is per team, not per brand: the replies it pays for are all of the team's.
    ("team", "Cost per human response (1h)"),
}

PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan",
}  # fmt: skip
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?")
# A metric name and its matchers: `name{...}` (strings inside are kept).
_SELECTOR = re.compile(r"\b([a-z_:][\w:]*)\s*\{((?:[^}\"]|\"(?:[^\"\\]|\\.)*\")*)\}")


def metric_names(expr: str) -> set[str]:
    """Metric names of a PromQL expression (not functions, keywords or label names)."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = _LABEL_LIST.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name, call = match.group(1), match.group(2)
        if call is None and name.lower() not in PROMQL_KEYWORDS:
            names.add(name)
    return names


def documented_row(name: str) -> str | None:
    """The docs/metrics.md table row of a metric family, else None."""
    for line in DOC.splitlines():
        if line.startswith("|") and line.split("|")[1].strip().startswith(f"`{name}`"):
            return line
    return None


def documented(name: str) -> bool:
    if name in PROMETHEUS_SERIES:
        return True
    if name.endswith(HISTOGRAM_SUFFIXES):
        base = name.rsplit("_", 1)[0]
        row = documented_row(base)
        if row is not None and row.split("|")[2].strip() == "histogram":
            return True
    return documented_row(name) is not None or f"`{name}`" in DOC


def documented_labels(name: str) -> set[str]:
    row = documented_row(name)
    if row is None and name.endswith(HISTOGRAM_SUFFIXES):
        row = documented_row(name.rsplit("_", 1)[0])
    if row is None:
        return set()
    return set(re.findall(r"`(\w+)`", row.split("|")[3]))


def provisioned_datasource_uids() -> set[str]:
    uids = set()
    for path in sorted((PROVISIONING_DIR / "datasources").glob("*.y*ml")):
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        for source in config.get("datasources", []):
            if source.get("type") == "prometheus" and source.get("uid"):
                uids.add(source["uid"])
    return uids


def targets(dashboard: Json) -> Iterator[tuple[Json, Json]]:
    for panel in data_panels(dashboard):
        for target in panel.get("targets", []):
            yield panel, target


def test_the_four_boards_exist() -> None:
    assert set(DASHBOARDS) == EXPECTED_BOARDS


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_header(name: str) -> None:
    board = DASHBOARDS[name]
    assert isinstance(board["uid"], str) and re.fullmatch(r"[a-z0-9-]{1,40}", board["uid"])
    assert board["title"].strip()
    assert board["description"].strip()
    assert "socialcare" in board["tags"]
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    assert board["time"]["from"].startswith("now-") and board["time"]["to"] == "now"
    assert re.fullmatch(r"\d+[smh]", board["refresh"])
    assert isinstance(board["templating"]["list"], list)
    assert board.get("id") is None  # provisioned boards are matched by uid, not id


def test_uids_and_titles_are_unique() -> None:
    uids = [board["uid"] for board in DASHBOARDS.values()]
    titles = [board["title"] for board in DASHBOARDS.values()]
    assert len(set(uids)) == len(uids)
    assert len(set(titles)) == len(titles)


def test_files_are_indented_json() -> None:
    for path in DASHBOARDS_DIR.glob("*.json"):
        text = path.read_text(encoding="utf-8")
        assert text.startswith('{\n  "'), path.name
        assert text.endswith("}\n"), path.name


def test_files_are_generated_by_the_build_script() -> None:
    built = build()
    for file_name, model in built.items():
        path = DASHBOARDS_DIR / file_name
        assert path.read_text(encoding="utf-8") == render(model), (
            f"{file_name} is out of date: run python grafana/build_dashboards.py"
        )
    assert {Path(name).stem for name in built} == set(DASHBOARDS)


def test_the_entry_script_checks_the_files_from_any_directory(tmp_path: Path) -> None:
    # The documented command runs as a plain script: it finds grafana.boards and processor
    # itself, and --check writes nothing.
    script = REPO / "grafana" / "build_dashboards.py"
    result = subprocess.run(
        [sys.executable, str(script), "--check"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panel_ids_are_unique(name: str) -> None:
    ids = [panel["id"] for panel in all_panels(DASHBOARDS[name])]
    assert all(isinstance(panel_id, int) for panel_id in ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_panel_has_title_description_unit_and_targets(name: str) -> None:
    board = DASHBOARDS[name]
    panels = list(data_panels(board))
    assert len(panels) >= 8
    for panel in panels:
        title = panel.get("title", "")
        assert title.strip(), panel
        assert panel.get("description", "").strip(), title
        assert panel["type"] in {"timeseries", "stat", "gauge", "bargauge", "table"}, title
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
        assert unit in GRAFANA_UNITS, f"{title}: unit {unit!r}"
        assert panel.get("targets"), title
        ref_ids = [target.get("refId") for target in panel["targets"]]
        assert all(ref_ids) and len(set(ref_ids)) == len(ref_ids), title
        for target in panel["targets"]:
            assert target.get("expr", "").strip(), title
            assert target.get("legendFormat", "").strip(), title
    titles = [panel["title"] for panel in panels]
    assert len(set(titles)) == len(titles), "panel titles are unique within a board"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_rows_are_headers_only(name: str) -> None:
    for panel in all_panels(DASHBOARDS[name]):
        if is_row(panel):
            assert panel.get("title", "").strip()
            assert panel["gridPos"]["w"] == 24 and panel["gridPos"]["h"] == 1
            assert "targets" not in panel


def test_metric_names_are_parsed() -> None:
    expr = (
        'sum by (brand) (rate(socialcare_a_total{brand=~"$brand",job="x_total"}[5m])) / '
        "ignoring (kind) group_left histogram_quantile(0.9, sum by (le) (rate(b_bucket[1h]))) "
        '+ time() - max(up{job="socialcare"}) or vector(0) * 1e3'
    )
    assert metric_names(expr) == {"socialcare_a_total", "b_bucket", "up"}


def test_histogram_names_are_matched_to_their_family() -> None:
    assert documented("socialcare_first_response_seconds_bucket")
    assert documented("socialcare_pipeline_latency_seconds_count")
    assert not documented("socialcare_mentions_bucket")
    assert not documented("socialcare_no_such_metric_total")
    assert documented_labels("socialcare_first_response_seconds_bucket") >= {"brand", "channel"}


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_only_documented_metrics(name: str) -> None:
    for panel, target in targets(DASHBOARDS[name]):
        expr = target["expr"]
        names = metric_names(expr)
        assert names, f"{panel['title']}: no metric in {expr}"
        undocumented = sorted(n for n in names if not documented(n))
        assert undocumented == [], f"{panel['title']}: {undocumented} not in docs/metrics.md"
        for metric in names:
            assert metric.startswith(("socialcare_", "process_")) or metric in PROMETHEUS_SERIES


RULES_FILE = REPO / "prometheus" / "rules" / "socialcare.rules.yml"
HISTOGRAM_PARTS: tuple[Part, ...] = ("bucket", "sum", "count")


def recording_rules() -> set[str]:
    document = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return {
        rule["record"]
        for group in document["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


def declared_sample(name: str) -> bool:
    """Whether `name` is the exposition sample name of a family in processor.metrics.families."""
    if not name.startswith("socialcare_"):
        return False
    short = name.removeprefix("socialcare_")
    candidates: list[tuple[str, Part]] = [(short, ""), (short.removesuffix("_total"), "")]
    candidates += [
        (short.removesuffix(f"_{part}"), part)
        for part in HISTOGRAM_PARTS
        if short.endswith(f"_{part}")
    ]
    for candidate, part in candidates:
        try:
            if family(candidate).sample(part) == name:
                return True
        except (KeyError, ValueError):  # not declared, or a histogram without its part
            continue
    return False


def test_declared_samples_are_recognised() -> None:
    assert declared_sample("socialcare_mentions_total")
    assert declared_sample("socialcare_window_first_response_sla")
    assert declared_sample("socialcare_first_response_seconds_bucket")
    assert declared_sample("socialcare_webhook_request_duration_seconds_count")
    assert not declared_sample("socialcare_mentions")  # a counter is read as _total
    assert not declared_sample("socialcare_first_response_seconds")  # a histogram has parts
    assert not declared_sample("socialcare_mentions_bucket")
    assert not declared_sample("socialcare_no_such_metric_total")
    assert m("events_processed") == "socialcare_events_processed_total"
    with pytest.raises(KeyError, match="no_such_family"):
        m("no_such_family")


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_socialcare_metrics_are_declared_families_or_recording_rules(name: str) -> None:
    board = DASHBOARDS[name]
    rules = recording_rules()
    queries = [(panel["title"], target["expr"]) for panel, target in targets(board)]
    queries += [(v["name"], v["query"]) for v in board["templating"]["list"]]
    for where, expr in queries:
        for metric in metric_names(expr):
            if "socialcare" in metric:
                assert declared_sample(metric) or metric in rules, (
                    f"{where}: {metric} is neither a declared family sample "
                    "(processor.metrics.families) nor a recording rule of "
                    f"{RULES_FILE.relative_to(REPO)}"
                )


def test_board_sources_take_metric_names_from_the_families() -> None:
    # A literal name would survive a rename of its family and leave a panel without data.
    sources = [
        REPO / "grafana" / "build_dashboards.py",
        *(REPO / "grafana" / "boards").rglob("*.py"),
    ]
    for path in sources:
        literals = re.findall(r"\bsocialcare_[a-z]\w*", path.read_text(encoding="utf-8"))
        assert literals == [], f"{path.relative_to(REPO)}: use m() for {sorted(set(literals))}"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_no_offset_or_recording_rules(name: str) -> None:
    for panel, target in targets(DASHBOARDS[name]):
        expr = target["expr"]
        assert not re.search(r"\boffset\b", _STRING.sub('""', expr)), panel["title"]
        assert not any(":" in metric for metric in metric_names(expr)), panel["title"]


@pytest.mark.parametrize("name", sorted(BUSINESS_BOARDS))
def test_business_boards_have_brand_and_channel_variables(name: str) -> None:
    variables = {v["name"]: v for v in DASHBOARDS[name]["templating"]["list"]}
    brand, channel = variables["brand"], variables["channel"]
    assert brand["query"] == "label_values(socialcare_mentions_total, brand)"
    assert channel["query"] == 'label_values(socialcare_mentions_total{brand=~"$brand"}, channel)'
    for variable in variables.values():
        assert variable["type"] == "query"
        assert variable["multi"] is True and variable["includeAll"] is True
        assert variable["allValue"] == ".*"
        assert variable["definition"] == variable["query"]


@pytest.mark.parametrize("name", sorted(BUSINESS_BOARDS))
def test_business_panels_filter_by_brand_and_channel(name: str) -> None:
    for panel, target in targets(DASHBOARDS[name]):
        if (name, panel["title"]) in UNFILTERED:
            continue
        expr = target["expr"]
        filtered = [match.group(1) for match in _SELECTOR.finditer(expr)
                    if all(f'{label}=~"${label}"' in match.group(2)
                           for label in ("brand", "channel"))]  # fmt: skip
        for metric in metric_names(expr):
            if {"brand", "channel"} <= documented_labels(metric):
                occurrences = len(re.findall(rf"\b{metric}\b", _STRING.sub('""', expr)))
                assert filtered.count(metric) == occurrences, f"{panel['title']}: {metric}"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_variables_used_are_defined(name: str) -> None:
    board = DASHBOARDS[name]
    defined = {v["name"] for v in board["templating"]["list"]}
    for panel, target in targets(board):
        used = set(re.findall(r"\$\{?(\w+)", target["expr"]))
        assert used <= defined | {"__rate_interval", "__interval", "__range"}, panel["title"]
    for variable in board["templating"]["list"]:
        used = set(re.findall(r"\$\{?(\w+)", variable["query"]))
        assert used <= defined, variable["name"]


def _rectangles_overlap(a: dict[str, int], b: dict[str, int]) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


def _check_grid(panels: list[Json]) -> None:
    for panel in panels:
        grid = panel["gridPos"]
        assert set(grid) >= {"x", "y", "w", "h"}, panel["title"]
        assert all(isinstance(grid[key], int) for key in ("x", "y", "w", "h")), panel["title"]
        assert grid["x"] >= 0 and grid["y"] >= 0, panel["title"]
        assert grid["w"] >= 1 and grid["h"] >= 1, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    for i, first in enumerate(panels):
        for second in panels[i + 1 :]:
            assert not _rectangles_overlap(first["gridPos"], second["gridPos"]), (
                f"{first['title']!r} overlaps {second['title']!r}"
            )


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_grid_positions_fit_and_do_not_overlap(name: str) -> None:
    top: list[Json] = DASHBOARDS[name]["panels"]
    _check_grid(top)
    for row in top:
        if row.get("panels"):  # a collapsed row lays its panels out on their own
            _check_grid(row["panels"])


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_datasource_is_the_provisioned_prometheus(name: str) -> None:
    uids = provisioned_datasource_uids()
    assert uids, "grafana/provisioning/datasources names a Prometheus datasource with a uid"
    board = DASHBOARDS[name]

    def check(datasource: Any, where: str) -> None:
        assert isinstance(datasource, dict), where
        assert datasource.get("type") == "prometheus" and datasource.get("uid") in uids, where

    for panel in data_panels(board):
        check(panel.get("datasource"), panel["title"])
        for target in panel["targets"]:
            check(target.get("datasource"), panel["title"])
    for variable in board["templating"]["list"]:
        check(variable.get("datasource"), variable["name"])


def test_dashboard_provider_serves_the_dashboards_directory() -> None:
    providers = [
        provider
        for path in sorted((PROVISIONING_DIR / "dashboards").glob("*.y*ml"))
        for provider in yaml.safe_load(path.read_text(encoding="utf-8"))["providers"]
    ]
    assert len(providers) == 1
    provider = providers[0]
    assert provider["type"] == "file"
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


def test_variables_are_substituted() -> None:
    values = {"brand": ".*", "channel": "twitter|facebook", "__rate_interval": "1m"}
    assert (
        substitute(
            'rate(m{brand=~"$brand",c=~"${channel}",x="[[brand]]"}[$__rate_interval])', values
        )
        == 'rate(m{brand=~".*",c=~"twitter|facebook",x=".*"}[1m])'
    )
    assert substitute("$unknown ${brand:regex}", values) == "$unknown .*"


def test_dashboard_expressions_are_ready_to_run() -> None:
    expressions = dashboard_expressions()
    boards = {board for board, _, _ in expressions}
    assert boards == EXPECTED_BOARDS
    panel_count = sum(1 for board in DASHBOARDS.values() for _ in data_panels(board))
    assert len({(board, title) for board, title, _ in expressions}) == panel_count
    for board, title, expr in expressions:
        assert "$" not in expr and "[[" not in expr, f"{board} / {title}: {expr}"
    assert any('brand=~".*",channel=~".*"' in expr for _, _, expr in expressions)
