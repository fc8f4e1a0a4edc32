//! Task logs from `/v1/client/fs/logs/:alloc_id`: a bounded tail read in plain mode, and
//! a followed stream of frames.
//!
//! Nomad's framed mode sends JSON objects one after another (not an array); while
//! following, an empty object `{}` is a heartbeat (`client/lib/streamframer`).

use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use crate::nomad::client::{Call, NomadClient, segment};
use crate::nomad::error::NomadError;
use crate::nomad::query::QueryOptions;

/// Which log to read.
#[derive(Debug, Clone)]
pub struct LogRequest {
    pub alloc_id: String,
    pub task: String,
    /// `stdout` or `stderr`.
    pub stream: String,
}

fn logs_call(request: &LogRequest) -> Call {
    Call {
        operation: "read the task's logs",
        template: "/v1/client/fs/logs/{alloc_id}",
        path: format!("/v1/client/fs/logs/{}", segment(&request.alloc_id)),
    }
}

fn base_query(request: &LogRequest) -> Vec<(&'static str, String)> {
    vec![
        ("task", request.task.clone()),
        ("type", request.stream.clone()),
    ]
}

impl NomadClient {
    /// The last `max_bytes` of a log. Only the end is requested (`origin=end`,
    /// `offset=max_bytes`), so a large log costs no more than the tail.
    pub async fn log_tail(
        &self,
        request: &LogRequest,
        max_bytes: u64,
        options: &QueryOptions,
    ) -> Result<Bytes, NomadError> {
        let mut extra = base_query(request);
        extra.extend([
            ("origin", "end".to_string()),
            ("offset", max_bytes.to_string()),
            ("plain", "true".to_string()),
            ("follow", "false".to_string()),
        ]);
        let response = self.stream(logs_call(request), options, &extra).await?;
        let mut body = response.bytes_stream();
        let mut out = BytesMut::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| NomadError::Unavailable {
                operation: "read the task's logs",
                addr: self.addr().to_string(),
                reason: e.to_string(),
            })?;
            out.extend_from_slice(&chunk);
            // Never hold more than asked for, whatever the server sends.
            if out.len() as u64 > max_bytes {
                let excess = out.len() - max_bytes as usize;
                let _ = out.split_to(excess);
            }
        }
        Ok(out.freeze())
    }
}
