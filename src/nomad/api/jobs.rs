//! `/v1/jobs` and `/v1/job/:job_id/...`.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

use crate::nomad::client::{Call, NomadClient, segment};
use crate::nomad::error::NomadError;
use crate::nomad::query::{QueryOptions, Response};
use crate::nomad::types::*;

/// A job to register, with optional `EnforceIndex` protection.
#[derive(Debug, Clone)]
pub struct JobRegistration {
    /// The job in Nomad's JSON form (the value of `"Job"`).
    pub job: Value,
    /// Register only if the job's `JobModifyIndex` is still this (0: only if it is new).
    pub enforce_index: Option<u64>,
}

/// HCL2 to parse into a job with `/v1/jobs/parse`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParseRequest {
    #[serde(rename = "JobHCL")]
    pub job_hcl: String,
    pub canonicalize: bool,
    /// HCL2 variables. Nomad takes them as the text of a variables file
    /// (`JobsParseRequest.Variables` is a string in Nomad's `api/jobs.go`), so the
    /// map is written out as `name = "value"` lines.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "variables_file"
    )]
    pub variables: BTreeMap<String, String>,
}

fn variables_file<S: serde::Serializer>(
    variables: &BTreeMap<String, String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut text = String::new();
    for (name, value) in variables {
        // A JSON string literal is also a valid HCL string literal for these escapes.
        let quoted = serde_json::to_string(value).map_err(serde::ser::Error::custom)?;
        text.push_str(&format!("{name} = {quoted}\n"));
    }
    serializer.serialize_str(&text)
}

fn job_call(operation: &'static str, template: &'static str, id: &str, suffix: &str) -> Call {
    Call {
        operation,
        template,
        path: format!("/v1/job/{}{suffix}", segment(id)),
    }
}

impl NomadClient {
    pub async fn list_jobs(
        &self,
        options: &QueryOptions,
    ) -> Result<Response<Vec<JobListStub>>, NomadError> {
        let call = Call {
            operation: "list jobs",
            template: "/v1/jobs",
            path: "/v1/jobs".into(),
        };
        self.get(call, options, &[]).await
    }

