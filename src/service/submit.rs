//! Creating and changing jobs: the simplified spec, full JSON or HCL2 submissions, plans.

use super::guard::WriteCall;
use crate::service::policy::Access;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::jobs::{WriteResult, invalid, write_result};
use super::spec::CreateJobSpec;
use super::{Principal, Service, ServiceError};
use crate::nomad::types::Job;
use crate::nomad::{JobRegistration, ParseRequest};
use crate::operations::placement::{asks_of, explain};

/// A full job: Nomad JSON (bare or `{"Job": ...}`) or HCL2 text.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubmitJobRequest {
    /// The job as a JSON object.
    #[serde(default)]
    pub job: Option<Value>,
    /// Or the job as text: JSON, or HCL2 parsed by Nomad.
    #[serde(default)]
    pub definition: Option<String>,
    /// HCL2 variables (`-var name=value`).
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Overrides the job's namespace.
    #[serde(default)]
    pub namespace: Option<String>,
}

/// What a plan found: the diff and, per group, why placements would fail.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct PlanResult {
    pub job_id: String,
    pub namespace: String,
    /// Nomad's structured diff (`Type`: Added, Edited, Deleted, None).
    pub diff: Option<Value>,
    /// The same diff in words, one line per change (at most 40, then a line counting the
    /// rest): "group web: Count 2 → 3"; empty when the job would not change.
    pub job_changes: Vec<String>,
    /// Allocations Nomad would create, update, stop... per group.
    pub changes: BTreeMap<String, BTreeMap<String, u64>>,
    /// Plain sentences per group that could not be placed; empty when all fit.
    pub placement_failures: BTreeMap<String, Vec<String>>,
    pub warnings: Vec<String>,
    pub job_modify_index: u64,
}

impl Service {
    /// Registers a job built from the simplified spec.
    pub async fn create_job(
        &self,
        who: &Principal,
        spec: CreateJobSpec,
    ) -> Result<WriteResult, ServiceError> {
        let call = WriteCall {
            operation: "create_job",
            access: Access::Write,
            namespace: Some(self.namespace(spec.namespace.as_deref())),
            job_id: Some(spec.job_id.clone()),
            arguments: serde_json::to_value(&spec).unwrap_or_default(),
        };
        self.audited(who, call, async {
            spec.validate().map_err(ServiceError::Validation)?;
            let job = spec.to_nomad_job(self.nomad.default_namespace());
            self.register(job, self.write.expected_version).await
        })
        .await
    }

    /// Registers a full job given as JSON or HCL2.
    pub async fn submit_job(
        &self,
        who: &Principal,
        request: SubmitJobRequest,
    ) -> Result<WriteResult, ServiceError> {
        let call = WriteCall {
            operation: "submit_job",
            access: Access::Write,
            namespace: Some(self.namespace(request.namespace.as_deref())),
            job_id: request
                .job
                .as_ref()
                .and_then(|j| j.get("Job").unwrap_or(j).get("ID"))
                .and_then(|v| v.as_str())
                .map(String::from),
            arguments: serde_json::to_value(&request).unwrap_or_default(),
        };
        self.audited(who, call, async {
            let mut job = self.job_from(&request).await?;
            if let Some(namespace) = request.namespace.filter(|n| !n.is_empty()) {
                job["Namespace"] = Value::String(namespace);
            }
            // The namespace the job itself names is the one that counts. Unrecorded here:
            // the write's own event records a refusal.
            let namespace = self.namespace(job.get("Namespace").and_then(Value::as_str));
            self.check_policy(who, Access::Write, Some(&namespace), "submit_job")?;
            self.register(job, self.write.expected_version).await
        })
        .await
    }

