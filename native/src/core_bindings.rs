//! The partition core's Python face (`socialcare_native.PartitionCore`): the tables are
//! Python mappings it reads on a miss and writes through `take_changes`; an event is read
//! from its `processor.domain.events` struct; facts and index changes go back as tuples.

// PyO3 0.22's macros convert `PyErr` into itself; newer clippy flags that.
#![allow(clippy::useless_conversion)]

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple, PyType};

use crate::bindings::{
    calendar_of, contact_tuple, event_of, mark_of, rules_of, targets_of, value_of, ContactTuple,
};
use crate::core::{
    Backing, CoreRules, Field, IndexChange, OpenEntry, PartitionCore, QueueFacts, Record, Refusal,
    WindowRules, Written,
};
use crate::scoring::Models;
use crate::series::{Family, Label};
use crate::thread::Mark;

/// The pipeline's tables, read on a miss.
struct Tables<'py> {
    conversations: Bound<'py, PyAny>,
    threads: Bound<'py, PyAny>,
    totals: Bound<'py, PyAny>,
    windows: Bound<'py, PyAny>,
}

fn failure(error: PyErr) -> String {
    error.to_string()
}

impl<'py> Tables<'py> {
    fn get(table: &Bound<'py, PyAny>, key: &str) -> Result<Option<Bound<'py, PyAny>>, String> {
        let found = table.call_method1("get", (key,)).map_err(failure)?;
        Ok(if found.is_none() { None } else { Some(found) })
    }
}

impl<'py> Backing for Tables<'py> {
    fn document(&self, key: &str) -> Result<Option<serde_json::Value>, String> {
        match Self::get(&self.conversations, key)? {
            None => Ok(None),
            Some(found) => stored_value(&found).map(Some).map_err(failure),
        }
    }

    fn chunk(&self, key: &str) -> Result<Option<Vec<Mark>>, String> {
        match Self::get(&self.threads, key)? {
            None => Ok(None),
            Some(found) => {
                // [[at, code], ...] as stored (lists, or tuples before a round trip)
                let mark = |item: Bound<'py, PyAny>| -> PyResult<Mark> {
                    let at: f64 = item.get_item(0)?.extract()?;
                    let code: String = item.get_item(1)?.extract()?;
                    mark_of(at, &code)
                };
                found
                    .iter()
                    .map_err(failure)?
                    .map(|item| item.and_then(mark).map_err(failure))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some)
            }
        }
    }

    fn record(&self, table: &str, key: &str) -> Result<Option<Record>, String> {
        let table = if table == "totals" {
            &self.totals
        } else {
            &self.windows
        };
        match Self::get(table, key)? {
            None => Ok(None),
            Some(found) => {
                let record: HashMap<String, f64> = found.extract().map_err(failure)?;
                Ok(Some(
                    record
                        .into_iter()
                        .map(|(field, amount)| (Arc::from(field), amount))
                        .collect(),
                ))
            }
        }
    }
}

/// The partition's CSAT models (`CsatModels`, through `processor.stream.native_core`'s
/// adapter: features as a list in `FEATURE_NAMES`' order).
struct PyModels<'py>(Bound<'py, PyAny>);

impl<'py> Models for PyModels<'py> {
    fn predict(&mut self, brand: &str, features: &[f64]) -> Result<Option<f64>, String> {
        self.0
            .call_method1(
                pyo3::intern!(self.0.py(), "predict"),
                (brand, features.to_vec()),
            )
            .and_then(|found| found.extract())
            .map_err(failure)
    }

    fn learn(&mut self, brand: &str, features: &[f64], answer: i64) -> Result<(), String> {
        self.0
            .call_method1(
                pyo3::intern!(self.0.py(), "learn"),
                (brand, features.to_vec(), answer),
            )
            .map(|_| ())
            .map_err(failure)
    }
}

/// Labels (brands, channels, priorities, backlog states) as Python str, made once: an
/// index change per stored conversation would otherwise make four new str objects.
#[derive(Default)]
struct PyLabels {
    labels: rustc_hash::FxHashMap<Label, Py<PyString>>,
    names: rustc_hash::FxHashMap<&'static str, Py<PyString>>,
}

impl PyLabels {
    fn label(&mut self, py: Python<'_>, label: &Label) -> Py<PyString> {
        self.labels
            .entry(label.clone())
            .or_insert_with(|| PyString::new_bound(py, label).unbind())
            .clone_ref(py)
    }

