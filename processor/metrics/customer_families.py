"""Families of what becomes of the customers: the churn signal (and, next, retention and
online reviews). Declared as in `families`, part of its `BUSINESS_FAMILIES`."""

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

CUSTOMER_FAMILIES: tuple[Family, ...] = (
    CHURN_RISK_CONVERSATIONS,
    CHURN_RISK_RESOLVED,
    CHURN_RISK_RECOVERED,
)
