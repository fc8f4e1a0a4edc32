//! Following a task's log for a bounded time, like `tail -f`: the last lines first, then
//! what the task writes, line by line, until the time is up, Nomad ends the log (the task
//! is gone), or the byte budget is spent.
//!
//! Two Nomad reads make it exact. The tail is read framed without follow, so its last
//! frame says where it ended (file and offset). The follow then starts a little before
//! that end (`OVERLAP` back from the end of the log) and drops every byte up to it, so a
//! line written between the two reads is neither lost nor repeated. Offsets are compared
//! per log file: a newer file (Nomad rotated the log) is new from its first byte, and a
//! `file truncated` event starts its file again at 0.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::jobs::invalid;
use super::logs::{LogsRequest, LogsResult, bounds, last_lines, missing_log};
use super::{Principal, Service, ServiceError};
use crate::nomad::{LogFrame, LogFrames, LogOrigin, LogRequest};
use crate::service::policy::Access;

/// How long a follow lasts when the caller does not say.
pub const DEFAULT_FOLLOW_SECONDS: u64 = 30;
/// The longest follow, whatever the caller asks.
pub const MAX_FOLLOW_SECONDS: u64 = 300;
/// What one follow reads at most of new output; then it ends (`byte_budget`).
pub const MAX_FOLLOW_BYTES: u64 = 16 * 1024 * 1024;
/// How far back from the end of the log the follow starts, to cover what was written
/// between the tail read and the follow read.
const OVERLAP: u64 = 64 * 1024;
/// A line longer than this is passed on in pieces.
const MAX_LINE_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FollowQuery {
    /// How long to follow (default 30, at most 300 seconds).
    #[serde(default)]
    #[param(minimum = 1, maximum = 300)]
    pub seconds: Option<u64>,
}

/// Why a follow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowEnd {
    /// The asked time was up.
    TimeUp,
    /// Nomad ended the log: the allocation stopped or its task is gone.
    LogEnded,
    /// The follow read `MAX_FOLLOW_BYTES` of new output.
    ByteBudget,
    /// Nomad's stream broke off; `note` says how.
    Interrupted,
}

/// How a follow went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FollowSummary {
    pub ended: FollowEnd,
    /// Seconds it followed.
    pub seconds: f64,
    /// Lines the task wrote while it was followed.
    pub new_lines: u64,
    pub new_bytes: u64,
    /// Output written between the tail and the follow reads that Nomad no longer had to
    /// send (more than 64 KiB in that moment); 0 almost always.
    pub skipped_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The log being followed and its tail: the first thing a follower gets.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FollowStart {
    /// The log and its last lines before the follow began.
    #[serde(flatten)]
    pub tail: LogsResult,
    /// How long the follow lasts at most.
    pub seconds: u64,
}

/// A running follow. `next_lines` gives what the task writes; `into_result` the bounded
/// answer (the last lines overall) once it has ended.
pub struct LogFollow {
    pub start: FollowStart,
    frames: LogFrames,
    /// Where the output already passed on ends: (file index, offset in that file).
    seen: Option<(u64, u64)>,
    partial: Vec<u8>,
    began: Instant,
    window: Window,
    new_lines: u64,
    new_bytes: u64,
    skipped_bytes: u64,
    ended: Option<(FollowEnd, Option<String>)>,
}

/// The last lines overall, within the request's line and byte bounds.
struct Window {
    lines: VecDeque<String>,
    bytes: usize,
    max_lines: usize,
    max_bytes: usize,
    dropped: bool,
}

impl Window {
    fn push(&mut self, line: &str) {
        self.lines.push_back(line.to_string());
        self.bytes += line.len() + 1;
        while self.lines.len() > self.max_lines || self.bytes > self.max_bytes {
            let Some(old) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= old.len() + 1;
            self.dropped = true;
        }
    }
}

impl LogFollow {
    /// The next lines the task wrote; `None` once the follow has ended (`summary` says
    /// why). A line still unfinished when the follow ends is passed on as it is.
    pub async fn next_lines(&mut self) -> Option<Vec<String>> {
        loop {
            if self.ended.is_some() {
                return None;
            }
            let until = self.began + Duration::from_secs(self.start.seconds);
            let frame = match tokio::time::timeout_at(until, self.frames.next_frame()).await {
                Err(_) => return self.end(FollowEnd::TimeUp, None),
                Ok(None) => return self.end(FollowEnd::LogEnded, None),
                Ok(Some(Err(error))) => {
                    return self.end(FollowEnd::Interrupted, Some(error.to_string()));
                }
                Ok(Some(Ok(frame))) => frame,
            };
            let fresh = self.fresh(&frame);
            if fresh.is_empty() {
                continue;
            }
            let room = (MAX_FOLLOW_BYTES - self.new_bytes) as usize;
            let take = fresh.len().min(room);
            self.new_bytes += take as u64;
            self.partial.extend_from_slice(&fresh[..take]);
            let lines = self.complete_lines();
            if take < fresh.len() {
                let mut lines = lines;
                lines.extend(self.end(FollowEnd::ByteBudget, None).unwrap_or_default());
                return Some(lines);
            }
            if !lines.is_empty() {
                return Some(lines);
            }
        }
    }

