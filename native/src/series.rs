//! The series a conversation contributes to: the native twin of the part of
//! `processor/metrics/series.py` and `families.py` the fold uses (the differential test of
//! the catalogue holds the names, kinds and bounds to Python's).

use rustc_hash::FxHashMap;
use std::sync::Arc;

/// A label value (brand, channel, team...), shared by the keys that carry it.
pub type Label = Arc<str>;

macro_rules! families {
    ($( $variant:ident = $name:literal, $kind:ident, $bounds:expr; )*) => {
        /// The business families the fold writes (`processor.metrics.families`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Family { $( $variant, )* }

        impl Family {
            pub const ALL: &'static [Family] = &[ $( Family::$variant, )* ];

            pub fn name(self) -> &'static str {
                match self { $( Family::$variant => $name, )* }
            }

            pub fn kind(self) -> Kind {
                match self { $( Family::$variant => Kind::$kind, )* }
            }

            /// A histogram's bucket bounds (empty for the others).
            pub fn bounds(self) -> &'static [f64] {
                match self { $( Family::$variant => $bounds, )* }
            }
        }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

const RESPONSE_BOUNDS: &[f64] = &[
    30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 43200.0,
    86400.0, 172800.0, 345600.0, 604800.0,
];
const RESOLUTION_BOUNDS: &[f64] = &[
    300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 43200.0, 86400.0, 172800.0, 345600.0,
    604800.0, 1209600.0, 2592000.0,
];
const POSTS_BOUNDS: &[f64] = &[
    1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 50.0,
];
const PREDICTED_CSAT_BOUNDS: &[f64] = &[1.5, 2.5, 3.5, 4.5];
const NONE: &[f64] = &[];

families! {
    AgentReplies = "socialcare_agent_replies", Counter, NONE;
    BreachedCustomerValue = "socialcare_breached_customer_value", Counter, NONE;
    ChurnRiskConversations = "socialcare_churn_risk_conversations", Counter, NONE;
    ChurnRiskRecovered = "socialcare_churn_risk_recovered", Counter, NONE;
    ChurnRiskResolved = "socialcare_churn_risk_resolved", Counter, NONE;
    Complaints = "socialcare_complaints", Counter, NONE;
    ConversationsOpened = "socialcare_conversations_opened", Counter, NONE;
    CsatFollowupNeeded = "socialcare_csat_followup_needed", Counter, NONE;
    CsatResponses = "socialcare_csat_responses", Counter, NONE;
    CsatSatisfied = "socialcare_csat_satisfied", Counter, NONE;
    CsatScore = "socialcare_csat_score", Counter, NONE;
    CustomerEffortChannels = "socialcare_customer_effort_channels", Histogram, POSTS_BOUNDS;
    FirstContactResolutions = "socialcare_first_contact_resolutions", Counter, NONE;
    FirstResponseSeconds = "socialcare_first_response_seconds", Histogram, RESPONSE_BOUNDS;
    FirstResponseSla = "socialcare_first_response_sla", Counter, NONE;
    Mentions = "socialcare_mentions", Counter, NONE;
    MentionsAnswered = "socialcare_mentions_answered", Counter, NONE;
    MentionsByInquiryType = "socialcare_mentions_by_inquiry_type", Counter, NONE;
    MentionsBySentiment = "socialcare_mentions_by_sentiment", Counter, NONE;
    NegativeConversations = "socialcare_negative_conversations", Counter, NONE;
    NegativeReviews = "socialcare_negative_reviews", Counter, NONE;
    NegativeReviewsAnswered = "socialcare_negative_reviews_answered", Counter, NONE;
    NextResponseSeconds = "socialcare_next_response_seconds", Histogram, RESPONSE_BOUNDS;
    NextResponseSla = "socialcare_next_response_sla", Counter, NONE;
    NpsResponses = "socialcare_nps_responses", Counter, NONE;
    OpenConversations = "socialcare_open_conversations", Gauge, NONE;
    OpenCustomerValue = "socialcare_open_customer_value", Gauge, NONE;
    OtherChannelContacts = "socialcare_other_channel_contacts", Counter, NONE;
    PostsToResolution = "socialcare_posts_to_resolution", Histogram, POSTS_BOUNDS;
    PredictedCsat = "socialcare_predicted_csat", Histogram, PREDICTED_CSAT_BOUNDS;
    PredictedCsatChecks = "socialcare_predicted_csat_checks", Counter, NONE;
    PredictedCsatErrorPoints = "socialcare_predicted_csat_error_points", Counter, NONE;
    PredictedCsatWithinOnePoint = "socialcare_predicted_csat_within_one_point", Counter, NONE;
    RecoveredConversations = "socialcare_recovered_conversations", Counter, NONE;
    Redirections = "socialcare_redirections", Counter, NONE;
    Reopens = "socialcare_reopens", Counter, NONE;
    Replies = "socialcare_replies", Counter, NONE;
    Resolutions = "socialcare_resolutions", Counter, NONE;
    ResolutionSeconds = "socialcare_resolution_seconds", Histogram, RESOLUTION_BOUNDS;
    ResolutionSla = "socialcare_resolution_sla", Counter, NONE;
    ReviewRecoveries = "socialcare_review_recoveries", Counter, NONE;
    ReviewResponseSeconds = "socialcare_review_response_seconds", Histogram, RESOLUTION_BOUNDS;
    ReviewStars = "socialcare_review_stars", Counter, NONE;
    Reviews = "socialcare_reviews", Counter, NONE;
    ReviewsAnswered = "socialcare_reviews_answered", Counter, NONE;
    ReviewsByRating = "socialcare_reviews_by_rating", Counter, NONE;
    Surveys = "socialcare_surveys", Counter, NONE;
    TeamFirstResponseSeconds = "socialcare_team_first_response_seconds", Histogram, RESPONSE_BOUNDS;
    TeamReplies = "socialcare_team_replies", Counter, NONE;
    TeamResolutionSeconds = "socialcare_team_resolution_seconds", Histogram, RESOLUTION_BOUNDS;
}

