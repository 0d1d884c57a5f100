//! The native core of the socialcare processor (docs/native-core.md).
//!
//! The Python domain (`processor/domain/`) is the reference: each native part is held to it
//! by differential tests on the same inputs (`tests/unit/native/`). The Python module
//! `socialcare_native` exposes the parts as they land; the pipeline folds with the
//! partition core (`core.rs`) under `SOCIALCARE_CORE=native`.

pub mod aggregates;
pub mod calendar;
pub mod churn;
pub mod conversation;
pub mod core;
pub mod document;
pub mod scoring;
pub mod series;
pub mod tail;
pub mod thread;

#[cfg(feature = "python")]
mod bindings;
#[cfg(feature = "python")]
mod core_bindings;

#[cfg(feature = "python")]
#[pyo3::pymodule]
fn socialcare_native(module: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
    use pyo3::types::PyModuleMethods;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    bindings::register(module)
}
