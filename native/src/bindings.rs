//! The Python face of the native parts, in Python's own terms (codes as strings, items as
//! tuples, the stored form as lists), so the differential tests compare like with like.

// PyO3 0.22's macros convert `PyErr` into itself; newer clippy flags that.
#![allow(clippy::useless_conversion)]

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use std::collections::HashSet;
use std::sync::Arc;

use pyo3::types::PyDict;

use crate::calendar::Calendar;
use crate::conversation::{self, ConversationState, Event, EventKind, Rules, Targets};
use crate::series::{Contributions, Family, Kind};
use crate::tail::{MemoryChunks, Tail};
use crate::thread::{Code, Item, Mark, ThreadWalk};

pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<PyThreadWalk>()?;
    module.add_class::<PyTail>()?;
    module.add_class::<PyConversation>()?;
    module.add_class::<PyChurnPhrases>()?;
    module.add_class::<crate::core_bindings::PyPartitionCore>()?;
    module.add_function(pyo3::wrap_pyfunction!(catalogue, module)?)?;
    module.add_function(pyo3::wrap_pyfunction!(business_deadline, module)?)?;
    module.add_function(pyo3::wrap_pyfunction!(round6, module)?)?;
    module.add_function(pyo3::wrap_pyfunction!(murmur2, module)?)?;
    module.add_function(pyo3::wrap_pyfunction!(changelog_key, module)?)?;
    module.add_function(pyo3::wrap_pyfunction!(added_up, module)?)
}

/// `ChurnPhrases.stated_in` on ASCII text (`crate::churn`): phrases as their words, in
/// the order the expression's alternation tries them.
#[pyclass(name = "ChurnPhrases", frozen)]
struct PyChurnPhrases {
    matcher: crate::churn::PhraseMatcher,
}

#[pymethods]
impl PyChurnPhrases {
    #[new]
    fn new(phrases: Vec<Vec<String>>) -> PyResult<Self> {
        crate::churn::PhraseMatcher::new(&phrases)
            .map(|matcher| PyChurnPhrases { matcher })
            .ok_or_else(|| PyValueError::new_err("churn phrases must be ASCII words"))
    }

    /// Whether the text states leaving; None when it is not ASCII (the expression's).
    fn stated_in(&self, text: &str) -> Option<bool> {
        self.matcher.stated_in(text)
    }
}

/// A changelog record's key as the partition core writes it (`records.encode_key`'s).
#[pyfunction]
fn changelog_key(py: Python<'_>, table: &str, key: &str) -> PyObject {
    pyo3::types::PyBytes::new_bound(py, &crate::core::changelog_key(table, key)).into_py(py)
}

/// Kafka's murmur2 of a key (aiokafka's `murmur2`, natively: its pure Python costs 10 µs).
#[pyfunction]
fn murmur2(data: &[u8]) -> u32 {
    crate::core::murmur2(data)
}

/// Python's `round(value, 6)`, natively.
#[pyfunction]
fn round6(value: f64) -> f64 {
    crate::aggregates::round6(value)
}

/// A record after `add_to_field` of each (field, amount) in turn, from empty.
#[pyfunction]
fn added_up(changes: Vec<(String, f64)>) -> std::collections::HashMap<String, f64> {
    let mut record = std::collections::HashMap::new();
    for (field, amount) in changes {
        crate::aggregates::add_to_field(&mut record, field, amount);
    }
    record
}

/// A JSON-like Python value (dicts, lists, strings, numbers, booleans, None) as JSON.
pub(crate) fn value_of(value: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    use serde_json::Value;
    if value.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(flag) = value.downcast::<pyo3::types::PyBool>() {
        return Ok(Value::Bool(flag.is_true()));
    }
    if let Ok(whole) = value.downcast::<pyo3::types::PyInt>() {
        return Ok(Value::from(whole.extract::<i64>()?));
    }
    if let Ok(float) = value.downcast::<pyo3::types::PyFloat>() {
        return Ok(serde_json::json!(float.value()));
    }
    if let Ok(text) = value.downcast::<pyo3::types::PyString>() {
        return Ok(Value::String(text.to_cow()?.into_owned()));
    }
    if let Ok(dict) = value.downcast::<PyDict>() {
        let mut found = serde_json::Map::new();
        for (key, item) in dict.iter() {
            found.insert(key.str()?.to_cow()?.into_owned(), value_of(&item)?);
        }
        return Ok(Value::Object(found));
    }
    if let Ok(items) = value.iter() {
        return Ok(Value::Array(
            items
                .map(|item| value_of(&item?))
                .collect::<PyResult<_>>()?,
        ));
    }
    Err(PyValueError::new_err(format!("not JSON: {value}")))
}

