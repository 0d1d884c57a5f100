//! One conversation's state and what each event changes of its metrics: the native twin
//! of `processor/domain/conversation.py` with `contributions.py`, `quality.py` and
//! `reviews.py` (the reference; differential tests in `tests/unit/native/`).
//!
//! Not yet here (docs/native-core.md, step 2): the predictions (their fields are carried
//! through the stored document, `document.rs`).

use std::collections::HashSet;
use std::sync::Arc;

use crate::calendar::Calendar;
use crate::series::{add, count, difference, observe, Contributions, Family, Label};
use crate::tail::{ChunkStore, Tail};
use crate::thread::{Code, Item, Mark, ThreadWalk};

/// Surveys are few per conversation; a flood of them must not grow the state.
pub const MAX_SURVEYS: usize = 32;
const NEGATIVE_AT_MOST: i64 = 2; // 1-2 stars: a negative review
const RECOVERED_AT_LEAST: i64 = 4; // updated to 4-5 stars: recovered

/// Configuration that shapes the metrics (`ConversationRules`); recorded in a state when it
/// opens.
#[derive(Clone, Debug)]
pub struct Rules {
    pub negative_below: f64,
    pub positive_above: f64,
    pub inactivity_seconds: f64,
    pub at_risk_margin_seconds: f64,
    /// Teams outside the allowlist (if any) become "other".
    pub teams: Option<HashSet<Arc<str>>>,
    /// Agents are labelled only when listed.
    pub agents: HashSet<Arc<str>>,
}

impl Rules {
    pub fn team_label(&self, team: Option<&Label>) -> Label {
        match team {
            None => Arc::from("unassigned"),
            Some(team) => match &self.teams {
                Some(allowed) if !allowed.contains(team) => Arc::from("other"),
                _ => team.clone(),
            },
        }
    }

    pub fn classify(&self, sentiment: Option<f64>) -> &'static str {
        match sentiment {
            None => "unknown",
            Some(value) if value < self.negative_below => "negative",
            Some(value) if value > self.positive_above => "positive",
            Some(_) => "neutral",
        }
    }
}

/// The SLA targets in seconds a conversation opened by a mention gets (its policy's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Targets {
    pub first_response: f64,
    pub next_response: f64,
    pub resolution: f64,
}

/// What an event says, as the fold needs it (decoding and the text's churn phrases stay in
/// Python).
#[derive(Clone, Debug)]
pub enum EventKind {
    Mention {
        author_id: Label,
        priority: Label,
        sentiment: Option<f64>,
        inquiry_type: Option<Label>,
        customer_value: Option<f64>,
        rating: Option<i64>,
        review_source: Option<Label>,
        /// The churn signal: its inquiry type or a phrase of its text (`states_leaving`).
        states_leaving: bool,
        /// The targets of its policy, should it open the conversation.
        targets: Targets,
        /// The business calendar its policy's clocks follow (None: around the clock), and
        /// its stored form.
        calendar: Option<Arc<Calendar>>,
        calendar_document: Option<serde_json::Value>,
    },
    Reply {
        automated: bool,
        team: Option<Label>,
        resolves: bool,
        agent_id: Option<Label>,
    },
    Redirection {
        to_channel: Label,
    },
    Survey {
        kind: Label,
        score: i64,
    },
}

#[derive(Clone, Debug)]
pub struct Event {
    pub at: f64,
    pub brand: Label,
    pub channel: Label,
    pub kind: EventKind,
}

/// What the processor knows of one conversation.
#[derive(Clone, Debug)]
pub struct ConversationState {
    pub conversation_id: Label,
    pub partition: i64,
    pub brand: Option<Label>,
    pub channel: Option<Label>,
    pub priority: Label,
    /// The earliest customer post.
    pub opened_at: Option<f64>,
    pub customer_posts: i64,
    pub brand_posts: i64,
    pub automated_posts: i64,
    pub first_response_target: Option<f64>,
    pub next_response_target: Option<f64>,
    pub resolution_target: Option<f64>,
    pub inactivity_seconds: f64,
    pub at_risk_margin: f64,
    pub negative_below: Option<f64>,
    /// Business hours the clocks follow (None: 24/7), and their stored form.
    pub calendar: Option<Arc<Calendar>>,
    pub calendar_document: Option<serde_json::Value>,
    /// The largest customer value of its mentions.
    pub customer_value: Option<f64>,
    pub opening_sentiment: Option<f64>,
    pub opening_instant_sentiment: Option<f64>,
    pub later_sentiment_max: Option<f64>,
    /// Channel -> earliest time, in the order first seen.
    pub redirections: Vec<(Label, f64)>,
    /// (kind, score), sorted, at most `MAX_SURVEYS`.
    pub surveys: Vec<(Label, i64)>,
    pub churn_risk_at: Option<f64>,
    pub customer_id: Option<Label>,
    /// (opened_at, resolved_at) as last told to the customer's partition.
    pub customer_told: Option<(f64, Option<f64>)>,
    pub review_source: Option<Label>,
    pub first_rating: Option<i64>,
    pub first_rating_at: Option<f64>,
    pub last_rating: Option<i64>,
    pub last_rating_at: Option<f64>,
    pub inquiry_type: Option<Label>,
    /// The predictions' bookkeeping (carried, not read yet).
    pub predicted_csat: Option<f64>,
    pub scored_resolutions: i64,
    pub csat_learned: i64,
    pub clock_scored_at: Option<f64>,
    pub swept_until: Option<f64>,
    pub last_event_at: Option<f64>,
    pub settled_until: Option<f64>,
    pub settled: ThreadWalk,
    pub tail: Tail,
    pub walk: ThreadWalk,
    /// `current` of the state as it is (derived, never stored; None: to be computed).
    pub current_values: Option<Contributions>,
}

