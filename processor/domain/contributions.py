"""The metric values a conversation stands for, from its header and the end of its walk.

Pure arithmetic, split the way the summary needs it: `view` is what the conversation's
present position says (labels, first response, first resolution, backlog, quality, and the
waits the clock may still breach); `add_item` is what one completed item of the walk adds
(an answered wait, a resolution), counted once when it completes and never again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from processor.domain.quality import csat_satisfied, nps_category, recovered, satisfied_answer
from processor.domain.reviews import add_review_values
from processor.domain.thread import Item, ThreadWalk
from processor.metrics import customer_families as cf
from processor.metrics import families as f
from processor.metrics.series import Contributions, count, observe

if TYPE_CHECKING:
    from processor.domain.conversation import ConversationState

AWAITING_FIRST_RESPONSE = "awaiting_first_response"
AWAITING_NEXT_RESPONSE = "awaiting_next_response"
AWAITING_CUSTOMER = "awaiting_customer"
AT_RISK = "at_risk"
BREACHED = "breached"
OPEN_STATES = (
    AWAITING_FIRST_RESPONSE,
    AWAITING_NEXT_RESPONSE,
    AWAITING_CUSTOMER,
    AT_RISK,
    BREACHED,
)


def _sla(
    out: Contributions,
    family: f.Family,
    labels: tuple[str, ...],
    deadline: float,
    done_at: float | None,
    swept: float,
    stopped_at: float | None = None,
) -> str | None:
    """Met/breached for one clock: done in time, done late, or silent past the deadline."""
    if done_at is not None:
        outcome, at = ("met", done_at) if done_at <= deadline else ("breached", deadline)
    elif swept >= deadline and (stopped_at is None or stopped_at > deadline):
        outcome, at = "breached", deadline
    else:
        return None
    key = count(family, (*labels, outcome), at)
    out[key] = out.get(key, 0.0) + 1.0
    return outcome


def waiting_deadline(state: ConversationState, end: ThreadWalk) -> float | None:
    """Deadline of the reply the customer is waiting for, if any."""
    if end.first_response_at is None:
        return state.first_response_deadline
    if end.waiting_since is not None and state.next_response_target is not None:
        return state.deadline(end.waiting_since, state.next_response_target)
    return None


def open_state(state: ConversationState, end: ThreadWalk, swept: float) -> str | None:
    """Where the conversation stands in the backlog, None once resolved."""
    if not end.open_now:
        return None
    waiting = waiting_deadline(state, end)
    if waiting is not None:
        if swept >= waiting:
            return BREACHED
        if state.at_risk_margin > 0 and swept >= waiting - state.at_risk_margin:
            return AT_RISK
        if end.first_response_at is None:
            return AWAITING_FIRST_RESPONSE
        return AWAITING_NEXT_RESPONSE
    if end.first_response_at is None:
        return AWAITING_FIRST_RESPONSE
    return AWAITING_CUSTOMER


def add_item(state: ConversationState, item: Item, swept: float, out: Contributions) -> None:
    """What one completed item of the walk adds: a wait or a resolution."""
    labels = (state.brand or "", state.channel or "")
    kind, at, other = item
    if kind == "resolution":
        key = count(f.RESOLUTIONS, (*labels, other), at)
        out[key] = out.get(key, 0.0) + 1.0
        return
    # a wait: answered at `other`, or still waiting (None)
    if other is not None:
        observe(out, f.NEXT_RESPONSE_SECONDS, labels, other - at)
    if state.next_response_target is not None:
        deadline = state.deadline(at, state.next_response_target)
        _sla(out, f.NEXT_RESPONSE_SLA, (*labels, state.priority), deadline, other, swept)


def view(state: ConversationState, end: ThreadWalk, swept: float) -> Contributions:
    """The values the conversation's position says, for the walk's `end` at `swept`."""
    out: Contributions = {}
    opened_at = state.opened_at
    if opened_at is None or state.brand is None or state.channel is None:
        return out
    labels = (state.brand, state.channel)
    sla_labels = (*labels, state.priority)
    out[count(f.CONVERSATIONS_OPENED, labels)] = 1.0
    first_resolution = end.first_resolution_at

    # First response: the first human reply after the opening post.
    first_response = end.first_response_at
    if first_response is not None:
        observe(out, f.FIRST_RESPONSE_SECONDS, labels, first_response - opened_at)
        observe(out, f.TEAM_FIRST_RESPONSE_SECONDS, (*labels, end.first_response_team),
                first_response - opened_at)  # fmt: skip
    deadline = state.first_response_deadline
    first_outcome = None
    if deadline is not None:
        first_outcome = _sla(out, f.FIRST_RESPONSE_SLA, sla_labels, deadline, first_response,
                             swept, stopped_at=first_resolution)  # fmt: skip
    if end.answered:
        out[count(f.MENTIONS_ANSWERED, labels)] = float(end.answered)
    # Stopped waits the clock may still breach (the others were counted as they completed).
    if state.next_response_target is not None:
        for _, _, wait_deadline in end.pending:
            if swept >= wait_deadline:
                key = count(f.NEXT_RESPONSE_SLA, (*sla_labels, "breached"), wait_deadline)
                out[key] = out.get(key, 0.0) + 1.0

    # The first resolution: time, effort, first contact.
    if end.reopens:
        out[count(f.REOPENS, labels)] = float(end.reopens)
    if first_resolution is not None:
        redirect_times = state.redirections.values()
        channels = 1 + sum(1 for at in redirect_times if at <= first_resolution)
        redirected = channels > 1
        seconds = first_resolution - opened_at
        observe(out, f.RESOLUTION_SECONDS, (*labels, "true" if redirected else "false"), seconds)
        observe(out, f.POSTS_TO_RESOLUTION, (*labels, "customer"), float(end.customer))
        observe(out, f.POSTS_TO_RESOLUTION, (*labels, "brand"), float(end.brand))
        observe(out, f.TEAM_RESOLUTION_SECONDS, (*labels, end.first_resolution_team), seconds)
        observe(out, f.CUSTOMER_EFFORT_CHANNELS, labels, float(channels))
        if end.humans == 1 and not redirected and not end.reopens:
            out[count(f.FIRST_CONTACT_RESOLUTIONS, labels)] = 1.0
    if state.resolution_target is not None:
        resolution_deadline = state.deadline(opened_at, state.resolution_target)
        inactivity = end.awaiting_customer_since
        pending_inference = inactivity is not None and inactivity <= resolution_deadline
        if first_resolution is not None or not pending_inference:
            _sla(out, f.RESOLUTION_SLA, sla_labels, resolution_deadline, first_resolution, swept)

    # Backlog: where the open conversation stands now.
    backlog = open_state(state, end, swept)
    if backlog is not None:
        out[count(f.OPEN_CONVERSATIONS, (*labels, backlog))] = 1.0
        if state.customer_value:
            out[count(f.OPEN_CUSTOMER_VALUE, (*labels, backlog))] = state.customer_value
    if state.customer_value and first_outcome == "breached":
        out[count(f.BREACHED_CUSTOMER_VALUE, labels)] = state.customer_value

    # Quality: recovery of a negative start; CSAT and NPS by redirection.
    opening, negative_below = state.opening_sentiment, state.negative_below
    if negative_below is not None and opening is not None and opening < negative_below:
        later = () if state.later_sentiment_max is None else (state.later_sentiment_max,)
        out[count(f.NEGATIVE_CONVERSATIONS, labels)] = 1.0
        if recovered(opening, negative_below, later, state.surveys):
            out[count(f.RECOVERED_CONVERSATIONS, labels)] = 1.0
    # Churn: a customer who said they are leaving, and what came of it.
    if state.churn_risk_at is not None:
        out[count(cf.CHURN_RISK_CONVERSATIONS, labels)] = 1.0
        if first_resolution is not None:
            out[count(cf.CHURN_RISK_RESOLVED, labels)] = 1.0
        if any(satisfied_answer(kind, score) for kind, score in state.surveys):
            out[count(cf.CHURN_RISK_RECOVERED, labels)] = 1.0
    add_review_values(state, labels, first_response, out)
    any_redirection = "true" if state.redirections else "false"
    for kind, score in state.surveys:
        if kind == "csat":
            satisfied = f.CSAT_SATISFIED if csat_satisfied(score) else f.CSAT_FOLLOWUP_NEEDED
            for family, amount in ((f.CSAT_RESPONSES, 1.0), (f.CSAT_SCORE, float(score)),
                                   (satisfied, 1.0)):  # fmt: skip
                csat_key = count(family, (*labels, any_redirection))
                out[csat_key] = out.get(csat_key, 0.0) + amount
        else:
            nps_key = count(f.NPS_RESPONSES, (*labels, nps_category(score)))
            out[nps_key] = out.get(nps_key, 0.0) + 1.0
    return out
