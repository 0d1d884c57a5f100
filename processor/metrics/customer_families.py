"""Families of what becomes of the customers: the churn signal, retention and online
reviews. Declared as in `families`, part of its `BUSINESS_FAMILIES`; the retention families
come from the customers' partitions (`processor.domain.customers`), the reviews from the
conversations whose posts carry a rating (`processor.domain.reviews`)."""

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

REVIEW_LABELS = ("brand", "channel", "source")
REVIEWS = Family(
    "socialcare_reviews",
    "counter",
    "Online reviews (conversations whose first rated post has a rating 1-5), by review site.",
    REVIEW_LABELS,
)
REVIEWS_BY_RATING = Family(
    "socialcare_reviews_by_rating",
    "counter",
    "Online reviews by their first rating (1-5 stars).",
    (*REVIEW_LABELS, "rating"),
)
REVIEW_STARS = Family(
    "socialcare_review_stars",
    "counter",
    "Sum of the reviews' first ratings (average rating: review_stars / reviews).",
    REVIEW_LABELS,
)
REVIEWS_ANSWERED = Family(
    "socialcare_reviews_answered",
    "counter",
    "Online reviews answered by a human reply of the brand.",
    REVIEW_LABELS,
)
NEGATIVE_REVIEWS = Family(
    "socialcare_negative_reviews",
    "counter",
    "Online reviews whose first rating is 1 or 2 stars.",
    REVIEW_LABELS,
)
NEGATIVE_REVIEWS_ANSWERED = Family(
    "socialcare_negative_reviews_answered",
    "counter",
    "Negative reviews (1-2 stars) answered by a human reply of the brand.",
    REVIEW_LABELS,
)
REVIEW_RECOVERIES = Family(
    "socialcare_review_recoveries",
    "counter",
    "Negative reviews (1-2 stars) whose reviewer later updated the rating to 4 or 5 stars.",
    REVIEW_LABELS,
)
REVIEW_RESPONSE_SECONDS = Family(
    "socialcare_review_response_seconds",
    "histogram",
    "Time from a review to the brand's first human reply to it (seconds).",
    REVIEW_LABELS,
)
WINDOW_REVIEWS = Family(
    "socialcare_window_reviews",
    "gauge",
    "Online reviews in the last window (event time of the first rated post).",
    (*REVIEW_LABELS, "window"),
)
WINDOW_REVIEW_STARS = Family(
    "socialcare_window_review_stars",
    "gauge",
    "Sum of the first ratings of the reviews in the last window (event time).",
    (*REVIEW_LABELS, "window"),
)
WINDOW_NEGATIVE_REVIEWS = Family(
    "socialcare_window_negative_reviews",
    "gauge",
    "Negative (1-2 star) reviews in the last window (event time).",
    (*REVIEW_LABELS, "window"),
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
    REVIEWS,
    REVIEWS_BY_RATING,
    REVIEW_STARS,
    REVIEWS_ANSWERED,
    NEGATIVE_REVIEWS,
    NEGATIVE_REVIEWS_ANSWERED,
    REVIEW_RECOVERIES,
    REVIEW_RESPONSE_SECONDS,
)
# Counter -> the gauge of its event-time windows (merged into `families.WINDOW_FAMILIES`).
CUSTOMER_WINDOW_FAMILIES: dict[str, Family] = {
    CUSTOMER_CONVERSATIONS.name: WINDOW_CUSTOMER_CONVERSATIONS,
    RETURNING_CUSTOMER_CONVERSATIONS.name: WINDOW_RETURNING_CUSTOMER_CONVERSATIONS,
    REVIEWS.name: WINDOW_REVIEWS,
    REVIEW_STARS.name: WINDOW_REVIEW_STARS,
    NEGATIVE_REVIEWS.name: WINDOW_NEGATIVE_REVIEWS,
}
