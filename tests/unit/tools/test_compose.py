"""docker-compose.yml and the configs it mounts, checked with the tools made for them.

No Docker engine runs here: Debian's `docker-compose config` validates the compose file
against its schema, `promtool check config` the Prometheus config (and the rules it
loads), `amtool check-config` the Alertmanager config. Each skips with the apt package to
install when its tool is missing (CI installs them).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
COMPOSE = REPO / "docker-compose.yml"


def run(tool: str, package: str, *args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} not installed: apt-get install -y {package}")
    return subprocess.run(
        [tool, *args], cwd=REPO, capture_output=True, text=True, check=False, timeout=60
    )


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def test_compose_file_is_valid() -> None:
    result = run("docker-compose", "docker-compose", "-f", str(COMPOSE), "config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_wires_the_whole_stack() -> None:
    services = compose()["services"]
    assert set(services) == {
        "kafka", "redis", "processor", "webhook", "generator", "prometheus", "alertmanager",
        "grafana",
    }  # fmt: skip
    assert "KRaft" in COMPOSE.read_text() or "KAFKA_PROCESS_ROLES" in str(services["kafka"])
    processor = services["processor"]
    # scalable with --scale: no fixed name, no host port
    assert "container_name" not in processor and "ports" not in processor
    assert processor["command"] == ["socialcare", "worker"]
    assert services["webhook"]["command"] == ["socialcare", "webhook"]
    mounts = {volume.split(":")[1] for volume in services["prometheus"]["volumes"]}
    assert {"/etc/prometheus/prometheus.yml", "/etc/prometheus/rules"} <= mounts
    assert "/etc/alertmanager/alertmanager.yml" in {
        volume.split(":")[1] for volume in services["alertmanager"]["volumes"]
    }
    grafana_mounts = {volume.split(":")[1] for volume in services["grafana"]["volumes"]}
    assert {"/etc/grafana/provisioning", "/var/lib/grafana/dashboards"} <= grafana_mounts
    for name in ("processor", "webhook", "generator"):
        assert services[name]["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"


def test_prometheus_config_scrapes_workers_and_webhook_and_alerts() -> None:
    config = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    rules = yaml.safe_load((REPO / "prometheus" / "slo.yaml").read_text())
    # the job names the alert rules select on
    assert rules["health"]["job"] in jobs and rules["health"]["webhook_job"] in jobs
    # every worker replica is found through Docker DNS
    assert jobs["socialcare"]["dns_sd_configs"][0]["names"] == ["processor"]
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["alertmanager:9093"]
    result = run("promtool", "prometheus", "check", "config", "prometheus/prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rules found" in result.stdout  # the rule files were found and checked


def test_alertmanager_routes_every_severity() -> None:
    result = run("amtool", "prometheus-alertmanager", "check-config",
                 "alertmanager/alertmanager.yml")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((REPO / "alertmanager" / "alertmanager.yml").read_text())
    routed = {matcher for route in config["route"]["routes"] for matcher in route["matchers"]}
    rules = yaml.safe_load((REPO / "prometheus" / "rules" / "socialcare.rules.yml").read_text())
    severities = {
        rule["labels"]["severity"]
        for group in rules["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert severities == {"page", "ticket"}
    assert {f'severity="{severity}"' for severity in severities} <= routed
