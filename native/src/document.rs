//! A conversation's stored document: the same JSON as `ConversationState.to_json` writes
//! and `from_json` reads (`processor/domain/conversation.py`), so the Python and the native
//! fold can take over each other's state.

use std::sync::Arc;

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::calendar::Calendar;
use crate::conversation::ConversationState;
use crate::tail::{ChunkRef, Tail};
use crate::thread::{Code, Mark, MarkKey, ThreadWalk};

/// `ThreadWalk.to_json`: a positional list.
pub fn walk_value(walk: &ThreadWalk) -> Value {
    serde_json::to_value(WalkJson(walk)).expect("a walk is JSON")
}

/// A walk written as its positional list, straight (no JSON value built and dropped: a
/// document has two of them, and building them cost as much as writing the rest).
pub struct WalkJson<'a>(pub &'a ThreadWalk);

impl<'a> Serialize for WalkJson<'a> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let walk = self.0;
        let mut list = serializer.serialize_seq(Some(20))?;
        list.serialize_element(&walk.opened_at)?;
        list.serialize_element(&walk.inactivity)?;
        list.serialize_element(
            &walk
                .last
                .as_ref()
                .map(|key| (key.at, key.rank, CodeText(&key.code))),
        )?;
        list.serialize_element(&*walk.last_team)?;
        list.serialize_element(&walk.first_response_at)?;
        list.serialize_element(&*walk.first_response_team)?;
        list.serialize_element(&walk.first_resolution_at)?;
        list.serialize_element(&*walk.first_resolution_team)?;
        list.serialize_element(&walk.resolutions)?;
        list.serialize_element(&walk.reopens)?;
        list.serialize_element(&walk.open_now)?;
        list.serialize_element(&walk.waiting_since)?;
        list.serialize_element(&walk.last_human)?;
        list.serialize_element(&walk.unanswered)?;
        list.serialize_element(&walk.answered)?;
        list.serialize_element(&walk.customer)?;
        list.serialize_element(&walk.brand)?;
        list.serialize_element(&walk.humans)?;
        list.serialize_element(&walk.pending)?;
        list.serialize_element(&walk.longest_wait)?;
        list.end()
    }
}

/// A mark's code as its stored text ("c", "b", "h<team>", "r"), written without a string
/// of its own.
pub struct CodeText<'a>(pub &'a Code);

impl<'a> Serialize for CodeText<'a> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Code::Customer => serializer.serialize_str("c"),
            Code::Bot => serializer.serialize_str("b"),
            Code::Human(team) => serializer.collect_str(&format_args!("h{team}")),
            Code::Resolve => serializer.serialize_str("r"),
        }
    }
}

/// The document of a state (its index entries are the store's to add).
pub fn to_document(state: &ConversationState) -> Value {
    serde_json::to_value(Document::<()> { state, index: None }).expect("a document is JSON")
}

/// The document's JSON with its index entries (`_index`), written straight from the state:
/// what the partition core stores at every change.
pub fn document_bytes<I: Serialize>(state: &ConversationState, index: &I) -> Vec<u8> {
    serde_json::to_vec(&Document {
        state,
        index: Some(index),
    })
    .expect("a document is JSON")
}

/// A state as its stored document: the fields of `ConversationState.to_json`, written in
/// one pass (no intermediate JSON value).
struct Document<'a, I> {
    state: &'a ConversationState,
    index: Option<&'a I>,
}

