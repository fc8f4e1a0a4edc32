//! Live resources: which Nomad changes touch which resource, and one Nomad event stream
//! per gateway however many watch. The stream opens with the first watcher and closes when
//! the last one leaves; it asks for the `Job`, `Allocation`, `Deployment` and `Node` topics
//! in every namespace and matches events here, as Nomad itself matches a `Topic:key`
//! filter: the event's key, or one of its `FilterKeys` (an allocation's job, a
//! deployment's job; `nomad/stream/subscription.go`). After a broken stream it reconnects
//! from the index after the last event it saw, so nothing in between is missed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::nomad::types::Event;
use crate::nomad::{NomadClient, QueryOptions};

const TOPICS: [&str; 4] = ["Job:*", "Allocation:*", "Deployment:*", "Node:*"];
/// Updates queued per watcher; a slow one loses updates of a URI already queued, never
/// the last one (the consumer reads the resource anew anyway).
const QUEUE: usize = 64;

/// A resource of the MCP server, from its `nomad://` URI: what `resources/read` reads and
/// what a subscription watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceUri {
    /// A namespace's job list (`None`: every namespace).
    Jobs(Option<String>),
    Job {
        namespace: String,
        job_id: String,
    },
    Nodes,
    Node(String),
    /// The cluster's status: nodes and jobs by status.
    Cluster,
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

impl ResourceUri {
    /// The resource of `uri` (the shapes `resources/read` answers); `default_namespace` is
    /// what `nomad://jobs` lists.
    pub fn parse(uri: &str, default_namespace: &str) -> Option<ResourceUri> {
        let path = uri.strip_prefix("nomad://")?;
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        Some(match parts.as_slice() {
            ["jobs"] => ResourceUri::Jobs(Some(default_namespace.to_string())),
            ["jobs", "*"] => ResourceUri::Jobs(None),
            ["jobs", namespace] => ResourceUri::Jobs(Some(decode(namespace))),
            ["jobs", namespace, job_id] => ResourceUri::Job {
                namespace: decode(namespace),
                job_id: decode(job_id),
            },
            ["nodes"] => ResourceUri::Nodes,
            ["nodes", node_id] => ResourceUri::Node(decode(node_id)),
            ["cluster", "status"] => ResourceUri::Cluster,
            _ => return None,
        })
    }

    /// Whether `event` changes what this resource shows.
    pub fn touched_by(&self, event: &Event) -> bool {
        let topic = event.topic.as_str();
        match self {
            ResourceUri::Jobs(namespace) => {
                topic == "Job" && namespace.as_ref().is_none_or(|n| *n == event.namespace)
            }
            ResourceUri::Job { namespace, job_id } => {
                *namespace == event.namespace
                    && match topic {
                        "Job" => event.key == *job_id,
                        "Allocation" | "Deployment" => event.filter_keys.contains(job_id),
                        _ => false,
                    }
            }
            ResourceUri::Nodes => topic == "Node",
            ResourceUri::Node(id) => topic == "Node" && event.key == *id,
            ResourceUri::Cluster => matches!(topic, "Node" | "Job"),
        }
    }
}

struct Subscriber {
    resources: Vec<(String, ResourceUri)>,
    tx: mpsc::Sender<String>,
}

#[derive(Default)]
struct Inner {
    next: u64,
    subscribers: HashMap<u64, Subscriber>,
    /// Ends the Nomad stream; `None` while nobody watches.
    stream: Option<CancellationToken>,
}

/// The gateway's one Nomad event stream and who watches what through it.
#[derive(Clone)]
pub struct Watcher {
    nomad: NomadClient,
    inner: Arc<Mutex<Inner>>,
    shutdown: CancellationToken,
}

/// One watcher's updates: the URIs whose resource changed. Dropping it stops watching.
pub struct Watch {
    id: u64,
    inner: Arc<Mutex<Inner>>,
    pub updates: mpsc::Receiver<String>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut inner = lock(&self.inner);
        inner.subscribers.remove(&self.id);
        if inner.subscribers.is_empty()
            && let Some(stream) = inner.stream.take()
        {
            stream.cancel();
        }
    }
}

fn lock(inner: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(|p| p.into_inner())
}

impl Watcher {
    pub fn new(nomad: NomadClient, shutdown: CancellationToken) -> Watcher {
        Watcher {
            nomad,
            inner: Arc::default(),
            shutdown,
        }
    }