/// A histogram's three parts; counters and gauges have none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    Whole,
    Bucket,
    Sum,
    Count,
}

impl Part {
    pub fn text(self) -> &'static str {
        match self {
            Part::Whole => "",
            Part::Bucket => "bucket",
            Part::Sum => "sum",
            Part::Count => "count",
        }
    }
}

/// One additive number: a family's series (label values in the family's order,
/// histograms without `le`), for windowed series its event time, a histogram's part and
/// bucket index (`len(bounds)` is +Inf).
#[derive(Clone, Debug)]
pub struct SeriesKey {
    pub family: Family,
    pub labels: Vec<Label>,
    pub at: Option<f64>,
    pub part: Part,
    pub bucket: i32,
}

impl PartialEq for SeriesKey {
    fn eq(&self, other: &SeriesKey) -> bool {
        self.family == other.family
            && self.labels == other.labels
            && self.at.map(f64::to_bits) == other.at.map(f64::to_bits)
            && self.part == other.part
            && self.bucket == other.bucket
    }
}

impl Eq for SeriesKey {}

impl std::hash::Hash for SeriesKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.family.hash(state);
        self.labels.hash(state);
        self.at.map(f64::to_bits).hash(state);
        self.part.hash(state);
        self.bucket.hash(state);
    }
}

/// What a conversation (or a change of it) adds to each series.
pub type Contributions = FxHashMap<SeriesKey, f64>;

/// The key of a counter or gauge series (`at`: the event time, for windowed counters).
pub fn count(family: Family, labels: Vec<Label>, at: Option<f64>) -> SeriesKey {
    SeriesKey {
        family,
        labels,
        at,
        part: Part::Whole,
        bucket: -1,
    }
}

/// Add `amount` to a series (Python's `out[key] = out.get(key, 0.0) + amount`).
pub fn add(out: &mut Contributions, key: SeriesKey, amount: f64) {
    *out.entry(key).or_insert(0.0) += amount;
}

/// Index of the first bucket whose upper bound is >= value (`bisect_left`).
pub fn bucket_index(bounds: &[f64], value: f64) -> i32 {
    bounds.partition_point(|bound| *bound < value) as i32
}

/// One observation of a histogram family: its bucket, sum and count.
pub fn observe(out: &mut Contributions, family: Family, labels: Vec<Label>, value: f64) {
    let bucket = bucket_index(family.bounds(), value);
    let key = |part, bucket| SeriesKey {
        family,
        labels: labels.clone(),
        at: None,
        part,
        bucket,
    };
    add(out, key(Part::Bucket, bucket), 1.0);
    add(out, key(Part::Sum, -1), value);
    add(out, key(Part::Count, -1), 1.0);
}

/// after - before, without the zero entries (Python's `difference`: a series of both is
/// `after - before`, of `after` alone its value, of `before` alone `0.0 - before`).
pub fn difference(before: &Contributions, after: &Contributions) -> Contributions {
    let mut delta = Contributions::default();
    for (key, value) in after {
        let changed = match before.get(key) {
            Some(old) => value - old,
            None => *value,
        };
        if changed != 0.0 {
            delta.insert(key.clone(), changed);
        }
    }
    for (key, value) in before {
        if !after.contains_key(key) && 0.0 - value != 0.0 {
            delta.insert(key.clone(), 0.0 - value);
        }
    }
    delta
}