impl<'a, I: Serialize> Serialize for Document<'a, I> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let state = self.state;
        let mut map = serializer.serialize_map(None)?;
        let label = |value: &'a Option<Arc<str>>| value.as_deref();
        map.serialize_entry("conversation_id", &*state.conversation_id)?;
        map.serialize_entry("partition", &state.partition)?;
        map.serialize_entry("brand", &label(&state.brand))?;
        map.serialize_entry("channel", &label(&state.channel))?;
        map.serialize_entry("priority", &*state.priority)?;
        map.serialize_entry("opened_at", &state.opened_at)?;
        map.serialize_entry("customer_posts", &state.customer_posts)?;
        map.serialize_entry("brand_posts", &state.brand_posts)?;
        map.serialize_entry("automated_posts", &state.automated_posts)?;
        map.serialize_entry("first_response_target", &state.first_response_target)?;
        map.serialize_entry("next_response_target", &state.next_response_target)?;
        map.serialize_entry("resolution_target", &state.resolution_target)?;
        map.serialize_entry("inactivity_seconds", &state.inactivity_seconds)?;
        map.serialize_entry("at_risk_margin", &state.at_risk_margin)?;
        map.serialize_entry("negative_below", &state.negative_below)?;
        map.serialize_entry("calendar", &state.calendar_document)?;
        map.serialize_entry("customer_value", &state.customer_value)?;
        map.serialize_entry("opening_sentiment", &state.opening_sentiment)?;
        map.serialize_entry(
            "opening_instant_sentiment",
            &state.opening_instant_sentiment,
        )?;
        map.serialize_entry("later_sentiment_max", &state.later_sentiment_max)?;
        map.serialize_entry("redirections", &Redirections(&state.redirections))?;
        let surveys: Vec<(&str, i64)> = state
            .surveys
            .iter()
            .map(|(kind, score)| (&**kind, *score))
            .collect();
        map.serialize_entry("surveys", &surveys)?;
        map.serialize_entry("churn_risk_at", &state.churn_risk_at)?;
        map.serialize_entry("customer_id", &label(&state.customer_id))?;
        map.serialize_entry("customer_told", &state.customer_told)?;
        if state.first_rating.is_some() {
            // Most conversations are no reviews: the review's fields only for a review.
            map.serialize_entry("review_source", &label(&state.review_source))?;
            map.serialize_entry("first_rating", &state.first_rating)?;
            map.serialize_entry("first_rating_at", &state.first_rating_at)?;
            map.serialize_entry("last_rating", &state.last_rating)?;
            map.serialize_entry("last_rating_at", &state.last_rating_at)?;
        }
        // Left out while they hold their default.
        if state.inquiry_type.is_some() {
            map.serialize_entry("inquiry_type", &label(&state.inquiry_type))?;
        }
        if state.predicted_csat.is_some() {
            map.serialize_entry("predicted_csat", &state.predicted_csat)?;
        }
        if state.scored_resolutions != 0 {
            map.serialize_entry("scored_resolutions", &state.scored_resolutions)?;
        }
        if state.csat_learned != 0 {
            map.serialize_entry("csat_learned", &state.csat_learned)?;
        }
        if state.clock_scored_at.is_some() {
            map.serialize_entry("clock_scored_at", &state.clock_scored_at)?;
        }
        map.serialize_entry("swept_until", &state.swept_until)?;
        map.serialize_entry("last_event_at", &state.last_event_at)?;
        map.serialize_entry("settled_until", &state.settled_until)?;
        map.serialize_entry("settled", &WalkJson(&state.settled))?;
        map.serialize_entry("chunks", &ChunkRefs(&state.tail))?;
        map.serialize_entry("next_chunk", &state.tail.next_chunk)?;
        map.serialize_entry("tail", &OpenMarks(&state.tail))?;
        map.serialize_entry("walk", &WalkJson(&state.walk))?;
        if let Some(index) = self.index {
            map.serialize_entry("_index", index)?;
        }
        map.end()
    }
}

/// A tail's stored parts: its closed chunks' references (first mark's time and code,
/// number, size) and its open chunk's marks (time, code), read back from what the document
/// writes (`ChunkRefs`, `OpenMarks`: one mapping for both; the Tail binding's, not hot).
#[allow(clippy::type_complexity)]
pub fn tail_parts(tail: &Tail) -> (Vec<(f64, String, i64, usize)>, Vec<(f64, String)>) {
    let chunks = serde_json::to_value(ChunkRefs(tail)).expect("chunk references are JSON");
    let open = serde_json::to_value(OpenMarks(tail)).expect("marks are JSON");
    (
        serde_json::from_value(chunks).expect("as written"),
        serde_json::from_value(open).expect("as written"),
    )
}

/// A tail's closed chunks' references, written straight into the document.
struct ChunkRefs<'a>(&'a Tail);

impl<'a> Serialize for ChunkRefs<'a> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.chunks.iter().map(|chunk| {
            (
                chunk.first.at,
                CodeText(&chunk.first.code),
                chunk.number,
                chunk.marks,
            )
        }))
    }
}

/// A tail's open chunk's marks, written straight into the document.
struct OpenMarks<'a>(&'a Tail);

impl<'a> Serialize for OpenMarks<'a> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.0
                .open
                .iter()
                .map(|mark| (mark.at, CodeText(&mark.code))),
        )
    }
}

/// Channel -> earliest time, as a JSON object in the order first seen.
struct Redirections<'a>(&'a [(Arc<str>, f64)]);

impl<'a> Serialize for Redirections<'a> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (channel, at) in self.0 {
            map.serialize_entry(&**channel, at)?;
        }
        map.end()
    }
}

// -- reading ---------------------------------------------------------------------------------

/// A positional list's item, null past its end (an older, shorter stored form).
fn nth(values: &[Value], index: usize) -> &Value {
    values.get(index).unwrap_or(&Value::Null)
}

fn field<'a>(document: &'a Map<String, Value>, name: &str) -> &'a Value {
    document.get(name).unwrap_or(&Value::Null)
}

fn number(value: &Value, name: &str) -> Result<Option<f64>, String> {
    match value {
        Value::Null => Ok(None),
        Value::Number(found) => Ok(found.as_f64()),
        other => Err(format!("{name}: a number or null, got {other}")),
    }
}

