"""Every metric family the project exports: name, kind, help text, labels, bucket bounds.

The one place a family is declared. The domain builds series keys from these constants
(`processor.metrics.series`), the collectors build their families from them, the boards and
docs checks read them. Names are stored as prometheus-client expects them: the full name,
counters without `_total` (the client adds it). Nothing here touches Kafka or state.
"""

from __future__ import annotations

from collections.abc import Mapping

from processor.metrics.customer_families import (
    CUSTOMER_FAMILIES,
    CUSTOMER_WINDOW_FAMILIES,
    REVIEW_RESPONSE_SECONDS,
)
from processor.metrics.family import Family as Family
from processor.metrics.family import HistogramPart as HistogramPart
from processor.metrics.family import Kind as Kind
from processor.metrics.prediction_families import (
    PREDICTED_CSAT,
    PREDICTED_CSAT_BUCKETS,
    PREDICTION_FAMILIES,
)

PREFIX = "socialcare_"

# 30 s to 7 days: social care first responses range from a bot-fast minute to a weekend.
FIRST_RESPONSE_BUCKETS: tuple[float, ...] = (
    30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800,
    345600, 604800,
)  # fmt: skip
# Open to resolution: minutes to a month.
RESOLUTION_BUCKETS: tuple[float, ...] = (
    300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800, 345600, 604800,
    1209600, 2592000,
)  # fmt: skip
# Counts of posts or channels: small integers.
POSTS_BUCKETS: tuple[float, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50)
# Event time to processing: from seconds (live) to years (a replay of history).
EVENT_LAG_BUCKETS: tuple[float, ...] = (
    1,
    5,
    15,
    60,
    300,
    900,
    3600,
    21600,
    86400,
    604800,
    2592000,
    31536000,
)
# Produce time to processed: finer between 50 ms and 1 s, where a live worker's fetch wait
# and alignment put it (with 0.1 and 0.25 alone every live p99 read as about 247 ms).
PIPELINE_LATENCY_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.25,
    0.35,
    0.5,
    0.75,
    1,
    2.5,
    5,
    10,
    30,
    60,
)
# Records per batch: a few live at Faust's fetch settings, a fetch wait's worth with the
# worker's, up to SOCIALCARE_BATCH_MAX_EVENTS (500) in a backlog, more once aligned.
PIPELINE_BATCH_RECORDS_BUCKETS: tuple[float, ...] = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000,
                                                  2500, 5000)  # fmt: skip
WEBHOOK_DURATION_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
)

# Age of open conversations: bucket upper bounds (seconds) and labels.
AGE_BOUNDS: tuple[float, ...] = (3600.0, 4 * 3600.0, 86400.0, 3 * 86400.0)
AGE_LABELS = ("lt_1h", "1h_4h", "4h_24h", "1d_3d", "gt_3d")

# -- business families: per conversation and per event, additive over partitions ----------

