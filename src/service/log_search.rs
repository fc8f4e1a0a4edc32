//! Searching a job's logs: a text over the tail of stdout and stderr of every task of the
//! job's newest allocations, read at once, case-insensitive, with lines of context.
//!
//! Only the last `tail_kib` of each log is asked for (`origin=end`), so a job whose tasks
//! wrote gigabytes costs what its tails cost; the answer is bounded in matches and in the
//! length of each line.

use serde::{Deserialize, Serialize};

use super::jobs::invalid;
use super::logs::{LogStream, last_lines};
use super::{Principal, Service, ServiceError};
use crate::nomad::LogRequest;
use crate::service::policy::Access;

/// Allocations searched at most (the newest first).
pub const MAX_ALLOCATIONS: usize = 10;
pub const DEFAULT_TAIL_KIB: u64 = 256;
pub const MAX_TAIL_KIB: u64 = 1024;
pub const DEFAULT_MATCHES: usize = 50;
pub const MAX_MATCHES: usize = 200;
pub const MAX_CONTEXT: usize = 5;
/// Characters of a line kept in the answer.
pub const MAX_LINE_CHARS: usize = 400;
/// Logs read at once.
const CONCURRENT_READS: usize = 8;

/// What to look for and where.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogSearchRequest {
    /// The text to find, case-insensitive (not a regular expression); required.
    #[serde(default)]
    pub pattern: String,
    /// `stdout` or `stderr`; both when left out.
    #[serde(default)]
    #[param(inline)]
    pub stream: Option<LogStream>,
    /// KiB read from the end of each log (default 256, at most 1024).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1024)]
    pub tail_kib: Option<u64>,
    /// Lines shown before and after each match (default 0, at most 5).
    #[serde(default)]
    #[param(maximum = 5)]
    pub context: Option<usize>,
    /// Matches returned at most (default 50, at most 200).
    #[serde(default)]
    #[param(minimum = 1, maximum = 200)]
    pub max_matches: Option<usize>,
}

/// One matching line with its context.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct LogMatch {
    pub alloc_id: String,
    pub task: String,
    pub stream: LogStream,
    /// The line's number within the tail that was read (1 is its first complete line).
    pub line_number: usize,
    pub line: String,
    pub before: Vec<String>,
    pub after: Vec<String>,
}

/// What a search found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct LogSearchResult {
    pub job_id: String,
    pub pattern: String,
    /// The allocations searched, newest first.
    pub allocations: Vec<String>,
    /// Logs read (task and stream per allocation).
    pub logs_read: usize,
    /// KiB read from the end of each log.
    pub tail_kib: u64,
    pub matches: Vec<LogMatch>,
    /// Matching lines in all, shown or not.
    pub total_matches: usize,
    /// Logs that could not be read, and why.
    pub unreadable: Vec<String>,
    /// Says what was left out: more matches, more allocations, older output.
    pub note: Option<String>,
}