    fn name(&mut self, py: Python<'_>, name: &'static str) -> Py<PyString> {
        self.names
            .entry(name)
            .or_insert_with(|| PyString::new_bound(py, name).unbind())
            .clone_ref(py)
    }
}

/// A named tuple (`OpenConversation`, `QueueFacts`) made by `tuple.__new__`, as the
/// class's own `_make` does, without its Python-level `__new__`.
fn named_tuple<'py>(
    class: &Bound<'py, PyType>,
    values: Vec<PyObject>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = class.py();
    let values = PyTuple::new_bound(py, values);
    py.get_type_bound::<PyTuple>()
        .call_method1(pyo3::intern!(py, "__new__"), (class, values))
}

fn entry_tuple<'py>(
    class: &Bound<'py, PyType>,
    labels: &mut PyLabels,
    entry: &OpenEntry,
) -> PyResult<Bound<'py, PyAny>> {
    let py = class.py();
    named_tuple(
        class,
        vec![
            labels.label(py, &entry.brand).into_py(py),
            labels.label(py, &entry.channel).into_py(py),
            entry.opened_at.into_py(py),
            labels.label(py, &entry.priority).into_py(py),
            labels.name(py, entry.backlog).into_py(py),
            entry.first_response_due.into_py(py),
        ],
    )
}

fn facts_tuple<'py>(
    class: &Bound<'py, PyType>,
    labels: &mut PyLabels,
    facts: &QueueFacts,
) -> PyResult<Bound<'py, PyAny>> {
    let py = class.py();
    named_tuple(
        class,
        vec![
            labels.label(py, &facts.brand).into_py(py),
            labels.label(py, &facts.channel).into_py(py),
            labels.label(py, &facts.priority).into_py(py),
            facts.opened_at.into_py(py),
            facts.first_response_at.into_py(py),
            facts.first_response_target.into_py(py),
        ],
    )
}

fn panic_text(panic: Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        return (*text).to_owned();
    }
    if let Some(text) = panic.downcast_ref::<String>() {
        return text.clone();
    }
    "a panic".to_owned()
}

/// The JSON of a stored value the core reads back: a document it wrote
/// (`processor.state.records.StoredJson`, its `stored_json` bytes) as it is, else the
/// Python value converted.
pub(crate) fn stored_value(value: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    let py = value.py();
    if let Ok(raw) = value.getattr(pyo3::intern!(py, "stored_json")) {
        if let Ok(raw) = raw.downcast::<pyo3::types::PyBytes>() {
            return serde_json::from_slice(raw.as_bytes())
                .map_err(|error| PyValueError::new_err(format!("stored JSON: {error}")));
        }
    }
    value_of(value)
}

/// One input partition's conversations, indexes and aggregates, natively
/// (`native/src/core.rs`); the tables are the pipeline's.
#[pyclass(name = "PartitionCore", module = "socialcare_native", unsendable)]
pub struct PyPartitionCore {
    core: PartitionCore,
    /// The aggregates' field names as Python str, made once.
    field_names: rustc_hash::FxHashMap<Field, Py<PyString>>,
    labels: PyLabels,
    conversations: PyObject,
    threads: PyObject,
    totals: PyObject,
    windows: PyObject,
}

impl PyPartitionCore {
    fn with_tables<T>(
        &mut self,
        py: Python<'_>,
        work: impl FnOnce(&mut PartitionCore, &Tables<'_>) -> Result<T, String>,
    ) -> PyResult<T> {
        let tables = Tables {
            conversations: self.conversations.bind(py).clone(),
            threads: self.threads.bind(py).clone(),
            totals: self.totals.bind(py).clone(),
            windows: self.windows.bind(py).clone(),
        };
        let core = &mut self.core;
        match catch_unwind(AssertUnwindSafe(|| work(core, &tables))) {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(error)) => Err(PyValueError::new_err(error)),
            Err(panic) => Err(PyRuntimeError::new_err(format!(
                "the native core failed: {}",
                panic_text(panic)
            ))),
        }
    }
}

