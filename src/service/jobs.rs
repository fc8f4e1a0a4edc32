//! Reading jobs: the list and one job's overview, and the shapes writes answer with.

use crate::service::page::Resume;
use crate::service::policy::Access;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    DEFAULT_PAGE, FieldError, MAX_PAGE, Page, Principal, Service, ServiceError, timestamp,
};
use crate::nomad::QueryOptions;
use crate::nomad::types::{Deployment, Job, JobListStub, JobWriteResponse, TaskGroupSummary};

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListJobsRequest {
    /// A namespace, or `*` for every namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub prefix: Option<String>,
    /// `pending`, `running` or `dead`.
    #[serde(default)]
    #[param(pattern = "^(pending|running|dead)$")]
    pub status: Option<String>,
    /// `service`, `batch`, `system` or `sysbatch`.
    #[serde(default, rename = "type")]
    #[param(pattern = "^(service|batch|system|sysbatch)$")]
    pub job_type: Option<String>,
    /// The `next_cursor` of the previous page; leave it out for the first page
    /// (`next_token` is accepted too).
    #[serde(default, alias = "next_token")]
    pub cursor: Option<String>,
    /// How many per page: 1 to 200 (default 50; `per_page` is accepted too).
    #[serde(default, alias = "per_page")]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct JobRow {
    pub id: String,
    pub name: String,
    pub namespace: String,
    #[serde(rename = "type")]
    pub job_type: String,
    pub status: String,
    pub priority: i64,
    pub stop: bool,
    /// Allocations by state, summed over the job's groups.
    pub allocations: AllocationCounts,
    pub submitted_at: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AllocationCounts {
    pub queued: u64,
    pub starting: u64,
    pub running: u64,
    pub failed: u64,
    pub complete: u64,
    pub lost: u64,
}

impl AllocationCounts {
    fn add(&mut self, s: &TaskGroupSummary) {
        self.queued += s.queued;
        self.starting += s.starting;
        self.running += s.running;
        self.failed += s.failed;
        self.complete += s.complete;
        self.lost += s.lost;
    }
}

const STATUSES: [&str; 3] = ["pending", "running", "dead"];
const TYPES: [&str; 4] = ["service", "batch", "system", "sysbatch"];

fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

impl ListJobsRequest {
    fn validate(&self) -> Result<(), ServiceError> {
        let mut errors = Vec::new();
        if let Some(status) = self.status.as_deref().filter(|s| !STATUSES.contains(s)) {
            errors.push(FieldError {
                field: "status".into(),
                message: format!("'{status}' is not a job status; use pending, running or dead"),
            });
        }
        if let Some(t) = self.job_type.as_deref().filter(|t| !TYPES.contains(t)) {
            errors.push(FieldError {
                field: "type".into(),
                message: format!("'{t}' is not a job type; use service, batch, system or sysbatch"),
            });
        }
        if let Some(n) = self.limit.filter(|n| !(1..=MAX_PAGE).contains(n)) {
            errors.push(FieldError {
                field: "limit".into(),
                message: format!("{n} is out of range; use 1 to {MAX_PAGE}"),
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Validation(errors))
        }
    }

    /// Status and type go into a Nomad filter expression; Nomad refuses `prefix` next to
    /// a filter, so the prefix joins the expression then (`index.mdx`, Filtering).
    fn query(&self, namespace: String) -> QueryOptions {
        let mut terms = Vec::new();
        if let Some(status) = &self.status {
            terms.push(format!("Status == {}", quote(status)));
        }
        if let Some(t) = &self.job_type {
            terms.push(format!("Type == {}", quote(t)));
        }
        let mut options = QueryOptions::namespace(namespace);
        options.per_page = Some(self.limit.unwrap_or(DEFAULT_PAGE).min(MAX_PAGE));
        // Nomad's own pagination token is the cursor (`api/index.mdx`, Pagination).
        options.next_token = self.cursor.clone().filter(|c| !c.is_empty());
        match (&self.prefix, terms.is_empty()) {
            (Some(prefix), true) => options.prefix = Some(prefix.clone()),
            (Some(prefix), false) => {
                terms.insert(
                    0,
                    format!(
                        "ID matches {}",
                        quote(&format!("^{}", regex_escape(prefix)))
                    ),
                );
                options.filter = Some(terms.join(" and "));
            }
            (None, _) if !terms.is_empty() => options.filter = Some(terms.join(" and ")),
            _ => {}
        }
        options
    }
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(c))
        })
        .collect()
}

