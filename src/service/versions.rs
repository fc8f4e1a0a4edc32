//! What changed in a job: its versions, each with what changed from the one before
//! (Nomad's `diffs=true`), and the changes between any two versions (`diff_version`,
//! Nomad 1.9 and later), in words (`job_diff`).

use serde::{Deserialize, Serialize};

use super::job_diff::{self, MAX_LINES};
use super::jobs::invalid;
use super::{Page, PageRequest, Principal, Service, ServiceError, timestamp};
use crate::nomad::NomadError;
use crate::nomad::types::{Job, JobVersions};
use crate::service::policy::Access;

/// Lines of changes a version in a list shows at most.
pub const LINES_PER_VERSION: usize = 12;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct JobVersion {
    pub version: u64,
    pub stable: bool,
    pub submitted_at: Option<String>,
    pub job_modify_index: u64,
    /// With `changes`: what changed from the version before, one line each (at most 12,
    /// compare_job_versions shows more); empty for a version that changed nothing Nomad
    /// compares, absent for the first version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<String>>,
}

impl JobVersion {
    fn of(job: &Job, changes: Option<Vec<String>>) -> JobVersion {
        JobVersion {
            version: job.version,
            stable: job.stable,
            submitted_at: timestamp(job.submit_time),
            job_modify_index: job.job_modify_index,
            changes,
        }
    }
}

/// The changes between two versions of a job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct VersionComparison {
    pub job_id: String,
    pub namespace: String,
    /// The version compared against (the older one, usually).
    pub from_version: u64,
    pub to_version: u64,
    /// What `to_version` changes relative to `from_version`, one line each (at most 40,
    /// then a line counting the rest); empty when they do not differ.
    pub changes: Vec<String>,
}

impl Service {
    /// A job's versions, newest first; with `changes`, each with what changed from the
    /// version before it.
    pub async fn list_job_versions(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: Option<&str>,
        changes: bool,
        page: &PageRequest,
    ) -> Result<Page<JobVersion>, ServiceError> {
        self.with_job_hint(job_id, namespace, async move {
            let namespace = self.namespace(namespace);
            self.allow(who, Access::Read, Some(&namespace), "list_job_versions")
                .await?;
            let versions = self.versions(job_id, &namespace, changes, None).await?;
            // Nomad's Diffs[i] is what Versions[i] changed from Versions[i + 1].
            let rows = versions
                .versions
                .iter()
                .enumerate()
                .map(|(i, job)| {
                    let described = changes
                        .then(|| versions.diffs.get(i))
                        .flatten()
                        .map(|diff| job_diff::describe(diff, LINES_PER_VERSION));
                    JobVersion::of(job, described)
                })
                .collect();
            page.of(rows)
        })
        .await
    }

    /// What `to` (the current version when `None`) changes relative to `from`.
    pub async fn compare_job_versions(
        &self,
        who: &Principal,
        job_id: &str,
        namespace: Option<&str>,
        from: Option<u64>,
        to: Option<u64>,
    ) -> Result<VersionComparison, ServiceError> {
        self.with_job_hint(job_id, namespace, async move {
            let namespace = self.namespace(namespace);
            self.allow(who, Access::Read, Some(&namespace), "compare_job_versions")
                .await?;
            let from = from.ok_or_else(|| {
                invalid("from", "name the version to compare against (list_job_versions shows them)")
            })?;
            let versions = self.versions(job_id, &namespace, true, Some(from)).await?;
            let known: Vec<u64> = versions.versions.iter().map(|j| j.version).collect();
            let missing = |v: u64| {
                invalid(
                    if v == from { "from" } else { "to" },
                    format!(
                        "job '{job_id}' has no version {v} in namespace '{namespace}'; its versions are {}",
                        list(&known)
                    ),
                )
            };
            if !known.contains(&from) {
                return Err(missing(from));
            }
            let to = to.or(known.first().copied()).unwrap_or(from);
            let Some(at) = known.iter().position(|v| *v == to) else {
                return Err(missing(to));
            };
            // With `diff_version`, Nomad diffs every version against that one; a Nomad
            // before 1.9 ignores the parameter and answers one diff fewer than versions.
            if versions.diffs.len() != versions.versions.len() {
                return Err(invalid(
                    "from",
                    "this Nomad does not compare a job's versions with a chosen one (Nomad 1.9 and later do); list_job_versions with changes shows what each version changed from the one before",
                ));
            }
            Ok(VersionComparison {
                job_id: job_id.to_string(),
                namespace: namespace.clone(),
                from_version: from,
                to_version: to,
                changes: job_diff::describe(&versions.diffs[at], MAX_LINES),
            })
        })
        .await
    }

    /// The job's versions (and diffs); a job Nomad does not have is "job not found".
    async fn versions(
        &self,
        job_id: &str,
        namespace: &str,
        diffs: bool,
        diff_version: Option<u64>,
    ) -> Result<JobVersions, ServiceError> {
        match self
            .nomad
            .job_versions(job_id, diffs, diff_version, &self.in_namespace(namespace))
            .await
        {
            Ok(versions) => Ok(versions.value),
            // `nomad/job_endpoint.go` GetJobVersions: an unknown `diff_version` is a plain
            // error ("version 7 not found"), which Nomad answers with a 500.
            Err(NomadError::Server { message, .. })
                if diff_version
                    .is_some_and(|v| message.contains(&format!("version {v} not found"))) =>
            {
                Err(invalid(
                    "from",
                    format!(
                        "job '{job_id}' has no version {} in namespace '{namespace}'; list_job_versions shows its versions",
                        diff_version.unwrap_or_default()
                    ),
                ))
            }
            // Nomad answers 404 "job versions not found" for a job it does not have; the
            // job's own read says whether that is what happened.
            Err(e) => Err(self.job_part_failed(job_id, namespace, "versions", e).await),
        }
    }
}

fn list(versions: &[u64]) -> String {
    versions
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