    /// How the follow went; `None` while it runs.
    pub fn summary(&self) -> Option<FollowSummary> {
        let (ended, note) = self.ended.clone()?;
        Some(FollowSummary {
            ended,
            seconds: (self.began.elapsed().as_millis() as f64 / 1000.0)
                .min(self.start.seconds as f64),
            new_lines: self.new_lines,
            new_bytes: self.new_bytes,
            skipped_bytes: self.skipped_bytes,
            note,
        })
    }

    /// The answer once `next_lines` has ended: the last lines overall, within the
    /// request's bounds, and how the follow went.
    pub fn into_result(self) -> LogsResult {
        let followed = self.summary();
        let tail = self.start.tail;
        LogsResult {
            lines: self.window.lines.into(),
            truncated: tail.truncated || self.window.dropped,
            followed,
            ..tail
        }
    }

    fn end(&mut self, why: FollowEnd, note: Option<String>) -> Option<Vec<String>> {
        self.ended = Some((why, note));
        if self.partial.is_empty() {
            return None;
        }
        let rest = std::mem::take(&mut self.partial);
        let line = line_text(&rest);
        self.record(&line);
        Some(vec![line])
    }

    /// The part of a frame not passed on yet.
    fn fresh<'a>(&mut self, frame: &'a LogFrame) -> &'a [u8] {
        let (fresh, seen, skipped) = fresh_part(self.seen, frame);
        self.seen = seen;
        self.skipped_bytes += skipped;
        fresh
    }

    /// The complete lines at the front of `partial`, taken out of it.
    fn complete_lines(&mut self) -> Vec<String> {
        let (lines, used) = split_lines(&self.partial);
        self.partial.drain(..used);
        for line in &lines {
            self.record(line);
        }
        lines
    }

    fn record(&mut self, line: &str) {
        self.new_lines += 1;
        self.window.push(line);
    }
}

/// The part of `frame` after `seen` (see the module comment), where the output passed on
/// then ends, and how many bytes were missed before the frame.
fn fresh_part(seen: Option<(u64, u64)>, frame: &LogFrame) -> (&[u8], Option<(u64, u64)>, u64) {
    let index = frame.file_index();
    let seen = match frame.event.as_deref() {
        Some("file truncated") => Some((index, 0)),
        _ => seen,
    };
    let len = frame.data.len() as u64;
    let start = frame.end.saturating_sub(len);
    let (from, skipped) = match seen {
        None => (0, 0),
        Some((old, _)) if index < old => return (&[], seen, 0),
        Some((same, end)) if index == same => (
            end.saturating_sub(start).min(len),
            start.saturating_sub(end),
        ),
        Some(_) => (0, 0),
    };
    let seen = if from < len {
        Some((index, frame.end))
    } else {
        seen
    };
    (&frame.data[from as usize..], seen, skipped)
}

/// The complete lines of `bytes` (a line longer than `MAX_LINE_BYTES` in pieces) and how
/// many bytes they took; what follows is an unfinished line.
fn split_lines(bytes: &[u8]) -> (Vec<String>, usize) {
    let mut lines = Vec::new();
    let mut from = 0;
    for (at, byte) in bytes.iter().enumerate() {
        if *byte == b'\n' {
            lines.push(line_text(&bytes[from..at]));
            from = at + 1;
        } else if at + 1 - from >= MAX_LINE_BYTES {
            lines.push(line_text(&bytes[from..=at]));
            from = at + 1;
        }
    }
    (lines, from)
}

fn line_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

/// The follow length a caller asked for, checked.
pub fn follow_seconds(seconds: Option<u64>) -> Result<u64, ServiceError> {
    match seconds.unwrap_or(DEFAULT_FOLLOW_SECONDS) {
        s @ 1..=MAX_FOLLOW_SECONDS => Ok(s),
        s => Err(invalid(
            "seconds",
            format!("{s} is out of range; follow for 1 to {MAX_FOLLOW_SECONDS} seconds"),
        )),
    }
}

impl Service {
    /// Starts following a task's log for `seconds` (see the module comment): reads the
    /// tail, then opens Nomad's followed stream. Errors (policy, no such job, allocation
    /// or task) come before anything is followed.
    pub async fn follow_job_logs(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: Option<&str>,
        request: LogsRequest,
        seconds: Option<u64>,
    ) -> Result<LogFollow, ServiceError> {
        self.with_job_hint(job_id, namespace, async move {
            let namespace = self.namespace(namespace);
            self.allow(who, Access::Read, Some(&namespace), "follow_job_logs")
                .await?;
            let seconds = follow_seconds(seconds)?;
            let (max_lines, max_bytes) = bounds(&request)?;
            let log = self.log_target(who, job_id, &namespace, &request).await?;
            let options = self.in_namespace(&namespace);
            let failed = |e| ServiceError::from_nomad(e, missing_log(&log));
            let (tail, seen) = self
                .framed_tail(&log, max_bytes, &options)
                .await
                .map_err(failed)?;
            let frames = self
                .nomad
                .log_frames(&log, LogOrigin::End(OVERLAP), true, &options)
                .await
                .map_err(failed)?;
            let cut = tail.len() as u64 >= max_bytes;
            let (lines, truncated) = last_lines(&tail, max_lines, cut);
            let mut window = Window {
                lines: VecDeque::new(),
                bytes: 0,
                max_lines,
                max_bytes: max_bytes as usize,
                dropped: false,
            };
            for line in &lines {
                window.push(line);
            }
            Ok(LogFollow {
                start: FollowStart {
                    tail: LogsResult {
                        job_id: job_id.to_string(),
                        alloc_id: log.alloc_id.clone(),
                        task: log.task.clone(),
                        stream: request.stream,
                        lines,
                        truncated,
                        followed: None,
                    },
                    seconds,
                },
                frames,
                seen,
                partial: Vec::new(),
                began: Instant::now(),
                window,
                new_lines: 0,
                new_bytes: 0,
                skipped_bytes: 0,
                ended: None,
            })
        })
        .await
    }

