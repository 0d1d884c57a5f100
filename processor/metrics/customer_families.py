"""Families of what becomes of the customers: the churn signal and retention (and, next,
online reviews). Declared as in `families`, part of its `BUSINESS_FAMILIES`; the retention
families come from the customers' partitions (`processor.domain.customers`)."""

from __future__ import annotations

from processor.metrics.family import Family

CHURN_RISK_CONVERSATIONS = Family(
    "socialcare_churn_risk_conversations",
    "counter",
    "Conversations where the customer says they are leaving (inquiry type churn_risk or a "
    "phrase of SOCIALCARE_CHURN_PHRASES).",
    ("brand", "channel"),
)
CHURN_RISK_RESOLVED = Family(
    "socialcare_churn_risk_resolved",
    "counter",
    "Churn-risk conversations that were resolved.",
    ("brand", "channel"),
)
CHURN_RISK_RECOVERED = Family(
    "socialcare_churn_risk_recovered",
    "counter",
    "Churn-risk conversations with a satisfied survey answer (CSAT 4-5 or NPS 7-10).",
    ("brand", "channel"),
)

CUSTOMER_CONVERSATIONS = Family(
    "socialcare_customer_conversations",
    "counter",
    "Conversations counted on their customer's side (new and returning customers together).",
    ("brand", "channel"),
)
RETURNING_CUSTOMER_CONVERSATIONS = Family(
    "socialcare_returning_customer_conversations",
    "counter",
    "Conversations of a customer who had an earlier conversation with the brand while "
    "remembered (SOCIALCARE_CUSTOMER_TTL_SECONDS).",
    ("brand", "channel"),
)
CUSTOMER_RESOLUTIONS = Family(
    "socialcare_customer_resolutions",
    "counter",
    "Resolved conversations counted on their customer's side (repeat contact denominator).",
    ("brand", "channel"),
)
REPEAT_CONTACT_RESOLUTIONS = Family(
    "socialcare_repeat_contact_resolutions",
    "counter",
    "Resolved conversations whose customer opened another conversation within the window "
    "after the resolution (7d, 30d; 30d includes 7d).",
    ("brand", "channel", "within"),
)
REPEAT_CONTACTS = Family(
    "socialcare_repeat_contacts",
    "counter",
    "Conversations opened within the window after the resolution of an earlier conversation "
    "of the same customer (7d, 30d; 30d includes 7d).",
    ("brand", "channel", "within"),
)
WINDOW_CUSTOMER_CONVERSATIONS = Family(
    "socialcare_window_customer_conversations",
    "gauge",
    "Conversations counted on their customer's side in the last window (event time).",
    ("brand", "channel", "window"),
)
WINDOW_RETURNING_CUSTOMER_CONVERSATIONS = Family(
    "socialcare_window_returning_customer_conversations",
    "gauge",
    "Conversations of returning customers in the last window (event time).",
    ("brand", "channel", "window"),
)

CUSTOMER_FAMILIES: tuple[Family, ...] = (
    CHURN_RISK_CONVERSATIONS,
    CHURN_RISK_RESOLVED,
    CHURN_RISK_RECOVERED,
    CUSTOMER_CONVERSATIONS,
    RETURNING_CUSTOMER_CONVERSATIONS,
    CUSTOMER_RESOLUTIONS,
    REPEAT_CONTACT_RESOLUTIONS,
    REPEAT_CONTACTS,
)
# Counter -> the gauge of its event-time windows (merged into `families.WINDOW_FAMILIES`).
CUSTOMER_WINDOW_FAMILIES: dict[str, Family] = {
    CUSTOMER_CONVERSATIONS.name: WINDOW_CUSTOMER_CONVERSATIONS,
    RETURNING_CUSTOMER_CONVERSATIONS.name: WINDOW_RETURNING_CUSTOMER_CONVERSATIONS,
}