/// Cuts a line to `MAX_LINE_CHARS` characters.
fn shown(line: &str) -> String {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

/// The matching lines of one log's tail, each with `context` lines around it.
pub fn find(
    lines: &[String],
    pattern_lower: &str,
    context: usize,
) -> Vec<(usize, String, Vec<String>, Vec<String>)> {
    lines
        .iter()
        .enumerate()
        .filter(|(_, line)| line.to_lowercase().contains(pattern_lower))
        .map(|(i, line)| {
            let before = lines[i.saturating_sub(context)..i]
                .iter()
                .map(|l| shown(l))
                .collect();
            let after = lines[i + 1..(i + 1 + context).min(lines.len())]
                .iter()
                .map(|l| shown(l))
                .collect();
            (i + 1, shown(line), before, after)
        })
        .collect()
}

impl Service {
    pub async fn search_job_logs(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: Option<&str>,
        request: LogSearchRequest,
    ) -> Result<LogSearchResult, ServiceError> {
        self.with_job_hint(job_id, namespace, async move {
            let namespace = self.namespace(namespace);
            self.allow(who, Access::Read, Some(&namespace), "search_job_logs")
                .await?;
            let pattern = request.pattern.trim();
            if pattern.is_empty() || pattern.chars().count() > 200 {
                return Err(invalid("pattern", "give the text to find: 1 to 200 characters"));
            }
            let tail_kib = request.tail_kib.unwrap_or(DEFAULT_TAIL_KIB);
            if !(1..=MAX_TAIL_KIB).contains(&tail_kib) {
                return Err(invalid(
                    "tail_kib",
                    format!("{tail_kib} is out of range; use 1 to {MAX_TAIL_KIB}"),
                ));
            }
            let context = request.context.unwrap_or(0);
            if context > MAX_CONTEXT {
                return Err(invalid(
                    "context",
                    format!("{context} is out of range; use 0 to {MAX_CONTEXT}"),
                ));
            }
            let max_matches = request.max_matches.unwrap_or(DEFAULT_MATCHES);
            if !(1..=MAX_MATCHES).contains(&max_matches) {
                return Err(invalid(
                    "max_matches",
                    format!("{max_matches} is out of range; use 1 to {MAX_MATCHES}"),
                ));
            }
            let options = self.in_namespace(&namespace);
            let answer = self
                .nomad
                .job_allocations(job_id, false, &options)
                .await
                .map(|r| r.value);
            let mut allocations = self
                .job_list(job_id, &namespace, "allocations", answer)
                .await?;
            allocations.sort_by_key(|a| std::cmp::Reverse((a.create_index, a.create_time)));
            let more_allocations = allocations.len().saturating_sub(MAX_ALLOCATIONS);
            allocations.truncate(MAX_ALLOCATIONS);
            let streams: Vec<LogStream> = match request.stream {
                Some(stream) => vec![stream],
                None => vec![LogStream::Stdout, LogStream::Stderr],
            };
            let mut logs = Vec::new();
            for alloc in &allocations {
                for task in alloc.task_states.keys() {
                    for stream in &streams {
                        logs.push((alloc.id.clone(), task.clone(), *stream));
                    }
                }
            }
            let max_bytes = tail_kib * 1024;
            let reads = logs.clone().into_iter().map(|(alloc_id, task, stream)| {
                let log = LogRequest {
                    alloc_id,
                    task,
                    stream: stream.as_str().to_string(),
                };
                let options = options.clone();
                async move { self.nomad.log_tail(&log, max_bytes, &options).await }
            });
            let tails: Vec<_> = futures::StreamExt::collect(futures::StreamExt::buffered(
                futures::stream::iter(reads),
                CONCURRENT_READS,
            ))
            .await;
            let pattern_lower = pattern.to_lowercase();
            let mut matches = Vec::new();
            let (mut total, mut unreadable, mut cut_logs) = (0, Vec::new(), 0);
            for ((alloc_id, task, stream), tail) in logs.iter().zip(tails) {
                let bytes = match tail {
                    Ok(bytes) => bytes,
                    Err(error) => {
                        unreadable.push(format!(
                            "{alloc_id} {task} {}: {error}",
                            stream.as_str()
                        ));
                        continue;
                    }
                };
                let cut = bytes.len() as u64 >= max_bytes;
                cut_logs += usize::from(cut);
                let (lines, _) = last_lines(&bytes, usize::MAX, cut);
                for (line_number, line, before, after) in find(&lines, &pattern_lower, context) {
                    total += 1;
                    if matches.len() < max_matches {
                        matches.push(LogMatch {
                            alloc_id: alloc_id.clone(),
                            task: task.clone(),
                            stream: *stream,
                            line_number,
                            line,
                            before,
                            after,
                        });
                    }
                }
            }
            let mut left_out = Vec::new();
            if total > matches.len() {
                left_out.push(format!(
                    "{} more matching line(s): raise max_matches (at most {MAX_MATCHES}) or give a longer pattern",
                    total - matches.len()
                ));
            }
            if more_allocations > 0 {
                left_out.push(format!(
                    "{more_allocations} older allocation(s) not searched (the newest {MAX_ALLOCATIONS} are)"
                ));
            }
            if cut_logs > 0 {
                left_out.push(format!(
                    "{cut_logs} log(s) have output older than the last {tail_kib} KiB that was not searched (raise tail_kib, at most {MAX_TAIL_KIB})"
                ));
            }
            Ok(LogSearchResult {
                job_id: job_id.to_string(),
                pattern: pattern.to_string(),
                allocations: allocations.iter().map(|a| a.id.clone()).collect(),
                logs_read: logs.len() - unreadable.len(),
                tail_kib,
                matches,
                total_matches: total,
                unreadable,
                note: (!left_out.is_empty()).then(|| left_out.join("; ")),
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_are_case_insensitive_with_their_context_and_cut_long_lines() {
        let lines: Vec<String> = ["start", "ERROR: disk full", "retry", "error again", "done"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let found = find(&lines, "error", 1);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].0, 2);
        assert_eq!(found[0].2, ["start"]);
        assert_eq!(found[0].3, ["retry"]);
        assert_eq!(found[1].3, ["done"]);
        let long = vec!["x".repeat(1000) + " error"];
        let found = find(&long, "error", 0);
        assert_eq!(found[0].1.chars().count(), MAX_LINE_CHARS + 1);
    }
}