    pub async fn read_job(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<Response<Job>, NomadError> {
        self.get(
            job_call("read the job", "/v1/job/{job_id}", id, ""),
            options,
            &[],
        )
        .await
    }

    /// The job as Nomad's raw JSON, for changes that must keep every field.
    pub async fn read_job_json(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<Response<Value>, NomadError> {
        self.get(
            job_call("read the job", "/v1/job/{job_id}", id, ""),
            options,
            &[],
        )
        .await
    }

    pub async fn register_job(
        &self,
        registration: &JobRegistration,
        options: &QueryOptions,
    ) -> Result<JobWriteResponse, NomadError> {
        let mut body = json!({ "Job": registration.job });
        if let Some(index) = registration.enforce_index {
            body["EnforceIndex"] = json!(true);
            body["JobModifyIndex"] = json!(index);
        }
        let call = Call {
            operation: "register the job",
            template: "/v1/jobs",
            path: "/v1/jobs".into(),
        };
        self.write(call, Method::PUT, options, &[], Some(&body))
            .await
    }

    /// Parses HCL2 into Nomad's JSON job, without registering anything.
    pub async fn parse_job(&self, request: &ParseRequest) -> Result<Value, NomadError> {
        let call = Call {
            operation: "parse the job specification",
            template: "/v1/jobs/parse",
            path: "/v1/jobs/parse".into(),
        };
        self.write(
            call,
            Method::POST,
            &QueryOptions::default(),
            &[],
            Some(request),
        )
        .await
    }

    /// A dry run: what would change and what could not be placed.
    pub async fn plan_job(
        &self,
        id: &str,
        job: &Value,
        options: &QueryOptions,
    ) -> Result<JobPlanResponse, NomadError> {
        let body = json!({ "Job": job, "Diff": true, "PolicyOverride": false });
        let call = job_call("plan the job", "/v1/job/{job_id}/plan", id, "/plan");
        self.write(call, Method::POST, options, &[], Some(&body))
            .await
    }

    /// Stops the job; with `purge` Nomad also forgets it.
    pub async fn deregister_job(
        &self,
        id: &str,
        purge: bool,
        options: &QueryOptions,
    ) -> Result<JobWriteResponse, NomadError> {
        let call = job_call("stop the job", "/v1/job/{job_id}", id, "");
        let extra = [("purge", purge.to_string())];
        self.write(call, Method::DELETE, options, &extra, None::<&()>)
            .await
    }

    /// The allocation counts by group; 404 "job not found" for a job Nomad does not have.
    pub async fn job_summary(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<Response<JobSummary>, NomadError> {
        let call = job_call(
            "read the job summary",
            "/v1/job/{job_id}/summary",
            id,
            "/summary",
        );
        self.get(call, options, &[]).await
    }

    /// The job's allocations; `all` includes those of earlier job versions. Like the
    /// evaluations and deployments, `[]` for a job Nomad does not have (200, not 404:
    /// `command/agent/job_endpoint.go` reads them by job ID).
    pub async fn job_allocations(
        &self,
        id: &str,
        all: bool,
        options: &QueryOptions,
    ) -> Result<Response<Vec<Allocation>>, NomadError> {
        let call = job_call(
            "list the job's allocations",
            "/v1/job/{job_id}/allocations",
            id,
            "/allocations",
        );
        self.get(call, options, &[("all", all.to_string())]).await
    }

    pub async fn job_evaluations(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<Response<Vec<Evaluation>>, NomadError> {
        let call = job_call(
            "list the job's evaluations",
            "/v1/job/{job_id}/evaluations",
            id,
            "/evaluations",
        );
        self.get(call, options, &[]).await
    }

    pub async fn job_deployments(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<Response<Vec<Deployment>>, NomadError> {
        let call = job_call(
            "list the job's deployments",
            "/v1/job/{job_id}/deployments",
            id,
            "/deployments",
        );
        self.get(call, options, &[]).await
    }

    /// The most recent deployment, `None` when there is none: Nomad answers `null` with 200
    /// for a job without a deployment, and for a job it does not have
    /// (`jobLatestDeployment` in `command/agent/job_endpoint.go`).
    pub async fn job_latest_deployment(
        &self,
        id: &str,
        options: &QueryOptions,
    ) -> Result<Response<Option<Deployment>>, NomadError> {
        let call = job_call(
            "read the job's latest deployment",
            "/v1/job/{job_id}/deployment",
            id,
            "/deployment",
        );
        self.get(call, options, &[]).await
    }

    /// Every version of the job, newest first; 404 "job versions not found" for a job Nomad
    /// does not have. With `diffs`, Nomad's contextual diff of each version against the one
    /// before it, or with `diff_version` (Nomad 1.9 and later) against that version.
    pub async fn job_versions(
        &self,
        id: &str,
        diffs: bool,
        diff_version: Option<u64>,
        options: &QueryOptions,
    ) -> Result<Response<JobVersions>, NomadError> {
        let call = job_call(
            "list the job's versions",
            "/v1/job/{job_id}/versions",
            id,
            "/versions",
        );
        let mut query = vec![("diffs", diffs.to_string())];
        if let Some(version) = diff_version {
            query.push(("diff_version", version.to_string()));
        }
        self.get(call, options, &query).await
    }

    /// Reverts to `version`; `enforce_prior_version` guards against a concurrent change.
    pub async fn revert_job(
        &self,
        id: &str,
        version: u64,
        enforce_prior_version: Option<u64>,
        options: &QueryOptions,
    ) -> Result<JobWriteResponse, NomadError> {
        let mut body = json!({ "JobID": id, "JobVersion": version });
        if let Some(prior) = enforce_prior_version {
            body["EnforcePriorVersion"] = json!(prior);
        }
        let call = job_call("revert the job", "/v1/job/{job_id}/revert", id, "/revert");
        self.write(call, Method::POST, options, &[], Some(&body))
            .await
    }

    pub async fn scale_job(
        &self,
        id: &str,
        group: &str,
        count: i64,
        message: &str,
        options: &QueryOptions,
    ) -> Result<JobWriteResponse, NomadError> {
        let body = json!({ "Count": count, "Target": { "Group": group }, "Message": message });
        let call = job_call("scale the job", "/v1/job/{job_id}/scale", id, "/scale");
        self.write(call, Method::POST, options, &[], Some(&body))
            .await
    }

    /// Dispatches a parameterized job. `payload` is raw bytes (sent base64, as Nomad's
    /// `[]byte` JSON encoding wants); the idempotency token makes retries safe.
    pub async fn dispatch_job(
        &self,
        id: &str,
        payload: Option<&[u8]>,
        meta: &BTreeMap<String, String>,
        idempotency_token: Option<&str>,
        options: &QueryOptions,
    ) -> Result<JobWriteResponse, NomadError> {
        use base64::Engine;
        let mut body = json!({ "JobID": id, "Meta": meta });
        if let Some(payload) = payload {
            body["Payload"] = json!(base64::engine::general_purpose::STANDARD.encode(payload));
        }
        let extra: Vec<(&'static str, String)> = idempotency_token
            .map(|t| vec![("idempotency_token", t.to_string())])
            .unwrap_or_default();
        let call = job_call(
            "dispatch the job",
            "/v1/job/{job_id}/dispatch",
            id,
            "/dispatch",
        );
        self.write(call, Method::POST, options, &extra, Some(&body))
            .await
    }

    /// Creates a new evaluation of the job; `force_reschedule` also replaces failed
    /// allocations now.
    pub async fn evaluate_job(
        &self,
        id: &str,
        force_reschedule: bool,
        options: &QueryOptions,
    ) -> Result<JobWriteResponse, NomadError> {
        let body = json!({ "JobID": id, "EvalOptions": { "ForceReschedule": force_reschedule } });
        let call = job_call(
            "evaluate the job",
            "/v1/job/{job_id}/evaluate",
            id,
            "/evaluate",
        );
        self.write(call, Method::POST, options, &[], Some(&body))
            .await
    }
}