impl Default for ConversationState {
    fn default() -> ConversationState {
        ConversationState {
            conversation_id: Arc::from(""),
            partition: 0,
            brand: None,
            channel: None,
            priority: Arc::from("normal"),
            opened_at: None,
            customer_posts: 0,
            brand_posts: 0,
            automated_posts: 0,
            first_response_target: None,
            next_response_target: None,
            resolution_target: None,
            inactivity_seconds: 0.0,
            at_risk_margin: 0.0,
            negative_below: None,
            calendar: None,
            calendar_document: None,
            customer_value: None,
            opening_sentiment: None,
            opening_instant_sentiment: None,
            later_sentiment_max: None,
            redirections: Vec::new(),
            surveys: Vec::new(),
            churn_risk_at: None,
            customer_id: None,
            customer_told: None,
            review_source: None,
            first_rating: None,
            first_rating_at: None,
            last_rating: None,
            last_rating_at: None,
            inquiry_type: None,
            predicted_csat: None,
            scored_resolutions: 0,
            csat_learned: 0,
            clock_scored_at: None,
            swept_until: None,
            last_event_at: None,
            settled_until: None,
            settled: ThreadWalk::new(None, 0.0),
            tail: Tail::default(),
            walk: ThreadWalk::new(None, 0.0),
            current_values: None,
        }
    }
}

/// `target` seconds after `start` on a calendar (or none).
///
/// A calendar that cannot hold the target (more than three years of business time) was
/// refused when its policy was set; Python raises here, and so does this (a panic, which
/// the binding turns into an exception).
pub fn deadline(calendar: &Option<Arc<Calendar>>, start: f64, target: f64) -> f64 {
    match calendar {
        None => start + target,
        Some(calendar) => calendar
            .deadline(start, target)
            .unwrap_or_else(|error| panic!("{error}")),
    }
}

fn label(text: &str) -> Label {
    Arc::from(text)
}

impl ConversationState {
    pub fn swept(&self) -> f64 {
        self.swept_until.unwrap_or(f64::NEG_INFINITY)
    }

    /// `target` seconds after `start`: calendar time, or business time with a calendar.
    pub fn deadline(&self, start: f64, target: f64) -> f64 {
        deadline(&self.calendar, start, target)
    }

    pub fn first_response_deadline(&self) -> Option<f64> {
        match (self.opened_at, self.first_response_target) {
            (Some(opened_at), Some(target)) => Some(self.deadline(opened_at, target)),
            _ => None,
        }
    }

    fn labels(&self) -> Vec<Label> {
        vec![
            self.brand.clone().unwrap_or_else(|| label("")),
            self.channel.clone().unwrap_or_else(|| label("")),
        ]
    }
}

/// The posts an event adds to the thread (a resolving reply adds two marks).
pub fn marks_of(event: &Event, rules: &Rules) -> Vec<Mark> {
    let at = event.at;
    match &event.kind {
        EventKind::Mention { .. } => vec![Mark {
            at,
            code: Code::Customer,
        }],
        EventKind::Reply {
            automated,
            team,
            resolves,
            ..
        } => {
            let post = if *automated {
                Mark {
                    at,
                    code: Code::Bot,
                }
            } else {
                Mark {
                    at,
                    code: Code::Human(rules.team_label(team.as_ref())),
                }
            };
            if *resolves {
                vec![
                    post,
                    Mark {
                        at,
                        code: Code::Resolve,
                    },
                ]
            } else {
                vec![post]
            }
        }
        _ => Vec::new(),
    }
}

