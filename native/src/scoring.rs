//! What a change of a conversation means to the CSAT model: the native twin of
//! `processor/predict/csat_scoring.py` and `csat_features.py` (the reference; their
//! docstrings say why). The model itself stays Python's (river's Bayesian linear
//! regression, `processor/predict/csat_model.py`): the core calls it through `Models` at
//! the moment the Python fold would, so it learns and predicts in the same order.

use crate::conversation::{ConversationState, MAX_SURVEYS};
use crate::series::{add, count, observe, Contributions, Family, Label};
use crate::thread::ThreadWalk;

/// The model's side: a prediction for a brand (None while warming up), an answer learned.
pub trait Models {
    fn predict(&mut self, brand: &str, features: &[f64]) -> Result<Option<f64>, String>;
    fn learn(&mut self, brand: &str, features: &[f64], answer: i64) -> Result<(), String>;
}

const HOUR: f64 = 3600.0;
const HOURS_CAP: f64 = 24.0;
const RATIO_CAP: f64 = 10.0;
const INQUIRY_TYPES: [&str; 5] = [
    "complaint",
    "question",
    "feedback",
    "recommendation",
    "praise",
];
const PRIORITIES: [&str; 3] = ["low", "high", "urgent"];
/// Features in `FEATURE_NAMES`' order (the test holds the two together).
pub const FEATURES: usize = 15 + INQUIRY_TYPES.len() + PRIORITIES.len();

fn over_target(seconds: f64, target: Option<f64>) -> f64 {
    match target {
        Some(target) if target > 0.0 => (seconds / target - 1.0).clamp(0.0, RATIO_CAP),
        _ => 0.0,
    }
}

/// `csat_features`: the features of a conversation at the end `end` of its walk, in
/// `FEATURE_NAMES`' order; None before a resolution.
pub fn csat_features(state: &ConversationState, end: &ThreadWalk) -> Option<Vec<f64>> {
    let opened_at = state.opened_at?;
    let resolved_at = end.first_resolution_at?;
    let (waited, no_human) = match end.first_response_at {
        Some(first) if first <= resolved_at => (first - opened_at, 0.0),
        _ => (resolved_at - opened_at, 1.0),
    };
    let resolution = resolved_at - opened_at;
    let redirections = state
        .redirections
        .iter()
        .filter(|(_, at)| *at <= resolved_at)
        .count();
    let opening = state.opening_sentiment;
    let later = state.later_sentiment_max;
    let mut features = vec![
        1.0,
        (waited / HOUR).min(HOURS_CAP),
        over_target(waited, state.first_response_target),
        no_human,
        (end.longest_wait / HOUR).min(HOURS_CAP),
        over_target(end.longest_wait, state.next_response_target),
        (resolution / HOUR).ln_1p(),
        over_target(resolution, state.resolution_target),
        redirections as f64,
        end.customer.min(20) as f64,
        end.brand.min(20) as f64,
        end.reopens.min(5) as f64,
        opening.unwrap_or(0.0),
        match (opening, later) {
            (Some(opening), Some(later)) => later - opening,
            _ => 0.0,
        },
        if opening.is_none() { 1.0 } else { 0.0 },
    ];
    let inquiry = state.inquiry_type.as_deref();
    features.extend(
        INQUIRY_TYPES
            .iter()
            .map(|name| if inquiry == Some(*name) { 1.0 } else { 0.0 }),
    );
    features.extend(PRIORITIES.iter().map(
        |name| {
            if &*state.priority == *name {
                1.0
            } else {
                0.0
            }
        },
    ));
    Some(features)
}

/// zlib's CRC-32 (`zlib.crc32`), for the stable hash of `held_out`.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Whether a conversation's answers are kept out of learning (a stable hash of its id).
pub fn held_out(conversation_id: &str, share: f64) -> bool {
    share > 0.0 && f64::from(crc32(conversation_id.as_bytes())) < share * 4_294_967_296.0
}

/// `on_event`: after an event at `at` was folded into the state, score the resolution it
/// completed (`resolving`: the brand's own), or check and learn its CSAT answer.
pub fn on_event(
    state: &mut ConversationState,
    models: &mut dyn Models,
    at: f64,
    resolving: bool,
    csat_answer: Option<i64>,
    holdout_share: f64,
) -> Result<Contributions, String> {
    let mut out = Contributions::default();
    let (brand, channel) = match (&state.brand, &state.channel, state.opened_at) {
        (Some(brand), Some(channel), Some(_)) => (brand.clone(), channel.clone()),
        _ => return Ok(out),
    };
    let resolutions = state.walk.resolutions;
    if resolutions > state.scored_resolutions {
        state.scored_resolutions = resolutions;
        if !resolving {
            return Ok(out); // a resolution by inactivity is the clock's to score
        }
        let features = match ending_features(state, at) {
            Some(features) => features,
            None => return Ok(out),
        };
        let prediction = models.predict(&brand, &features)?;
        state.predicted_csat = prediction;
        if let Some(prediction) = prediction {
            let how = Label::from("explicit");
            observe(
                &mut out,
                Family::PredictedCsat,
                vec![brand.clone(), channel.clone(), how],
                prediction,
            );
        }
        let mut answers: Vec<i64> = state
            .surveys
            .iter()
            .filter(|(kind, _)| &**kind == "csat")
            .map(|(_, value)| *value)
            .collect();
        answers.sort_unstable();
        let from = (state.csat_learned.max(0) as usize).min(answers.len());
        let upto = answers.len().min(MAX_SURVEYS);
        for answer in answers[from.min(upto)..upto].iter().copied() {
            lesson(state, models, &features, answer, holdout_share, &mut out)?;
        }
    } else if let Some(answer) = csat_answer {
        if (state.csat_learned as usize) < MAX_SURVEYS && state.walk.resolutions_by(at) > 0 {
            if let Some(features) = ending_features(state, at) {
                lesson(state, models, &features, answer, holdout_share, &mut out)?;
            }
        }
    }
    Ok(out)
}