fn job_row(stub: JobListStub) -> JobRow {
    let mut allocations = AllocationCounts::default();
    if let Some(summary) = &stub.job_summary {
        summary.summary.values().for_each(|s| allocations.add(s));
    }
    JobRow {
        id: stub.id,
        name: stub.name,
        namespace: stub.namespace,
        job_type: stub.job_type,
        status: stub.status,
        priority: stub.priority,
        stop: stub.stop,
        allocations,
        submitted_at: timestamp(stub.submit_time),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct GroupStatus {
    pub name: String,
    pub desired: i64,
    #[serde(flatten)]
    pub allocations: AllocationCounts,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct DeploymentBrief {
    pub id: String,
    pub status: String,
    pub description: String,
    pub job_version: u64,
    /// Per group: desired, placed, healthy, unhealthy.
    pub groups: BTreeMap<String, DeploymentProgress>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct DeploymentProgress {
    pub desired: u64,
    pub placed: u64,
    pub healthy: u64,
    pub unhealthy: u64,
}

impl From<Deployment> for DeploymentBrief {
    fn from(d: Deployment) -> Self {
        DeploymentBrief {
            groups: d
                .task_groups
                .into_iter()
                .map(|(name, s)| {
                    let progress = DeploymentProgress {
                        desired: s.desired_total,
                        placed: s.placed_allocs,
                        healthy: s.healthy_allocs,
                        unhealthy: s.unhealthy_allocs,
                    };
                    (name, progress)
                })
                .collect(),
            id: d.id,
            status: d.status,
            description: d.status_description,
            job_version: d.job_version,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct JobOverview {
    pub id: String,
    pub name: String,
    pub namespace: String,
    #[serde(rename = "type")]
    pub job_type: String,
    pub status: String,
    pub status_description: String,
    pub version: u64,
    pub stable: bool,
    pub stop: bool,
    pub datacenters: Vec<String>,
    pub groups: Vec<GroupStatus>,
    pub latest_deployment: Option<DeploymentBrief>,
    pub submitted_at: Option<String>,
    /// Pass as `expected_version` to change the job only if nobody else did meanwhile.
    pub job_modify_index: u64,
}

/// What a write did: the evaluation Nomad created and the job's new modify index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct WriteResult {
    pub job_id: String,
    pub namespace: String,
    pub eval_id: Option<String>,
    pub job_modify_index: u64,
    pub warnings: Vec<String>,
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

pub(super) fn write_result(job_id: &str, namespace: &str, answer: JobWriteResponse) -> WriteResult {
    WriteResult {
        job_id: job_id.to_string(),
        namespace: namespace.to_string(),
        eval_id: Some(answer.eval_id).filter(|e| !e.is_empty()),
        job_modify_index: answer.job_modify_index,
        warnings: answer
            .warnings
            .lines()
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect(),
        operation_id: None,
        operation: None,
        not_followed: None,
    }
}

pub(super) fn not_found(job_id: &str, namespace: &str) -> impl FnOnce() -> String {
    let message = format!("job '{job_id}' not found in namespace '{namespace}'");
    move || message
}

pub(super) fn invalid(field: &str, message: impl Into<String>) -> ServiceError {
    ServiceError::Validation(vec![FieldError {
        field: field.to_string(),
        message: message.into(),
    }])
}

impl Service {
    pub async fn list_jobs(
        &self,
        who: &Principal,
        request: ListJobsRequest,
    ) -> Result<Page<JobRow>, ServiceError> {
        self.allow(
            who,
            Access::Read,
            Some(&self.namespace(request.namespace.as_deref())),
            "list_jobs",
        )
        .await?;
        request.validate()?;
        let namespace = self.namespace(request.namespace.as_deref());
        let options = request.query(namespace.clone());
        let response = self.nomad.list_jobs(&options).await.map_err(|e| {
            ServiceError::from_nomad(e, || format!("namespace '{namespace}' not found"))
        })?;
        // With `*`, only the namespaces the caller may see.
        let items: Vec<JobRow> = response
            .value
            .into_iter()
            .map(job_row)
            .filter(|row| who.namespaces.allows(&row.namespace))
            .collect();
        Ok(Page {
            // Nomad's token for a job is `<namespace>.<id>` of the first one to list
            // next, inclusive (nomad/state/paginator/tokenizer.go, NamespaceIDTokenizer).
            resume: Resume::Cursors(
                items
                    .iter()
                    .skip(1)
                    .map(|row| format!("{}.{}", row.namespace, row.id))
                    .collect(),
            ),
            items,
            // Nomad does not count the jobs of a filtered, paginated list.
            total: None,
            next_cursor: response.meta.next_token.filter(|t| !t.is_empty()),
        })
    }

    pub(super) async fn read_job(
        &self,
        job_id: &str,
        namespace: &str,
    ) -> Result<Job, ServiceError> {
        let response = self
            .nomad
            .read_job(job_id, &self.in_namespace(namespace))
            .await
            .map_err(|e| ServiceError::from_nomad(e, not_found(job_id, namespace)))?;
        Ok(response.value)
    }

    pub async fn get_job(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: Option<&str>,
    ) -> Result<JobOverview, ServiceError> {
        self.with_job_hint(job_id, namespace, async move {
            self.allow(
                who,
                Access::Read,
                Some(&self.namespace(namespace)),
                "get_job",
            )
            .await?;
            self.job_overview(job_id, &self.namespace(namespace)).await
        })
        .await
    }

    /// One job's overview, for a caller already allowed in `namespace`.
    pub(super) async fn job_overview(
        &self,
        job_id: &str,
        namespace: &str,
    ) -> Result<JobOverview, ServiceError> {
        let options = self.in_namespace(namespace);
        // The three reads go out together: one Nomad round trip instead of two. Whether the
        // job exists is its own read's to say: Nomad answers the latest deployment of any
        // job without one (existing or not) with `null`, which is no deployment, and a 404
        // from the summary or the deployment of a job just read is reported as theirs
        // (`job_parts.rs`).
        let (job, summary, deployment) = tokio::join!(
            self.read_job(job_id, namespace),
            self.nomad.job_summary(job_id, &options),
            self.nomad.job_latest_deployment(job_id, &options)
        );
        let job = job?;
        let summary = match summary {
            Ok(summary) => summary.value,
            Err(e) => return Err(self.job_part_failed(job_id, namespace, "summary", e).await),
        };
        let deployment = match deployment {
            Ok(deployment) => deployment.value,
            Err(e) => {
                return Err(self
                    .job_part_failed(job_id, namespace, "latest deployment", e)
                    .await);
            }
        };
        let groups = job
            .task_groups
            .iter()
            .map(|g| {
                let mut allocations = AllocationCounts::default();
                if let Some(s) = summary.summary.get(&g.name) {
                    allocations.add(s);
                }
                GroupStatus {
                    name: g.name.clone(),
                    desired: g.count,
                    allocations,
                }
            })
            .collect();
        Ok(JobOverview {
            id: job.id,
            name: job.name,
            namespace: job.namespace,
            job_type: job.job_type,
            status: job.status,
            status_description: job.status_description,
            version: job.version,
            stable: job.stable,
            stop: job.stop,
            datacenters: job.datacenters,
            groups,
            latest_deployment: deployment.map(DeploymentBrief::from),
            submitted_at: timestamp(job.submit_time),
            job_modify_index: job.job_modify_index,
        })
    }
}