/// Fold one event into the state (in place); the change of its contributions.
pub fn apply_event(
    state: &mut ConversationState,
    event: &Event,
    rules: &Rules,
    store: &mut dyn ChunkStore,
) -> Contributions {
    let marks = marks_of(event, rules);
    let reopening = matches!(event.kind, EventKind::Mention { .. })
        && state
            .opened_at
            .map_or(true, |opened_at| event.at < opened_at);
    let in_order = !reopening
        && match &state.walk.last {
            None => true,
            Some(last) => marks
                .iter()
                .all(|mark| mark.key().partial_cmp(last) != Some(std::cmp::Ordering::Less)),
        };
    if !in_order {
        let before = live(state, false, store);
        apply_header(state, event, rules);
        for mark in marks {
            state.tail.insert(mark, store);
        }
        if reopening && state.opened_at.is_some() {
            // Only marks before the new opening were settled (they are older than any
            // event still admitted), and they walked nothing: the opening may move.
            assert!(
                state.settled.walked_nothing(),
                "an opening before the settled history"
            );
            state.settled.opened_at = state.opened_at;
            state.settled.inactivity = state.inactivity_seconds;
        }
        let after = live(state, true, store);
        return difference(&before, &after);
    }
    // The remembered values are replaced below: taken, not copied.
    let before = match state.current_values.take() {
        Some(values) => values,
        None => current_of(state),
    };
    apply_header(state, event, rules);
    let mut completed = Vec::new();
    let next_target = state.next_response_target;
    for mark in marks {
        step(
            next_target,
            &state.calendar,
            &mut state.walk,
            &mark,
            &mut completed,
        );
        state.tail.append(mark, store);
    }
    let after = current_of(state);
    let mut change = difference(&before, &after);
    state.current_values = Some(after);
    let swept = state.swept();
    for item in &completed {
        add_item(state, item, swept, &mut change);
    }
    change
}

fn higher(value: Option<f64>, other: Option<f64>) -> Option<f64> {
    match (value, other) {
        (_, None) => value,
        (Some(value), Some(other)) if other <= value => Some(value),
        (_, Some(other)) => Some(other),
    }
}

/// Keep the opening post's sentiment and the highest of the others (for recovery).
fn fold_sentiment(state: &mut ConversationState, at: f64, sentiment: Option<f64>) {
    match state.opened_at {
        Some(opened_at) if at == opened_at => {
            if let Some(opening) = state.opening_sentiment {
                if sentiment.map_or(true, |value| value < opening) {
                    state.opening_sentiment = sentiment;
                }
            }
            state.opening_instant_sentiment = higher(state.opening_instant_sentiment, sentiment);
        }
        Some(opened_at) if at > opened_at => {
            state.later_sentiment_max = higher(state.later_sentiment_max, sentiment);
        }
        opened => {
            if opened.is_some() {
                // The old opening instant becomes later posts.
                state.later_sentiment_max =
                    higher(state.later_sentiment_max, state.opening_instant_sentiment);
            }
            state.opening_sentiment = sentiment;
            state.opening_instant_sentiment = sentiment;
        }
    }
}

/// A rated post: the earliest is the review (its site), the latest its current rating.
fn fold_rating(
    state: &mut ConversationState,
    at: f64,
    rating: Option<i64>,
    source: &Option<Label>,
) {
    let rating = match rating {
        Some(rating) => rating,
        None => return,
    };
    let first_earlier = match state.first_rating_at {
        None => true,
        Some(first_at) => {
            at < first_at || (at == first_at && rating < state.first_rating.unwrap_or(6))
        }
    };
    if first_earlier {
        state.first_rating = Some(rating);
        state.first_rating_at = Some(at);
        state.review_source = Some(source.clone().unwrap_or_else(|| label("other")));
    }
    let last_later = match state.last_rating_at {
        None => true,
        Some(last_at) => at > last_at || (at == last_at && rating > state.last_rating.unwrap_or(0)),
    };
    if last_later {
        state.last_rating = Some(rating);
        state.last_rating_at = Some(at);
    }
}

