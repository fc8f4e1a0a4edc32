//! The Nomad API adapter: the only module that builds Nomad URLs. A typed client for the
//! endpoints the gateway uses, configured as the Nomad CLI is (`NOMAD_*`).

mod api;
mod client;
mod error;
mod query;
mod tls;
mod token;
pub mod types;

pub use api::{
    AllocStopResponse, DrainSpec, EventStream, JobRegistration, LogFrame, LogFrames, LogOrigin,
    LogRequest, ParseRequest, VariableWrite,
};
pub use client::{NomadClient, RetryPolicy};
pub use error::{NomadError, TokenSource};
pub use query::{QueryMeta, QueryOptions, Response};
