//! Task logs: deterministic lines per task start, or a log of any size (meta
//! `fake_nomad_log_bytes`) whose bytes are computed from their offset, so a 100 MB log
//! costs nothing until a range of it is read.

use crate::jobspec::Behavior;
use crate::world::{Alloc, TaskState};

const LINE: u64 = 64;

pub enum LogSource {
    Small(Vec<u8>),
    Big { task: String, size: u64 },
}

impl LogSource {
    pub fn size(&self) -> u64 {
        match self {
            LogSource::Small(b) => b.len() as u64,
            LogSource::Big { size, .. } => *size,
        }
    }

    /// Bytes `start..end` of the log.
    pub fn read(&self, start: u64, end: u64) -> Vec<u8> {
        let end = end.min(self.size());
        if start >= end {
            return Vec::new();
        }
        match self {
            LogSource::Small(b) => b[start as usize..end as usize].to_vec(),
            LogSource::Big { task, .. } => {
                let mut out = Vec::with_capacity((end - start) as usize);
                let first = start / LINE;
                let last = (end - 1) / LINE;
                for i in first..=last {
                    let line = big_line(task, i);
                    let line_start = i * LINE;
                    let from = start.saturating_sub(line_start) as usize;
                    let to = ((end - line_start).min(LINE)) as usize;
                    out.extend_from_slice(&line.as_bytes()[from..to]);
                }
                out
            }
        }
    }
}

fn big_line(task: &str, i: u64) -> String {
    let mut line = format!("{i:012} {task} handled request {}", i * 7 % 1000);
    line.truncate(LINE as usize - 1);
    while line.len() < LINE as usize - 1 {
        line.push('.');
    }
    line.push('\n');
    line
}

/// Lines a task with a log rate wrote since it started: the count grows with the time
/// it has run (until it finished), so a follower sees new lines arrive.
fn written_since_start(state: &TaskState) -> u64 {
    let (Some(rate), Some(started)) = (state.log_rate, state.started_at) else {
        return 0;
    };
    let until = state.finished_at.unwrap_or_else(crate::world::now_ns);
    let ran_ms = u64::try_from(until.saturating_sub(started) / 1_000_000).unwrap_or(0);
    ran_ms * rate / 1000
}

fn starts(state: &TaskState) -> u64 {
    if state.started_at.is_none() {
        return 0;
    }
    state.restarts + 1
}

/// The log of one task's stream, or `None` when the task is unknown.
pub fn source(alloc: &Alloc, task: &str, stream: &str) -> Option<LogSource> {
    let state = alloc.tasks.get(task)?;
    if stream == "stdout"
        && let Some(size) = state.log_bytes
    {
        return Some(LogSource::Big {
            task: task.to_string(),
            size,
        });
    }
    let short = &alloc.id[..8];
    let mut text = String::new();
    for run in 1..=starts(state) {
        match (stream, state.behavior) {
            ("stdout", Behavior::Healthy | Behavior::Busy) => {
                text.push_str(&format!("{task}: starting (alloc {short}, run {run})\n"));
                text.push_str(&format!("{task}: listening on 0.0.0.0:8080\n"));
                for i in 1..=8 {
                    text.push_str(&format!("{task}: GET /health 200 ({i} ms)\n"));
                }
                // Only the current run writes more (a restart starts the count again).
                let more = if run == starts(state) {
                    written_since_start(state)
                } else {
                    0
                };
                for i in 1..=more {
                    text.push_str(&format!("{task}: GET /api/items 200 (request {i})\n"));
                }
            }
            ("stdout", Behavior::Crash) => {
                text.push_str(&format!("{task}: starting (alloc {short}, run {run})\n"));
                text.push_str(&format!(
                    "{task}: connecting to database at db.service.consul:5432\n"
                ));
            }
            ("stderr", Behavior::Crash) => {
                text.push_str(&format!(
                    "Error: connection to db.service.consul:5432 refused (run {run})\n"
                ));
                text.push_str("fatal: cannot start without a database, exiting with code 1\n");
            }
            _ => {}
        }
    }
    Some(LogSource::Small(text.into_bytes()))
}