/// What an event changes besides the thread's posts.
fn apply_header(state: &mut ConversationState, event: &Event, rules: &Rules) {
    let at = event.at;
    if state.last_event_at.map_or(true, |last| at > last) {
        state.last_event_at = Some(at);
    }
    match &event.kind {
        EventKind::Mention {
            author_id,
            priority,
            sentiment,
            inquiry_type,
            customer_value,
            rating,
            review_source,
            states_leaving,
            targets,
            calendar,
            calendar_document,
        } => {
            state.customer_posts += 1;
            if let Some(value) = customer_value {
                if state.customer_value.map_or(true, |known| *value > known) {
                    state.customer_value = Some(*value);
                }
            }
            fold_sentiment(state, at, *sentiment);
            fold_rating(state, at, *rating, review_source);
            if *states_leaving && state.churn_risk_at.map_or(true, |known| at < known) {
                state.churn_risk_at = Some(at);
            }
            if state.opened_at.map_or(true, |opened_at| at < opened_at) {
                // The earliest inbound post opens the conversation and fixes its labels
                // and its targets, whatever the order.
                state.brand = Some(event.brand.clone());
                state.channel = Some(event.channel.clone());
                state.customer_id = Some(author_id.clone());
                state.inquiry_type = inquiry_type.clone();
                state.priority = priority.clone();
                state.opened_at = Some(at);
                state.first_response_target = Some(targets.first_response);
                state.next_response_target = Some(targets.next_response);
                state.resolution_target = Some(targets.resolution);
                state.calendar = calendar.clone();
                state.calendar_document = calendar_document.clone();
                state.negative_below = Some(rules.negative_below);
                state.inactivity_seconds = rules.inactivity_seconds;
                state.at_risk_margin = rules.at_risk_margin_seconds;
            }
        }
        EventKind::Reply { automated, .. } => {
            state.brand_posts += 1;
            if *automated {
                state.automated_posts += 1;
            }
        }
        EventKind::Redirection { to_channel } => {
            match state
                .redirections
                .iter_mut()
                .find(|(channel, _)| channel == to_channel)
            {
                Some((_, earliest)) if at < *earliest => *earliest = at,
                Some(_) => {}
                None => state.redirections.push((to_channel.clone(), at)),
            }
        }
        EventKind::Survey { kind, score } => {
            state.surveys.push((kind.clone(), *score));
            state
                .surveys
                .sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then(a.1.cmp(&b.1)));
            state.surveys.truncate(MAX_SURVEYS);
        }
    }
    if state.brand.is_none() {
        // Until the opening mention arrives, label with what the first event says.
        state.brand = Some(event.brand.clone());
        state.channel = Some(event.channel.clone());
    }
}

/// Step the walk; a stopped wait the clock may still breach goes to its pending list.
fn step(
    next_target: Option<f64>,
    calendar: &Option<Arc<Calendar>>,
    walk: &mut ThreadWalk,
    mark: &Mark,
    out: &mut Vec<Item>,
) {
    let mut stepped = Vec::new();
    walk.step(mark, &mut stepped);
    for item in stepped {
        match item {
            Item::Stopped { start, at } => {
                if let Some(target) = next_target {
                    let deadline = deadline(calendar, start, target);
                    // Stopped before its deadline: never decides anything.
                    if at > deadline {
                        walk.pending.push([start, at, deadline]);
                    }
                }
            }
            other => out.push(other),
        }
    }
}

/// The settled walk stepped through the tail, and the items the tail completed.
fn replay(state: &ConversationState, store: &dyn ChunkStore) -> (ThreadWalk, Vec<Item>) {
    let mut walk = state.settled.clone();
    let mut items = Vec::new();
    for mark in state.tail.marks(store) {
        step(
            state.next_response_target,
            &state.calendar,
            &mut walk,
            &mark,
            &mut items,
        );
    }
    (walk, items)
}

/// What the conversation contributes besides what its settled history completed; `keep`:
/// the replayed walk becomes the state's walk (and its current values are remembered).
pub fn live(state: &mut ConversationState, keep: bool, store: &dyn ChunkStore) -> Contributions {
    if state.opened_at.is_none() {
        return Contributions::default();
    }
    let (walk, items) = replay(state, store);
    let swept = state.swept();
    let mut now_items = Vec::new();
    let ended = walk.ending(swept, &mut now_items);
    let mut values = view(state, ended.as_ref().unwrap_or(&walk), swept);
    for item in &now_items {
        add_item(state, item, swept, &mut values);
    }
    if keep {
        state.walk = walk;
        state.current_values = Some(values.clone());
    }
    for item in &items {
        add_item(state, item, swept, &mut values);
    }
    values
}

/// Move the marks before `watermark` out of the tail: no admitted event precedes them.
pub fn settle(state: &mut ConversationState, watermark: Option<f64>, store: &mut dyn ChunkStore) {
    let watermark = match watermark {
        Some(watermark) => watermark,
        None => return,
    };
    if state.settled_until.map_or(true, |until| watermark > until) {
        state.settled_until = Some(watermark);
        let next_target = state.next_response_target;
        let calendar = state.calendar.clone();
        let settled = &mut state.settled;
        let mut discarded = Vec::new();
        state.tail.settle(watermark, store, &mut |mark| {
            step(next_target, &calendar, settled, mark, &mut discarded)
        });
    }
    let swept = state.swept();
    let mut changed = false;
    for walk in [&mut state.settled, &mut state.walk] {
        if walk.pending.iter().any(|entry| swept >= entry[2]) {
            walk.pending.retain(|entry| swept < entry[2]);
            changed = true;
        }
    }
    if changed {
        state.current_values = None;
    }
}

/// An event at `at` would precede the conversation's settled history.
pub fn settled_before(state: &ConversationState, at: f64) -> bool {
    state.settled_until.map_or(false, |until| at < until)
}

