//! Nomad's JSON shapes, as far as the gateway reads them. Unknown fields are ignored;
//! fields Nomad may send as `null` (empty maps and lists in Go) read as empty.
//! Ground truth: Nomad's documented samples (`tests/nomad-api/`, copied from the project's
//! shared folder), checked by a test that deserializes every sample of every endpoint the
//! client calls (`tests/gateway/nomad_samples.rs`).

mod alloc;
mod cluster;
mod deployment;
mod eval;
mod job;
mod lookup;
mod node;
mod service;
mod variable;

pub use alloc::*;
pub use cluster::*;
pub use deployment::*;
pub use eval::*;
pub use job::*;
pub use lookup::*;
pub use node::*;
pub use service::*;
pub use variable::*;

use serde::{Deserialize, Deserializer};

/// Reads `null` as the type's default (Go encodes empty maps and slices as `null`).
pub(crate) fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
