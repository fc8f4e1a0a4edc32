//! "Did you mean": a job that is not found names the jobs with a similar name, so an agent
//! (or a person) that guessed an ID sees the right one. Every operation on a named job
//! runs inside `with_job_hint`, so REST and MCP give the same hint.

use std::future::Future;

use super::{Service, ServiceError};
use crate::nomad::QueryOptions;

impl Service {
    /// Runs an operation on `job_id`; a "job not found" from it gains the jobs of that
    /// namespace with a similar name (or the advice to list them). The lookup is part of
    /// the refused call: it costs no rate budget of its own.
    pub(super) async fn with_job_hint<T>(
        &self,
        job_id: &str,
        namespace: Option<&str>,
        work: impl Future<Output = Result<T, ServiceError>>,
    ) -> Result<T, ServiceError> {
        match work.await {
            Err(ServiceError::NotFound(message))
                if message.starts_with(&format!("job '{job_id}' not found")) =>
            {
                Err(ServiceError::NotFound(
                    self.hinted(message, job_id, namespace).await,
                ))
            }
            other => other,
        }
    }

    async fn hinted(&self, message: String, job_id: &str, namespace: Option<&str>) -> String {
        let mut options = QueryOptions::namespace(self.namespace(namespace));
        options.per_page = Some(super::MAX_PAGE);
        let Ok(jobs) = self.nomad.list_jobs(&options).await else {
            return message;
        };
        let similar = similar_names(job_id, jobs.value.iter().map(|j| j.id.as_str()));
        if similar.is_empty() {
            format!("{message}; list the jobs (list_jobs, GET /api/v1/jobs) to see which exist")
        } else {
            format!(
                "{message}; jobs with a similar name: {}",
                similar.join(", ")
            )
        }
    }
}

/// Names that contain the wanted one (or the other way round) or are a few edits away.
pub fn similar_names<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let wanted_lower = wanted.to_lowercase();
    let mut scored: Vec<(usize, &str)> = names
        .filter(|n| *n != wanted)
        .filter_map(|n| {
            let lower = n.to_lowercase();
            let distance = edit_distance(&wanted_lower, &lower);
            let close = lower.contains(&wanted_lower)
                || (lower.len() >= 3 && wanted_lower.contains(&lower))
                || distance <= (wanted.len() / 3).max(1)
                || same_letters(&wanted_lower, &lower);
            close.then_some((distance, n))
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(5)
        .map(|(_, n)| n.to_string())
        .collect()
}

/// Swapped letters (`wbe` for `web`).
fn same_letters(a: &str, b: &str) -> bool {
    let mut a: Vec<char> = a.chars().collect();
    let mut b: Vec<char> = b.chars().collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::similar_names;

    #[test]
    fn similar_names_find_prefixes_and_typos() {
        let names = ["web-api", "worker", "db", "wbe"];
        assert_eq!(similar_names("web", names.into_iter()), ["wbe", "web-api"]);
        assert!(similar_names("postgres", names.into_iter()).is_empty());
    }
}