    /// Starts watching `resources` (URI and what it is); the Nomad stream opens if it was
    /// closed.
    pub fn watch(&self, resources: Vec<(String, ResourceUri)>) -> Watch {
        let (tx, updates) = mpsc::channel(QUEUE);
        let mut inner = lock(&self.inner);
        let id = inner.next;
        inner.next += 1;
        inner.subscribers.insert(id, Subscriber { resources, tx });
        if inner.stream.is_none() {
            let stop = self.shutdown.child_token();
            inner.stream = Some(stop.clone());
            tokio::spawn(follow(self.nomad.clone(), self.inner.clone(), stop));
        }
        Watch {
            id,
            inner: self.inner.clone(),
            updates,
        }
    }

    /// A watcher whose Nomad answers nowhere, for tests of what holds one.
    #[cfg(test)]
    pub fn unconnected(shutdown: CancellationToken) -> Watcher {
        let settings = crate::config::NomadSettings::for_addr("http://127.0.0.1:9");
        let nomad = NomadClient::new(&settings).expect("a client for a fixed address");
        Watcher::new(nomad, shutdown)
    }
}

/// Reads the stream until `stop`, reconnecting with a growing pause after a failure.
async fn follow(nomad: NomadClient, inner: Arc<Mutex<Inner>>, stop: CancellationToken) {
    let topics: Vec<String> = TOPICS.iter().map(|t| t.to_string()).collect();
    let options = QueryOptions::namespace("*");
    let mut next_index: Option<u64> = None;
    let mut pause = Duration::from_millis(500);
    while !stop.is_cancelled() {
        let opened = tokio::select! {
            _ = stop.cancelled() => return,
            opened = nomad.event_stream(&topics, next_index, &options) => opened,
        };
        match opened {
            Ok(mut stream) => loop {
                let batch = tokio::select! {
                    _ = stop.cancelled() => return,
                    batch = stream.next_batch() => batch,
                };
                match batch {
                    Some(Ok(batch)) => {
                        pause = Duration::from_millis(500);
                        next_index = Some(batch.index + 1);
                        deliver(&inner, &batch.events);
                    }
                    Some(Err(error)) => {
                        tracing::warn!(%error, "the Nomad event stream broke; reconnecting");
                        break;
                    }
                    None => break,
                }
            },
            Err(error) => {
                tracing::warn!(%error, "cannot open the Nomad event stream; retrying");
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(Duration::from_secs(30));
    }
}

fn deliver(inner: &Mutex<Inner>, events: &[Event]) {
    let inner = lock(inner);
    for subscriber in inner.subscribers.values() {
        for (uri, watched) in &subscriber.resources {
            if events.iter().any(|e| watched.touched_by(e)) {
                let _ = subscriber.tx.try_send(uri.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(topic: &str, key: &str, namespace: &str, filter_keys: &[&str]) -> Event {
        Event {
            topic: topic.into(),
            key: key.into(),
            namespace: namespace.into(),
            filter_keys: filter_keys.iter().map(|k| k.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn uris_name_what_they_show_and_events_touch_it() {
        let web = ResourceUri::parse("nomad://jobs/prod/web", "default").unwrap();
        assert_eq!(
            web,
            ResourceUri::Job {
                namespace: "prod".into(),
                job_id: "web".into()
            }
        );
        assert!(web.touched_by(&event("Job", "web", "prod", &[])));
        assert!(web.touched_by(&event("Allocation", "a1", "prod", &["web", "d1"])));
        assert!(web.touched_by(&event("Deployment", "d1", "prod", &["web"])));
        assert!(!web.touched_by(&event("Job", "web", "dev", &[])));
        assert!(!web.touched_by(&event("Job", "web-api", "prod", &[])));
        assert!(!web.touched_by(&event("Allocation", "web", "prod", &["api"])));
        assert!(!web.touched_by(&event("Evaluation", "e1", "prod", &["web"])));

        let jobs = ResourceUri::parse("nomad://jobs", "default").unwrap();
        assert!(jobs.touched_by(&event("Job", "x", "default", &[])));
        assert!(!jobs.touched_by(&event("Job", "x", "prod", &[])));
        let every = ResourceUri::parse("nomad://jobs/*", "default").unwrap();
        assert!(every.touched_by(&event("Job", "x", "prod", &[])));

        let node = ResourceUri::parse("nomad://nodes/n%201", "default").unwrap();
        assert_eq!(node, ResourceUri::Node("n 1".into()));
        assert!(node.touched_by(&event("Node", "n 1", "", &[])));
        assert!(!node.touched_by(&event("Node", "n2", "", &[])));
        assert!(
            ResourceUri::parse("nomad://nodes", "d")
                .unwrap()
                .touched_by(&event("Node", "n2", "", &[]))
        );
        assert_eq!(
            ResourceUri::parse("nomad://cluster/status", "d"),
            Some(ResourceUri::Cluster)
        );
        assert_eq!(ResourceUri::parse("nomad://volumes", "d"), None);
        assert_eq!(ResourceUri::parse("http://jobs", "d"), None);
    }
}
