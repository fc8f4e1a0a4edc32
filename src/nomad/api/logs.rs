//! Task logs from `/v1/client/fs/logs/:alloc_id`: a bounded tail read in plain mode, and
//! framed reads (with or without follow) that say where in which file each byte was.
//!
//! Nomad's framed mode sends JSON objects one after another (not an array, no separator);
//! while following, an empty object `{}` is a heartbeat (`client/lib/streamframer`). A
//! frame's `Offset` is the offset in `File` *after* its `Data`: the reader adds what it
//! read before it sends (`streamFile` in `client/fs_endpoint.go`), and the framer keeps the
//! latest offset when it merges reads into one frame.

use base64::Engine;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use serde::Deserialize;

use crate::nomad::client::{Call, NomadClient, segment};
use crate::nomad::error::NomadError;
use crate::nomad::query::QueryOptions;

use super::ByteStream;

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

/// The query of a read from `origin`, plain or framed, followed or not.
fn read_query(
    request: &LogRequest,
    origin: LogOrigin,
    plain: bool,
    follow: bool,
) -> Vec<(&'static str, String)> {
    let (origin, offset) = match origin {
        LogOrigin::Start(offset) => ("start", offset),
        LogOrigin::End(offset) => ("end", offset),
    };
    vec![
        ("task", request.task.clone()),
        ("type", request.stream.clone()),
        ("origin", origin.to_string()),
        ("offset", offset.to_string()),
        ("plain", plain.to_string()),
        ("follow", follow.to_string()),
    ]
}

/// Where a framed read starts: bytes from the beginning of the task's logs, or back from
/// their end.
#[derive(Debug, Clone, Copy)]
pub enum LogOrigin {
    Start(u64),
    End(u64),
}

/// One frame of a framed log read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFrame {
    /// The log file, e.g. `alloc/logs/web.stdout.0` (the last number grows as Nomad
    /// rotates the log).
    pub file: String,
    /// The offset in `file` just after `data`.
    pub end: u64,
    pub data: Vec<u8>,
    /// `file truncated` or `file deleted`, when the file changed that way.
    pub event: Option<String>,
}

impl LogFrame {
    /// The rotation index of the file (`web.stdout.3` → 3); 0 when it has none.
    pub fn file_index(&self) -> u64 {
        self.file
            .rsplit('.')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

/// `StreamFrame` as Nomad encodes it; a heartbeat has none of the fields.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawFrame {
    #[serde(default)]
    file: String,
    #[serde(default)]
    offset: i64,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    file_event: String,
}

/// A frame bigger than this without an end is not one: Nomad's frames carry at most
/// 64 KiB of data (`streamFrameSize`), under 90 KiB once base64-encoded.
const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// An open framed log read.
pub struct LogFrames {
    body: ByteStream,
    buffer: Vec<u8>,
    addr: String,
}

impl LogFrames {
    /// The next frame with data or an event (heartbeats are skipped); `None` when Nomad
    /// ends the stream (the read reached the end without follow, or the task is gone).
    pub async fn next_frame(&mut self) -> Option<Result<LogFrame, NomadError>> {
        loop {
            match self.parse() {
                Ok(Some(frame)) => return Some(Ok(frame)),
                Ok(None) => {}
                Err(reason) => return Some(Err(self.error(reason))),
            }
            if self.buffer.len() > MAX_FRAME_BYTES {
                return Some(Err(
                    self.error(format!("a log frame over {MAX_FRAME_BYTES} bytes"))
                ));
            }
            match self.body.next().await? {
                Ok(chunk) => self.buffer.extend_from_slice(&chunk),
                Err(e) => return Some(Err(self.error(e.to_string()))),
            }
        }
    }