/// Move the state's clock to `now`; the change of its contributions if it had one.
pub fn sweep(state: &mut ConversationState, now: f64) -> Option<Contributions> {
    if state.swept_until.map_or(false, |until| now <= until) {
        return None;
    }
    let due = next_check(state);
    if due.map_or(true, |due| due > now) {
        state.swept_until = Some(now);
        state.current_values = None;
        return None;
    }
    let before = match state.current_values.take() {
        Some(values) => values,
        None => current_of(state),
    };
    state.swept_until = Some(now);
    let after = current_of(state);
    let change = difference(&before, &after);
    state.current_values = Some(after);
    Some(change)
}

/// The clock-dependent and positional values (not the completed items), remembered.
pub fn current(state: &mut ConversationState) -> Contributions {
    if let Some(values) = &state.current_values {
        return values.clone();
    }
    let values = current_of(state);
    state.current_values = Some(values.clone());
    values
}

fn current_of(state: &ConversationState) -> Contributions {
    let swept = state.swept();
    let mut items = Vec::new();
    let ended = state.walk.ending(swept, &mut items);
    let mut out = view(state, ended.as_ref().unwrap_or(&state.walk), swept);
    for item in &items {
        add_item(state, item, swept, &mut out);
    }
    out
}

/// The next time at which the clock alone changes this conversation's metrics.
pub fn next_check(state: &ConversationState) -> Option<f64> {
    state.opened_at?;
    let mut ignored = Vec::new();
    let ended = state.walk.ending(state.swept(), &mut ignored);
    next_check_of(state, ended.as_ref().unwrap_or(&state.walk))
}

pub fn next_check_of(state: &ConversationState, end: &ThreadWalk) -> Option<f64> {
    let opened_at = state.opened_at?;
    let swept = state.swept();
    let margin = state.at_risk_margin;
    let mut candidates = Vec::new();
    if end.open_now {
        if let Some(deadline) = waiting_deadline(state, end) {
            if margin > 0.0 {
                candidates.push(deadline - margin);
            }
            candidates.push(deadline);
        }
        if let Some(since) = end.awaiting_customer_since {
            candidates.push(since + state.inactivity_seconds);
        }
    }
    let first_resolution = end.first_resolution_at;
    if let Some(deadline) = state.first_response_deadline() {
        if end.first_response_at.is_none() && first_resolution.map_or(true, |at| at > deadline) {
            candidates.push(deadline);
        }
    }
    candidates.extend(end.pending.iter().map(|entry| entry[2]));
    if end.resolutions == 0 {
        if let Some(target) = state.resolution_target {
            candidates.push(state.deadline(opened_at, target));
        }
    }
    candidates
        .into_iter()
        .filter(|at| *at > swept)
        .reduce(f64::min)
}

/// What forgetting an idle conversation changes: its share of the backlog gauges only.
pub fn retirement(state: &mut ConversationState) -> Contributions {
    current(state)
        .into_iter()
        .filter(|(key, _)| {
            matches!(
                key.family,
                Family::OpenConversations | Family::OpenCustomerValue
            )
        })
        .map(|(key, amount)| (key, -amount))
        .collect()
}

/// Counts every post and action once, labelled by the event's own brand and channel.
pub fn event_increments(event: &Event, rules: &Rules) -> Contributions {
    let labels = || vec![event.brand.clone(), event.channel.clone()];
    let with = |extra: Label| vec![event.brand.clone(), event.channel.clone(), extra];
    let at = event.at;
    let mut out = Contributions::default();
    match &event.kind {
        EventKind::Mention {
            sentiment,
            inquiry_type,
            ..
        } => {
            let inquiry = inquiry_type.clone().unwrap_or_else(|| label("unknown"));
            out.insert(count(Family::Mentions, labels(), Some(at)), 1.0);
            out.insert(
                count(
                    Family::MentionsBySentiment,
                    with(label(rules.classify(*sentiment))),
                    None,
                ),
                1.0,
            );
            let complaint = &*inquiry == "complaint";
            out.insert(
                count(Family::MentionsByInquiryType, with(inquiry), None),
                1.0,
            );
            if complaint {
                out.insert(count(Family::Complaints, labels(), Some(at)), 1.0);
            }
        }
        EventKind::Reply {
            automated,
            team,
            agent_id,
            ..
        } => {
            let kind = if *automated { "automated" } else { "human" };
            out.insert(count(Family::Replies, with(label(kind)), None), 1.0);
            if !*automated {
                out.insert(
                    count(
                        Family::TeamReplies,
                        with(rules.team_label(team.as_ref())),
                        None,
                    ),
                    1.0,
                );
                if let Some(agent) = agent_id {
                    if rules.agents.contains(agent) {
                        out.insert(count(Family::AgentReplies, with(agent.clone()), None), 1.0);
                    }
                }
            }
        }
        EventKind::Redirection { to_channel } => {
            out.insert(
                count(Family::Redirections, with(to_channel.clone()), None),
                1.0,
            );
        }
        EventKind::Survey { kind, .. } => {
            out.insert(count(Family::Surveys, with(kind.clone()), None), 1.0);
        }
    }
    out
}