fn integer(value: &Value, name: &str) -> Result<i64, String> {
    match value {
        Value::Null => Ok(0),
        Value::Number(found) => found
            .as_i64()
            .or_else(|| found.as_f64().map(|float| float as i64))
            .ok_or_else(|| format!("{name}: an integer, got {found}")),
        other => Err(format!("{name}: an integer, got {other}")),
    }
}

fn text(value: &Value, name: &str) -> Result<Option<Arc<str>>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(found) => Ok(Some(Arc::from(found.as_str()))),
        other => Err(format!("{name}: a string or null, got {other}")),
    }
}

fn list<'a>(value: &'a Value, name: &str) -> Result<&'a Vec<Value>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("{name}: a list, got {value}"))
}

fn mark_of(value: &Value) -> Result<Mark, String> {
    let pair = list(value, "mark")?;
    let at = number(nth(pair, 0), "mark time")?.ok_or("a mark without a time")?;
    let code = pair
        .get(1)
        .and_then(Value::as_str)
        .and_then(Code::parse)
        .ok_or("a mark without a code")?;
    Ok(Mark { at, code })
}

fn team(value: &Value) -> Result<Arc<str>, String> {
    Ok(text(value, "team")?.unwrap_or_else(|| Arc::from("unassigned")))
}

/// `ThreadWalk.from_json`.
pub fn walk_of(value: &Value) -> Result<ThreadWalk, String> {
    let values = list(value, "walk")?;
    let at = |index: usize| nth(values, index);
    let last = match at(2) {
        Value::Null => None,
        key => {
            let parts = list(key, "last mark")?;
            let mark = mark_of(&json!([parts.first(), parts.get(2)]))?;
            Some(MarkKey {
                at: mark.at,
                rank: integer(nth(parts, 1), "rank")? as u8,
                code: mark.code,
            })
        }
    };
    let pending = list(at(18), "pending")?
        .iter()
        .map(|entry| {
            let entry = list(entry, "pending wait")?;
            let read = |index: usize| -> Result<f64, String> {
                number(nth(entry, index), "pending wait")?
                    .ok_or_else(|| "a pending wait is [start, stopped, deadline]".to_owned())
            };
            Ok([read(0)?, read(1)?, read(2)?])
        })
        .collect::<Result<_, String>>()?;
    Ok(ThreadWalk {
        opened_at: number(at(0), "opened_at")?,
        inactivity: number(at(1), "inactivity")?.unwrap_or(0.0),
        last,
        last_team: team(at(3))?,
        first_response_at: number(at(4), "first_response_at")?,
        first_response_team: team(at(5))?,
        first_resolution_at: number(at(6), "first_resolution_at")?,
        first_resolution_team: team(at(7))?,
        resolutions: integer(at(8), "resolutions")?,
        reopens: integer(at(9), "reopens")?,
        open_now: at(10).as_bool().unwrap_or(true),
        waiting_since: number(at(11), "waiting_since")?,
        last_human: number(at(12), "last_human")?,
        unanswered: integer(at(13), "unanswered")?,
        answered: integer(at(14), "answered")?,
        customer: integer(at(15), "customer")?,
        brand: integer(at(16), "brand")?,
        humans: integer(at(17), "humans")?,
        awaiting_customer_since: None,
        // Written before the longest wait was kept: 0 until a wait ends.
        longest_wait: number(at(19), "longest_wait")?.unwrap_or(0.0),
        pending,
    })
}

