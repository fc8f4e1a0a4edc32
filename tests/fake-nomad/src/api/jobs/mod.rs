//! `/v1/jobs` and `/v1/job/:id/*`.
//!
//! This file holds what the handlers share: the namespace ACL need.

mod parse;
mod reads;
mod writes;

use crate::acl::Need;

pub use parse::parse;
pub use reads::{
    allocations, deployments, evaluations, latest_deployment, list, read, scale_status, summary,
    versions,
};
pub use writes::{deregister, dispatch, evaluate, register, register_at, revert, scale};

fn need(namespace: &str, capability: crate::Capability) -> Need {
    Need::Namespace(namespace.to_string(), capability)
}