/// JSON as the Python values `orjson.loads` gives (the inverse of `value_of`).
pub(crate) fn py_of(py: Python<'_>, value: &serde_json::Value) -> PyObject {
    use serde_json::Value;
    match value {
        Value::Null => py.None(),
        Value::Bool(flag) => flag.into_py(py),
        Value::Number(number) => match number.as_i64() {
            Some(whole) => whole.into_py(py),
            None => number.as_f64().unwrap_or(f64::NAN).into_py(py),
        },
        Value::String(text) => text.into_py(py),
        Value::Array(items) => {
            PyList::new_bound(py, items.iter().map(|item| py_of(py, item))).into_py(py)
        }
        Value::Object(fields) => {
            let dict = PyDict::new_bound(py);
            for (key, item) in fields {
                dict.set_item(key, py_of(py, item)).expect("a str key");
            }
            dict.into_py(py)
        }
    }
}

/// A calendar of `BusinessCalendar`'s JSON form (`{"timezone", "hours", "holidays"}`), and
/// that form.
pub(crate) fn calendar_of(document: &Bound<'_, PyDict>) -> PyResult<(Calendar, serde_json::Value)> {
    let value = value_of(document.as_any())?;
    let calendar = crate::document::calendar_of(&value).map_err(PyValueError::new_err)?;
    Ok((calendar, value))
}

/// `BusinessCalendar.deadline`: when `seconds` of business time have passed since `start`.
#[pyfunction]
fn business_deadline(calendar: &Bound<'_, PyDict>, start: f64, seconds: f64) -> PyResult<f64> {
    calendar_of(calendar)?
        .0
        .deadline(start, seconds)
        .map_err(PyValueError::new_err)
}

/// The families the native fold writes: (name, kind, bucket bounds), to hold them to
/// `processor.metrics.families`.
#[pyfunction]
fn catalogue() -> Vec<(&'static str, &'static str, Vec<f64>)> {
    Family::ALL
        .iter()
        .map(|family| {
            let kind = match family.kind() {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram => "histogram",
            };
            (family.name(), kind, family.bounds().to_vec())
        })
        .collect()
}

pub(crate) fn mark_pair(mark: &Mark) -> (f64, String) {
    (mark.at, mark.code.text())
}

pub(crate) fn mark_of(at: f64, code: &str) -> PyResult<Mark> {
    match Code::parse(code) {
        Some(code) => Ok(Mark { at, code }),
        None => Err(PyValueError::new_err(format!("not a mark code: {code:?}"))),
    }
}

fn item_tuple(py: Python<'_>, item: &Item) -> PyObject {
    match item {
        Item::Wait { start, answered } => ("wait", *start, *answered).into_py(py),
        Item::Stopped { start, at } => ("stopped", *start, *at).into_py(py),
        Item::Resolution { at, how } => ("resolution", *at, how.text()).into_py(py),
    }
}

fn items_list(py: Python<'_>, items: &[Item]) -> PyObject {
    PyList::new_bound(py, items.iter().map(|item| item_tuple(py, item))).into_py(py)
}

/// `processor.domain.thread.ThreadWalk`, natively.
#[pyclass(name = "ThreadWalk", module = "socialcare_native")]
#[derive(Clone)]
pub struct PyThreadWalk {
    walk: ThreadWalk,
}

#[pymethods]
impl PyThreadWalk {
    #[new]
    #[pyo3(signature = (opened_at=None, inactivity=0.0))]
    fn new(opened_at: Option<f64>, inactivity: f64) -> PyThreadWalk {
        PyThreadWalk {
            walk: ThreadWalk::new(opened_at, inactivity),
        }
    }

