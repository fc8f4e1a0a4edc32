//! Completing IDs as a person types them (MCP `completion/complete` for prompt arguments
//! and resource-template variables): the namespaces, jobs, nodes or allocations whose name
//! or ID starts with the typed text, among those the caller may read, sorted, at most
//! `MAX_COMPLETIONS`. Each is read through the same service function as its list tool, so
//! the caller's scopes and namespaces apply and a namespace they may not read completes to
//! nothing.

use super::jobs::ListJobsRequest;
use super::nodes::NodeFilter;
use super::{Page, PageRequest, Principal, Service, ServiceError};

/// The most values one answer holds (the MCP specification's limit).
pub const MAX_COMPLETIONS: usize = 100;

/// What an argument names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Namespace,
    Job,
    Node,
    Allocation,
}

impl IdKind {
    /// The kind an argument or template variable of this name holds, if any.
    pub fn of_argument(name: &str) -> Option<IdKind> {
        match name {
            "namespace" => Some(IdKind::Namespace),
            "job_id" => Some(IdKind::Job),
            "node_id" => Some(IdKind::Node),
            "alloc_id" => Some(IdKind::Allocation),
            _ => None,
        }
    }
}

/// Candidate values, and whether more exist than were given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    pub values: Vec<String>,
    /// How many match in all, when known.
    pub total: Option<usize>,
    pub has_more: bool,
}

impl Completion {
    /// Sorted, deduplicated and cut to `MAX_COMPLETIONS`; `complete` says whether the
    /// source gave every candidate.
    fn of(mut values: Vec<String>, typed: &str, complete: bool) -> Completion {
        values.retain(|v| v.starts_with(typed));
        values.sort();
        values.dedup();
        let total = values.len();
        values.truncate(MAX_COMPLETIONS);
        Completion {
            has_more: !complete || total > values.len(),
            total: complete.then_some(total),
            values,
        }
    }
}

/// A page's values, and whether it was the last.
fn values<T>(page: Page<T>, value: impl Fn(T) -> String) -> (Vec<String>, bool) {
    let complete = page.next_cursor.is_none();
    (page.items.into_iter().map(value).collect(), complete)
}

impl Service {
    /// The values of `kind` starting with `typed`; jobs and allocations in `namespace`
    /// (the gateway's default when absent). An allocation needs at least one typed
    /// character (Nomad's prefix search), the others complete from nothing too.
    pub async fn complete_ids(
        &self,
        who: &Principal,
        kind: IdKind,
        typed: &str,
        namespace: Option<&str>,
    ) -> Result<Completion, ServiceError> {
        let typed = typed.trim();
        let most = PageRequest::new(None, Some(200));
        let (values, complete) = match kind {
            IdKind::Namespace => values(self.list_namespaces(who, &most).await?, |n| n.name),
            IdKind::Job => {
                let request = ListJobsRequest {
                    namespace: namespace.map(str::to_string),
                    prefix: Some(typed.to_string()).filter(|p| !p.is_empty()),
                    limit: Some(MAX_COMPLETIONS as u32 + 1),
                    ..ListJobsRequest::default()
                };
                values(self.list_jobs(who, request).await?, |j| j.id)
            }
            IdKind::Node => values(
                self.list_nodes(who, &NodeFilter::default(), &most).await?,
                |n| n.id,
            ),
            IdKind::Allocation if typed.is_empty() => (Vec::new(), false),
            IdKind::Allocation => {
                let found = self
                    .search_ids(who, typed, Some("allocs"), namespace)
                    .await?;
                let complete = found.matches.iter().all(|m| !m.truncated);
                let ids = found.matches.into_iter().flat_map(|m| m.ids).collect();
                (ids, complete)
            }
        };
        Ok(Completion::of(values, typed, complete))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completion_keeps_the_matches_sorted_and_bounded() {
        let values = vec!["web-b".into(), "api".into(), "web-a".into(), "web-a".into()];
        let c = Completion::of(values, "web", true);
        assert_eq!(c.values, ["web-a", "web-b"]);
        assert_eq!((c.total, c.has_more), (Some(2), false));
        let many: Vec<String> = (0..150).map(|i| format!("job-{i:03}")).collect();
        let c = Completion::of(many, "job-", true);
        assert_eq!(c.values.len(), MAX_COMPLETIONS);
        assert_eq!((c.total, c.has_more), (Some(150), true));
        let c = Completion::of(vec!["a".into()], "", false);
        assert_eq!((c.total, c.has_more), (None, true));
    }
}
