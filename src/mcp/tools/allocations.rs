//! Allocations: list a job's, read one, restart, stop; and task logs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bounded::Keep;
use super::{Ctx, Kind, Line, Summary, ToolDef, define, define_list};
use crate::mcp::progress::operation_text;
use crate::service::PageRequest;
use crate::service::allocations::{
    AllocationDetail, AllocationRow, AllocationStop, AllocationUsage,
};
use crate::service::consequences::Change;
use crate::service::log_follow::{FollowEnd, MAX_FOLLOW_BYTES};
use crate::service::log_search::{LogSearchRequest, LogSearchResult};
use crate::service::logs::{LogStream, LogsRequest, LogsResult};
use crate::service::policy::Access;

pub fn tools() -> Vec<ToolDef> {
    vec![
        define_list(
            "list_allocations",
            "List a job's allocations",
            "List a job's allocations (instances): node, desired and actual status, deployment \
             health. Only the current version's unless `all_versions`.",
            Access::Read,
            |ctx: Ctx, input: ListAllocationsInput| async move {
                let namespace = input.namespace.as_deref();
                let page = PageRequest::new(input.cursor, input.limit);
                let all = input.all_versions;
                ctx.service
                    .list_allocations(&ctx.who, &input.job_id, namespace, all, &page)
                    .await
            },
        ),
        define(
            "get_allocation",
            "Get an allocation",
            "Show an allocation: node, status, and per task its state, restarts and last events \
             (why it was killed, failed or restarted). get_job_logs shows its output.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: AllocationRef| async move {
                ctx.service
                    .get_allocation(&ctx.who, &input.alloc_id, input.namespace.as_deref())
                    .await
            },
        ),
        define(
            "restart_allocation",
            "Restart an allocation's tasks",
            "Restart one allocation's tasks (one with `task`, or all) in place on its node; it \
             keeps its ID. stop_allocation has it replaced instead.",
            Kind::Write,
            Access::Write,
            |ctx: Ctx, input: RestartAllocationInput| async move {
                ctx.service
                    .restart_allocation(
                        &ctx.who,
                        &input.alloc_id,
                        input.namespace.as_deref(),
                        input.task.as_deref(),
                    )
                    .await?;
                Ok(AllocationRestarted {
                    alloc_id: input.alloc_id,
                    task: input.task,
                })
            },
        ),
        define(
            "stop_allocation",
            "Stop an allocation",
            "Stop one allocation; the scheduler places a replacement, possibly on another node, if \
             the job still wants it. Use it to move an instance off a bad node.",
            Kind::Destructive { idempotent: true },
            Access::Write,
            |ctx: Ctx, input: StopAllocationInput| async move {
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let namespace = input.namespace.as_deref();
                let stop = service.stop_allocation(&ctx.who, &input.alloc_id, namespace);
                ctx.write(&service, input.wait, stop).await
            },
        )
        .asks(|i: StopAllocationInput| Change::StopAllocation {
            alloc_id: i.alloc_id,
            namespace: i.namespace,
        }),
        define(
            "get_allocation_usage",
            "Get an allocation's resource usage",
            "Show what each task of an allocation uses now, CPU (MHz) and memory, against what it \
             reserved; says when a task is near its memory limit.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: AllocationRef| async move {
                ctx.service
                    .get_allocation_usage(&ctx.who, &input.alloc_id, input.namespace.as_deref())
                    .await
            },
        ),
        define(
            "signal_allocation",
            "Send a signal to a task",
            "Send a signal (SIGHUP, SIGUSR1, SIGTERM...) to one task of an allocation, or to all; \
             e.g. to make a task reload its configuration.",
            Kind::Destructive { idempotent: false },
            Access::Write,
            |ctx: Ctx, input: SignalInput| async move {
                ctx.service
                    .signal_allocation(
                        &ctx.who,
                        &input.alloc_id,
                        input.namespace.as_deref(),
                        &input.signal,
                        input.task.as_deref(),
                    )
                    .await?;
                Ok(AllocationSignalled {
                    alloc_id: input.alloc_id,
                    signal: input.signal,
                    task: input.task,
                })
            },
        )
        .asks(|i: SignalInput| Change::SignalAllocation {
            alloc_id: i.alloc_id,
            namespace: i.namespace,
            signal: i.signal,
            task: i.task,
        }),
        define(
            "get_job_logs",
            "Read a job's task logs",
            "Read the last lines of a task's stdout or stderr: the job's newest allocation and its \
             only task unless `alloc_id` and `task` say otherwise. Capped; `truncated` says when \
             older output exists. `follow_seconds` also waits for new lines, sent as progress \
             as they come.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: LogsInput| async move {
                let namespace = input.namespace.as_deref();
                let request = LogsRequest {
                    alloc_id: input.alloc_id.clone(),
                    task: input.task.clone(),
                    stream: match input.stream {
                        StreamInput::Stdout => LogStream::Stdout,
                        StreamInput::Stderr => LogStream::Stderr,
                    },
                    lines: input.lines,
                    max_bytes: input.max_bytes,
                };
                let Some(seconds) = input.follow_seconds else {
                    return ctx
                        .service
                        .get_job_logs(&ctx.who, &input.job_id, namespace, request)
                        .await;
                };
                let mut follow = ctx
                    .service
                    .follow_job_logs(&ctx.who, &input.job_id, namespace, request, Some(seconds))
                    .await?;
                while let Some(lines) = follow.next_lines().await {
                    ctx.progress.report(&new_lines_note(&lines)).await;
                }
                Ok(follow.into_result())
            },
        ),
        define(
            "search_job_logs",
            "Search a job's logs",
            "Find a text (case-insensitive) in the last KiB of stdout and stderr of every task of \
             a job's newest allocations, with line context and allocation IDs.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: LogSearchInput| async move {
                let request = LogSearchRequest {
                    pattern: input.pattern,
                    stream: input.stream.map(|s| match s {
                        StreamInput::Stdout => LogStream::Stdout,
                        StreamInput::Stderr => LogStream::Stderr,
                    }),
                    tail_kib: input.tail_kib,
                    context: input.context,
                    max_matches: input.max_matches,
                };
                let namespace = input.namespace.as_deref();
                ctx.service
                    .search_job_logs(&ctx.who, &input.job_id, namespace, request)
                    .await
            },
        ),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAllocationsInput {
    /// The job's ID.
    pub job_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Include allocations of earlier job versions.
    #[serde(default)]
    pub all_versions: bool,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationRef {
    /// The allocation's full ID (list_allocations shows it).
    pub alloc_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartAllocationInput {
    /// The allocation's full ID.
    pub alloc_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Restart only this task; every task when left out.
    #[serde(default)]
    pub task: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalInput {
    /// The allocation's full ID.
    pub alloc_id: String,
    /// The signal's name, e.g. `SIGHUP`.
    pub signal: String,
    /// Only this task (default: every task).
    #[serde(default)]
    pub task: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// A signal sent to an allocation's tasks.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AllocationSignalled {
    pub alloc_id: String,
    pub signal: String,
    /// The task signalled; every task when absent.
    pub task: Option<String>,
}

impl Summary for AllocationSignalled {
    fn summary(&self) -> String {
        match &self.task {
            Some(task) => format!(
                "Sent {} to task '{task}' of allocation {}.",
                self.signal, self.alloc_id
            ),
            None => format!(
                "Sent {} to every task of allocation {}.",
                self.signal, self.alloc_id
            ),
        }
    }
}

impl Summary for AllocationUsage {
    fn summary(&self) -> String {
        let tasks: Vec<String> = self
            .tasks
            .iter()
            .map(|t| {
                let cpu = match (t.cpu_mhz_reserved, t.cpu_percent_of_reserved) {
                    (Some(r), Some(p)) => format!("CPU {} of {r} MHz ({p}%)", t.cpu_mhz),
                    _ => format!("CPU {} MHz", t.cpu_mhz),
                };
                let mib = t.memory_bytes as f64 / 1_048_576.0;
                let memory = match (t.memory_mb_reserved, t.memory_percent_of_reserved) {
                    (Some(r), Some(p)) => format!("memory {mib:.1} of {r} MiB ({p}%)"),
                    _ => format!("memory {mib:.1} MiB"),
                };
                format!("{}: {cpu}, {memory}", t.task)
            })
            .collect();
        let mut text = format!(
            "Allocation {} ({}): {}.",
            self.alloc_id,
            self.client_status,
            if tasks.is_empty() {
                "no task measured".into()
            } else {
                tasks.join("; ")
            }
        );
        if let Some(note) = &self.note {
            text.push_str(&format!(" Note: {note}."));
        }
        text
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopAllocationInput {
    /// The allocation's full ID.
    pub alloc_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Seconds to follow it before answering (at most 300).
    #[serde(default)]
    pub wait: Option<u64>,
    /// Retries with this key change nothing again.
    #[serde(default, skip_serializing)]
    pub idempotency_key: Option<String>,
}

/// Which output stream of a task.
#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StreamInput {
    #[default]
    Stdout,
    Stderr,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogsInput {
    /// The job's ID.
    pub job_id: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Read this allocation; default: the job's most recently created one.
    #[serde(default)]
    pub alloc_id: Option<String>,
    /// The task; may be left out when the group has one task.
    #[serde(default)]
    pub task: Option<String>,
    /// `stdout` (default) or `stderr`.
    #[serde(default)]
    pub stream: StreamInput,
    /// How many of the last lines (default 100, at most 5000).
    #[serde(default)]
    #[schemars(range(min = 1, max = 5000))]
    pub lines: Option<usize>,
    /// Byte cap on what is read (default 65536, at most 1048576).
    #[serde(default)]
    #[schemars(range(min = 1, max = 1048576))]
    pub max_bytes: Option<u64>,
    /// Then follow the log this long; the answer holds the last `lines` overall.
    #[serde(default)]
    #[schemars(range(min = 1, max = 300))]
    pub follow_seconds: Option<u64>,
}

/// A progress message with a batch of new log lines, capped in size.
fn new_lines_note(lines: &[String]) -> String {
    const MAX_NOTE_BYTES: usize = 8 * 1024;
    let mut note = String::new();
    for (shown, line) in lines.iter().enumerate() {
        if note.len() + line.len() > MAX_NOTE_BYTES {
            note.push_str(&format!(
                "[{} more line(s) not shown here]",
                lines.len() - shown
            ));
            break;
        }
        note.push_str(line);
        note.push('\n');
    }
    note.truncate(note.trim_end_matches('\n').len());
    note
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogSearchInput {
    /// The job's ID.
    pub job_id: String,
    /// The text to find (not a regular expression).
    pub pattern: String,
    /// `stdout` or `stderr` (default: both).
    #[serde(default)]
    pub stream: Option<StreamInput>,
    /// KiB read from the end of each log (default 256).
    #[serde(default)]
    #[schemars(range(min = 1, max = 1024))]
    pub tail_kib: Option<u64>,
    /// Lines shown around each match (default 0).
    #[serde(default)]
    #[schemars(range(max = 5))]
    pub context: Option<usize>,
    /// Matches returned at most (default 50).
    #[serde(default)]
    #[schemars(range(min = 1, max = 200))]
    pub max_matches: Option<usize>,
    #[serde(default)]
    pub namespace: Option<String>,
}

impl Summary for LogSearchResult {
    fn summary(&self) -> String {
        let mut text = if self.matches.is_empty() {
            format!(
                "No line of the {} log(s) read matches '{}'.",
                self.logs_read, self.pattern
            )
        } else {
            let lines: Vec<String> = self
                .matches
                .iter()
                .map(|m| {
                    format!(
                        "{} {} {}:{}: {}",
                        &m.alloc_id[..m.alloc_id.len().min(8)],
                        m.task,
                        m.stream.as_str(),
                        m.line_number,
                        m.line
                    )
                })
                .collect();
            format!(
                "{} matching line(s) of '{}' in {} log(s):\n{}",
                self.total_matches,
                self.pattern,
                self.logs_read,
                lines.join("\n")
            )
        };
        if let Some(note) = &self.note {
            text.push_str(&format!("\n({note})"));
        }
        text
    }
}

/// An allocation whose tasks were restarted.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AllocationRestarted {
    pub alloc_id: String,
    /// The task restarted; every task when absent.
    pub task: Option<String>,
}

impl Line for AllocationRow {
    fn line(&self) -> String {
        format!(
            "{} {} on {}: {} (desired {})",
            self.id, self.name, self.node_name, self.client_status, self.desired_status
        )
    }
}

impl Summary for AllocationDetail {
    fn summary(&self) -> String {
        let tasks: Vec<String> = self
            .tasks
            .iter()
            .map(|t| {
                let last = t
                    .events
                    .last()
                    .map(|e| format!(", last event {}: {}", e.event_type, e.message))
                    .unwrap_or_default();
                format!("{} {} ({} restarts{last})", t.name, t.state, t.restarts)
            })
            .collect();
        format!(
            "Allocation {} of job '{}' on node {} is {} (desired {}). Tasks: {}.",
            self.summary.id,
            self.summary.job_id,
            self.summary.node_name,
            self.summary.client_status,
            self.summary.desired_status,
            tasks.join("; ")
        )
    }
}

impl Summary for AllocationRestarted {
    fn summary(&self) -> String {
        match &self.task {
            Some(task) => format!("Restarted task '{task}' of allocation {}.", self.alloc_id),
            None => format!("Restarted every task of allocation {}.", self.alloc_id),
        }
    }
}

impl Summary for AllocationStop {
    fn summary(&self) -> String {
        format!(
            "Stopped allocation {}{}.{}",
            self.alloc_id,
            self.eval_id
                .as_deref()
                .map(|e| format!("; evaluation {e} places a replacement if needed"))
                .unwrap_or_default(),
            operation_text(&self.operation, &self.not_followed)
        )
    }
}

impl Summary for LogsResult {
    /// A log's newest lines are at its end.
    const KEEP: Keep = Keep::Tail;

    fn resume(&mut self, _full: &Self, _tool: &str) -> String {
        self.truncated = true;
        format!(
            "The newest lines are kept. To find a text in older ones use search_job_logs; \
             the REST API (GET /api/v1/jobs/{}/logs) reads up to 1 MiB",
            self.job_id
        )
    }

    fn summary(&self) -> String {
        let stream = match self.stream {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        };
        let head = format!(
            "Last {} line(s) of {stream} of task '{}' in allocation {}{}:",
            self.lines.len(),
            self.task,
            self.alloc_id,
            if self.truncated {
                " (older output left out)"
            } else {
                ""
            }
        );
        let followed = match &self.followed {
            None => String::new(),
            Some(f) => format!(
                "\n[followed {:.1} s: {} new line(s); {}{}]",
                f.seconds,
                f.new_lines,
                follow_end_text(f.ended),
                f.note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
        };
        format!("{head}\n{}{followed}", self.lines.join("\n"))
    }
}

fn follow_end_text(end: FollowEnd) -> String {
    match end {
        FollowEnd::TimeUp => "the time was up".into(),
        FollowEnd::LogEnded => "Nomad ended the log (the allocation or task stopped)".into(),
        FollowEnd::ByteBudget => format!(
            "it read the most one follow reads ({} MiB)",
            MAX_FOLLOW_BYTES >> 20
        ),
        FollowEnd::Interrupted => "Nomad's stream broke off".into(),
    }
}