MENTIONS = Family(
    "socialcare_mentions",
    "counter",
    "Inbound customer posts (first and follow-up).",
    ("brand", "channel"),
)
CONVERSATIONS_OPENED = Family(
    "socialcare_conversations_opened",
    "counter",
    "Conversations opened by a first inbound post.",
    ("brand", "channel"),
)
REPLIES = Family(
    "socialcare_replies",
    "counter",
    "Brand posts; kind=automated for bots.",
    ("brand", "channel", "kind"),
)
FIRST_RESPONSE_SECONDS = Family(
    "socialcare_first_response_seconds",
    "histogram",
    "Time from the opening post to the first human brand reply.",
    ("brand", "channel"),
)
NEXT_RESPONSE_SECONDS = Family(
    "socialcare_next_response_seconds",
    "histogram",
    "Time from a customer's follow-up (after a response) to the next human brand reply.",
    ("brand", "channel"),
)
NEXT_RESPONSE_SLA = Family(
    "socialcare_next_response_sla",
    "counter",
    "Follow-up waits whose next-response SLA was met or breached (breach at the deadline).",
    ("brand", "channel", "priority", "outcome"),
)
MENTIONS_ANSWERED = Family(
    "socialcare_mentions_answered",
    "counter",
    "Inbound posts followed by a human brand reply (response rate = answered / mentions).",
    ("brand", "channel"),
)
RESOLUTION_SECONDS = Family(
    "socialcare_resolution_seconds",
    "histogram",
    "Time from the opening post to the first resolution; redirected=true when the "
    "conversation was moved to a private channel before it.",
    ("brand", "channel", "redirected"),
)
RESOLUTION_SLA = Family(
    "socialcare_resolution_sla",
    "counter",
    "Conversations whose resolution SLA was met or breached (breach at the deadline).",
    ("brand", "channel", "priority", "outcome"),
)
POSTS_TO_RESOLUTION = Family(
    "socialcare_posts_to_resolution",
    "histogram",
    "Posts exchanged from the opening post to the first resolution, by side "
    "(customer, brand): Tweets to Resolution, and customer effort in posts.",
    ("brand", "channel", "side"),
)
CUSTOMER_EFFORT_CHANNELS = Family(
    "socialcare_customer_effort_channels",
    "histogram",
    "Channels the customer used until the first resolution (1 + distinct redirections).",
    ("brand", "channel"),
)
FIRST_CONTACT_RESOLUTIONS = Family(
    "socialcare_first_contact_resolutions",
    "counter",
    "Resolved conversations solved with one human brand reply, no redirection and no "
    "reopening (First Social Contact Resolution).",
    ("brand", "channel"),
)
TEAM_REPLIES = Family(
    "socialcare_team_replies",
    "counter",
    "Human brand replies by team (unassigned without a team; other outside SOCIALCARE_TEAMS).",
    ("brand", "channel", "team"),
)
AGENT_REPLIES = Family(
    "socialcare_agent_replies",
    "counter",
    "Human brand replies of the agents listed in SOCIALCARE_AGENT_LABELS (only those).",
    ("brand", "channel", "agent"),
)
TEAM_FIRST_RESPONSE_SECONDS = Family(
    "socialcare_team_first_response_seconds",
    "histogram",
    "First response time, by the team of the reply that gave it.",
    ("brand", "channel", "team"),
)
TEAM_RESOLUTION_SECONDS = Family(
    "socialcare_team_resolution_seconds",
    "histogram",
    "Time to the first resolution, by the team of the resolving (or last human) reply.",
    ("brand", "channel", "team"),
)
OPEN_CONVERSATIONS_BY_AGE = Family(
    "socialcare_open_conversations_by_age",
    "gauge",
    "Open conversations by age since the opening post (lt_1h, 1h_4h, 4h_24h, 1d_3d, "
    "gt_3d) at scrape time.",
    ("brand", "channel", "age"),
)
OPEN_CONVERSATIONS_BY_PRIORITY = Family(
    "socialcare_open_conversations_by_priority",
    "gauge",
    "Open conversations by the opening post's priority and backlog state (as "
    "open_conversations), for alerts on high and urgent conversations.",
    ("brand", "channel", "priority", "state"),
)
OPEN_CUSTOMER_VALUE = Family(
    "socialcare_open_customer_value",
    "gauge",
    "Sum of customer_value of open conversations, by backlog state (value at stake).",
    ("brand", "channel", "state"),
)
BREACHED_CUSTOMER_VALUE = Family(
    "socialcare_breached_customer_value",
    "counter",
    "Sum of customer_value of conversations whose first-response SLA was breached.",
    ("brand", "channel"),
)
REOPENS = Family(
    "socialcare_reopens",
    "counter",
    "Customer posts after a resolution that reopened it.",
    ("brand", "channel"),
)
FIRST_RESPONSE_SLA = Family(
    "socialcare_first_response_sla",
    "counter",
    "Conversations whose first-response SLA was met or breached "
    "(a breach is counted at the deadline).",
    ("brand", "channel", "priority", "outcome"),
)
RESOLUTIONS = Family(
    "socialcare_resolutions",
    "counter",
    "Resolutions: how=explicit (a reply with resolves: true) or how=inactivity (no "
    "customer post for the inactivity time after a human reply).",
    ("brand", "channel", "how"),
)
REDIRECTIONS = Family(
    "socialcare_redirections",
    "counter",
    "Conversations moved to a private channel.",
    ("brand", "channel", "to_channel"),
)
SURVEYS = Family(
    "socialcare_surveys", "counter", "Survey answers received.", ("brand", "channel", "kind")
)
OTHER_CHANNEL_CONTACTS = Family(
    "socialcare_other_channel_contacts",
    "counter",
    "Contacts on other channels (channel=phone, email...) from the optional contacts topic, "
    "for deflection.",
    ("brand", "channel"),
)
MENTIONS_BY_SENTIMENT = Family(
    "socialcare_mentions_by_sentiment",
    "counter",
    "Inbound posts by sentiment class (negative, neutral, positive, unknown).",
    ("brand", "channel", "sentiment"),
)
MENTIONS_BY_INQUIRY_TYPE = Family(
    "socialcare_mentions_by_inquiry_type",
    "counter",
    "Inbound posts by inquiry type (complaint, feedback, recommendation, question, praise, "
    "churn_risk, other, unknown).",
    ("brand", "channel", "inquiry_type"),
)
COMPLAINTS = Family(
    "socialcare_complaints",
    "counter",
    "Inbound posts of inquiry type complaint.",
    ("brand", "channel"),
)
CSAT_RESPONSES = Family(
    "socialcare_csat_responses",
    "counter",
    "CSAT survey answers (1-5); redirected=true if the conversation was redirected.",
    ("brand", "channel", "redirected"),
)
CSAT_SCORE = Family(
    "socialcare_csat_score",
    "counter",
    "Sum of CSAT scores (average = score / responses).",
    ("brand", "channel", "redirected"),
)
CSAT_SATISFIED = Family(
    "socialcare_csat_satisfied",
    "counter",
    "CSAT answers of 4 or 5.",
    ("brand", "channel", "redirected"),
)
CSAT_FOLLOWUP_NEEDED = Family(
    "socialcare_csat_followup_needed",
    "counter",
    "CSAT answers of 3 or less: follow up.",
    ("brand", "channel", "redirected"),
)
NPS_RESPONSES = Family(
    "socialcare_nps_responses",
    "counter",
    "NPS answers by category (promoter 9-10, passive 7-8, detractor 0-6).",
    ("brand", "channel", "category"),
)
NEGATIVE_CONVERSATIONS = Family(
    "socialcare_negative_conversations",
    "counter",
    "Conversations whose opening post was negative.",
    ("brand", "channel"),
)
RECOVERED_CONVERSATIONS = Family(
    "socialcare_recovered_conversations",
    "counter",
    "Negative-opening conversations that ended recovered (later non-negative post, "
    "CSAT 4-5 or NPS 7-10).",
    ("brand", "channel"),
)
OPEN_CONVERSATIONS = Family(
    "socialcare_open_conversations",
    "gauge",
    "Open conversations by state: awaiting_first_response, awaiting_next_response, "
    "at_risk (deadline within the margin), breached (waiting past the deadline), "
    "awaiting_customer (answered, not resolved).",
    ("brand", "channel", "state"),
)

