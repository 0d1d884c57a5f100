//! The Python face of the native parts, in Python's own terms (codes as strings, items as
//! tuples, the stored form as lists), so the differential tests compare like with like.

// PyO3 0.22's macros convert `PyErr` into itself; newer clippy flags that.
#![allow(clippy::useless_conversion)]

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::tail::{MemoryChunks, Tail};
use crate::thread::{Code, Item, Mark, MarkKey, ThreadWalk};

pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<PyThreadWalk>()?;
    module.add_class::<PyTail>()
}

fn mark_pair(mark: &Mark) -> (f64, String) {
    (mark.at, mark.code.text())
}

fn mark_of(at: f64, code: &str) -> PyResult<Mark> {
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
        let w = &self.walk;
        let last: PyObject = match &w.last {
            None => py.None(),
            Some(key) => (key.at, key.rank, key.code.text()).into_py(py),
        };
        let pending = PyList::new_bound(py, w.pending.iter().map(|p| p.to_vec()));
        let values: Vec<PyObject> = vec![
            w.opened_at.into_py(py),
            w.inactivity.into_py(py),
            last,
            w.last_team.to_string().into_py(py),
            w.first_response_at.into_py(py),
            w.first_response_team.to_string().into_py(py),
            w.first_resolution_at.into_py(py),
            w.first_resolution_team.to_string().into_py(py),
            w.resolutions.into_py(py),
            w.reopens.into_py(py),
            w.open_now.into_py(py),
            w.waiting_since.into_py(py),
            w.last_human.into_py(py),
            w.unanswered.into_py(py),
            w.answered.into_py(py),
            w.customer.into_py(py),
            w.brand.into_py(py),
            w.humans.into_py(py),
            pending.into_py(py),
            w.longest_wait.into_py(py),
        ];
        PyList::new_bound(py, values).into_py(py)
    }

    /// A walk from its stored form (as `ThreadWalk.from_json` reads it).
    #[staticmethod]
    fn from_json(values: &Bound<'_, PyList>) -> PyResult<PyThreadWalk> {
        let get = |index: usize| values.get_item(index);
        let last = get(2)?;
        let last = if last.is_none() {
            None
        } else {
            let key = last
                .downcast::<PyList>()
                .map(|l| l.to_tuple())
                .or_else(|_| last.downcast::<PyTuple>().cloned().map_err(PyErr::from))?;
            let code: String = key.get_item(2)?.extract()?;
            let mark = mark_of(key.get_item(0)?.extract()?, &code)?;
            Some(MarkKey {
                at: mark.at,
                rank: key.get_item(1)?.extract()?,
                code: mark.code,
            })
        };
        let team = |index: usize| -> PyResult<std::sync::Arc<str>> {
            Ok(std::sync::Arc::from(get(index)?.extract::<String>()?))
        };
        let pending: Vec<Vec<f64>> = get(18)?.extract()?;
        let walk = ThreadWalk {
            opened_at: get(0)?.extract()?,
            inactivity: get(1)?.extract()?,
            last,
            last_team: team(3)?,
            first_response_at: get(4)?.extract()?,
            first_response_team: team(5)?,
            first_resolution_at: get(6)?.extract()?,
            first_resolution_team: team(7)?,
            resolutions: get(8)?.extract()?,
            reopens: get(9)?.extract()?,
            open_now: get(10)?.extract()?,
            waiting_since: get(11)?.extract()?,
            last_human: get(12)?.extract()?,
            unanswered: get(13)?.extract()?,
            answered: get(14)?.extract()?,
            customer: get(15)?.extract()?,
            brand: get(16)?.extract()?,
            humans: get(17)?.extract()?,
            awaiting_customer_since: None,
            // Written before the longest wait was kept: 0 until a wait ends.
            longest_wait: if values.len() > 19 {
                get(19)?.extract()?
            } else {
                0.0
            },
            pending: pending
                .into_iter()
                .map(|entry| match entry.as_slice() {
                    [start, stopped, deadline] => Ok([*start, *stopped, *deadline]),
                    _ => Err(PyValueError::new_err(
                        "a pending wait is [start, stopped, deadline]",
                    )),
                })
                .collect::<PyResult<_>>()?,
        };
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
        let chunks = self
            .tail
            .chunks
            .iter()
            .map(|chunk| {
                (
                    chunk.first.at,
                    chunk.first.code.text(),
                    chunk.number,
                    chunk.marks,
                )
            })
            .collect();
        let open = self.tail.open.iter().map(mark_pair).collect();
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