#[pymethods]
impl PyPartitionCore {
    /// `tables`: (conversations, threads, totals, windows); `sizes`: (bucket size,
    /// retention); `checks`, `idle`: (time, conversation id) as `ConversationStore.index`
    /// finds them; `buckets`: (size, start, brand, channel) of the windows table.
    #[new]
    #[pyo3(signature = (partition, tables, *, negative_below, positive_above, inactivity_seconds, at_risk_margin_seconds, teams, agents, windowed, sizes, ttl_seconds, states_kept, checks, idle, buckets, holdout_share=0.0))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments
    fn new(
        partition: i64,
        tables: (PyObject, PyObject, PyObject, PyObject),
        negative_below: f64,
        positive_above: f64,
        inactivity_seconds: f64,
        at_risk_margin_seconds: f64,
        teams: Option<Vec<String>>,
        agents: Vec<String>,
        windowed: Vec<String>,
        sizes: Vec<(f64, f64)>,
        ttl_seconds: f64,
        states_kept: usize,
        checks: Vec<(f64, String)>,
        idle: Vec<(f64, String)>,
        buckets: Vec<(f64, f64, String, String)>,
        holdout_share: f64,
    ) -> PyResult<PyPartitionCore> {
        let windowed = windowed
            .iter()
            .filter_map(|name| Family::ALL.iter().find(|family| family.name() == name))
            .copied()
            .collect();
        let labelled = |entries: Vec<(f64, String)>| -> Vec<(f64, Label)> {
            entries
                .into_iter()
                .map(|(at, id)| (at, Arc::from(id)))
                .collect()
        };
        let rules = CoreRules {
            conversation: rules_of(
                (negative_below, positive_above),
                inactivity_seconds,
                at_risk_margin_seconds,
                teams,
                agents,
            ),
            windows: WindowRules { windowed, sizes },
            ttl_seconds,
            states_kept: states_kept.max(1),
            holdout_share,
        };
        let buckets = buckets
            .into_iter()
            .map(|(size, start, brand, channel)| {
                (size, start, Arc::from(brand), Arc::from(channel))
            })
            .collect();
        let (conversations, threads, totals, windows) = tables;
        Ok(PyPartitionCore {
            core: PartitionCore::new(partition, rules, labelled(checks), labelled(idle), buckets),
            field_names: rustc_hash::FxHashMap::default(),
            labels: PyLabels::default(),
            conversations,
            threads,
            totals,
            windows,
        })
    }

    /// Fold a first-seen conversation event: None when counted, else why not:
    /// ("reply_before_mention", opened_at) or ("too_late", settled_until). With `models`
    /// (the predictions on: `predict(brand, features)`, `learn(brand, features, answer)`),
    /// the change is scored too.
    #[pyo3(signature = (event, targets, states_leaving, calendar, answers_opening, watermark, window_now, models=None))]
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        py: Python<'_>,
        event: &Bound<'_, PyAny>,
        targets: (f64, f64, f64),
        states_leaving: bool,
        calendar: Option<&Bound<'_, PyDict>>,
        answers_opening: bool,
        watermark: Option<f64>,
        window_now: f64,
        models: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Option<(&'static str, Option<f64>)>> {
        let calendar = calendar.map(calendar_of).transpose()?;
        let id: Label = Arc::from(
            event
                .getattr(pyo3::intern!(py, "conversation_id"))?
                .extract::<String>()?,
        );
        let event = event_of(event, targets_of(targets), states_leaving, calendar)?;
        let mut models = models.map(PyModels);
        let outcome = self.with_tables(py, |core, tables| {
            let models = models.as_mut().map(|models| models as &mut dyn Models);
            core.apply(
                &id,
                &event,
                answers_opening,
                watermark,
                window_now,
                tables,
                models,
            )
        });
        match outcome {
            Ok(Ok(())) => Ok(None),
            Ok(Err(Refusal::ReplyBeforeMention(opened_at))) => {
                Ok(Some(("reply_before_mention", Some(opened_at))))
            }
            Ok(Err(Refusal::TooLate(settled))) => Ok(Some(("too_late", settled))),
            Err(error) => {
                self.core.discard(&id);
                Err(error)
            }
        }
    }

    /// Add contributions made in Python: (brand, channel, stored field, event time of a
    /// windowed series or None, amount).
    fn add(
        &mut self,
        py: Python<'_>,
        items: Vec<(String, String, String, Option<f64>, f64)>,
        window_now: f64,
    ) -> PyResult<()> {
        let items: Vec<(Label, Label, Field, Option<f64>, f64)> = items
            .into_iter()
            .map(|(brand, channel, field, at, amount)| {
                (
                    Arc::from(brand),
                    Arc::from(channel),
                    Arc::from(field),
                    at,
                    amount,
                )
            })
            .collect();
        self.with_tables(py, |core, tables| core.add(&items, window_now, tables))
    }