BUSINESS_FAMILIES: tuple[Family, ...] = (
    MENTIONS,
    CONVERSATIONS_OPENED,
    REPLIES,
    FIRST_RESPONSE_SECONDS,
    NEXT_RESPONSE_SECONDS,
    NEXT_RESPONSE_SLA,
    MENTIONS_ANSWERED,
    RESOLUTION_SECONDS,
    RESOLUTION_SLA,
    POSTS_TO_RESOLUTION,
    CUSTOMER_EFFORT_CHANNELS,
    FIRST_CONTACT_RESOLUTIONS,
    TEAM_REPLIES,
    AGENT_REPLIES,
    TEAM_FIRST_RESPONSE_SECONDS,
    TEAM_RESOLUTION_SECONDS,
    OPEN_CONVERSATIONS_BY_AGE,
    OPEN_CONVERSATIONS_BY_PRIORITY,
    OPEN_CUSTOMER_VALUE,
    BREACHED_CUSTOMER_VALUE,
    REOPENS,
    FIRST_RESPONSE_SLA,
    RESOLUTIONS,
    REDIRECTIONS,
    SURVEYS,
    OTHER_CHANNEL_CONTACTS,
    MENTIONS_BY_SENTIMENT,
    MENTIONS_BY_INQUIRY_TYPE,
    COMPLAINTS,
    CSAT_RESPONSES,
    CSAT_SCORE,
    CSAT_SATISFIED,
    CSAT_FOLLOWUP_NEEDED,
    NPS_RESPONSES,
    NEGATIVE_CONVERSATIONS,
    RECOVERED_CONVERSATIONS,
    OPEN_CONVERSATIONS,
    *CUSTOMER_FAMILIES,
    *PREDICTION_FAMILIES,
)