    /// Walk one mark after every mark walked so far; the items it completed.
    fn step(&mut self, py: Python<'_>, at: f64, code: &str) -> PyResult<PyObject> {
        let mark = mark_of(at, code)?;
        let mut out = Vec::new();
        self.walk.step(&mark, &mut out);
        Ok(items_list(py, &out))
    }

    /// (the walk as the clock at `horizon` leaves it, the items of the ending).
    fn ending(&self, py: Python<'_>, horizon: f64) -> (PyThreadWalk, PyObject) {
        let mut out = Vec::new();
        let end = self
            .walk
            .ending(horizon, &mut out)
            .unwrap_or_else(|| self.walk.clone());
        (PyThreadWalk { walk: end }, items_list(py, &out))
    }

    fn add_pending(&mut self, start: f64, stopped_at: f64, deadline: f64) {
        self.walk.pending.push([start, stopped_at, deadline]);
    }

    fn first_resolution_by(&self, horizon: f64) -> Option<f64> {
        self.walk.first_resolution_by(horizon)
    }

    fn resolutions_by(&self, horizon: f64) -> i64 {
        self.walk.resolutions_by(horizon)
    }

    fn walked_nothing(&self) -> bool {
        self.walk.walked_nothing()
    }

    #[getter]
    fn awaiting_customer_since(&self) -> Option<f64> {
        self.walk.awaiting_customer_since
    }

    /// The stored form of `processor.domain.thread.ThreadWalk.to_json`.
    fn to_json(&self, py: Python<'_>) -> PyObject {
        py_of(py, &crate::document::walk_value(&self.walk))
    }

    /// A walk from its stored form (as `ThreadWalk.from_json` reads it).
    #[staticmethod]
    fn from_json(values: &Bound<'_, PyList>) -> PyResult<PyThreadWalk> {
        let walk =
            crate::document::walk_of(&value_of(values.as_any())?).map_err(PyValueError::new_err)?;
        Ok(PyThreadWalk { walk })
    }

    fn __eq__(&self, other: &PyThreadWalk) -> bool {
        self.walk == other.walk
    }
}

/// `processor.domain.thread_tail` over a conversation's tail, natively, with its closed
/// chunks in memory.
#[pyclass(name = "Tail", module = "socialcare_native")]
#[derive(Default)]
pub struct PyTail {
    tail: Tail,
    store: MemoryChunks,
}

#[pymethods]
impl PyTail {
    #[new]
    fn new() -> PyTail {
        PyTail::default()
    }

    fn append(&mut self, at: f64, code: &str) -> PyResult<()> {
        self.tail.append(mark_of(at, code)?, &mut self.store);
        Ok(())
    }

    fn insert(&mut self, at: f64, code: &str) -> PyResult<()> {
        self.tail.insert(mark_of(at, code)?, &mut self.store);
        Ok(())
    }

    /// The marks that left the tail, in the order they were stepped.
    fn settle(&mut self, watermark: f64) -> Vec<(f64, String)> {
        let mut stepped = Vec::new();
        self.tail.settle(watermark, &mut self.store, &mut |mark| {
            stepped.push(mark_pair(mark))
        });
        stepped
    }

    fn drop_chunks(&mut self) {
        self.tail.drop_chunks(&mut self.store);
    }

    /// Every mark in walk order.
    fn marks(&self) -> Vec<(f64, String)> {
        self.tail.marks(&self.store).iter().map(mark_pair).collect()
    }

    /// (chunk references as the document keeps them, the next chunk's number, the open
    /// chunk).
    #[allow(clippy::type_complexity)]
    fn stored(&self) -> (Vec<(f64, String, i64, usize)>, i64, Vec<(f64, String)>) {
        let (chunks, open) = crate::document::tail_parts(&self.tail);
        (chunks, self.tail.next_chunk, open)
    }

    /// The closed chunks by number.
    fn chunks(&self) -> std::collections::BTreeMap<i64, Vec<(f64, String)>> {
        self.store
            .chunks
            .iter()
            .map(|(number, marks)| (*number, marks.iter().map(mark_pair).collect()))
            .collect()
    }
}

