//! `/v1/event/stream`: newline-delimited JSON batches of events; `{}` lines are
//! heartbeats (`command/agent/event_endpoint.go`).

use futures::StreamExt;

use crate::nomad::client::{Call, NomadClient};
use crate::nomad::error::NomadError;
use crate::nomad::query::QueryOptions;
use crate::nomad::types::EventBatch;

use super::ByteStream;

/// An open event stream.
pub struct EventStream {
    body: ByteStream,
    buffer: Vec<u8>,
    addr: String,
}

impl NomadClient {
    /// Opens the stream. `topics` are `Topic:Key` filters (`Job:web`, `Allocation:*`);
    /// `index` resumes after that Raft index.
    pub async fn event_stream(
        &self,
        topics: &[String],
        index: Option<u64>,
        options: &QueryOptions,
    ) -> Result<EventStream, NomadError> {
        let mut extra: Vec<(&'static str, String)> =
            topics.iter().map(|t| ("topic", t.clone())).collect();
        if let Some(index) = index {
            extra.push(("index", index.to_string()));
        }
        let call = Call {
            operation: "read the event stream",
            template: "/v1/event/stream",
            path: "/v1/event/stream".into(),
        };
        let response = self.stream(call, options, &extra).await?;
        Ok(EventStream {
            body: Box::pin(response.bytes_stream()),
            buffer: Vec::new(),
            addr: self.addr().to_string(),
        })
    }
}

impl EventStream {
    /// The next batch with events (heartbeats are skipped); `None` when the stream ends.
    pub async fn next_batch(&mut self) -> Option<Result<EventBatch, NomadError>> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                let line = line.trim_ascii();
                if line.is_empty() {
                    continue;
                }
                match serde_json::from_slice::<EventBatch>(line) {
                    Ok(batch) if batch.events.is_empty() => continue,
                    Ok(batch) => return Some(Ok(batch)),
                    Err(e) => return Some(Err(self.error(format!("malformed event line: {e}")))),
                }
            }
            match self.body.next().await? {
                Ok(chunk) => self.buffer.extend_from_slice(&chunk),
                Err(e) => return Some(Err(self.error(e.to_string()))),
            }
        }
    }

    fn error(&self, reason: String) -> NomadError {
        NomadError::Unavailable {
            operation: "read the event stream",
            addr: self.addr.clone(),
            reason,
        }
    }
}