WINDOW_MENTIONS = Family(
    "socialcare_window_mentions",
    "gauge",
    "Inbound posts in the last window (event time).",
    ("brand", "channel", "window"),
)
WINDOW_FIRST_RESPONSE_SLA = Family(
    "socialcare_window_first_response_sla",
    "gauge",
    "First-response SLA outcomes in the last window (event time of the reply or deadline).",
    ("brand", "channel", "priority", "outcome", "window"),
)
WINDOW_RESOLUTIONS = Family(
    "socialcare_window_resolutions",
    "gauge",
    "Resolutions in the last window (event time).",
    ("brand", "channel", "how", "window"),
)
WINDOW_NEXT_RESPONSE_SLA = Family(
    "socialcare_window_next_response_sla",
    "gauge",
    "Next-response SLA outcomes in the last window (event time of the reply or deadline).",
    ("brand", "channel", "priority", "outcome", "window"),
)
WINDOW_RESOLUTION_SLA = Family(
    "socialcare_window_resolution_sla",
    "gauge",
    "Resolution SLA outcomes in the last window (event time of the resolution or deadline).",
    ("brand", "channel", "priority", "outcome", "window"),
)
WINDOW_OTHER_CHANNEL_CONTACTS = Family(
    "socialcare_window_other_channel_contacts",
    "gauge",
    "Contacts on other channels in the last window (event time of the interval).",
    ("brand", "channel", "window"),
)
WINDOW_COMPLAINTS = Family(
    "socialcare_window_complaints",
    "gauge",
    "Inbound posts of inquiry type complaint in the last window (event time).",
    ("brand", "channel", "window"),
)

# Windowed views: counter family -> the gauge family of its event-time windows (`window` label).
WINDOW_FAMILIES: Mapping[str, Family] = {
    MENTIONS.name: WINDOW_MENTIONS,
    FIRST_RESPONSE_SLA.name: WINDOW_FIRST_RESPONSE_SLA,
    RESOLUTIONS.name: WINDOW_RESOLUTIONS,
    NEXT_RESPONSE_SLA.name: WINDOW_NEXT_RESPONSE_SLA,
    RESOLUTION_SLA.name: WINDOW_RESOLUTION_SLA,
    OTHER_CHANNEL_CONTACTS.name: WINDOW_OTHER_CHANNEL_CONTACTS,
    COMPLAINTS.name: WINDOW_COMPLAINTS,
    **CUSTOMER_WINDOW_FAMILIES,
}


# Histogram families and their bucket bounds.
HISTOGRAM_BOUNDS: Mapping[str, tuple[float, ...]] = {
    FIRST_RESPONSE_SECONDS.name: FIRST_RESPONSE_BUCKETS,
    NEXT_RESPONSE_SECONDS.name: FIRST_RESPONSE_BUCKETS,
    RESOLUTION_SECONDS.name: RESOLUTION_BUCKETS,
    POSTS_TO_RESOLUTION.name: POSTS_BUCKETS,
    CUSTOMER_EFFORT_CHANNELS.name: POSTS_BUCKETS,
    TEAM_FIRST_RESPONSE_SECONDS.name: FIRST_RESPONSE_BUCKETS,
    TEAM_RESOLUTION_SECONDS.name: RESOLUTION_BUCKETS,
    REVIEW_RESPONSE_SECONDS.name: RESOLUTION_BUCKETS,
    PREDICTED_CSAT.name: PREDICTED_CSAT_BUCKETS,
}

# Configuration, not data: exported by the owner of partition 0 only.
TEAM_STAFFING_COST_PER_HOUR = Family(
    "socialcare_team_staffing_cost_per_hour", "gauge",
    "Configured cost of a team per hour: hourly cost per agent x staffed agents "
    "(SOCIALCARE_TEAM_STAFFING).", ("team",),
)  # fmt: skip

# -- health of a worker process (process-local instruments) ----------------------------------

EVENTS_PROCESSED = Family(
    "socialcare_events_processed", "counter", "Input events handled by this worker, by type "
    "and outcome (counted, duplicate, deadlettered, redelivered).", ("type", "outcome"),
)  # fmt: skip
DEADLETTERS = Family("socialcare_deadletters", "counter",
                     "Messages sent to the dead-letter topic, by reason.", ("reason",))  # fmt: skip
