//! Task logs from `/v1/client/fs/logs/:alloc_id`: a bounded tail read in plain mode, and
//! a followed stream of frames.
//!
//! Nomad's framed mode sends JSON objects one after another (not an array); while
//! following, an empty object `{}` is a heartbeat (`client/lib/streamframer`).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};

use crate::nomad::client::{Call, NomadClient, segment};
use crate::nomad::error::NomadError;
use crate::nomad::query::QueryOptions;
use crate::nomad::types::StreamFrame;

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

/// How long a followed log may stay silent, heartbeats included, before it is given up.
const FOLLOW_IDLE: Duration = Duration::from_secs(60);

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

    /// Follows a log from `offset` bytes before its end, yielding data frames as they come.
    pub async fn follow_logs(
        &self,
        request: &LogRequest,
        offset: u64,
        options: &QueryOptions,
    ) -> Result<LogStream, NomadError> {
        let mut extra = base_query(request);
        extra.extend([
            ("origin", "end".to_string()),
            ("offset", offset.to_string()),
            ("plain", "false".to_string()),
            ("follow", "true".to_string()),
        ]);
        let response = self.stream(logs_call(request), options, &extra).await?;
        Ok(LogStream {
            frames: LogFrames::default(),
            pending: Default::default(),
            body: Box::pin(response.bytes_stream()),
            addr: self.addr().to_string(),
            idle: Box::pin(tokio::time::sleep(FOLLOW_IDLE)),
        })
    }
}

/// Splits Nomad's back-to-back JSON frames out of a byte stream.
#[derive(Debug, Default)]
pub struct LogFrames {
    buffer: Vec<u8>,
}

impl LogFrames {
    /// Adds bytes and returns every complete frame, heartbeats (`{}`) included.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<StreamFrame>, serde_json::Error> {
        self.buffer.extend_from_slice(bytes);
        let mut frames = Vec::new();
        let mut consumed = 0;
        let mut iter =
            serde_json::Deserializer::from_slice(&self.buffer).into_iter::<StreamFrame>();
        loop {
            match iter.next() {
                Some(Ok(frame)) => {
                    consumed = iter.byte_offset();
                    frames.push(frame);
                }
                Some(Err(e)) if e.is_eof() => break,
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        self.buffer.drain(..consumed);
        Ok(frames)
    }
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A followed log: data frames only (heartbeats keep it alive and are dropped).
pub struct LogStream {
    frames: LogFrames,
    pending: std::collections::VecDeque<StreamFrame>,
    body: ByteStream,
    addr: String,
    idle: Pin<Box<tokio::time::Sleep>>,
}

impl LogStream {
    /// The next frame with data, `None` when Nomad closed the stream.
    pub async fn next_frame(&mut self) -> Option<Result<StreamFrame, NomadError>> {
        std::future::poll_fn(|cx| self.poll_frame(cx)).await
    }

    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<StreamFrame, NomadError>>> {
        loop {
            if let Some(frame) = self.pending.pop_front() {
                return Poll::Ready(Some(Ok(frame)));
            }
            if self.idle.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Some(Err(self.error(format!(
                    "no data or heartbeat for {} s",
                    FOLLOW_IDLE.as_secs()
                )))));
            }
            let chunk = match self.body.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Some(Err(self.error(e.to_string()))));
                }
                Poll::Ready(Some(Ok(chunk))) => chunk,
            };
            self.idle
                .as_mut()
                .reset(tokio::time::Instant::now() + FOLLOW_IDLE);
            match self.frames.push(&chunk) {
                Err(e) => {
                    return Poll::Ready(Some(Err(self.error(format!("malformed log frame: {e}")))));
                }
                Ok(frames) => {
                    let data = frames
                        .into_iter()
                        .filter(|f| !f.data.is_empty() || !f.file_event.is_empty());
                    self.pending.extend(data);
                }
            }
        }
    }

    fn error(&self, reason: String) -> NomadError {
        NomadError::Unavailable {
            operation: "follow the task's logs",
            addr: self.addr.clone(),
            reason,
        }
    }
}