/// The features of the conversation as the clock at `at` ends its walk.
pub fn ending_features(state: &ConversationState, at: f64) -> Option<Vec<f64>> {
    let mut ignored = Vec::new();
    let ended = state.walk.ending(at, &mut ignored);
    csat_features(state, ended.as_ref().unwrap_or(&state.walk))
}

/// `on_clock`: after the clock moved the state, score a resolution by inactivity it
/// declared.
pub fn on_clock(
    state: &mut ConversationState,
    models: &mut dyn Models,
) -> Result<Contributions, String> {
    let mut out = Contributions::default();
    let (brand, channel, last_reply) = match (&state.brand, &state.channel, state.walk.last_human) {
        (Some(brand), Some(channel), Some(last_reply)) => {
            (brand.clone(), channel.clone(), last_reply)
        }
        _ => return Ok(out),
    };
    let swept = state.swept();
    if state.clock_scored_at == Some(last_reply)
        || state.walk.resolutions_by(swept) == state.walk.resolutions
    {
        return Ok(out);
    }
    state.clock_scored_at = Some(last_reply);
    let prediction = match ending_features(state, swept) {
        Some(features) => models.predict(&brand, &features)?,
        None => None,
    };
    if let Some(prediction) = prediction {
        let how = Label::from("inactivity");
        observe(
            &mut out,
            Family::PredictedCsat,
            vec![brand, channel, how],
            prediction,
        );
    }
    Ok(out)
}

/// Check the prediction against one answer, then learn from it (unless held out).
fn lesson(
    state: &mut ConversationState,
    models: &mut dyn Models,
    features: &[f64],
    answer: i64,
    holdout_share: f64,
    out: &mut Contributions,
) -> Result<(), String> {
    let (brand, channel) = match (&state.brand, &state.channel) {
        (Some(brand), Some(channel)) => (brand.clone(), channel.clone()),
        _ => return Ok(()),
    };
    state.csat_learned += 1;
    let keep_out = held_out(&state.conversation_id, holdout_share);
    let sample = Label::from(if keep_out { "held_out" } else { "learned" });
    let labels = vec![brand.clone(), channel, sample];
    if let Some(predicted) = state.predicted_csat {
        let error = predicted - answer as f64;
        let direction = Label::from(if error > 0.0 { "over" } else { "under" });
        let mut with_direction = labels.clone();
        with_direction.push(direction);
        for (key, amount) in [
            (
                count(Family::PredictedCsatChecks, labels.clone(), None),
                1.0,
            ),
            (
                count(Family::PredictedCsatErrorPoints, with_direction, None),
                error.abs(),
            ),
            (
                count(Family::PredictedCsatWithinOnePoint, labels, None),
                if error.abs() <= 1.0 { 1.0 } else { 0.0 },
            ),
        ] {
            if amount != 0.0 {
                add(out, key, amount);
            }
        }
    }
    if !keep_out {
        models.learn(&brand, features, answer)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_waits_and_late_answers_are_capped() {
        let opened_at = 1_700_000_000.0;
        let state = ConversationState {
            opened_at: Some(opened_at),
            first_response_target: Some(600.0),
            ..ConversationState::default()
        };
        let mut end = ThreadWalk::new(Some(opened_at), 0.0);
        end.first_resolution_at = Some(opened_at + 30.0 * HOUR); // nobody answered
        end.longest_wait = 40.0 * HOUR;
        let features = csat_features(&state, &end).expect("resolved");
        assert_eq!(features.len(), FEATURES);
        assert_eq!(features[1], HOURS_CAP); // first_response_hours
        assert_eq!(features[2], RATIO_CAP); // first_response_over_target: 180x, capped
        assert_eq!(features[3], 1.0); // no_human_response
        assert_eq!(features[4], HOURS_CAP); // longest_next_wait_hours
        assert_eq!(features[5], 0.0); // no next-response target: not over it
        assert_eq!(features[6], 31.0_f64.ln()); // resolution_log_hours: log1p(30)
        assert_eq!(features[14], 1.0); // sentiment_unknown
    }

    #[test]
    fn crc32_is_zlibs() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }
}