PROCESSING_ERRORS = Family(
    "socialcare_processing_errors", "counter",
    "Valid events whose processing raised an error (they are dead-lettered too).", (),
)  # fmt: skip
EVENT_TIME_LAG_SECONDS = Family(
    "socialcare_event_time_lag_seconds", "histogram",
    "Wall clock at processing minus the event's occurred_at.", (),
)  # fmt: skip
PIPELINE_LATENCY_SECONDS = Family(
    "socialcare_pipeline_latency_seconds", "histogram",
    "Kafka record timestamp (produce time) to the end of processing of the event.", (),
)  # fmt: skip
PIPELINE_BATCH_RECORDS = Family(
    "socialcare_pipeline_batch_records", "histogram",
    "Records per batch the pipeline processed (input records released by the alignment, "
    "clock ticks, customer contacts).", (),
)  # fmt: skip
LAST_EVENT_TIMESTAMP_SECONDS = Family(
    "socialcare_last_event_timestamp_seconds", "gauge",
    "occurred_at of the latest event processed by this worker (POSIX seconds).", (),
)  # fmt: skip
OWNED_PARTITIONS = Family(
    "socialcare_owned_partitions", "gauge",
    "Input partitions this worker owns and exports (assigned, state recovered); 0 while a "
    "rebalance or a recovery is under way.", (),
)  # fmt: skip
SLA_POLICY_VERSION = Family(
    "socialcare_sla_policy_version", "gauge",
    "Version of the SLA policy set in force on this worker (from Redis).", (),
)  # fmt: skip
SLA_POLICY_RELOADS = Family(
    "socialcare_sla_policy_reloads", "counter",
    "Times this worker loaded a changed SLA policy set from Redis.", (),
)  # fmt: skip
CONSUMER_LAG_RECORDS = Family(
    "socialcare_consumer_lag_records", "gauge",
    "Records not yet read in the input partitions this worker owns, by topic.", ("topic",),
)  # fmt: skip
ALIGNMENT_ENFORCED_RECORDS = Family(
    "socialcare_alignment_enforced_records", "counter",
    "Records processed while a topic of their partition had unread or unknown records, after "
    "SOCIALCARE_ALIGNMENT_MAX_WAIT_SECONDS (enforced processing: they may count as late).", (),
)  # fmt: skip
ALIGNMENT_BUFFERED_RECORDS = Family(
    "socialcare_alignment_buffered_records", "gauge",
    "Records fetched and waiting for the other topics of their partition (aligned input).",
    ("partition",),
)  # fmt: skip
ALIGNMENT_PAUSED_PARTITIONS = Family(
    "socialcare_alignment_paused_partitions", "gauge",
    "Input topic-partitions whose fetch is paused: too far ahead of the other topics.", (),
)  # fmt: skip
ALIGNMENT_IDLE_PARTITIONS = Family(
    "socialcare_alignment_idle_partitions", "gauge",
    "Input topic-partitions caught up with nothing buffered (they hold nothing back).", (),
)  # fmt: skip
CATCHING_UP_PARTITIONS = Family(
    "socialcare_catching_up_partitions", "gauge",
    "Owned partitions with records still unread or buffered: their SLA deadlines wait at "
    "their stream time instead of the wall clock.", (),
)  # fmt: skip
LABEL_OVERFLOW = Family(
    "socialcare_label_overflow", "counter",
    "Events whose brand, channel or team value was exported as 'other': past "
    "SOCIALCARE_MAX_BRANDS/_CHANNELS/_TEAMS or outside SOCIALCARE_BRANDS/_CHANNELS/_TEAMS. "
    "They are counted, under 'other'.", ("label",),
)  # fmt: skip
REDIS_REACHABLE = Family(
    "socialcare_redis_reachable", "gauge",
    "1 when the worker's last call to Redis answered, 0 while Redis is unreachable (counting "
    "goes on; SLA policy changes wait).", (),
)  # fmt: skip
_S = "socialcare_state_"  # the local state: recovery on assignments, standby copies
STATE_RECOVERY_SECONDS = Family(_S + "recovery_seconds", "gauge", "Duration of the last "
                                "changelog read on a partition assignment.", ())  # fmt: skip
STATE_RECOVERY_RECORDS = Family(_S + "recovery_records", "counter", "Changelog records "
                                "read into the state on partition assignments.", ())  # fmt: skip