// -- contributions (processor/domain/contributions.py) ---------------------------------------

pub const AWAITING_FIRST_RESPONSE: &str = "awaiting_first_response";
pub const AWAITING_NEXT_RESPONSE: &str = "awaiting_next_response";
pub const AWAITING_CUSTOMER: &str = "awaiting_customer";
pub const AT_RISK: &str = "at_risk";
pub const BREACHED: &str = "breached";
/// Every state of an open conversation (`OPEN_STATES`).
pub const OPEN_STATES: [&str; 5] = [
    AWAITING_FIRST_RESPONSE,
    AWAITING_NEXT_RESPONSE,
    AWAITING_CUSTOMER,
    AT_RISK,
    BREACHED,
];

fn extended(labels: &[Label], extra: &[Label]) -> Vec<Label> {
    labels.iter().chain(extra.iter()).cloned().collect()
}

/// Met/breached for one clock: done in time, done late, or silent past the deadline.
fn sla(
    out: &mut Contributions,
    family: Family,
    labels: &[Label],
    deadline: f64,
    done_at: Option<f64>,
    swept: f64,
    stopped_at: Option<f64>,
) -> Option<&'static str> {
    let (outcome, at) = match done_at {
        Some(done) if done <= deadline => ("met", done),
        Some(_) => ("breached", deadline),
        None if swept >= deadline && stopped_at.map_or(true, |stopped| stopped > deadline) => {
            ("breached", deadline)
        }
        None => return None,
    };
    add(
        out,
        count(family, extended(labels, &[label(outcome)]), Some(at)),
        1.0,
    );
    Some(outcome)
}

/// Deadline of the reply the customer is waiting for, if any.
pub fn waiting_deadline(state: &ConversationState, end: &ThreadWalk) -> Option<f64> {
    if end.first_response_at.is_none() {
        return state.first_response_deadline();
    }
    match (end.waiting_since, state.next_response_target) {
        (Some(since), Some(target)) => Some(state.deadline(since, target)),
        _ => None,
    }
}

/// Where the conversation stands in the backlog, None once resolved.
pub fn open_state(state: &ConversationState, end: &ThreadWalk, swept: f64) -> Option<&'static str> {
    if !end.open_now {
        return None;
    }
    if let Some(waiting) = waiting_deadline(state, end) {
        if swept >= waiting {
            return Some(BREACHED);
        }
        if state.at_risk_margin > 0.0 && swept >= waiting - state.at_risk_margin {
            return Some(AT_RISK);
        }
        if end.first_response_at.is_none() {
            return Some(AWAITING_FIRST_RESPONSE);
        }
        return Some(AWAITING_NEXT_RESPONSE);
    }
    if end.first_response_at.is_none() {
        return Some(AWAITING_FIRST_RESPONSE);
    }
    Some(AWAITING_CUSTOMER)
}

/// What one completed item of the walk adds: a wait or a resolution.
pub fn add_item(state: &ConversationState, item: &Item, swept: f64, out: &mut Contributions) {
    let labels = state.labels();
    let (at, answered) = match item {
        Item::Resolution { at, how } => {
            add(
                out,
                count(
                    Family::Resolutions,
                    extended(&labels, &[label(how.text())]),
                    Some(*at),
                ),
                1.0,
            );
            return;
        }
        Item::Wait { start, answered } => (*start, *answered),
        Item::Stopped { .. } => unreachable!("stopped waits go to the pending list"),
    };
    if let Some(answered) = answered {
        observe(
            out,
            Family::NextResponseSeconds,
            labels.clone(),
            answered - at,
        );
    }
    if let Some(target) = state.next_response_target {
        let deadline = state.deadline(at, target);
        let sla_labels = extended(&labels, std::slice::from_ref(&state.priority));
        sla(
            out,
            Family::NextResponseSla,
            &sla_labels,
            deadline,
            answered,
            swept,
            None,
        );
    }
}

fn csat_satisfied(score: i64) -> bool {
    score >= 4
}

fn nps_category(score: i64) -> &'static str {
    if score >= 9 {
        "promoter"
    } else if score >= 7 {
        "passive"
    } else {
        "detractor"
    }
}

fn satisfied_answer(kind: &str, score: i64) -> bool {
    match kind {
        "csat" => csat_satisfied(score),
        "nps" => nps_category(score) != "detractor",
        _ => false,
    }
}