fn contributions_dict(py: Python<'_>, values: &Contributions) -> PyResult<PyObject> {
    let dict = PyDict::new_bound(py);
    for (key, amount) in values {
        let labels = PyTuple::new_bound(py, key.labels.iter().map(|label| &**label));
        let python_key = (
            key.family.name(),
            labels,
            key.at,
            key.part.text(),
            key.bucket,
        );
        dict.set_item(python_key, *amount)?;
    }
    Ok(dict.into_py(py))
}

/// The fold's rules from the settings' values (`ConversationRules`).
pub(crate) fn rules_of(
    (negative_below, positive_above): (f64, f64),
    inactivity_seconds: f64,
    at_risk_margin_seconds: f64,
    teams: Option<Vec<String>>,
    agents: Vec<String>,
) -> Rules {
    let names =
        |values: Vec<String>| -> HashSet<Arc<str>> { values.into_iter().map(Arc::from).collect() };
    Rules {
        negative_below,
        positive_above,
        inactivity_seconds,
        at_risk_margin_seconds,
        teams: teams.map(names),
        agents: names(agents),
    }
}

/// `ContactFacts`' fields, in their order.
pub(crate) type ContactTuple = (String, String, String, String, f64, Option<f64>, bool, bool);

pub(crate) fn contact_tuple(facts: &conversation::ContactFacts) -> ContactTuple {
    (
        facts.conversation_id.to_string(),
        facts.brand.to_string(),
        facts.channel.to_string(),
        facts.customer_id.to_string(),
        facts.opened_at,
        facts.resolved_at,
        facts.first_told,
        facts.resolution_first_told,
    )
}

/// An optional string attribute's value.
fn text(found: &Bound<'_, PyAny>) -> PyResult<Option<Arc<str>>> {
    if found.is_none() {
        return Ok(None);
    }
    Ok(Some(Arc::from(found.extract::<String>()?)))
}

pub(crate) fn targets_of((first_response, next_response, resolution): (f64, f64, f64)) -> Targets {
    Targets {
        first_response,
        next_response,
        resolution,
    }
}

/// An event of `processor.domain.events` as the fold reads it.
pub(crate) fn event_of(
    value: &Bound<'_, PyAny>,
    targets: Targets,
    states_leaving: bool,
    calendar: Option<(Calendar, serde_json::Value)>,
) -> PyResult<Event> {
    // An attribute by its interned name: the same few names for every event.
    macro_rules! attr {
        ($name:literal) => {
            value.getattr(pyo3::intern!(value.py(), $name))?
        };
    }
    macro_rules! label {
        ($name:literal) => {
            Arc::<str>::from(attr!($name).extract::<String>()?)
        };
    }
    let (calendar, calendar_document) = match calendar {
        Some((calendar, document)) => (Some(Arc::new(calendar)), Some(document)),
        None => (None, None),
    };
    let kind_name: String = attr!("type").extract()?;
    let kind = match kind_name.as_str() {
        "mention" => EventKind::Mention {
            author_id: label!("author_id"),
            priority: label!("effective_priority"),
            sentiment: attr!("sentiment").extract()?,
            inquiry_type: text(&attr!("inquiry_type"))?,
            customer_value: attr!("customer_value").extract()?,
            rating: attr!("rating").extract()?,
            review_source: text(&attr!("review_source"))?,
            states_leaving,
            targets,
            calendar,
            calendar_document,
        },
        "reply" => EventKind::Reply {
            automated: attr!("automated")
                .extract::<Option<bool>>()?
                .unwrap_or(false),
            team: text(&attr!("team"))?,
            resolves: attr!("resolves")
                .extract::<Option<bool>>()?
                .unwrap_or(false),
            agent_id: text(&attr!("agent_id"))?,
        },
        "redirection" => EventKind::Redirection {
            to_channel: label!("to_channel"),
        },
        "survey" => EventKind::Survey {
            kind: label!("kind"),
            score: attr!("score").extract()?,
        },
        other => {
            return Err(PyValueError::new_err(format!(
                "not a conversation event: {other}"
            )))
        }
    };
    Ok(Event {
        at: attr!("occurred_ts").extract()?,
        brand: label!("brand"),
        channel: label!("channel"),
        kind,
    })
}