    /// The last `max_bytes` of a log, read framed, and where they end.
    async fn framed_tail(
        &self,
        log: &LogRequest,
        max_bytes: u64,
        options: &crate::nomad::QueryOptions,
    ) -> Result<(Vec<u8>, Option<(u64, u64)>), crate::nomad::NomadError> {
        let mut frames = self
            .nomad
            .log_frames(log, LogOrigin::End(max_bytes), false, options)
            .await?;
        let (mut bytes, mut seen) = (Vec::new(), None);
        while let Some(frame) = frames.next_frame().await {
            let frame = frame?;
            bytes.extend_from_slice(&frame.data);
            seen = Some((frame.file_index(), frame.end));
        }
        let excess = bytes.len().saturating_sub(max_bytes as usize);
        bytes.drain(..excess);
        Ok((bytes, seen))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(file: &str, end: u64, data: &str) -> LogFrame {
        LogFrame {
            file: file.into(),
            end,
            data: data.as_bytes().to_vec(),
            event: None,
        }
    }

    fn window() -> Window {
        Window {
            lines: VecDeque::new(),
            bytes: 0,
            max_lines: 3,
            max_bytes: 1024,
            dropped: false,
        }
    }

    #[test]
    fn lines_are_split_once_with_the_unfinished_one_left() {
        let (lines, used) = split_lines(b"a\r\nb\n\npart");
        assert_eq!(lines, ["a", "b", ""]);
        assert_eq!(used, 6);
        let long = vec![b'x'; MAX_LINE_BYTES + 10];
        let (lines, used) = split_lines(&long);
        assert_eq!(
            (lines.len(), lines[0].len(), used),
            (1, MAX_LINE_BYTES, MAX_LINE_BYTES)
        );
    }

    #[test]
    fn the_window_keeps_the_last_lines_within_both_bounds() {
        let mut w = window();
        for line in ["a", "b", "c", "d"] {
            w.push(line);
        }
        assert_eq!(Vec::from(w.lines.clone()), ["b", "c", "d"]);
        assert!(w.dropped);
        let mut w = Window {
            max_bytes: 8,
            ..window()
        };
        w.push("12345");
        w.push("678");
        assert_eq!(Vec::from(w.lines), ["678"]);
    }

    /// What a follow that starts at `seen` passes on of `frames`, and what it missed.
    fn fresh_of(mut seen: Option<(u64, u64)>, frames: &[LogFrame]) -> (String, u64) {
        let (mut out, mut missed) = (String::new(), 0);
        for f in frames {
            let (kept, now, skipped) = fresh_part(seen, f);
            seen = now;
            missed += skipped;
            out.push_str(std::str::from_utf8(kept).unwrap());
        }
        (out, missed)
    }

    #[test]
    fn the_follow_drops_what_the_tail_had_and_keeps_the_rest_exactly_once() {
        let f = "alloc/logs/web.stdout.0";
        // The tail ended at offset 10; the follow started at 4.
        let (out, skipped) = fresh_of(
            Some((0, 10)),
            &[frame(f, 12, "45678901"), frame(f, 15, "234")],
        );
        assert_eq!((out.as_str(), skipped), ("01234", 0));
        // An older file is dropped, a newer one (rotation) is new from its start.
        let (out, _) = fresh_of(
            Some((1, 5)),
            &[
                frame("alloc/logs/web.stdout.0", 9, "old"),
                frame("alloc/logs/web.stdout.2", 3, "new"),
            ],
        );
        assert_eq!(out, "new");
        // More was written between the reads than the overlap covers: counted, not hidden.
        let (out, skipped) = fresh_of(Some((0, 10)), &[frame(f, 30, "abcde")]);
        assert_eq!((out.as_str(), skipped), ("abcde", 15));
        // An empty tail: everything is new.
        let (out, _) = fresh_of(None, &[frame(f, 3, "abc")]);
        assert_eq!(out, "abc");
        // A truncated file starts again at 0.
        let mut truncated = frame(f, 2, "xy");
        truncated.event = Some("file truncated".into());
        let (out, _) = fresh_of(Some((0, 10)), &[truncated]);
        assert_eq!(out, "xy");
    }
}