/// The values the conversation's position says, for the walk's `end` at `swept`.
pub fn view(state: &ConversationState, end: &ThreadWalk, swept: f64) -> Contributions {
    let mut out = Contributions::default();
    let (opened_at, brand, channel) = match (state.opened_at, &state.brand, &state.channel) {
        (Some(opened_at), Some(brand), Some(channel)) => (opened_at, brand, channel),
        _ => return out,
    };
    let labels = vec![brand.clone(), channel.clone()];
    let sla_labels = extended(&labels, std::slice::from_ref(&state.priority));
    out.insert(
        count(Family::ConversationsOpened, labels.clone(), None),
        1.0,
    );
    let first_resolution = end.first_resolution_at;

    // First response: the first human reply after the opening post.
    let first_response = end.first_response_at;
    if let Some(first) = first_response {
        observe(
            &mut out,
            Family::FirstResponseSeconds,
            labels.clone(),
            first - opened_at,
        );
        observe(
            &mut out,
            Family::TeamFirstResponseSeconds,
            extended(&labels, std::slice::from_ref(&end.first_response_team)),
            first - opened_at,
        );
    }
    let mut first_outcome = None;
    if let Some(deadline) = state.first_response_deadline() {
        first_outcome = sla(
            &mut out,
            Family::FirstResponseSla,
            &sla_labels,
            deadline,
            first_response,
            swept,
            first_resolution,
        );
    }
    if end.answered != 0 {
        out.insert(
            count(Family::MentionsAnswered, labels.clone(), None),
            end.answered as f64,
        );
    }
    // Stopped waits the clock may still breach.
    if state.next_response_target.is_some() {
        for entry in &end.pending {
            let wait_deadline = entry[2];
            if swept >= wait_deadline {
                let key = count(
                    Family::NextResponseSla,
                    extended(&sla_labels, &[label("breached")]),
                    Some(wait_deadline),
                );
                add(&mut out, key, 1.0);
            }
        }
    }

    // The first resolution: time, effort, first contact.
    if end.reopens != 0 {
        out.insert(
            count(Family::Reopens, labels.clone(), None),
            end.reopens as f64,
        );
    }
    if let Some(resolved) = first_resolution {
        let channels = 1 + state
            .redirections
            .iter()
            .filter(|(_, at)| *at <= resolved)
            .count();
        let redirected = channels > 1;
        let seconds = resolved - opened_at;
        let flag = label(if redirected { "true" } else { "false" });
        observe(
            &mut out,
            Family::ResolutionSeconds,
            extended(&labels, &[flag]),
            seconds,
        );
        observe(
            &mut out,
            Family::PostsToResolution,
            extended(&labels, &[label("customer")]),
            end.customer as f64,
        );
        observe(
            &mut out,
            Family::PostsToResolution,
            extended(&labels, &[label("brand")]),
            end.brand as f64,
        );
        observe(
            &mut out,
            Family::TeamResolutionSeconds,
            extended(&labels, std::slice::from_ref(&end.first_resolution_team)),
            seconds,
        );
        observe(
            &mut out,
            Family::CustomerEffortChannels,
            labels.clone(),
            channels as f64,
        );
        if end.humans == 1 && !redirected && end.reopens == 0 {
            out.insert(
                count(Family::FirstContactResolutions, labels.clone(), None),
                1.0,
            );
        }
    }
    if let Some(target) = state.resolution_target {
        let resolution_deadline = state.deadline(opened_at, target);
        let pending_inference = end
            .awaiting_customer_since
            .map_or(false, |since| since <= resolution_deadline);
        if first_resolution.is_some() || !pending_inference {
            sla(
                &mut out,
                Family::ResolutionSla,
                &sla_labels,
                resolution_deadline,
                first_resolution,
                swept,
                None,
            );
        }
    }

    // Backlog: where the open conversation stands now.
    if let Some(backlog) = open_state(state, end, swept) {
        out.insert(
            count(
                Family::OpenConversations,
                extended(&labels, &[label(backlog)]),
                None,
            ),
            1.0,
        );
        if let Some(value) = state.customer_value.filter(|value| *value != 0.0) {
            out.insert(
                count(
                    Family::OpenCustomerValue,
                    extended(&labels, &[label(backlog)]),
                    None,
                ),
                value,
            );
        }
    }
    if let Some(value) = state.customer_value.filter(|value| *value != 0.0) {
        if first_outcome == Some("breached") {
            out.insert(
                count(Family::BreachedCustomerValue, labels.clone(), None),
                value,
            );
        }
    }

    // Quality: recovery of a negative start; CSAT and NPS by redirection.
    if let (Some(negative_below), Some(opening)) = (state.negative_below, state.opening_sentiment) {
        if opening < negative_below {
            out.insert(
                count(Family::NegativeConversations, labels.clone(), None),
                1.0,
            );
            let later = state
                .later_sentiment_max
                .map_or(false, |later| later >= negative_below);
            if later
                || state
                    .surveys
                    .iter()
                    .any(|(kind, score)| satisfied_answer(kind, *score))
            {
                out.insert(
                    count(Family::RecoveredConversations, labels.clone(), None),
                    1.0,
                );
            }
        }
    }
    // Churn: a customer who said they are leaving, and what came of it.
    if state.churn_risk_at.is_some() {
        out.insert(
            count(Family::ChurnRiskConversations, labels.clone(), None),
            1.0,
        );
        if first_resolution.is_some() {
            out.insert(count(Family::ChurnRiskResolved, labels.clone(), None), 1.0);
        }
        if state
            .surveys
            .iter()
            .any(|(kind, score)| satisfied_answer(kind, *score))
        {
            out.insert(count(Family::ChurnRiskRecovered, labels.clone(), None), 1.0);
        }
    }
    add_review_values(state, &labels, first_response, &mut out);
    let any_redirection = label(if state.redirections.is_empty() {
        "false"
    } else {
        "true"
    });
    for (kind, score) in &state.surveys {
        if &**kind == "csat" {
            let satisfied = if csat_satisfied(*score) {
                Family::CsatSatisfied
            } else {
                Family::CsatFollowupNeeded
            };
            for (family, amount) in [
                (Family::CsatResponses, 1.0),
                (Family::CsatScore, *score as f64),
                (satisfied, 1.0),
            ] {
                add(
                    &mut out,
                    count(
                        family,
                        extended(&labels, std::slice::from_ref(&any_redirection)),
                        None,
                    ),
                    amount,
                );
            }
        } else {
            add(
                &mut out,
                count(
                    Family::NpsResponses,
                    extended(&labels, &[label(nps_category(*score))]),
                    None,
                ),
                1.0,
            );
        }
    }
    out
}

