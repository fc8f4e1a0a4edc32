//! What an operation is: its state machine, per-group progress, and the view callers read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::operations::OperationRow;

/// `pending` → `evaluating` → `deploying` → `succeeded` | `failed` | `cancelled` | `superseded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Accepted; Nomad has not answered yet.
    Pending,
    /// Nomad's scheduler is working on the evaluation.
    Evaluating,
    /// Allocations are being placed, started or stopped, or a deployment rolls out.
    Deploying,
    Succeeded,
    Failed,
    /// Cancelled on request (`POST /api/v1/operations/{id}/cancel`).
    Cancelled,
    /// A later change to the same job replaced this one before it finished.
    Superseded,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Pending,
        State::Evaluating,
        State::Deploying,
        State::Succeeded,
        State::Failed,
        State::Cancelled,
        State::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Evaluating => "evaluating",
            State::Deploying => "deploying",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
            State::Superseded => "superseded",
        }
    }

    pub fn parse(text: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            State::Succeeded | State::Failed | State::Cancelled | State::Superseded
        )
    }
}

/// One task group's progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupProgress {
    pub desired: u64,
    pub placed: u64,
    pub healthy: u64,
    pub unhealthy: u64,
}

/// What a write set off, as the write's answer tells it: what the watcher follows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    pub job_id: Option<String>,
    pub namespace: Option<String>,
    pub eval_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_eval_ids: Vec<String>,
    pub job_modify_index: Option<u64>,
    pub deployment_id: Option<String>,
    pub node_id: Option<String>,
    pub dispatched_job_id: Option<String>,
    pub reverted_to_version: Option<u64>,
    /// Set when the write is complete as soon as Nomad answered (an in-place restart,
    /// cancelling a drain): the final message.
    pub done: Option<String>,
}

/// The `progress` column: per-group numbers and what is being followed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    #[serde(default)]
    pub groups: BTreeMap<String, GroupProgress>,
    #[serde(default)]
    pub facts: Facts,
}

impl Progress {
    pub fn of(row: &OperationRow) -> Progress {
        serde_json::from_value(row.progress.clone()).unwrap_or_default()
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// A tracked write as callers see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Operation {
    /// UUID v7: sorts by creation time.
    pub id: String,
    /// `create`, `submit`, `stop`, `restart`, `scale`, `dispatch`, `revert`, `promote`,
    /// `fail`, `drain`, `evaluate` (a forced evaluation), `reschedule` (a stopped
    /// allocation), `write-variable` or `delete-variable`.
    pub kind: String,
    pub state: State,
    /// True once `state` is final (`succeeded`, `failed`, `cancelled`, `superseded`).
    pub finished: bool,
    /// What happened, in plain words.
    pub message: Option<String>,
    /// Who asked for it.
    pub caller: String,
    pub namespace: Option<String>,
    pub job_id: Option<String>,
    pub node_id: Option<String>,
    /// The child job a dispatch created.
    pub dispatched_job_id: Option<String>,
    pub eval_id: Option<String>,
    pub job_version: Option<u64>,
    pub job_modify_index: Option<u64>,
    pub deployment_id: Option<String>,
    /// Per task group: desired, placed, healthy, unhealthy allocations.
    pub groups: BTreeMap<String, GroupProgress>,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    /// The gateway process following it, while it is followed.
    pub followed_by: Option<String>,
}

fn rfc3339(t: &crate::db::operations::Timestamp) -> String {
    t.to_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl From<&OperationRow> for Operation {
    fn from(row: &OperationRow) -> Operation {
        let progress = Progress::of(row);
        let state = State::parse(&row.state).unwrap_or(State::Pending);
        Operation {
            id: row.id.to_string(),
            kind: row.kind.clone(),
            state,
            finished: state.is_final(),
            message: row.message.clone(),
            caller: row.caller_subject.clone(),
            namespace: row.namespace.clone(),
            job_id: row.job_id.clone(),
            node_id: row.node_id.clone(),
            dispatched_job_id: progress.facts.dispatched_job_id.clone(),
            eval_id: row.nomad_eval_id.clone(),
            job_version: row.job_version.map(|v| v as u64),
            job_modify_index: row.job_modify_index.map(|v| v as u64),
            deployment_id: row.deployment_id.clone(),
            groups: progress.groups,
            created_at: rfc3339(&row.created_at),
            updated_at: rfc3339(&row.updated_at),
            finished_at: row.finished_at.as_ref().map(rfc3339),
            followed_by: row
                .lease_owner
                .clone()
                .filter(|_| row.finished_at.is_none()),
        }
    }
}

/// The kind an audited operation records, when it is one that is tracked.
pub fn kind_of(operation: &str) -> Option<&'static str> {
    Some(match operation {
        "create_job" => "create",
        "submit_job" => "submit",
        "stop_job" => "stop",
        "restart_job" => "restart",
        "scale_job" => "scale",
        "dispatch_job" => "dispatch",
        "revert_job" => "revert",
        "promote_deployment" => "promote",
        "fail_deployment" => "fail",
        "drain_node" => "drain",
        "force_evaluate_job" => "evaluate",
        "stop_allocation" => "reschedule",
        "put_variable" => "write-variable",
        "delete_variable" => "delete-variable",
        "pause_deployment" => "pause",
        "resume_deployment" => "resume",
        "unblock_deployment" => "unblock",
        "set_allocation_health" => "set-health",
        "purge_node" => "purge-node",
        _ => return None,
    })
}

pub const KINDS: [&str; 19] = [
    "create",
    "submit",
    "stop",
    "restart",
    "scale",
    "dispatch",
    "revert",
    "promote",
    "fail",
    "drain",
    "evaluate",
    "reschedule",
    "write-variable",
    "delete-variable",
    "pause",
    "resume",
    "unblock",
    "set-health",
    "purge-node",
];
