"""Worker configuration from environment variables (12-factor), validated at start.

Every variable is documented in README.md ("Configuration"). A bad value stops the
worker before it touches Kafka, with a message naming the variable.
"""

from __future__ import annotations

import functools
import importlib.util
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from processor.errors import SocialcareError


class ClockMode(StrEnum):
    """Where "now" comes from for SLA deadlines and windows (docs/design.md, Time)."""

    WALL = "wall"
    EVENT = "event"


class EventLoop(StrEnum):
    """The worker's asyncio event loop: uvloop (libuv) or the standard library's."""

    UVLOOP = "uvloop"
    ASYNCIO = "asyncio"


class TeamStaffing(BaseModel):
    """Cost of a team per agent hour, how many agents staff it (cost per response) and how
    long a first response takes them (the breach forecast's queue)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hourly_cost: float = Field(ge=0)
    agents: float = Field(ge=0)
    # Average minutes an agent spends on a first response (handle time): with it, the
    # breach forecast puts the team's agents in an Erlang C queue for the arrivals ahead.
    handle_minutes: float | None = Field(None, gt=0)


@functools.cache
def native_core_built() -> bool:
    """Whether the native core's extension is installed (`pip install ./native`)."""
    return importlib.util.find_spec("socialcare_native") is not None


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    """All knobs of a worker; field aliases are the environment variable names."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias=_env("KAFKA_BOOTSTRAP_SERVERS"), min_length=1
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", validation_alias=_env("REDIS_URL"), pattern=r"^rediss?://"
    )
    metrics_port: int = Field(8000, validation_alias=_env("METRICS_PORT"), ge=1, le=65535)
    metrics_bind: str = Field("0.0.0.0", validation_alias=_env("METRICS_BIND"))
    clock: ClockMode = Field(ClockMode.WALL, validation_alias=_env("SOCIALCARE_CLOCK"))
    event_loop: EventLoop = Field(EventLoop.UVLOOP, validation_alias=_env("SOCIALCARE_EVENT_LOOP"))
    sla_config: Path | None = Field(None, validation_alias=_env("SOCIALCARE_SLA_CONFIG"))

    app_id: str = Field(
        "socialcare", validation_alias=_env("SOCIALCARE_APP_ID"), pattern=r"^[A-Za-z0-9_.-]+$"
    )
    partitions: int = Field(8, validation_alias=_env("SOCIALCARE_PARTITIONS"), ge=1, le=1024)
    topic_mentions: str = Field(
        "social.mentions", validation_alias=_env("SOCIALCARE_TOPIC_MENTIONS")
    )
    topic_replies: str = Field("social.replies", validation_alias=_env("SOCIALCARE_TOPIC_REPLIES"))
    topic_redirections: str = Field(
        "social.redirections", validation_alias=_env("SOCIALCARE_TOPIC_REDIRECTIONS")
    )
    topic_surveys: str = Field("social.surveys", validation_alias=_env("SOCIALCARE_TOPIC_SURVEYS"))
    topic_contacts: str | None = Field(
        None, validation_alias=_env("SOCIALCARE_TOPIC_CONTACTS"), min_length=1
    )
    topic_deadletters: str = Field(
        "social.deadletters", validation_alias=_env("SOCIALCARE_TOPIC_DEADLETTERS")
    )

    webhook_secret: str | None = Field(
        None,
        validation_alias=_env("SOCIALCARE_WEBHOOK_SECRET"),
        description="shared secret(s) of `socialcare webhook`, comma-separated for rotation",
        repr=False,
    )
    webhook_port: int = Field(
        8080, validation_alias=_env("SOCIALCARE_WEBHOOK_PORT"), ge=1, le=65535
    )
    webhook_bind: str = Field("0.0.0.0", validation_alias=_env("SOCIALCARE_WEBHOOK_BIND"))
    webhook_max_body_bytes: int = Field(
        4 * 1_048_576, validation_alias=_env("SOCIALCARE_WEBHOOK_MAX_BODY_BYTES"), ge=1024
    )
    webhook_signature_tolerance_seconds: float = Field(
        300.0, validation_alias=_env("SOCIALCARE_WEBHOOK_SIGNATURE_TOLERANCE_SECONDS"), gt=0
    )
    webhook_max_events: int = Field(
        10_000, validation_alias=_env("SOCIALCARE_WEBHOOK_MAX_EVENTS"), ge=1
    )
    webhook_read_timeout_seconds: float = Field(
        30.0, validation_alias=_env("SOCIALCARE_WEBHOOK_READ_TIMEOUT_SECONDS"), gt=0
    )
    webhook_max_unverified_requests: int = Field(
        8, validation_alias=_env("SOCIALCARE_WEBHOOK_MAX_UNVERIFIED_REQUESTS"), ge=1
    )
    webhook_publish_timeout_seconds: float = Field(
        10.0, validation_alias=_env("SOCIALCARE_WEBHOOK_PUBLISH_TIMEOUT_SECONDS"), gt=0
    )
    webhook_max_listed_rejections: int = Field(
        100, validation_alias=_env("SOCIALCARE_WEBHOOK_MAX_LISTED_REJECTIONS"), ge=0
    )

    allowed_lateness_seconds: float = Field(
        3600.0, validation_alias=_env("SOCIALCARE_ALLOWED_LATENESS_SECONDS"), ge=0
    )
    max_future_seconds: float = Field(
        300.0, validation_alias=_env("SOCIALCARE_MAX_FUTURE_SECONDS"), ge=0
    )
    earliest_event_time: datetime = Field(
        datetime(2000, 1, 1, tzinfo=UTC),
        validation_alias=_env("SOCIALCARE_EARLIEST_EVENT_TIME"),
        description="events before it are dead-lettered (before_retention_horizon)",
    )
    max_event_bytes: int = Field(
        1_048_576, validation_alias=_env("SOCIALCARE_MAX_EVENT_BYTES"), ge=1024
    )
    dedup_window_seconds: int = Field(
        7 * 86400, validation_alias=_env("SOCIALCARE_DEDUP_WINDOW_SECONDS"), ge=1
    )
    negative_sentiment_below: float = Field(
        -0.05, validation_alias=_env("SOCIALCARE_NEGATIVE_SENTIMENT_BELOW"), ge=-1, le=1
    )
    positive_sentiment_above: float = Field(
        0.05, validation_alias=_env("SOCIALCARE_POSITIVE_SENTIMENT_ABOVE"), ge=-1, le=1
    )
    sentiment_scorer: Literal["none", "vader"] = Field(
        "none", validation_alias=_env("SOCIALCARE_SENTIMENT_SCORER")
    )
    inactivity_resolution_seconds: float = Field(
        86400.0, validation_alias=_env("SOCIALCARE_INACTIVITY_RESOLUTION_SECONDS"), ge=0
    )
    at_risk_margin_seconds: float = Field(
        600.0, validation_alias=_env("SOCIALCARE_AT_RISK_MARGIN_SECONDS"), ge=0
    )
    teams: list[str] | None = Field(
        None,
        validation_alias=_env("SOCIALCARE_TEAMS"),
        description="JSON list of team names exported as labels; others become 'other'",
    )
    brands: list[str] | None = Field(
        None,
        validation_alias=_env("SOCIALCARE_BRANDS"),
        description="JSON list of the brands exported as labels; others become 'other'",
    )
    channels: list[str] | None = Field(
        None,
        validation_alias=_env("SOCIALCARE_CHANNELS"),
        description="JSON list of the channels exported as labels; others become 'other'",
    )
    max_brands: int = Field(500, validation_alias=_env("SOCIALCARE_MAX_BRANDS"), ge=1)
    max_channels: int = Field(50, validation_alias=_env("SOCIALCARE_MAX_CHANNELS"), ge=1)
    max_teams: int = Field(100, validation_alias=_env("SOCIALCARE_MAX_TEAMS"), ge=1)
    churn_phrases: list[str] | None = Field(
        None,
        validation_alias=_env("SOCIALCARE_CHURN_PHRASES"),
        description="JSON list of phrases that flag a conversation as a churn risk "
        "(default: processor.domain.churn's list; [] matches none)",
    )
    agent_labels: list[str] = Field(
        default_factory=list,
        validation_alias=_env("SOCIALCARE_AGENT_LABELS"),
        description="JSON list of agent ids that get per-agent series (none by default)",
    )
    team_staffing: dict[str, TeamStaffing] = Field(
        default_factory=dict,
        validation_alias=_env("SOCIALCARE_TEAM_STAFFING"),
        description='JSON {"team": {"hourly_cost": 42.5, "agents": 6, "handle_minutes": 4}}: cost '
        "per response; with handle_minutes, the breach forecast's staffed queue",
    )
    conversation_ttl_seconds: float = Field(
        30 * 86400, validation_alias=_env("SOCIALCARE_CONVERSATION_TTL_SECONDS"), gt=0
    )
    # Which code folds the conversations: the Python domain (the reference) or the native
    # partition core (docs/native-core.md: `pip install ./native`); auto: native when built.
    core: Literal["auto", "python", "native"] = Field(
        "auto",
        validation_alias=_env("SOCIALCARE_CORE"),
        description="the conversation fold: auto, python or native (pip install ./native)",
    )
    # Conversation states kept as objects between events (processor/stream/conversations.py):
    # memory for speed, about 3 KB each; 0 reads every state from its document.
    state_cache_conversations: int = Field(
        20_000, validation_alias=_env("SOCIALCARE_STATE_CACHE_CONVERSATIONS"), ge=0
    )
    # A customer is remembered this long after their latest conversation (repeat contacts
    # within 30 days need at least that; processor/domain/customers.py).
    customer_ttl_seconds: float = Field(
        90 * 86400, validation_alias=_env("SOCIALCARE_CUSTOMER_TTL_SECONDS"), ge=30 * 86400
    )
    # Conversations whose CSAT answers are kept out of the model's learning, to measure it on
    # answers it never learns from (processor/predict/csat_scoring.py).
    csat_holdout_share: float = Field(
        0.0, validation_alias=_env("SOCIALCARE_CSAT_HOLDOUT_SHARE"), ge=0, le=0.5
    )
    # Predicted CSAT and the breach forecast (processor/predict): about a tenth of the
    # worker's CPU per event (docs/benchmarks.md); off, their series are absent and
    # nothing learns.
    predictions: bool = Field(
        True,
        validation_alias=_env("SOCIALCARE_PREDICTIONS"),
        description="predicted CSAT and the SLA breach forecast (true/false)",
    )
    # Answers a partition's pooled model learns before it predicts (a brand's own: 3x).
    csat_min_answers: int = Field(10, validation_alias=_env("SOCIALCARE_CSAT_MIN_ANSWERS"), ge=1)
    sweep_interval_seconds: float = Field(
        1.0, validation_alias=_env("SOCIALCARE_SWEEP_INTERVAL_SECONDS"), gt=0
    )
    sla_refresh_seconds: float = Field(
        1.0, validation_alias=_env("SOCIALCARE_SLA_REFRESH_SECONDS"), gt=0
    )
    startup_timeout_seconds: float = Field(
        60.0, validation_alias=_env("SOCIALCARE_STARTUP_TIMEOUT_SECONDS"), gt=0
    )
    # The local RocksDB copy of the state lives in <data_dir>/<app_id>/state; one per worker.
    data_dir: Path = Field(Path("./socialcare-data"), validation_alias=_env("SOCIALCARE_DATA_DIR"))
    # Keep a local copy of the partitions owned by other workers (processor/state/standby.py).
    standby_copies: bool = Field(True, validation_alias=_env("SOCIALCARE_STANDBY_COPIES"))
    session_timeout_seconds: float = Field(
        30.0, validation_alias=_env("SOCIALCARE_SESSION_TIMEOUT_SECONDS"), gt=0
    )
    rebalance_timeout_seconds: float = Field(
        60.0, validation_alias=_env("SOCIALCARE_REBALANCE_TIMEOUT_SECONDS"), gt=0
    )
    batch_max_events: int = Field(
        500, validation_alias=_env("SOCIALCARE_BATCH_MAX_EVENTS"), ge=1, le=100_000
    )
    # The input consumer's fetch (Kafka's fetch.max.wait.ms and fetch.min.bytes): the broker
    # answers once this many bytes are there or the wait is over. Live traffic then comes in
    # fetches of a wait's worth of events, not of whatever arrived since the last fetch
    # (a batch's fixed costs paid every few events); a backlog fills each fetch at once.
    # This halves a live worker's CPU on Kafka (Faust's own: 1.5 s and 1 byte;
    # docs/benchmarks.md, "A fetch wait").
    fetch_max_wait_seconds: float = Field(
        0.05, validation_alias=_env("SOCIALCARE_FETCH_MAX_WAIT_SECONDS"), gt=0, le=30
    )
    fetch_min_bytes: int = Field(
        1_048_576, validation_alias=_env("SOCIALCARE_FETCH_MIN_BYTES"), ge=1, le=52_428_800
    )
    # The changelog's record batches compressed by the producer (Kafka's compression.type;
    # readers decompress whatever they find): with lz4 the broker stores a fifth of the
    # state's JSON, and the standby copies and a recovery read a fifth. Off by default:
    # with it the worker's predictions cost 1-14 % instead of 3-5 % (docs/benchmarks.md,
    # "The changelog compressed").
    changelog_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        "none", validation_alias=_env("SOCIALCARE_CHANGELOG_COMPRESSION")
    )
    # The batches that end within this long of the last changelog write are written with
    # the next one, once (processor.stream.checkpoint): Kafka Streams' commit interval
    # under exactly-once. 0 writes every batch.
    commit_interval_seconds: float = Field(
        0.1, validation_alias=_env("SOCIALCARE_COMMIT_INTERVAL_SECONDS"), ge=0, le=10
    )
    # Once the input's lag over the owned partitions reaches this many records (an outage's
    # backlog, a replay), batches are written once per the longer interval until the lag
    # is down to the second number: the records are late already, and a conversation
    # several batches change is written once. Live traffic stays far below the first; a
    # backlog's tail keeps the longer interval until it is nearly caught up.
    catch_up_lag_records: int = Field(
        10_000, validation_alias=_env("SOCIALCARE_CATCH_UP_LAG_RECORDS"), ge=1
    )
    caught_up_lag_records: int = Field(
        1_000, validation_alias=_env("SOCIALCARE_CAUGHT_UP_LAG_RECORDS"), ge=0
    )
    catch_up_commit_interval_seconds: float = Field(
        1.0, validation_alias=_env("SOCIALCARE_CATCH_UP_COMMIT_INTERVAL_SECONDS"), ge=0, le=30
    )
    # Aligned input (processor.stream.alignment): how long a caught-up empty topic-partition
    # holds its partition back, how long one with unread records may, and the buffer bound.
    alignment_idle_seconds: float = Field(
        0.0, validation_alias=_env("SOCIALCARE_ALIGNMENT_IDLE_SECONDS"), ge=0
    )
    alignment_max_wait_seconds: float = Field(
        30.0, validation_alias=_env("SOCIALCARE_ALIGNMENT_MAX_WAIT_SECONDS"), ge=0
    )
    # How long a producer's request may take the broker to append (its partitions one by
    # one): a record far past the partition's settled stream time waits that long after
    # it was on the broker for the other topics' fetches (processor.stream.alignment).
    alignment_settle_seconds: float = Field(
        1.0, validation_alias=_env("SOCIALCARE_ALIGNMENT_SETTLE_SECONDS"), ge=0, le=60
    )
    alignment_max_buffered: int = Field(
        10_000, validation_alias=_env("SOCIALCARE_ALIGNMENT_MAX_BUFFERED"), ge=1
    )
    processing_guarantee: Literal["exactly_once", "at_least_once"] = Field(
        "exactly_once",
        validation_alias=_env("SOCIALCARE_PROCESSING_GUARANTEE"),
        description="exactly_once: a Kafka transaction per partition and batch; "
        "at_least_once: for brokers without transactions (Tansu), see README",
    )
    one_record_per_batch: bool = Field(
        False, validation_alias=_env("SOCIALCARE_ONE_RECORD_PER_BATCH")
    )
    log_level: str = Field(
        "info",
        validation_alias=_env("SOCIALCARE_LOG_LEVEL"),
        pattern=r"^(?i:debug|info|warning|warn|error|critical)$",
    )

    @model_validator(mode="after")
    def _earliest_is_absolute(self) -> Settings:
        if self.earliest_event_time.tzinfo is None:
            raise ValueError(
                "SOCIALCARE_EARLIEST_EVENT_TIME needs a UTC offset, e.g. 2000-01-01T00:00:00Z"
            )
        return self

    @model_validator(mode="after")
    def _secrets_are_strong(self) -> Settings:
        if self.webhook_secret is not None:
            weak = [s for s in self.webhook_secret.split(",") if len(s.strip()) < 16]
            if weak:
                raise ValueError(
                    "SOCIALCARE_WEBHOOK_SECRET: each comma-separated secret needs at least 16 "
                    "characters (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
                )
        return self

    @property
    def webhook_secrets(self) -> list[str]:
        """Every listed secret verifies: rotate by adding the new one, then dropping the old."""
        if self.webhook_secret is None:
            return []
        return [secret.strip() for secret in self.webhook_secret.split(",") if secret.strip()]

    @property
    def fold_core(self) -> Literal["python", "native"]:
        """The core that folds the conversations (`auto`: the native one when it is built)."""
        if self.core == "auto":
            return "native" if native_core_built() else "python"
        return self.core

    @model_validator(mode="after")
    def _native_core_is_usable(self) -> Settings:
        if self.core != "native":
            return self
        if not native_core_built():
            raise ValueError(
                "SOCIALCARE_CORE=native: the native core is not built; build it with "
                "`pip install ./native` (needs a Rust toolchain) or set SOCIALCARE_CORE=python"
            )
        return self

    @model_validator(mode="after")
    def _catch_up_thresholds_in_order(self) -> Settings:
        if self.caught_up_lag_records > self.catch_up_lag_records:
            raise ValueError(
                "SOCIALCARE_CAUGHT_UP_LAG_RECORDS must not be above "
                "SOCIALCARE_CATCH_UP_LAG_RECORDS (catching up starts at the second and ends "
                "below the first)"
            )
        return self

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> Settings:
        if self.negative_sentiment_below > self.positive_sentiment_above:
            raise ValueError(
                "SOCIALCARE_NEGATIVE_SENTIMENT_BELOW must not be above "
                "SOCIALCARE_POSITIVE_SENTIMENT_ABOVE"
            )
        return self

    @model_validator(mode="after")
    def _labels_are_plain(self) -> Settings:
        # "|" separates label values in the stored series ids (processor/metrics/families.py).
        for variable, names in (
            ("SOCIALCARE_TEAMS", self.teams or []),
            ("SOCIALCARE_BRANDS", self.brands or []),
            ("SOCIALCARE_CHANNELS", self.channels or []),
            ("SOCIALCARE_AGENT_LABELS", self.agent_labels),
        ):
            bad = [name for name in names if "|" in name or not name]
            if bad:
                raise ValueError(f"{variable}: label values must be non-empty without '|': {bad}")
        return self

    @property
    def redis_prefix(self) -> str:
        """Redis keys are namespaced by app id so several deployments can share a Redis."""
        return self.app_id

    @property
    def input_topics(self) -> dict[str, str]:
        """Topic name -> the event type it carries."""
        topics = {
            self.topic_mentions: "mention",
            self.topic_replies: "reply",
            self.topic_redirections: "redirection",
            self.topic_surveys: "survey",
        }
        if self.topic_contacts:
            topics[self.topic_contacts] = "contact_count"
        return topics

    @property
    def topic_ticks(self) -> str:
        """Internal topic that carries clock ticks to every partition (breach by silence)."""
        return f"{self.app_id}-clock-ticks"

    @property
    def topic_customer_contacts(self) -> str:
        """Internal topic that carries conversations' facts to their customer's partition."""
        return f"{self.app_id}-customer-contacts"


class ConfigurationError(SocialcareError):
    """Raised with a message that names the bad environment variable."""


def load_settings() -> Settings:
    """Read and validate the environment, or raise ConfigurationError naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            variable = ".".join(str(part) for part in error["loc"])
            if variable:
                problems.append(f"{variable}={error.get('input')!r}: {error['msg']}")
            else:  # a rule across variables: the message names them
                problems.append(str(error["msg"]).removeprefix("Value error, "))
        raise ConfigurationError(
            "invalid configuration (see README, Configuration): " + "; ".join(problems)
        ) from None