    /// The job JSON from a submit request, parsing HCL through Nomad when needed.
    pub(super) async fn job_from(&self, request: &SubmitJobRequest) -> Result<Value, ServiceError> {
        let job = match (&request.job, &request.definition) {
            (Some(job), None) => job.clone(),
            (None, Some(text)) if text.trim_start().starts_with('{') => serde_json::from_str(text)
                .map_err(|e| {
                    invalid(
                        "definition",
                        format!("looks like JSON but does not parse: {e}"),
                    )
                })?,
            (None, Some(hcl)) => {
                let parse = ParseRequest {
                    job_hcl: hcl.clone(),
                    canonicalize: true,
                    variables: request.variables.clone(),
                };
                self.nomad.parse_job(&parse).await.map_err(|e| {
                    ServiceError::from_nomad(e, || {
                        "Nomad's job parser is not available".to_string()
                    })
                })?
            }
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "definition",
                    "give either job (a JSON object) or definition (text), not both",
                ));
            }
            (None, None) => {
                return Err(invalid(
                    "job",
                    "is required: a Nomad job as JSON, or definition with JSON or HCL text",
                ));
            }
        };
        // Accept both the bare job and the API's `{"Job": {...}}` envelope.
        let job = match job {
            Value::Object(mut map) if map.len() == 1 && map.contains_key("Job") => {
                map.remove("Job").unwrap_or_default()
            }
            other => other,
        };
        match job.get("ID").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => Ok(job),
            _ if !job.is_object() => Err(invalid("job", "must be a JSON object (a Nomad job)")),
            _ => Err(invalid("job.ID", "is required: the job's ID")),
        }
    }

    pub(super) async fn register(
        &self,
        job: Value,
        enforce_index: Option<u64>,
    ) -> Result<WriteResult, ServiceError> {
        let job_id = job["ID"].as_str().unwrap_or_default().to_string();
        let namespace = self.namespace(job.get("Namespace").and_then(Value::as_str));
        let registration = JobRegistration { job, enforce_index };
        let answer = match self
            .nomad
            .register_job(&registration, &self.in_namespace(&namespace))
            .await
        {
            Ok(answer) => answer,
            Err(crate::nomad::NomadError::Conflict { .. }) if enforce_index.is_some() => {
                return Err(self
                    .changed_meanwhile(&job_id, &namespace, enforce_index.unwrap_or_default())
                    .await);
            }
            Err(e) => {
                return Err(ServiceError::from_nomad(e, || {
                    format!("namespace '{namespace}' not found")
                }));
            }
        };
        Ok(write_result(&job_id, &namespace, answer))
    }

    /// The conflict of a write with `expected_version`: what the job is now.
    async fn changed_meanwhile(
        &self,
        job_id: &str,
        namespace: &str,
        expected: u64,
    ) -> ServiceError {
        match self.read_job(job_id, namespace).await {
            Ok(job) => ServiceError::Conflict(format!(
                "job '{job_id}' changed meanwhile: its current version is {} (job_modify_index {}), not expected_version {expected}; read the job again and retry with expected_version {}",
                job.version, job.job_modify_index, job.job_modify_index
            )),
            Err(ServiceError::NotFound(_)) => ServiceError::Conflict(format!(
                "job '{job_id}' does not exist in namespace '{namespace}', so expected_version {expected} cannot match; use expected_version 0 to create it"
            )),
            Err(_) => ServiceError::Conflict(format!(
                "job '{job_id}' changed meanwhile: expected_version {expected} is no longer its modify index"
            )),
        }
    }

    /// A dry run of a submission: what would change and what could not be placed.
    pub async fn plan_job(
        &self,
        who: &Principal,
        request: SubmitJobRequest,
    ) -> Result<PlanResult, ServiceError> {
        self.allow(who, Access::Read, None, "plan_job").await?;
        let mut job = self.job_from(&request).await?;
        if let Some(namespace) = request.namespace.filter(|n| !n.is_empty()) {
            job["Namespace"] = Value::String(namespace);
        }
        let job_id = job["ID"].as_str().unwrap_or_default().to_string();
        let namespace = self.namespace(job.get("Namespace").and_then(Value::as_str));
        self.permit(who, Access::Read, Some(&namespace), "plan_job")?;
        let plan = self
            .nomad
            .plan_job(&job_id, &job, &self.in_namespace(&namespace))
            .await
            .map_err(|e| {
                ServiceError::from_nomad(e, || format!("namespace '{namespace}' not found"))
            })?;
        let asks = serde_json::from_value::<Job>(job.clone())
            .map(|j| asks_of(&j))
            .unwrap_or_default();
        let changes = plan
            .annotations
            .as_ref()
            .and_then(|a| a.get("DesiredTGUpdates"))
            .and_then(|u| {
                serde_json::from_value::<BTreeMap<String, BTreeMap<String, u64>>>(u.clone()).ok()
            })
            .unwrap_or_default();
        let placement_failures = plan
            .failed_tg_allocs
            .iter()
            .map(|(group, metric)| {
                (
                    group.clone(),
                    explain(group, metric, asks.get(group).copied().unwrap_or_default()),
                )
            })
            .collect();
        Ok(PlanResult {
            job_id,
            namespace,
            job_changes: plan
                .diff
                .as_ref()
                .map(|d| super::job_diff::describe(d, super::job_diff::MAX_LINES))
                .unwrap_or_default(),
            diff: plan.diff,
            changes,
            placement_failures,
            warnings: plan
                .warnings
                .lines()
                .map(str::trim)
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect(),
            job_modify_index: plan.job_modify_index,
        })
    }
}