    /// The clock's work: breaches at `now`, conversations idle since `idle_before`,
    /// window buckets past retention at `window_now`.
    #[pyo3(signature = (now, idle_before, window_now, models=None))]
    fn sweep(
        &mut self,
        py: Python<'_>,
        now: f64,
        idle_before: f64,
        window_now: f64,
        models: Option<Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let mut models = models.map(PyModels);
        let outcome = self.with_tables(py, |core, tables| {
            let models = models.as_mut().map(|models| models as &mut dyn Models);
            core.sweep(now, idle_before, window_now, tables, models)
        });
        if outcome.is_err() {
            self.core.discard_all();
        }
        outcome
    }

    /// A fold failed half way: the conversation's state is read again from its document.
    fn discard(&mut self, conversation_id: &str) {
        self.core.discard(&Arc::from(conversation_id));
    }

    /// Every record changed since the last call: (table, key, value or None when deleted,
    /// changelog key), the values in their tables' stored forms. A document comes with its
    /// changelog record's key (`records.encode_key`'s bytes), so that writing it costs the
    /// batch no encoding in Python; other records with None there.
    fn take_changes(&mut self, py: Python<'_>) -> PyResult<PyObject> {
        let changes = self.core.take_changes();
        let out = PyList::empty_bound(py);
        for change in changes {
            let mut changelog_key = py.None();
            let value = match &change.value {
                None => py.None(),
                Some(Written::Document(raw)) => {
                    let key = crate::core::changelog_key(change.table, &change.key);
                    changelog_key = pyo3::types::PyBytes::new_bound(py, &key).into_py(py);
                    pyo3::types::PyBytes::new_bound(py, raw).into_py(py)
                }
                Some(Written::Chunk(marks)) => PyList::new_bound(
                    py,
                    marks.iter().map(|mark| {
                        PyList::new_bound(py, [mark.at.into_py(py), mark.code.text().into_py(py)])
                    }),
                )
                .into_py(py),
            };
            out.append((change.table, change.key, value, changelog_key))?;
        }
        Ok(out.into_py(py))
    }

    /// The aggregate records changed since the last call: (table, key, [(field, value or
    /// None when gone)] or None when the record is deleted). The field names are the same
    /// str objects from one call to the next.
    #[allow(clippy::type_complexity)]
    fn take_record_changes(
        &mut self,
        py: Python<'_>,
    ) -> Vec<(
        &'static str,
        String,
        Option<Vec<(Py<PyString>, Option<f64>)>>,
    )> {
        let names = &mut self.field_names;
        self.core
            .take_record_changes()
            .into_iter()
            .map(|change| {
                let fields = change.fields.map(|fields| {
                    fields
                        .into_iter()
                        .map(|(field, value)| {
                            let name = names
                                .entry(field.clone())
                                .or_insert_with(|| PyString::new_bound(py, &field).unbind());
                            (name.clone_ref(py), value)
                        })
                        .collect()
                });
                (change.table, change.key, fields)
            })
            .collect()
    }

    /// The open backlog's and the queue history's changes since the last call:
    /// (conversation id, open entry or None, queue facts before, after).
    /// The entries as `open_class` (`OpenConversation`) and the facts as `facts_class`
    /// (`QueueFacts`), both named tuples in their fields' order.
    fn take_index_changes<'py>(
        &mut self,
        open_class: &Bound<'py, PyType>,
        facts_class: &Bound<'py, PyType>,
    ) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        let py = open_class.py();
        let labels = &mut self.labels;
        let facts_or_none = |facts: &Option<QueueFacts>, labels: &mut PyLabels| match facts {
            Some(facts) => facts_tuple(facts_class, labels, facts),
            None => Ok(py.None().into_bound(py)),
        };
        self.core
            .take_index_changes()
            .iter()
            .map(|change: &IndexChange| {
                let open = match &change.open {
                    Some(entry) => entry_tuple(open_class, labels, entry)?,
                    None => py.None().into_bound(py),
                };
                let before = facts_or_none(&change.facts_before, labels)?;
                let after = facts_or_none(&change.facts_after, labels)?;
                let id = PyString::new_bound(py, &change.conversation_id).into_any();
                Ok(PyTuple::new_bound(py, [id, open, before, after]))
            })
            .collect()
    }

    /// The customer facts to tell since the last call, as `ContactFacts`' fields.
    fn take_facts(&mut self) -> Vec<ContactTuple> {
        self.core.take_facts().iter().map(contact_tuple).collect()
    }

    /// The bound on the states held (least recently stored dropped first).
    fn set_states_kept(&mut self, kept: usize) {
        self.core.set_states_kept(kept);
    }

    /// (clock check entries, states held).
    fn sizes(&self) -> (usize, usize) {
        self.core.sizes()
    }
}