    /// Takes the complete frames at the front of the buffer; `Ok(None)` when it needs
    /// more bytes.
    fn parse(&mut self) -> Result<Option<LogFrame>, String> {
        loop {
            let mut values =
                serde_json::Deserializer::from_slice(&self.buffer).into_iter::<RawFrame>();
            let raw = match values.next() {
                None => {
                    self.buffer.clear();
                    return Ok(None);
                }
                Some(Err(e)) if e.is_eof() => return Ok(None),
                Some(Err(e)) => return Err(format!("malformed log frame: {e}")),
                Some(Ok(raw)) => raw,
            };
            let used = values.byte_offset();
            self.buffer.drain(..used);
            let data = match raw.data.as_deref() {
                None | Some("") => Vec::new(),
                Some(text) => base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| format!("log frame data is not base64: {e}"))?,
            };
            if data.is_empty() && raw.file_event.is_empty() {
                continue; // a heartbeat
            }
            return Ok(Some(LogFrame {
                file: raw.file,
                end: u64::try_from(raw.offset).unwrap_or(0),
                data,
                event: Some(raw.file_event).filter(|e| !e.is_empty()),
            }));
        }
    }

    fn error(&self, reason: String) -> NomadError {
        NomadError::Unavailable {
            operation: "read the task's logs",
            addr: self.addr.clone(),
            reason,
        }
    }
}

impl NomadClient {
    /// A framed read of a task's log from `origin`; with `follow`, Nomad keeps the stream
    /// open and sends what the task writes (and a heartbeat each second of silence).
    pub async fn log_frames(
        &self,
        request: &LogRequest,
        origin: LogOrigin,
        follow: bool,
        options: &QueryOptions,
    ) -> Result<LogFrames, NomadError> {
        let extra = read_query(request, origin, false, follow);
        let response = self.stream(logs_call(request), options, &extra).await?;
        Ok(LogFrames {
            body: Box::pin(response.bytes_stream()),
            buffer: Vec::new(),
            addr: self.addr().to_string(),
        })
    }

    /// The last `max_bytes` of a log. Only the end is requested (`origin=end`,
    /// `offset=max_bytes`), so a large log costs no more than the tail.
    pub async fn log_tail(
        &self,
        request: &LogRequest,
        max_bytes: u64,
        options: &QueryOptions,
    ) -> Result<Bytes, NomadError> {
        let extra = read_query(request, LogOrigin::End(max_bytes), true, false);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(chunks: &[&str]) -> LogFrames {
        let chunks: Vec<reqwest::Result<Bytes>> = chunks
            .iter()
            .map(|c| Ok(Bytes::from(c.to_string())))
            .collect();
        LogFrames {
            body: Box::pin(futures::stream::iter(chunks)),
            buffer: Vec::new(),
            addr: "test".into(),
        }
    }

    #[tokio::test]
    async fn frames_back_to_back_split_anywhere_with_heartbeats_between() {
        // "hello\n" and "world\n" in base64, the second frame cut in the middle.
        let mut read = frames(&[
            r#"{"File":"alloc/logs/web.stdout.0","Offset":6,"Data":"aGVsbG8K"}{}"#,
            r#"{"File":"alloc/logs/web.stdout.1","Off"#,
            r#"set":6,"Data":"d29ybGQK"}{}{"File":"alloc/logs/web.stdout.1","#,
            r#""Offset":0,"FileEvent":"file truncated"}"#,
        ]);
        let first = read.next_frame().await.unwrap().unwrap();
        assert_eq!(first.data, b"hello\n");
        assert_eq!((first.end, first.file_index()), (6, 0));
        let second = read.next_frame().await.unwrap().unwrap();
        assert_eq!(second.data, b"world\n");
        assert_eq!(second.file_index(), 1);
        let third = read.next_frame().await.unwrap().unwrap();
        assert_eq!(third.event.as_deref(), Some("file truncated"));
        assert!(third.data.is_empty());
        assert!(read.next_frame().await.is_none());
    }

    #[tokio::test]
    async fn a_malformed_frame_is_an_error_not_a_hang() {
        let mut read = frames(&[r#"{"File":"a","Offset":1,"Data":"!!"}"#]);
        let error = read.next_frame().await.unwrap().unwrap_err();
        assert!(error.to_string().contains("base64"), "{error}");
        let mut read = frames(&["[1,2]"]);
        let error = read.next_frame().await.unwrap().unwrap_err();
        assert!(error.to_string().contains("malformed log frame"), "{error}");
    }
}
