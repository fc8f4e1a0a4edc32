//! The cluster at a glance: leader, servers, nodes, capacity, jobs; namespaces; events.

use crate::service::page::Resume;
use crate::service::policy::Access;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Page, PageRequest, Principal, Service, ServiceError};
use crate::nomad::QueryOptions;
use crate::nomad::types::Event;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Capacity {
    pub cpu_mhz_total: i64,
    pub cpu_mhz_allocated: i64,
    pub memory_mb_total: i64,
    pub memory_mb_allocated: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ClusterStatus {
    pub leader: String,
    pub region: String,
    pub servers: Vec<ServerMember>,
    pub nodes_by_status: BTreeMap<String, u64>,
    pub capacity: Capacity,
    pub jobs_by_status: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ServerMember {
    pub name: String,
    pub address: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct NamespaceRow {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventsRequest {
    /// Topics such as `Job`, `Allocation`, `Deployment`, `Evaluation`, `Node` (default: all).
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Only events about this job.
    #[serde(default)]
    pub job_id: Option<String>,
    /// The `next_cursor` of the previous page (an event index, `123`: older events than it;
    /// or `123.2`: the rest of the events at that index, then older ones);
    /// leave it out for the newest.
    #[serde(default)]
    pub cursor: Option<String>,
    /// How many per page (default 50, at most 200).
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct EventRow {
    pub index: u64,
    pub topic: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub key: String,
    pub namespace: String,
}

fn unavailable(what: &'static str) -> impl FnOnce() -> String {
    move || format!("{what} not found")
}

impl Service {
    pub async fn get_cluster_status(&self, who: &Principal) -> Result<ClusterStatus, ServiceError> {
        self.allow(who, Access::ClusterRead, None, "get_cluster_status")
            .await?;
        let all = QueryOptions::namespace("*");
        let none = QueryOptions::default();
        let (leader, members, nodes, allocs, jobs) = tokio::join!(
            self.nomad.leader(std::time::Duration::from_secs(5)),
            self.nomad.agent_members(),
            self.nomad.list_nodes(true, &none),
            self.nomad.list_allocations(&all),
            self.nomad.list_jobs(&all),
        );
        let leader = leader.map_err(|e| ServiceError::from_nomad(e, unavailable("leader")))?;
        let members = members.map_err(|e| ServiceError::from_nomad(e, unavailable("servers")))?;
        let nodes = nodes
            .map_err(|e| ServiceError::from_nomad(e, unavailable("nodes")))?
            .value;
        let allocs = allocs
            .map_err(|e| ServiceError::from_nomad(e, unavailable("allocations")))?
            .value;
        let jobs = jobs
            .map_err(|e| ServiceError::from_nomad(e, unavailable("jobs")))?
            .value;
        let mut nodes_by_status = BTreeMap::new();
        let mut capacity = Capacity {
            cpu_mhz_total: 0,
            cpu_mhz_allocated: 0,
            memory_mb_total: 0,
            memory_mb_allocated: 0,
        };
        for node in &nodes {
            *nodes_by_status.entry(node.status.clone()).or_insert(0) += 1;
            if node.status == "ready"
                && let Some(r) = &node.node_resources
            {
                let reserved = node.reserved_resources.clone().unwrap_or_default();
                capacity.cpu_mhz_total += r.cpu.cpu_shares - reserved.cpu.cpu_shares;
                capacity.memory_mb_total += r.memory.memory_mb - reserved.memory.memory_mb;
            }
        }
        // Allocated resources come from the jobs' asks of the allocations still running.
        let asks = self.running_asks(&allocs).await;
        capacity.cpu_mhz_allocated = asks.0;
        capacity.memory_mb_allocated = asks.1;
        let mut jobs_by_status = BTreeMap::new();
        for job in &jobs {
            *jobs_by_status.entry(job.status.clone()).or_insert(0) += 1;
        }
        Ok(ClusterStatus {
            leader,
            region: members.server_region,
            servers: members
                .members
                .into_iter()
                .map(|m| ServerMember {
                    name: m.name,
                    address: format!("{}:{}", m.addr, m.port),
                    status: m.status,
                })
                .collect(),
            nodes_by_status,
            capacity,
            jobs_by_status,
        })
    }

    /// CPU and memory asked by running allocations, from their jobs' task groups.
    async fn running_asks(&self, allocs: &[crate::nomad::types::Allocation]) -> (i64, i64) {
        let mut per_job: BTreeMap<
            (String, String),
            BTreeMap<String, crate::operations::placement::GroupAsk>,
        > = BTreeMap::new();
        let mut total = (0, 0);
        for alloc in allocs
            .iter()
            .filter(|a| a.client_status == "running" || a.client_status == "pending")
        {
            let key = (alloc.namespace.clone(), alloc.job_id.clone());
            if !per_job.contains_key(&key) {
                let asks = self.group_asks(&alloc.job_id, &alloc.namespace).await;
                per_job.insert(key.clone(), asks);
            }
            if let Some(ask) = per_job[&key].get(&alloc.task_group) {
                total.0 += ask.cpu_mhz;
                total.1 += ask.memory_mb;
            }
        }
        total
    }

    pub async fn list_namespaces(
        &self,
        who: &Principal,
        page: &PageRequest,
    ) -> Result<Page<NamespaceRow>, ServiceError> {
        self.allow(who, Access::ClusterRead, None, "list_namespaces")
            .await?;
        let namespaces = self
            .nomad
            .list_namespaces(&QueryOptions::default())
            .await
            .map_err(|e| ServiceError::from_nomad(e, unavailable("namespaces")))?
            .value;
        page.of(namespaces
            .into_iter()
            .filter(|n| who.namespaces.allows(&n.name))
            .map(|n| NamespaceRow {
                name: n.name,
                description: n.description,
            })
            .collect())
    }

    /// The most recent events, newest first: the stream is opened from just before the
    /// current index (or the cursor), read until it has caught up, and closed. A page's
    /// `next_cursor` continues after its oldest event (see `EventCursor`).
    pub async fn recent_events(
        &self,
        who: &Principal,
        request: EventsRequest,
    ) -> Result<Page<EventRow>, ServiceError> {
        self.allow(
            who,
            Access::Read,
            Some(&self.namespace(request.namespace.as_deref())),
            "recent_events",
        )
        .await?;
        let page = PageRequest::new(None, request.limit);
        let limit = page.limit()? as usize;
        let before = match request.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(EventCursor::parse(c).ok_or_else(|| {
                super::jobs::invalid(
                    "cursor",
                    "is not a cursor this list handed out; leave it out for the newest events",
                )
            })?),
        };
        let topics: Vec<String> = request
            .topics
            .iter()
            .map(|t| {
                format!(
                    "{t}:{}",
                    request
                        .job_id
                        .as_deref()
                        .filter(|_| t == "Job")
                        .unwrap_or("*")
                )
            })
            .collect();
        let namespace = self.namespace(request.namespace.as_deref());
        let mut options = QueryOptions::namespace(namespace);
        if request.namespace.as_deref() == Some("*") {
            options.namespace = Some("*".into());
        }
        let current = self
            .nomad
            .list_jobs(&QueryOptions::namespace("*"))
            .await
            .map_err(|e| ServiceError::from_nomad(e, unavailable("jobs")))?
            .meta
            .last_index;
        let start = before
            .map_or(current, |b| b.index)
            .min(current)
            .saturating_sub(1000);
        let mut stream = self
            .nomad
            .event_stream(&topics, Some(start), &options)
            .await
            .map_err(|e| ServiceError::from_nomad(e, unavailable("event stream")))?;
        // A later page needs nothing newer than its cursor.
        let until = before.map_or(current, |b| b.index.min(current));
        let mut events: Vec<Event> = Vec::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
        while let Ok(Some(batch)) = tokio::time::timeout_at(deadline, stream.next_batch()).await {
            let batch =
                batch.map_err(|e| ServiceError::from_nomad(e, unavailable("event stream")))?;
            let done = batch.index >= until;
            events.extend(batch.events);
            if done {
                break;
            }
        }
        if let Some(job) = &request.job_id {
            events.retain(|e| {
                &e.key == job
                    || e.filter_keys.contains(job)
                    || e.payload.pointer("/Job/ID").and_then(|v| v.as_str()) == Some(job)
            });
        }
        // Node events have no namespace; the rest only from namespaces the caller may see.
        events.retain(|e| e.namespace.is_empty() || who.namespaces.allows(&e.namespace));
        let (newest, resume, next_cursor) = page_events(events, before, limit);
        let items: Vec<EventRow> = newest
            .into_iter()
            .map(|e| EventRow {
                index: e.index,
                topic: e.topic,
                event_type: e.event_type,
                key: e.key,
                namespace: e.namespace,
            })
            .collect();
        Ok(Page {
            next_cursor,
            resume: Resume::Cursors(resume),
            items,
            total: None,
        })
    }
}

/// Where a page of events continues: events older than `index`, or with `shown`, the
/// events at `index` after the first `shown` of them (newest first). Written `123` or
/// `123.2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EventCursor {
    index: u64,
    shown: Option<usize>,
}

impl EventCursor {
    fn parse(text: &str) -> Option<EventCursor> {
        let (index, shown) = match text.split_once('.') {
            None => (text, None),
            Some((index, shown)) => (index, Some(shown.parse().ok()?)),
        };
        Some(EventCursor {
            index: index.parse().ok()?,
            shown,
        })
    }
}

/// One page of `events` (oldest first, as the stream sends them), newest first from
/// `before`: the page, the cursor after each of its items but the last, and the cursor
/// after the page when more is left. One Nomad index often holds several events, so a
/// page that ends inside an index says how many of that index's events it showed.
fn page_events(
    events: Vec<Event>,
    before: Option<EventCursor>,
    limit: usize,
) -> (Vec<Event>, Vec<String>, Option<String>) {
    let mut newest: Vec<Event> = events.into_iter().rev().collect();
    if let Some(cursor) = before {
        newest.retain(|e| e.index <= cursor.index);
        let at_index = newest
            .iter()
            .take_while(|e| e.index == cursor.index)
            .count();
        newest.drain(..cursor.shown.map_or(at_index, |shown| shown.min(at_index)));
    }
    let shown_before = |index: u64| match before {
        Some(c) if c.index == index => c.shown.unwrap_or(0),
        _ => 0,
    };
    let cursor_after = |i: usize| {
        let index = newest[i].index;
        if newest.get(i + 1).is_some_and(|e| e.index == index) {
            let run = newest[..=i]
                .iter()
                .rev()
                .take_while(|e| e.index == index)
                .count();
            format!("{index}.{}", run + shown_before(index))
        } else {
            index.to_string()
        }
    };
    let shown = newest.len().min(limit);
    let next = (newest.len() > limit).then(|| cursor_after(shown - 1));
    let resume = (0..shown.saturating_sub(1)).map(cursor_after).collect();
    newest.truncate(shown);
    (newest, resume, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(index: u64, key: &str) -> Event {
        Event {
            index,
            key: key.into(),
            ..Event::default()
        }
    }

    #[test]
    fn event_pages_continue_inside_an_index_without_losing_or_repeating_events() {
        // Oldest first, as the stream sends them: index 7 holds three events.
        let all = vec![
            event(5, "a"),
            event(7, "b"),
            event(7, "c"),
            event(7, "d"),
            event(9, "e"),
        ];
        for limit in 1..=5 {
            let mut seen = Vec::new();
            let mut cursor = None;
            loop {
                let (page, resume, next) = page_events(all.clone(), cursor, limit);
                assert_eq!(resume.len(), page.len().saturating_sub(1));
                // Resuming after any item of the page gives what followed it.
                for (i, after) in resume.iter().enumerate() {
                    let (rest, _, _) = page_events(all.clone(), EventCursor::parse(after), 5);
                    assert_eq!(rest.first().map(|e| &e.key), Some(&page[i + 1].key));
                }
                seen.extend(page.iter().map(|e| e.key.clone()));
                match next {
                    Some(next) => cursor = Some(EventCursor::parse(&next).unwrap()),
                    None => break,
                }
            }
            assert_eq!(seen, ["e", "d", "c", "b", "a"], "limit {limit}");
        }
        assert_eq!(EventCursor::parse("7.2").unwrap().shown, Some(2));
        assert!(EventCursor::parse("7.x").is_none() && EventCursor::parse("x").is_none());
    }
}
