"""Online reviews: a documented extension of mentions (docs/metrics.md, Online reviews).

A review is a conversation whose customer posts carry a `rating` (1-5 stars; on channel
`reviews` by convention, the site in `review_source`): the review is its earliest rated
post, the brand's answer a reply in the conversation, an edited review a later rated post.
So a review gets everything a conversation gets (first response SLA, dedup, time
alignment), plus these values, conversation values like recovery: in any order of arrival,
the earliest rated post is the review and the latest is its current rating.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from processor.metrics import customer_families as cf
from processor.metrics.series import Contributions, count, observe

if TYPE_CHECKING:
    from processor.domain.conversation import ConversationState

NEGATIVE_AT_MOST = 2  # 1-2 stars: a negative review
RECOVERED_AT_LEAST = 4  # updated to 4-5 stars: recovered


def fold_rating(
    state: ConversationState, at: float, stars: float | None, source: str | None
) -> None:
    """A rated post: the earliest is the review (its site), the latest its current rating.

    Simultaneous posts: the lower rating is the review, the higher the update (either way
    the same in any order). A post without a rating changes nothing."""
    if stars is None:
        return
    rating = int(stars)
    first_at = state.first_rating_at
    if first_at is None or at < first_at or (at == first_at and rating < (state.first_rating or 6)):
        state.first_rating, state.first_rating_at = rating, at
        state.review_source = source or "other"
    last_at = state.last_rating_at
    if last_at is None or at > last_at or (at == last_at and rating > (state.last_rating or 0)):
        state.last_rating, state.last_rating_at = rating, at


def add_review_values(
    state: ConversationState, labels: tuple[str, str], first_response_at: float | None,
    out: Contributions,
) -> None:  # fmt: skip
    """What a review stands for: counted at its first rated post's time (the windows)."""
    rating, at = state.first_rating, state.first_rating_at
    if rating is None or at is None:
        return
    review = (*labels, state.review_source or "other")
    out[count(cf.REVIEWS, review, at)] = 1.0
    out[count(cf.REVIEW_STARS, review, at)] = float(rating)
    out[count(cf.REVIEWS_BY_RATING, (*review, str(rating)))] = 1.0
    answered = first_response_at is not None
    if first_response_at is not None:
        out[count(cf.REVIEWS_ANSWERED, review)] = 1.0
        observe(out, cf.REVIEW_RESPONSE_SECONDS, review, max(0.0, first_response_at - at))
    if rating > NEGATIVE_AT_MOST:
        return
    out[count(cf.NEGATIVE_REVIEWS, review, at)] = 1.0
    if answered:
        out[count(cf.NEGATIVE_REVIEWS_ANSWERED, review)] = 1.0
    last, last_at = state.last_rating, state.last_rating_at
    if last is not None and last_at is not None and last_at > at and last >= RECOVERED_AT_LEAST:
        out[count(cf.REVIEW_RECOVERIES, review)] = 1.0
