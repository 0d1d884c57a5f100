"""Worker configuration from the environment (processor/settings.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from processor.settings import ClockMode, ConfigurationError, Settings, load_settings

VARIABLES = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "REDIS_URL",
    "METRICS_PORT",
    "METRICS_BIND",
    "SOCIALCARE_CLOCK",
    "SOCIALCARE_SLA_CONFIG",
    "SOCIALCARE_APP_ID",
    "SOCIALCARE_PARTITIONS",
    "SOCIALCARE_TOPIC_MENTIONS",
    "SOCIALCARE_TOPIC_REPLIES",
    "SOCIALCARE_TOPIC_REDIRECTIONS",
    "SOCIALCARE_TOPIC_SURVEYS",
    "SOCIALCARE_TOPIC_DEADLETTERS",
    "SOCIALCARE_ALLOWED_LATENESS_SECONDS",
    "SOCIALCARE_MAX_FUTURE_SECONDS",
    "SOCIALCARE_MAX_EVENT_BYTES",
    "SOCIALCARE_DEDUP_WINDOW_SECONDS",
    "SOCIALCARE_SWEEP_INTERVAL_SECONDS",
    "SOCIALCARE_SLA_REFRESH_SECONDS",
    "SOCIALCARE_STANDBY_COPIES",
    "SOCIALCARE_DATA_DIR",
    "SOCIALCARE_SESSION_TIMEOUT_SECONDS",
    "SOCIALCARE_REBALANCE_TIMEOUT_SECONDS",
    "SOCIALCARE_LOG_LEVEL",
    "SOCIALCARE_EARLIEST_EVENT_TIME",
    "SOCIALCARE_WEBHOOK_SECRET",
    "SOCIALCARE_WEBHOOK_PORT",
    "SOCIALCARE_WEBHOOK_MAX_BODY_BYTES",
    "SOCIALCARE_WEBHOOK_SIGNATURE_TOLERANCE_SECONDS",
    "SOCIALCARE_CORE",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # no stray .env file can be picked up from the working directory
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.metrics_port == 8000
    assert settings.metrics_bind == "0.0.0.0"
    assert settings.clock is ClockMode.WALL
    assert settings.sla_config is None
    assert settings.app_id == "socialcare"
    assert settings.partitions == 8
    assert settings.allowed_lateness_seconds == 3600.0
    assert settings.max_future_seconds == 300.0
    assert settings.max_event_bytes == 1_048_576  # 1 MiB
    assert settings.dedup_window_seconds == 604_800  # 7 days
    assert settings.log_level == "info"
    assert settings.redis_prefix == "socialcare"
    assert settings.topic_ticks == "socialcare-clock-ticks"
    assert settings.input_topics == {
        "social.mentions": "mention",
        "social.replies": "reply",
        "social.redirections": "redirection",
        "social.surveys": "survey",
    }
    assert settings.topic_deadletters == "social.deadletters"


def test_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    monkeypatch.setenv("REDIS_URL", "rediss://cache:6380/2")
    monkeypatch.setenv("METRICS_PORT", "9105")
    monkeypatch.setenv("SOCIALCARE_CLOCK", "event")
    monkeypatch.setenv("SOCIALCARE_SLA_CONFIG", "/etc/socialcare/sla.yaml")
    monkeypatch.setenv("SOCIALCARE_APP_ID", "care-eu.1")
    monkeypatch.setenv("SOCIALCARE_PARTITIONS", "16")
    monkeypatch.setenv("SOCIALCARE_TOPIC_MENTIONS", "m")
    monkeypatch.setenv("SOCIALCARE_ALLOWED_LATENESS_SECONDS", "0")
    monkeypatch.setenv("SOCIALCARE_MAX_EVENT_BYTES", "1024")
    monkeypatch.setenv("SOCIALCARE_LOG_LEVEL", "DEBUG")
    settings = load_settings()
    assert settings.kafka_bootstrap_servers == "k1:9092,k2:9092"
    assert settings.redis_url == "rediss://cache:6380/2"
    assert settings.metrics_port == 9105
    assert settings.clock is ClockMode.EVENT
    assert settings.sla_config == Path("/etc/socialcare/sla.yaml")
    assert settings.app_id == "care-eu.1"
    assert settings.redis_prefix == "care-eu.1"
    assert settings.topic_ticks == "care-eu.1-clock-ticks"
    assert settings.partitions == 16
    assert settings.input_topics["m"] == "mention"
    assert "social.mentions" not in settings.input_topics
    assert settings.allowed_lateness_seconds == 0.0
    assert settings.max_event_bytes == 1024
    assert settings.log_level == "DEBUG"


def test_constructor_by_field_name() -> None:
    settings = Settings(clock="event", allowed_lateness_seconds=60, partitions=4)
    assert settings.clock is ClockMode.EVENT
    assert settings.allowed_lateness_seconds == 60.0
    assert settings.partitions == 4


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SOCIALCARE_CLOCK", "sometimes"),
        ("METRICS_PORT", "0"),
        ("METRICS_PORT", "65536"),
        ("METRICS_PORT", "eighty"),
        ("REDIS_URL", "http://x"),
        ("SOCIALCARE_PARTITIONS", "0"),
        ("SOCIALCARE_APP_ID", "has space"),
        ("SOCIALCARE_ALLOWED_LATENESS_SECONDS", "-1"),
        ("SOCIALCARE_MAX_EVENT_BYTES", "1023"),
        ("SOCIALCARE_SWEEP_INTERVAL_SECONDS", "0"),
        ("SOCIALCARE_LOG_LEVEL", "verbose"),
        ("KAFKA_BOOTSTRAP_SERVERS", ""),
        ("SOCIALCARE_EARLIEST_EVENT_TIME", "last year"),
        ("SOCIALCARE_WEBHOOK_PORT", "0"),
        ("SOCIALCARE_WEBHOOK_MAX_BODY_BYTES", "10"),
        ("SOCIALCARE_WEBHOOK_SIGNATURE_TOLERANCE_SECONDS", "0"),
        ("SOCIALCARE_CUSTOMER_TTL_SECONDS", "86400"),
        ("SOCIALCARE_PREDICTIONS", "sometimes"),
        ("SOCIALCARE_FETCH_MAX_WAIT_SECONDS", "0"),
        ("SOCIALCARE_FETCH_MAX_WAIT_SECONDS", "31"),
        ("SOCIALCARE_FETCH_MIN_BYTES", "0"),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert variable in str(info.value)
    assert repr(value) in str(info.value)


def test_several_bad_values_all_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALCARE_CLOCK", "sometimes")
    monkeypatch.setenv("METRICS_PORT", "0")
    monkeypatch.setenv("REDIS_URL", "http://x")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    message = str(info.value)
    for variable in ("SOCIALCARE_CLOCK", "METRICS_PORT", "REDIS_URL"):
        assert variable in message


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValueError):
        settings.partitions = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SOCIALCARE_WEBHOOK_SECRET", "short", "at least 16 characters"),
        ("SOCIALCARE_WEBHOOK_SECRET", "a-long-enough-secret-1,short", "at least 16 characters"),
        ("SOCIALCARE_EARLIEST_EVENT_TIME", "2000-01-01T00:00:00", "needs a UTC offset"),
    ],
)
def test_rules_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=message) as info:
        load_settings()
    assert variable in str(info.value)
    assert value not in str(info.value) or variable != "SOCIALCARE_WEBHOOK_SECRET"


def test_the_native_core_needs_its_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALCARE_CORE", "native")
    if importlib.util.find_spec("socialcare_native") is None:
        with pytest.raises(ConfigurationError, match=r"pip install \./native") as info:
            load_settings()
        assert "SOCIALCARE_CORE" in str(info.value)
        return
    assert load_settings().core == "native"


def test_the_default_core_is_the_native_one_when_it_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = importlib.util.find_spec("socialcare_native") is not None
    assert load_settings().fold_core == ("native" if built else "python")
    monkeypatch.setenv("SOCIALCARE_CORE", "python")
    assert load_settings().fold_core == "python"


def test_webhook_secrets_for_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SOCIALCARE_WEBHOOK_SECRET", " old-secret-0123456789 , new-secret-0123456789 "
    )
    settings = load_settings()
    assert settings.webhook_secrets == ["old-secret-0123456789", "new-secret-0123456789"]
    assert "old-secret" not in repr(settings)
    assert load_settings().earliest_event_time.isoformat() == "2000-01-01T00:00:00+00:00"
