//! Where it runs: Nomad-native services (`provider = "nomad"`) of a namespace, one
//! service's instances (address, port, allocation, node) with the health of their
//! checks, and an allocation's check results.
//!
//! Nomad keeps check results on the client that runs the allocation and serves them per
//! allocation (`/v1/allocation/:id/checks`), so reading a service's health costs one call
//! per allocation: they go out together, for the first `CHECKED_ALLOCATIONS` allocations
//! only. Nomad answers a service name nothing registered with `[]` and status 200
//! (`command/agent/service_registration_endpoint.go` turns a nil list into an empty one);
//! here that is "service not found".

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::jobs::invalid;
use super::suggest::similar_names;
use super::{Page, PageRequest, Principal, Service, ServiceError, timestamp};
use crate::nomad::types::{CheckQueryResult, ServiceRegistration};
use crate::service::policy::Access;

/// Instances a service read shows at most (`instance_count` says how many there are).
pub const MAX_INSTANCES: usize = 200;
/// Allocations whose check results a service read asks for, at once.
pub const CHECKED_ALLOCATIONS: usize = 20;
/// Bytes of a check's output kept (an HTTP check's output can be the response body).
pub const MAX_CHECK_OUTPUT: usize = 1024;

/// A service name in a namespace, with every tag its instances carry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ServiceRow {
    pub name: String,
    pub namespace: String,
    /// The tags of all its instances, sorted.
    pub tags: Vec<String>,
}

/// The latest run of one check.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct CheckStatus {
    /// The check's name.
    pub name: String,
    /// The service it checks.
    pub service: String,
    /// The task of a task-level service; absent for a group service.
    pub task: Option<String>,
    /// `success`, `failure` or `pending` (not run yet).
    pub status: String,
    /// `healthiness` (deployments wait for it) or `readiness` (`on_update = "ignore"`).
    pub mode: String,
    /// What the check saw, at most 1024 bytes.
    pub output: String,
    /// The output was longer and is cut.
    pub output_truncated: bool,
    /// The HTTP status an HTTP check got.
    pub http_status: Option<u16>,
    /// When it ran.
    pub checked_at: Option<String>,
}

impl From<&CheckQueryResult> for CheckStatus {
    fn from(c: &CheckQueryResult) -> Self {
        let (output, output_truncated) = bounded(&c.output, MAX_CHECK_OUTPUT);
        CheckStatus {
            name: c.check.clone(),
            service: c.service.clone(),
            task: Some(c.task.clone()).filter(|t| !t.is_empty()),
            status: c.status.clone(),
            mode: c.mode.clone(),
            output,
            output_truncated,
            http_status: Some(c.status_code).filter(|s| *s != 0),
            checked_at: timestamp(c.timestamp.saturating_mul(1_000_000_000)),
        }
    }
}

/// The text cut to at most `max` bytes, on a character boundary; whether it was cut.
fn bounded(text: &str, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text.to_string(), false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_string(), true)
}

/// An allocation's check results.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AllocationChecks {
    pub alloc_id: String,
    pub namespace: String,
    pub job_id: String,
    /// Sorted by service, then check; empty when the allocation has no Nomad service
    /// check, has not started, or has stopped (Nomad keeps results only meanwhile).
    pub checks: Vec<CheckStatus>,
}

/// What an instance's checks say.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Every check succeeds.
    Passing,
    /// At least one check fails.
    Failing,
    /// No check fails, but one has not run yet.
    Pending,
    /// The service has no check results in its allocation (no check defined).
    Unchecked,
}

impl Health {
    fn of(checks: &[CheckStatus]) -> Health {
        let any = |status: &str| checks.iter().any(|c| c.status == status);
        if checks.is_empty() {
            Health::Unchecked
        } else if any("failure") {
            Health::Failing
        } else if checks.iter().all(|c| c.status == "success") {
            Health::Passing
        } else {
            Health::Pending
        }
    }
}

/// One registered instance of a service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ServiceInstance {
    /// Nomad's registration ID.
    pub id: String,
    pub address: String,
    pub port: u64,
    pub alloc_id: String,
    pub node_id: String,
    pub job_id: String,
    pub datacenter: String,
    pub tags: Vec<String>,
    /// What its checks say; null when they were not read (see `checks_note`).
    pub health: Option<Health>,
    /// This service's checks in the instance's allocation; null when they were not read.
    pub checks: Option<Vec<CheckStatus>>,
    /// Why the checks could not be read (the allocation's client did not answer...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks_error: Option<String>,
}

/// Instances by health.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct HealthCounts {
    pub passing: u64,
    pub failing: u64,
    pub pending: u64,
    pub unchecked: u64,
    /// Instances whose checks were not read.
    pub not_read: u64,
}

