//! Task logs: the last lines of a task's stdout or stderr, bounded in lines and bytes.

use crate::service::policy::Access;
use serde::{Deserialize, Serialize};

use super::jobs::invalid;
use super::log_follow::FollowSummary;
use super::{Principal, Service, ServiceError};
use crate::nomad::LogRequest;
use crate::nomad::types::Allocation;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    #[default]
    Stdout,
    Stderr,
}

impl LogStream {
    /// The log's name in Nomad's `type` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogsRequest {
    /// Read this allocation; default: the job's most recently created one.
    #[serde(default)]
    pub alloc_id: Option<String>,
    /// The task; may be left out when the group has one task.
    #[serde(default)]
    pub task: Option<String>,
    #[serde(default)]
    #[param(inline)]
    pub stream: LogStream,
    /// How many of the last lines (default 100, at most 5000).
    #[serde(default)]
    #[param(minimum = 1, maximum = 5000)]
    pub lines: Option<usize>,
    /// Byte cap on what is read and returned (default 64 KiB, at most 1 MiB).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1048576)]
    pub max_bytes: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct LogsResult {
    pub job_id: String,
    pub alloc_id: String,
    pub task: String,
    pub stream: LogStream,
    pub lines: Vec<String>,
    /// True when older output exists beyond what was returned.
    pub truncated: bool,
    /// With `follow_seconds`: how the follow went (the lines then include what the task
    /// wrote meanwhile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followed: Option<FollowSummary>,
}

pub const DEFAULT_LINES: usize = 100;
pub const MAX_LINES: usize = 5000;
pub const DEFAULT_LOG_BYTES: u64 = 64 * 1024;
pub const MAX_LOG_BYTES: u64 = 1024 * 1024;

/// The last `lines` complete lines of `bytes`. When the read started mid-line (it was cut
/// at the byte cap), the partial first line is dropped.
pub fn last_lines(bytes: &[u8], lines: usize, cut: bool) -> (Vec<String>, bool) {
    let text = String::from_utf8_lossy(bytes);
    let mut all: Vec<&str> = text.lines().collect();
    let mut truncated = cut;
    if cut && !all.is_empty() {
        all.remove(0);
    }
    if all.len() > lines {
        all.drain(..all.len() - lines);
        truncated = true;
    }
    (all.into_iter().map(str::to_string).collect(), truncated)
}

fn newest(allocations: &[Allocation]) -> Option<&Allocation> {
    allocations
        .iter()
        .max_by_key(|a| (a.create_index, a.create_time))
}

/// The validated `lines` and `max_bytes` of a request.
pub(super) fn bounds(request: &LogsRequest) -> Result<(usize, u64), ServiceError> {
    let lines = request.lines.unwrap_or(DEFAULT_LINES);
    if lines == 0 || lines > MAX_LINES {
        return Err(invalid(
            "lines",
            format!("{lines} is out of range; use 1 to {MAX_LINES}"),
        ));
    }
    let max_bytes = request.max_bytes.unwrap_or(DEFAULT_LOG_BYTES);
    if max_bytes == 0 || max_bytes > MAX_LOG_BYTES {
        return Err(invalid(
            "max_bytes",
            format!("{max_bytes} is out of range; use 1 to {MAX_LOG_BYTES}"),
        ));
    }
    Ok((lines, max_bytes))
}

/// What a log read failing with "not found" means to the caller.
pub(super) fn missing_log(log: &LogRequest) -> impl FnOnce() -> String + '_ {
    move || {
        format!(
            "no {} log for task '{}' of allocation '{}'",
            log.stream, log.task, log.alloc_id
        )
    }
}

impl Service {
    pub async fn get_job_logs(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: Option<&str>,
        request: LogsRequest,
    ) -> Result<LogsResult, ServiceError> {
        self.with_job_hint(job_id, namespace, async move {
            let namespace = self.namespace(namespace);
            self.allow(who, Access::Read, Some(&namespace), "get_job_logs")
                .await?;
            let (lines, max_bytes) = bounds(&request)?;
            let log = self.log_target(who, job_id, &namespace, &request).await?;
            let bytes = self
                .nomad
                .log_tail(&log, max_bytes, &self.in_namespace(&namespace))
                .await
                .map_err(|e| ServiceError::from_nomad(e, missing_log(&log)))?;
            let cut = bytes.len() as u64 >= max_bytes;
            let (lines, truncated) = last_lines(&bytes, lines, cut);
            Ok(LogsResult {
                job_id: job_id.to_string(),
                alloc_id: log.alloc_id,
                task: log.task,
                stream: request.stream,
                lines,
                truncated,
                followed: None,
            })
        })
        .await
    }

    /// The log a request names: its allocation (the job's newest unless named) and task
    /// (the only one unless named), checked against the job.
    pub(super) async fn log_target(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: &str,
        request: &LogsRequest,
    ) -> Result<LogRequest, ServiceError> {
        let alloc = match &request.alloc_id {
            Some(id) => self.read_allocation(who, id, namespace).await?,
            None => {
                let answer = self
                    .nomad
                    .job_allocations(job_id, false, &self.in_namespace(namespace))
                    .await
                    .map(|r| r.value);
                let allocations = self
                    .job_list(job_id, namespace, "allocations", answer)
                    .await?;
                let newest = newest(&allocations).ok_or_else(|| {
                    ServiceError::NotFound(format!(
                        "job '{job_id}' in namespace '{namespace}' has no allocations yet"
                    ))
                })?;
                // The list stub has no task states; read the full allocation.
                self.read_allocation(who, &newest.id, namespace).await?
            }
        };
        if alloc.job_id != job_id {
            return Err(invalid(
                "alloc_id",
                format!(
                    "allocation '{}' belongs to job '{}', not '{job_id}'",
                    alloc.id, alloc.job_id
                ),
            ));
        }
        let tasks: Vec<&String> = alloc.task_states.keys().collect();
        let task = match (&request.task, tasks.as_slice()) {
            (Some(t), _) if tasks.contains(&t) => t.clone(),
            (Some(t), _) => {
                return Err(invalid(
                    "task",
                    format!(
                        "allocation '{}' has no task '{t}'; its tasks: {}",
                        alloc.id,
                        join(&tasks)
                    ),
                ));
            }
            (None, [only]) => (*only).clone(),
            (None, []) => {
                return Err(ServiceError::Conflict(format!(
                    "allocation '{}' has not started any task yet",
                    alloc.id
                )));
            }
            (None, _) => {
                return Err(invalid(
                    "task",
                    format!(
                        "allocation '{}' runs several tasks; name one of: {}",
                        alloc.id,
                        join(&tasks)
                    ),
                ));
            }
        };
        Ok(LogRequest {
            alloc_id: alloc.id,
            task,
            stream: request.stream.as_str().to_string(),
        })
    }
}

fn join(names: &[&String]) -> String {
    names
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_keeps_the_end_and_drops_a_cut_first_line() {
        let (lines, truncated) = last_lines(b"ial line\nb\nc\nd\n", 10, true);
        assert_eq!(lines, ["b", "c", "d"]);
        assert!(truncated);
        let (lines, truncated) = last_lines(b"a\nb\nc\n", 2, false);
        assert_eq!(lines, ["b", "c"]);
        assert!(truncated);
        let (lines, truncated) = last_lines(b"a\nb\n", 5, false);
        assert_eq!(lines, ["a", "b"]);
        assert!(!truncated);
    }
}
