"""The Prometheus rules (prometheus/rules/socialcare.rules.yml) follow the rules of issue 5.

`promtool check rules` accepts the rule file and the `promtool test rules` unit tests of
prometheus/tests/*.yml pass; the file is what `socialcare rules` generates from
prometheus/slo.yaml; every alert has a severity, a summary, a description and a runbook link
to a section of docs/runbook.md; and every alert rule (each burn-rate window included) has a
firing case and a not-firing case in the promtool tests.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from processor.tools.alert_rules import load_config, render

REPO = Path(__file__).resolve().parents[3]
CONFIG = Path("prometheus/slo.yaml")
RULE_FILE = Path("prometheus/rules/socialcare.rules.yml")
TESTS_DIR = Path("prometheus/tests")
RUNBOOK = Path("docs/runbook.md")
SEVERITIES = {"page", "ticket"}
ANNOTATIONS = ("summary", "description", "runbook_url")

Json = dict[str, Any]


def load_yaml(path: Path) -> Json:
    document = yaml.safe_load((REPO / path).read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path} is not a YAML mapping"
    return document


def alert_rules() -> list[Json]:
    rules: list[Json] = []
    for group in load_yaml(RULE_FILE)["groups"]:
        rules.extend(rule for rule in group["rules"] if "alert" in rule)
    return rules


def promtool_test_files() -> list[Path]:
    return sorted(path.relative_to(REPO) for path in (REPO / TESTS_DIR).glob("*.yml"))


def alert_tests() -> list[Json]:
    """Every `alert_rule_test` entry of the promtool test files."""
    cases: list[Json] = []
    for path in promtool_test_files():
        for group in load_yaml(path)["tests"]:
            cases.extend(group.get("alert_rule_test") or [])
    return cases


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces
    to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def runbook_headings() -> list[str]:
    headings = []
    in_code = False
    for line in (REPO / RUNBOOK).read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and re.match(r"#{1,6} ", line):
            headings.append(line.lstrip("#").strip())
    return headings


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("promtool")
    if executable is None:
        pytest.skip("promtool is not installed: apt-get install prometheus")
    return subprocess.run(
        [executable, *args], cwd=REPO, capture_output=True, text=True, timeout=600, check=False
    )


def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", str(RULE_FILE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    files = promtool_test_files()
    assert files, f"no promtool tests in {TESTS_DIR}"
    result = promtool("test", "rules", *map(str, files))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_file_is_generated_from_the_configuration() -> None:
    expected = render(load_config(REPO / CONFIG))
    committed = (REPO / RULE_FILE).read_text(encoding="utf-8")
    assert committed == expected, (
        f"{RULE_FILE} is out of date: run .venv/bin/socialcare rules --config {CONFIG} "
        f"--output {RULE_FILE}"
    )


def test_every_alert_has_severity_summary_description_and_runbook() -> None:
    base = load_config(REPO / CONFIG).runbook
    assert base.endswith("/" + RUNBOOK.as_posix()), base
    anchors = {github_anchor(heading) for heading in runbook_headings()}
    rules = alert_rules()
    assert rules
    for rule in rules:
        name = rule["alert"]
        assert rule["labels"].get("severity") in SEVERITIES, name
        annotations = rule["annotations"]
        for annotation in ANNOTATIONS:
            assert str(annotations.get(annotation, "")).strip(), f"{name}: no {annotation}"
        url = annotations["runbook_url"]
        assert url.startswith(base + "#"), f"{name}: {url} is not a section of {base}"
        anchor = url.removeprefix(base + "#")
        assert anchor in anchors, f"{name}: {RUNBOOK} has no heading with anchor #{anchor}"


def test_runbook_sections_are_the_alerts() -> None:
    """A `## <alert name>` section per alert, and no section for an alert that is gone."""
    names = {rule["alert"] for rule in alert_rules()}
    sections = {heading for heading in runbook_headings() if heading.startswith("Socialcare")}
    assert sections == names


def test_every_alert_has_a_promtool_test() -> None:
    tested = {case["alertname"] for case in alert_tests()}
    missing = sorted({rule["alert"] for rule in alert_rules()} - tested)
    assert missing == [], f"alerts without a test in {TESTS_DIR}: {missing}"


def test_every_alert_rule_has_a_firing_and_a_not_firing_case() -> None:
    """Each rule, told apart by its labels (the four burn-rate windows share a name), fires
    in some case with exactly its labels, and each alert name has a case where it does not."""
    cases = alert_tests()
    for rule in alert_rules():
        name = rule["alert"]
        labels = rule["labels"]
        fired = [
            alert
            for case in cases
            if case["alertname"] == name
            for alert in case.get("exp_alerts") or []
            if all(alert.get("exp_labels", {}).get(k) == v for k, v in labels.items())
        ]
        assert fired, f"{name} {labels}: no firing case"
        assert all(set(alert.get("exp_annotations", {})) == set(ANNOTATIONS) for alert in fired)
        quiet = [case for case in cases if case["alertname"] == name and not case["exp_alerts"]]
        assert quiet, f"{name}: no case where it does not fire"


def test_brand_names_with_dots_and_dashes_get_their_objective(tmp_path: Path) -> None:
    """Brand names allow `.` and `-`: the generated regex must stay valid PromQL."""
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed: apt-get install -y prometheus")
    config = load_yaml(CONFIG)
    config["sla"]["objectives"] = {"acme.eu": 0.99, "Beta-Bank": 0.98}
    config_path = tmp_path / "slo.yaml"
    config_path.write_text(yaml.safe_dump(config))
    rules = tmp_path / "rules.yml"
    rules.write_text(render(load_config(config_path)))
    series = 'socialcare_first_response_sla_total{{brand="{}",outcome="met",job="socialcare"}}'
    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": series.format(brand), "values": "1+1x5"}
                for brand in ("acme.eu", "acmeXeu", "Beta-Bank")
            ],
            "promql_expr_test": [{
                "expr": "brand:socialcare_first_response_sla_objective:ratio",
                "eval_time": "3m",
                "exp_samples": [
                    # "acmeXeu" would match an unescaped "acme.eu": it keeps the default
                    {"labels": f'{OBJECTIVE}{{brand="acme.eu"}}', "value": 0.99},
                    {"labels": f'{OBJECTIVE}{{brand="Beta-Bank"}}', "value": 0.98},
                    {"labels": f'{OBJECTIVE}{{brand="acmeXeu"}}', "value": 0.95},
                ],
            }],
        }],
    }  # fmt: skip
    test_path = tmp_path / "objectives.test.yml"
    test_path.write_text(yaml.safe_dump(test))
    checked = subprocess.run(["promtool", "check", "rules", str(rules)],
                             capture_output=True, text=True, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(["promtool", "test", "rules", str(test_path)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr


OBJECTIVE = "brand:socialcare_first_response_sla_objective:ratio"


def test_a_burn_rate_that_can_never_fire_is_refused(tmp_path: Path) -> None:
    config = load_yaml(CONFIG)
    config["sla"]["objectives"] = {"LaxBrand": 0.9}  # 14.4 x (1 - 0.9) = 1.44 > 1
    path = tmp_path / "slo.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match=r"can never fire for LaxBrand"):
        load_config(path)