STATE_STANDBY_PARTITIONS = Family(_S + "standby_partitions", "gauge", "Partitions not "
                                  "owned whose local copy follows the changelog.", ())  # fmt: skip
STATE_STANDBY_LAG_RECORDS = Family(_S + "standby_lag_records", "gauge", "Changelog records "
                                   "not yet in the standby copies.", ())  # fmt: skip
STATE_CHANGELOG_RECORDS = Family(_S + "changelog_records", "counter", "Records written to the "
                                 "state changelog (changed keys, batch by batch).", ())  # fmt: skip
STATE_CHANGELOG_BYTES = Family(_S + "changelog_bytes", "counter", "Key and value bytes of the "
                               "records written to the state changelog.", ())  # fmt: skip
STATE_WRITE_WAIT = Family(_S + "write_wait_seconds", "counter", "Seconds batches waited for "
                          "the previous batch's changelog write to complete.", ())  # fmt: skip
GC_PAUSE_SECONDS = Family("socialcare_gc_pause_seconds", "histogram", "Time Python's cyclic "
                          "garbage collector stopped the process, by generation collected.",
                          ("generation",))  # fmt: skip
HEALTH_FAMILIES: tuple[Family, ...] = (
    EVENTS_PROCESSED, DEADLETTERS, PROCESSING_ERRORS, EVENT_TIME_LAG_SECONDS,
    PIPELINE_LATENCY_SECONDS, PIPELINE_BATCH_RECORDS, LAST_EVENT_TIMESTAMP_SECONDS,
    OWNED_PARTITIONS, SLA_POLICY_VERSION, SLA_POLICY_RELOADS, CONSUMER_LAG_RECORDS,
    ALIGNMENT_ENFORCED_RECORDS, ALIGNMENT_BUFFERED_RECORDS, ALIGNMENT_PAUSED_PARTITIONS,
    ALIGNMENT_IDLE_PARTITIONS,
    CATCHING_UP_PARTITIONS, LABEL_OVERFLOW, REDIS_REACHABLE, STATE_RECOVERY_SECONDS,
    STATE_RECOVERY_RECORDS,
    STATE_STANDBY_PARTITIONS, STATE_STANDBY_LAG_RECORDS, STATE_CHANGELOG_RECORDS,
    STATE_CHANGELOG_BYTES, STATE_WRITE_WAIT, GC_PAUSE_SECONDS,
)  # fmt: skip
# -- the ingest webhook's own registry ---------------------------------------------------------

WEBHOOK_REQUESTS = Family("socialcare_webhook_requests", "counter",
                          "Webhook requests by HTTP status code.", ("code",))  # fmt: skip
WEBHOOK_EVENTS = Family("socialcare_webhook_events", "counter",
                        "Events received by the webhook, by outcome.", ("outcome",))  # fmt: skip
WEBHOOK_DEADLETTERS = Family("socialcare_deadletters", "counter", "Input written to the "
                             "dead-letter topic, by reason.", ("reason",))  # fmt: skip
WEBHOOK_REQUEST_DURATION_SECONDS = Family("socialcare_webhook_request_duration_seconds",
    "histogram", "Time to answer a webhook request (validation, publishing).", ())  # fmt: skip
WEBHOOK_FAMILIES: tuple[Family, ...] = (
    WEBHOOK_REQUESTS, WEBHOOK_EVENTS, WEBHOOK_DEADLETTERS, WEBHOOK_REQUEST_DURATION_SECONDS,
)  # fmt: skip

_BY_NAME: dict[str, Family] = {
    item.name: item
    for item in (
        *BUSINESS_FAMILIES, *WINDOW_FAMILIES.values(), TEAM_STAFFING_COST_PER_HOUR,
        *HEALTH_FAMILIES, *WEBHOOK_FAMILIES,
    )
}  # fmt: skip


def family(short: str) -> Family:
    """A declared family by its name without the `socialcare_` prefix (boards, docs, tests)."""
    try:
        return _BY_NAME[PREFIX + short]
    except KeyError:
        raise KeyError(f"no metric family {PREFIX}{short} is declared") from None


def all_families() -> tuple[Family, ...]:
    """Every declared family, once (the webhook's dead-letter counter shares the worker's name)."""
    return tuple(_BY_NAME.values())
