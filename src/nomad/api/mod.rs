//! The Nomad endpoints the gateway calls, one file per resource. Each method names its
//! operation (for error messages) and its path template (for spans).

/// The body of a streaming answer (logs, events), read chunk by chunk.
type ByteStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

mod allocations;
mod cluster;
mod deployments;
mod evaluations;
mod events;
mod jobs;
mod logs;
mod lookup;
mod nodes;
mod services;
mod variables;

pub use allocations::AllocStopResponse;
pub use events::EventStream;
pub use jobs::{JobRegistration, ParseRequest};
pub use logs::{LogFrame, LogFrames, LogOrigin, LogRequest};
pub use nodes::DrainSpec;
pub use variables::VariableWrite;