/// The state of a stored document (its closed chunks stay in their records).
pub fn from_document(value: &Value) -> Result<ConversationState, String> {
    let document = value
        .as_object()
        .ok_or("a conversation document is an object")?;
    if !document.contains_key("walk") {
        return Err("a document from before the walk: read it in Python (legacy_state)".into());
    }
    let get = |name: &str| field(document, name);
    let calendar_document = match get("calendar") {
        Value::Null => None,
        found => Some(found.clone()),
    };
    let calendar = match &calendar_document {
        None => None,
        Some(found) => Some(Arc::new(calendar_of(found)?)),
    };
    let redirections = match get("redirections") {
        Value::Object(found) => found
            .iter()
            .map(|(channel, at)| {
                Ok((
                    Arc::from(channel.as_str()),
                    number(at, "redirection")?.ok_or("a redirection without a time")?,
                ))
            })
            .collect::<Result<_, String>>()?,
        _ => Vec::new(),
    };
    let surveys = list(get("surveys"), "surveys")?
        .iter()
        .map(|pair| {
            let pair = list(pair, "survey")?;
            let kind = text(nth(pair, 0), "survey kind")?.ok_or("a survey without a kind")?;
            Ok((kind, integer(nth(pair, 1), "survey score")?))
        })
        .collect::<Result<_, String>>()?;
    let chunks = match get("chunks") {
        Value::Array(refs) => refs
            .iter()
            .map(|chunk| {
                let parts = list(chunk, "chunk")?;
                let first = mark_of(&json!([parts.first(), parts.get(1)]))?;
                Ok(ChunkRef {
                    first,
                    number: integer(nth(parts, 2), "chunk number")?,
                    marks: integer(nth(parts, 3), "chunk size")? as usize,
                })
            })
            .collect::<Result<_, String>>()?,
        _ => Vec::new(),
    };
    let open = list(get("tail"), "tail")?
        .iter()
        .map(mark_of)
        .collect::<Result<_, _>>()?;
    Ok(ConversationState {
        conversation_id: text(get("conversation_id"), "conversation_id")?
            .unwrap_or_else(|| Arc::from("")),
        partition: integer(get("partition"), "partition")?,
        brand: text(get("brand"), "brand")?,
        channel: text(get("channel"), "channel")?,
        priority: text(get("priority"), "priority")?.unwrap_or_else(|| Arc::from("normal")),
        opened_at: number(get("opened_at"), "opened_at")?,
        customer_posts: integer(get("customer_posts"), "customer_posts")?,
        brand_posts: integer(get("brand_posts"), "brand_posts")?,
        automated_posts: integer(get("automated_posts"), "automated_posts")?,
        first_response_target: number(get("first_response_target"), "first_response_target")?,
        next_response_target: number(get("next_response_target"), "next_response_target")?,
        resolution_target: number(get("resolution_target"), "resolution_target")?,
        inactivity_seconds: number(get("inactivity_seconds"), "inactivity_seconds")?.unwrap_or(0.0),
        at_risk_margin: number(get("at_risk_margin"), "at_risk_margin")?.unwrap_or(0.0),
        negative_below: number(get("negative_below"), "negative_below")?,
        calendar,
        calendar_document,
        customer_value: number(get("customer_value"), "customer_value")?,
        opening_sentiment: number(get("opening_sentiment"), "opening_sentiment")?,
        opening_instant_sentiment: number(
            get("opening_instant_sentiment"),
            "opening_instant_sentiment",
        )?,
        later_sentiment_max: number(get("later_sentiment_max"), "later_sentiment_max")?,
        redirections,
        surveys,
        churn_risk_at: number(get("churn_risk_at"), "churn_risk_at")?,
        customer_id: text(get("customer_id"), "customer_id")?,
        customer_told: match get("customer_told") {
            Value::Null => None,
            found => {
                let told = list(found, "customer_told")?;
                let opened = number(nth(told, 0), "customer_told")?
                    .ok_or("customer_told without its opening")?;
                Some((opened, number(nth(told, 1), "customer_told")?))
            }
        },
        review_source: text(get("review_source"), "review_source")?,
        first_rating: number(get("first_rating"), "first_rating")?.map(|rating| rating as i64),
        first_rating_at: number(get("first_rating_at"), "first_rating_at")?,
        last_rating: number(get("last_rating"), "last_rating")?.map(|rating| rating as i64),
        last_rating_at: number(get("last_rating_at"), "last_rating_at")?,
        inquiry_type: text(get("inquiry_type"), "inquiry_type")?,
        predicted_csat: number(get("predicted_csat"), "predicted_csat")?,
        scored_resolutions: integer(get("scored_resolutions"), "scored_resolutions")?,
        csat_learned: integer(get("csat_learned"), "csat_learned")?,
        clock_scored_at: number(get("clock_scored_at"), "clock_scored_at")?,
        swept_until: number(get("swept_until"), "swept_until")?,
        last_event_at: number(get("last_event_at"), "last_event_at")?,
        settled_until: number(get("settled_until"), "settled_until")?,
        settled: walk_of(get("settled"))?,
        tail: Tail {
            chunks,
            next_chunk: integer(get("next_chunk"), "next_chunk")?,
            open,
        },
        walk: walk_of(get("walk"))?,
        current_values: None,
    })
}

/// A calendar of its stored form (`BusinessCalendar.model_dump(mode="json")`).
pub fn calendar_of(value: &Value) -> Result<Calendar, String> {
    let timezone = value
        .get("timezone")
        .and_then(Value::as_str)
        .ok_or("a calendar without a timezone")?;
    let hours = match value.get("hours") {
        Some(Value::Object(days)) => days
            .iter()
            .map(|(day, spans)| {
                let spans = list(spans, "opening hours")?
                    .iter()
                    .map(|span| {
                        span.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| format!("a span is a string, got {span}"))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Ok((day.clone(), spans))
            })
            .collect::<Result<Vec<_>, String>>()?,
        _ => Vec::new(),
    };
    let holidays = match value.get("holidays") {
        Some(Value::Array(days)) => days
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    Calendar::new(timezone, &hours, &holidays)
}
