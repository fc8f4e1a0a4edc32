//! Steering running jobs: stop, scale, dispatch, evaluate, revert, restart.

use super::guard::WriteCall;
use crate::service::policy::Access;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::jobs::{WriteResult, invalid, not_found, write_result};
use super::{Principal, Service, ServiceError};

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScaleRequest {
    /// The task group to scale; may be left out when the job has one group.
    #[serde(default)]
    pub group: Option<String>,
    #[schema(minimum = 0, maximum = 1000)]
    pub count: i64,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DispatchRequest {
    /// Payload as UTF-8 text (Nomad caps it at 16 KiB).
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
    /// Nomad answers a repeated dispatch with the same token with the first child job.
    #[serde(default)]
    pub idempotency_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct DispatchResult {
    pub dispatched_job_id: String,
    pub eval_id: Option<String>,
    pub namespace: String,
    /// The operation that follows this change (`GET /api/v1/operations/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// With `wait`: the operation as it stood when the wait ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<crate::operations::Operation>,
    /// With `wait`, when the write could not be followed: why (the gateway\'s database
    /// was unavailable, so the write has no tracked operation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_followed: Option<String>,
}

/// How `restart_job` restarts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestartMode {
    /// Restart the tasks of every running allocation where it runs, all at once.
    #[default]
    InPlace,
    /// Re-register the job so Nomad replaces allocations one batch at a time, following
    /// the job's update strategy (health checks, auto-revert).
    Redeploy,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct RestartResult {
    pub job_id: String,
    pub namespace: String,
    pub mode: RestartMode,
    /// In place: the allocations whose tasks were restarted.
    pub restarted_allocations: Vec<String>,
    /// Redeploy: the evaluation that starts the rolling deployment.
    pub eval_id: Option<String>,
    /// The operation that follows this change (`GET /api/v1/operations/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// With `wait`: the operation as it stood when the wait ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<crate::operations::Operation>,
    /// With `wait`, when the write could not be followed: why (the gateway\'s database
    /// was unavailable, so the write has no tracked operation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_followed: Option<String>,
}

/// Meta key whose change forces a new job version for a rolling re-deploy.
const RESTART_META_KEY: &str = "nomad_gateway_restarted_at";
const DISPATCH_PAYLOAD_LIMIT: usize = 16 * 1024;

impl Service {
    /// Stops the job; with `purge` Nomad forgets it at once instead of garbage-collecting.
    pub async fn stop_job(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: Option<&str>,
        purge: bool,
    ) -> Result<WriteResult, ServiceError> {
        self.with_job_hint(job_id, namespace, async move {
            let namespace = self.namespace(namespace);
            let call = WriteCall::job(
                "stop_job",
                &namespace,
                job_id,
                serde_json::json!({"purge": purge}),
            );
            self.audited(who, call, async {
                let answer = self
                    .nomad
                    .deregister_job(job_id, purge, &self.in_namespace(&namespace))
                    .await
                    .map_err(|e| ServiceError::from_nomad(e, not_found(job_id, &namespace)))?;
                Ok(write_result(job_id, &namespace, answer))
            })
            .await
        })
        .await
    }

    pub async fn scale_job(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: Option<&str>,
        request: ScaleRequest,
    ) -> Result<WriteResult, ServiceError> {
        self.with_job_hint(job_id, namespace, async move {
            let call = WriteCall {
                operation: "scale_job",
                access: Access::Write,
                namespace: Some(self.namespace(namespace)),
                job_id: Some(job_id.to_string()),
                arguments: serde_json::json!({"group": request.group, "count": request.count, "message": request.message}),
            };
            self.audited(who, call, async {
                if !(0..=1000).contains(&request.count) {
                    return Err(invalid(
                        "count",
                        format!("{} is out of range; use 0 to 1000", request.count),
                    ));
                }
                let namespace = self.namespace(namespace);
                let job = self.read_job(job_id, &namespace).await?;
                let groups: Vec<&str> = job.task_groups.iter().map(|g| g.name.as_str()).collect();
                let group = match (&request.group, groups.as_slice()) {
                    (Some(g), _) if groups.contains(&g.as_str()) => g.clone(),
                    (Some(g), _) => {
                        return Err(invalid(
                            "group",
                            format!(
                                "job '{job_id}' has no group '{g}'; its groups: {}",
                                groups.join(", ")
                            ),
                        ));
                    }
                    (None, [only]) => only.to_string(),
                    (None, _) => {
                        return Err(invalid(
                            "group",
                            format!(
                                "job '{job_id}' has several groups; name one of: {}",
                                groups.join(", ")
                            ),
                        ));
                    }
                };
                let message = request
                    .message
                    .unwrap_or_else(|| format!("scaled to {} through nomad-gateway", request.count));
                let answer = self
                    .nomad
                    .scale_job(
                        job_id,
                        &group,
                        request.count,
                        &message,
                        &self.in_namespace(&namespace),
                    )
                    .await
                    .map_err(|e| ServiceError::from_nomad(e, not_found(job_id, &namespace)))?;
                Ok(write_result(job_id, &namespace, answer))
            })
            .await
        })
        .await
    }

    pub async fn dispatch_job(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: Option<&str>,
        request: DispatchRequest,
    ) -> Result<DispatchResult, ServiceError> {
        self.with_job_hint(job_id, namespace, async move {
            let call = WriteCall {
                operation: "dispatch_job",
                access: Access::Write,
                namespace: Some(self.namespace(namespace)),
                job_id: Some(job_id.to_string()),
                arguments: serde_json::json!({"payload": request.payload, "meta": request.meta, "idempotency_token": request.idempotency_token}),
            };
            self.audited(who, call, async {
                if request
                    .payload
                    .as_ref()
                    .is_some_and(|p| p.len() > DISPATCH_PAYLOAD_LIMIT)
                {
                    return Err(invalid("payload", "is larger than Nomad's limit of 16 KiB"));
                }
                let namespace = self.namespace(namespace);
                let answer = self
                    .nomad
                    .dispatch_job(
                        job_id,
                        request.payload.as_deref().map(str::as_bytes),
                        &request.meta,
                        request.idempotency_token.as_deref(),
                        &self.in_namespace(&namespace),
                    )
                    .await
                    .map_err(|e| ServiceError::from_nomad(e, not_found(job_id, &namespace)))?;
                Ok(DispatchResult {
                    dispatched_job_id: answer.dispatched_job_id,
                    eval_id: Some(answer.eval_id).filter(|e| !e.is_empty()),
                    namespace,
                    operation_id: None,
                    operation: None,
                    not_followed: None,
                })
            })
            .await
        })
        .await
    }

    /// Asks the scheduler to look at the job again; `force_reschedule` replaces failed
    /// allocations now instead of after their reschedule delay.
    pub async fn force_evaluate_job(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: Option<&str>,
        force_reschedule: bool,
    ) -> Result<WriteResult, ServiceError> {
        self.with_job_hint(job_id, namespace, async move {
            let namespace = self.namespace(namespace);
            let call = WriteCall::job(
                "force_evaluate_job",
                &namespace,
                job_id,
                serde_json::json!({"force_reschedule": force_reschedule}),
            );
            self.audited(who, call, async {
                let answer = self
                    .nomad
                    .evaluate_job(job_id, force_reschedule, &self.in_namespace(&namespace))
                    .await
                    .map_err(|e| ServiceError::from_nomad(e, not_found(job_id, &namespace)))?;
                Ok(write_result(job_id, &namespace, answer))
            })
            .await
        })
        .await
    }

    pub async fn revert_job(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: Option<&str>,
        version: u64,
    ) -> Result<WriteResult, ServiceError> {
        self.with_job_hint(job_id, namespace, async move {
            let namespace = self.namespace(namespace);
            let call = WriteCall::job(
                "revert_job",
                &namespace,
                job_id,
                serde_json::json!({"version": version}),
            );
            self.audited(who, call, async {
                let answer = self
                    .nomad
                    .revert_job(job_id, version, None, &self.in_namespace(&namespace))
                    .await
                    .map_err(|e| ServiceError::from_nomad(e, not_found(job_id, &namespace)))?;
                Ok(write_result(job_id, &namespace, answer))
            })
            .await
        })
        .await
    }

    pub async fn restart_job(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: Option<&str>,
        mode: RestartMode,
    ) -> Result<RestartResult, ServiceError> {
        self.with_job_hint(job_id, namespace, async move {
            let namespace = self.namespace(namespace);
            let call = WriteCall::job(
                "restart_job",
                &namespace,
                job_id,
                serde_json::json!({"mode": format!("{mode:?}")}),
            );
            self.audited(who, call, async {
                let options = self.in_namespace(&namespace);
                let mut result = RestartResult {
                    job_id: job_id.to_string(),
                    namespace: namespace.clone(),
                    mode,
                    restarted_allocations: Vec::new(),
                    eval_id: None,
                    operation_id: None,
                    operation: None,
                    not_followed: None,
                };
                match mode {
                    RestartMode::InPlace => {
                        let answer = self
                            .nomad
                            .job_allocations(job_id, false, &options)
                            .await
                            .map(|r| r.value);
                        let allocations = self
                            .job_list(job_id, &namespace, "allocations", answer)
                            .await?;
                        for alloc in allocations.iter().filter(|a| a.client_status == "running") {
                            self.nomad
                                .restart_allocation(&alloc.id, None, &options)
                                .await
                                .map_err(|e| {
                                    ServiceError::from_nomad(e, || {
                                        format!("allocation '{}' is gone", alloc.id)
                                    })
                                })?;
                            result.restarted_allocations.push(alloc.id.clone());
                        }
                        if result.restarted_allocations.is_empty() {
                            return Err(ServiceError::Conflict(format!(
                                "job '{job_id}' has no running allocation to restart"
                            )));
                        }
                    }
                    RestartMode::Redeploy => {
                        // The raw JSON, so every field of the job survives the round trip.
                        let mut job = self
                            .nomad
                            .read_job_json(job_id, &options)
                            .await
                            .map_err(|e| {
                                ServiceError::from_nomad(e, not_found(job_id, &namespace))
                            })?
                            .value;
                        let index = job["JobModifyIndex"].as_u64().unwrap_or_default();
                        if !job["Meta"].is_object() {
                            job["Meta"] = Value::Object(Default::default());
                        }
                        job["Meta"][RESTART_META_KEY] =
                            Value::String(chrono::Utc::now().to_rfc3339());
                        // EnforceIndex: a change made meanwhile is not overwritten.
                        result.eval_id = self.register(job, Some(index)).await?.eval_id;
                    }
                }
                Ok(result)
            })
            .await
        })
        .await
    }
}