/// What a review stands for: counted at its first rated post's time (the windows).
fn add_review_values(
    state: &ConversationState,
    labels: &[Label],
    first_response_at: Option<f64>,
    out: &mut Contributions,
) {
    let (rating, at) = match (state.first_rating, state.first_rating_at) {
        (Some(rating), Some(at)) => (rating, at),
        _ => return,
    };
    let review = extended(
        labels,
        &[state
            .review_source
            .clone()
            .unwrap_or_else(|| label("other"))],
    );
    out.insert(count(Family::Reviews, review.clone(), Some(at)), 1.0);
    out.insert(
        count(Family::ReviewStars, review.clone(), Some(at)),
        rating as f64,
    );
    out.insert(
        count(
            Family::ReviewsByRating,
            extended(&review, &[label(&rating.to_string())]),
            None,
        ),
        1.0,
    );
    if let Some(first_response) = first_response_at {
        out.insert(count(Family::ReviewsAnswered, review.clone(), None), 1.0);
        observe(
            out,
            Family::ReviewResponseSeconds,
            review.clone(),
            (first_response - at).max(0.0),
        );
    }
    if rating > NEGATIVE_AT_MOST {
        return;
    }
    out.insert(
        count(Family::NegativeReviews, review.clone(), Some(at)),
        1.0,
    );
    if first_response_at.is_some() {
        out.insert(
            count(Family::NegativeReviewsAnswered, review.clone(), None),
            1.0,
        );
    }
    if let (Some(last), Some(last_at)) = (state.last_rating, state.last_rating_at) {
        if last_at > at && last >= RECOVERED_AT_LEAST {
            out.insert(count(Family::ReviewRecoveries, review, None), 1.0);
        }
    }
}

/// What a conversation tells its customer's partition (`ContactFacts`).
#[derive(Clone, Debug, PartialEq)]
pub struct ContactFacts {
    pub conversation_id: Label,
    pub brand: Label,
    pub channel: Label,
    pub customer_id: Label,
    pub opened_at: f64,
    pub resolved_at: Option<f64>,
    /// The conversation's first facts, its first with a resolution.
    pub first_told: bool,
    pub resolution_first_told: bool,
}

/// The conversation's facts if its customer has not been told them yet (then they are
/// recorded as told): at its opening, at its first resolution, when either moves.
pub fn facts_to_tell(state: &mut ConversationState) -> Option<ContactFacts> {
    let (customer, opened_at, brand, channel) = match (
        &state.customer_id,
        state.opened_at,
        &state.brand,
        &state.channel,
    ) {
        (Some(customer), Some(opened_at), Some(brand), Some(channel)) => {
            (customer.clone(), opened_at, brand.clone(), channel.clone())
        }
        _ => return None,
    };
    let resolved = state.walk.first_resolution_by(state.swept());
    let told = state.customer_told;
    if told == Some((opened_at, resolved)) {
        return None;
    }
    state.customer_told = Some((opened_at, resolved));
    Some(ContactFacts {
        conversation_id: state.conversation_id.clone(),
        brand,
        channel,
        customer_id: customer,
        opened_at,
        resolved_at: resolved,
        first_told: told.is_none(),
        resolution_first_told: resolved.is_some() && told.map_or(true, |(_, was)| was.is_none()),
    })
}