/// One conversation folded natively (`processor.domain.conversation`), its closed chunks in
/// memory.
#[pyclass(name = "Conversation", module = "socialcare_native")]
pub struct PyConversation {
    state: ConversationState,
    rules: Rules,
    store: MemoryChunks,
}

#[pymethods]
impl PyConversation {
    #[new]
    #[pyo3(signature = (negative_below, positive_above, inactivity_seconds, at_risk_margin_seconds, teams=None, agents=Vec::new(), conversation_id="", partition=0))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments
    fn new(
        negative_below: f64,
        positive_above: f64,
        inactivity_seconds: f64,
        at_risk_margin_seconds: f64,
        teams: Option<Vec<String>>,
        agents: Vec<String>,
        conversation_id: &str,
        partition: i64,
    ) -> PyConversation {
        PyConversation {
            state: ConversationState {
                conversation_id: Arc::from(conversation_id),
                partition,
                ..ConversationState::default()
            },
            rules: rules_of(
                (negative_below, positive_above),
                inactivity_seconds,
                at_risk_margin_seconds,
                teams,
                agents,
            ),
            store: MemoryChunks::default(),
        }
    }

    /// Fold an event; the change of the conversation's contributions (None with
    /// `convert=False`: the benchmark's measure of the boundary).
    #[pyo3(signature = (event, targets, states_leaving=false, convert=true, calendar=None))]
    fn apply(
        &mut self,
        py: Python<'_>,
        event: &Bound<'_, PyAny>,
        targets: (f64, f64, f64),
        states_leaving: bool,
        convert: bool,
        calendar: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyObject> {
        let targets = targets_of(targets);
        let calendar = calendar.map(calendar_of).transpose()?;
        let event = event_of(event, targets, states_leaving, calendar)?;
        let change =
            conversation::apply_event(&mut self.state, &event, &self.rules, &mut self.store);
        if !convert {
            return Ok(py.None());
        }
        contributions_dict(py, &change)
    }

    /// The stored document (JSON), as `ConversationState.to_json` writes it.
    fn document(&self, py: Python<'_>) -> PyObject {
        let written = crate::document::to_document(&self.state).to_string();
        pyo3::types::PyBytes::new_bound(py, written.as_bytes()).into_py(py)
    }

    /// Take up a stored document (JSON) and its closed chunks (number -> marks).
    fn load(
        &mut self,
        document: &[u8],
        chunks: std::collections::BTreeMap<i64, Vec<(f64, String)>>,
    ) -> PyResult<()> {
        let value: serde_json::Value = serde_json::from_slice(document)
            .map_err(|error| PyValueError::new_err(format!("not JSON: {error}")))?;
        self.state = crate::document::from_document(&value).map_err(PyValueError::new_err)?;
        self.store = MemoryChunks::default();
        for (number, marks) in chunks {
            let marks = marks
                .iter()
                .map(|(at, code)| mark_of(*at, code))
                .collect::<PyResult<Vec<_>>>()?;
            self.store.chunks.insert(number, marks);
        }
        Ok(())
    }

    /// `facts_to_tell`: (conversation_id, brand, channel, customer_id, opened_at,
    /// resolved_at, first_told, resolution_first_told), or None.
    fn facts_to_tell(&mut self) -> Option<ContactTuple> {
        conversation::facts_to_tell(&mut self.state).map(|facts| contact_tuple(&facts))
    }

    /// The event's own counts (`event_increments`).
    #[pyo3(signature = (event, targets=(0.0, 0.0, 0.0)))]
    fn event_increments(
        &self,
        py: Python<'_>,
        event: &Bound<'_, PyAny>,
        targets: (f64, f64, f64),
    ) -> PyResult<PyObject> {
        let targets = targets_of(targets);
        let event = event_of(event, targets, false, None)?;
        contributions_dict(py, &conversation::event_increments(&event, &self.rules))
    }

    #[pyo3(signature = (watermark))]
    fn settle(&mut self, watermark: Option<f64>) {
        conversation::settle(&mut self.state, watermark, &mut self.store);
    }

    fn settled_before(&self, at: f64) -> bool {
        conversation::settled_before(&self.state, at)
    }

    fn sweep(&mut self, py: Python<'_>, now: f64) -> PyResult<Option<PyObject>> {
        match conversation::sweep(&mut self.state, now) {
            None => Ok(None),
            Some(change) => Ok(Some(contributions_dict(py, &change)?)),
        }
    }

    fn current(&mut self, py: Python<'_>) -> PyResult<PyObject> {
        contributions_dict(py, &conversation::current(&mut self.state))
    }

    /// Everything the conversation contributes besides what its settled history completed.
    fn live(&mut self, py: Python<'_>) -> PyResult<PyObject> {
        contributions_dict(py, &conversation::live(&mut self.state, false, &self.store))
    }

    fn next_check(&self) -> Option<f64> {
        conversation::next_check(&self.state)
    }

    /// The CSAT model's features of the conversation as the clock at `at` ends its walk,
    /// in `FEATURE_NAMES`' order (None before a resolution).
    fn features(&self, at: f64) -> Option<Vec<f64>> {
        crate::scoring::ending_features(&self.state, at)
    }

    fn retirement(&mut self, py: Python<'_>) -> PyResult<PyObject> {
        contributions_dict(py, &conversation::retirement(&mut self.state))
    }

    /// The header's fields as `ConversationState` names them (those the fold sets).
    fn header(&self, py: Python<'_>) -> PyResult<PyObject> {
        let state = &self.state;
        let dict = PyDict::new_bound(py);
        let label = |value: &Option<Arc<str>>| value.as_ref().map(|text| text.to_string());
        dict.set_item("brand", label(&state.brand))?;
        dict.set_item("channel", label(&state.channel))?;
        dict.set_item("priority", state.priority.to_string())?;
        dict.set_item("opened_at", state.opened_at)?;
        dict.set_item("customer_posts", state.customer_posts)?;
        dict.set_item("brand_posts", state.brand_posts)?;
        dict.set_item("automated_posts", state.automated_posts)?;
        dict.set_item("first_response_target", state.first_response_target)?;
        dict.set_item("next_response_target", state.next_response_target)?;
        dict.set_item("resolution_target", state.resolution_target)?;
        dict.set_item("inactivity_seconds", state.inactivity_seconds)?;
        dict.set_item("at_risk_margin", state.at_risk_margin)?;
        dict.set_item("negative_below", state.negative_below)?;
        dict.set_item("customer_value", state.customer_value)?;
        dict.set_item("opening_sentiment", state.opening_sentiment)?;
        dict.set_item("opening_instant_sentiment", state.opening_instant_sentiment)?;
        dict.set_item("later_sentiment_max", state.later_sentiment_max)?;
        let redirections = PyDict::new_bound(py);
        for (channel, at) in &state.redirections {
            redirections.set_item(&**channel, *at)?;
        }
        dict.set_item("redirections", redirections)?;
        let surveys: Vec<(String, i64)> = state
            .surveys
            .iter()
            .map(|(kind, score)| (kind.to_string(), *score))
            .collect();
        dict.set_item("surveys", surveys)?;
        dict.set_item("churn_risk_at", state.churn_risk_at)?;
        dict.set_item("customer_id", label(&state.customer_id))?;
        dict.set_item("review_source", label(&state.review_source))?;
        dict.set_item("first_rating", state.first_rating)?;
        dict.set_item("first_rating_at", state.first_rating_at)?;
        dict.set_item("last_rating", state.last_rating)?;
        dict.set_item("last_rating_at", state.last_rating_at)?;
        dict.set_item("inquiry_type", label(&state.inquiry_type))?;
        dict.set_item("swept_until", state.swept_until)?;
        dict.set_item("last_event_at", state.last_event_at)?;
        dict.set_item("settled_until", state.settled_until)?;
        dict.set_item(
            "settled",
            PyThreadWalk {
                walk: state.settled.clone(),
            }
            .to_json(py),
        )?;
        dict.set_item(
            "walk",
            PyThreadWalk {
                walk: state.walk.clone(),
            }
            .to_json(py),
        )?;
        Ok(dict.into_py(py))
    }
}