/// One service: where its instances run and how their checks stand.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ServiceDetail {
    pub name: String,
    pub namespace: String,
    /// The tags of all its instances, sorted.
    pub tags: Vec<String>,
    /// How many instances are registered.
    pub instance_count: u64,
    /// The instances, at most 200, in Nomad's order.
    pub instances: Vec<ServiceInstance>,
    /// The instances shown, by health.
    pub health: HealthCounts,
    /// Says when not every instance shown has its checks read: only the allocations of
    /// the first 20 are asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks_note: Option<String>,
}

fn sorted_union<'a>(tags: impl Iterator<Item = &'a String>) -> Vec<String> {
    tags.cloned().collect::<BTreeSet<_>>().into_iter().collect()
}

impl Service {
    /// The services of a namespace (`*`: of every namespace the caller may read).
    pub async fn list_services(
        &self,
        who: &Principal,
        namespace: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<ServiceRow>, ServiceError> {
        let namespace = self.namespace(namespace);
        self.allow(who, Access::Read, Some(&namespace), "list_services")
            .await?;
        page.limit()?;
        page.offset()?;
        let rows = self.service_rows(&namespace).await?;
        page.of(rows
            .into_iter()
            .filter(|row| who.namespaces.allows(&row.namespace))
            .collect())
    }

    /// Every service of a namespace, sorted by namespace and name.
    async fn service_rows(&self, namespace: &str) -> Result<Vec<ServiceRow>, ServiceError> {
        let lists = self
            .nomad
            .list_services(&self.in_namespace(namespace))
            .await
            .map_err(|e| {
                ServiceError::from_nomad(e, || format!("namespace '{namespace}' not found"))
            })?
            .value;
        let mut rows: Vec<ServiceRow> = lists
            .into_iter()
            .flat_map(|list| {
                let namespace = list.namespace;
                list.services.into_iter().map(move |s| ServiceRow {
                    name: s.service_name,
                    namespace: namespace.clone(),
                    tags: sorted_union(s.tags.iter()),
                })
            })
            .collect();
        rows.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        Ok(rows)
    }

    /// One service's instances in a namespace, each with the health of its checks.
    pub async fn get_service(
        &self,
        who: &Principal,
        name: &str,
        namespace: Option<&str>,
    ) -> Result<ServiceDetail, ServiceError> {
        let namespace = self.namespace(namespace);
        self.allow(who, Access::Read, Some(&namespace), "get_service")
            .await?;
        if namespace == "*" {
            return Err(invalid(
                "namespace",
                "a service is read in one namespace; list the services with namespace '*' to see where it is registered",
            ));
        }
        let registrations: Vec<ServiceRegistration> = self
            .nomad
            .read_service(name, &self.in_namespace(&namespace))
            .await
            .map_err(|e| {
                ServiceError::from_nomad(e, || {
                    format!("service '{name}' not found in namespace '{namespace}'")
                })
            })?
            .value
            .into_iter()
            .filter(|r| r.namespace == namespace)
            .collect();
        if registrations.is_empty() {
            return Err(ServiceError::NotFound(
                self.service_missing(name, &namespace).await,
            ));
        }
        let instance_count = registrations.len() as u64;
        let tags = sorted_union(registrations.iter().flat_map(|r| r.tags.iter()));
        let shown: Vec<ServiceRegistration> =
            registrations.into_iter().take(MAX_INSTANCES).collect();
        let checked = self.checks_of(&shown, &namespace).await;
        let mut health = HealthCounts::default();
        let instances: Vec<ServiceInstance> = shown
            .into_iter()
            .map(|r| {
                let (checks, checks_error) = match checked.get(&r.alloc_id) {
                    None => (None, None),
                    Some(Err(error)) => (None, Some(error.clone())),
                    Some(Ok(results)) => {
                        let mine: Vec<CheckStatus> = results
                            .iter()
                            .filter(|c| c.service == r.service_name)
                            .cloned()
                            .collect();
                        (Some(mine), None)
                    }
                };
                let instance_health = checks.as_deref().map(Health::of);
                match instance_health {
                    Some(Health::Passing) => health.passing += 1,
                    Some(Health::Failing) => health.failing += 1,
                    Some(Health::Pending) => health.pending += 1,
                    Some(Health::Unchecked) => health.unchecked += 1,
                    None => health.not_read += 1,
                }
                ServiceInstance {
                    id: r.id,
                    address: r.address,
                    port: r.port,
                    alloc_id: r.alloc_id,
                    node_id: r.node_id,
                    job_id: r.job_id,
                    datacenter: r.datacenter,
                    tags: r.tags,
                    health: instance_health,
                    checks,
                    checks_error,
                }
            })
            .collect();
        let unread = instances.iter().filter(|i| i.checks.is_none()).count();
        let checks_note = (unread > 0).then(|| {
            format!(
                "checks of {unread} instance(s) not read: the checks of the first {CHECKED_ALLOCATIONS} allocations are read, or an allocation's client did not answer; get_allocation_checks (GET /api/v1/allocations/{{alloc_id}}/checks) reads one"
            )
        });
        Ok(ServiceDetail {
            name: name.to_string(),
            namespace,
            tags,
            instance_count,
            instances,
            health,
            checks_note,
        })
    }

    /// The check results of the first `CHECKED_ALLOCATIONS` allocations among these
    /// instances, read at once: per allocation, its results (sorted) or why they could
    /// not be read. Instances come from a namespace the caller was allowed, so their
    /// allocations are in it.
    async fn checks_of(
        &self,
        instances: &[ServiceRegistration],
        namespace: &str,
    ) -> BTreeMap<String, Result<Vec<CheckStatus>, String>> {
        let mut allocations: Vec<&str> = Vec::new();
        for r in instances {
            if allocations.len() == CHECKED_ALLOCATIONS {
                break;
            }
            if !allocations.contains(&r.alloc_id.as_str()) {
                allocations.push(&r.alloc_id);
            }
        }
        let options = self.in_namespace(namespace);
        let reads = allocations.iter().map(|alloc_id| {
            let options = &options;
            async move {
                let answer = self
                    .nomad
                    .allocation_checks(alloc_id, options)
                    .await
                    .map(|results| sorted_checks(results.values()))
                    .map_err(|e| {
                        ServiceError::from_nomad(e, || {
                            format!("the checks of allocation '{alloc_id}' are not available (its client may be unreachable)")
                        })
                        .to_string()
                    });
                (alloc_id.to_string(), answer)
            }
        });
        futures::future::join_all(reads).await.into_iter().collect()
    }

    /// "Service not found", with the services of that namespace with a similar name (or
    /// the advice to list them).
    async fn service_missing(&self, name: &str, namespace: &str) -> String {
        let message = format!("service '{name}' not found in namespace '{namespace}'");
        let names = match self.service_rows(namespace).await {
            Ok(rows) => rows.into_iter().map(|r| r.name).collect::<Vec<_>>(),
            Err(_) => Vec::new(),
        };
        let similar = similar_names(name, names.iter().map(String::as_str));
        if similar.is_empty() {
            format!(
                "{message}; list the services (list_services, GET /api/v1/services) to see which are registered"
            )
        } else {
            format!(
                "{message}; services with a similar name: {}",
                similar.join(", ")
            )
        }
    }

    /// An allocation's check results.
    pub async fn get_allocation_checks(
        &self,
        who: &Principal,
        alloc_id: &str,
        namespace: Option<&str>,
    ) -> Result<AllocationChecks, ServiceError> {
        let namespace = self.namespace(namespace);
        self.allow(who, Access::Read, Some(&namespace), "get_allocation_checks")
            .await?;
        let missing = || format!("allocation '{alloc_id}' not found in namespace '{namespace}'");
        let alloc = self.read_allocation(who, alloc_id, &namespace).await?;
        // With `*`, an allocation is found in any namespace: only the caller's count.
        if !who.namespaces.allows(&alloc.namespace) {
            return Err(ServiceError::NotFound(missing()));
        }
        let results = self
            .nomad
            .allocation_checks(&alloc.id, &self.in_namespace(&alloc.namespace))
            .await
            .map_err(|e| ServiceError::from_nomad(e, missing))?;
        Ok(AllocationChecks {
            alloc_id: alloc.id,
            namespace: alloc.namespace,
            job_id: alloc.job_id,
            checks: sorted_checks(results.values()),
        })
    }
}

/// Check results sorted by service, then task, then check name.
fn sorted_checks<'a>(results: impl Iterator<Item = &'a CheckQueryResult>) -> Vec<CheckStatus> {
    let mut checks: Vec<CheckStatus> = results.map(CheckStatus::from).collect();
    checks.sort_by(|a, b| (&a.service, &a.task, &a.name).cmp(&(&b.service, &b.task, &b.name)));
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_cut_on_a_character_boundary() {
        assert_eq!(bounded("ok", 10), ("ok".to_string(), false));
        let (cut, truncated) = bounded("ééé", 3);
        assert_eq!((cut.as_str(), truncated), ("é", true));
    }

    #[test]
    fn health_follows_the_worst_check() {
        let check = |status: &str| CheckStatus {
            name: "c".into(),
            service: "s".into(),
            task: None,
            status: status.into(),
            mode: "healthiness".into(),
            output: String::new(),
            output_truncated: false,
            http_status: None,
            checked_at: None,
        };
        assert_eq!(Health::of(&[]), Health::Unchecked);
        assert_eq!(Health::of(&[check("success")]), Health::Passing);
        assert_eq!(
            Health::of(&[check("success"), check("pending")]),
            Health::Pending
        );
        assert_eq!(
            Health::of(&[check("pending"), check("failure")]),
            Health::Failing
        );
    }
}
