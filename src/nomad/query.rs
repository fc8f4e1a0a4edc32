//! Query options and response metadata: namespaces, regions, filters, pagination and
//! blocking queries (`index` + `wait`, answered with `X-Nomad-Index`).

use std::time::Duration;

use reqwest::header::HeaderMap;

/// Options for a read. Empty fields are left out of the query string.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// A namespace, or `*` for all; `None` uses `NOMAD_NAMESPACE` (then Nomad's default).
    pub namespace: Option<String>,
    pub region: Option<String>,
    pub prefix: Option<String>,
    /// A Nomad filter expression (`index.mdx`, Filtering).
    pub filter: Option<String>,
    pub per_page: Option<u32>,
    pub next_token: Option<String>,
    /// Blocking query: answer only once the index is above this one ...
    pub index: Option<u64>,
    /// ... or when this much time has passed (Nomad caps it at 10 minutes).
    pub wait: Option<Duration>,
}

impl QueryOptions {
    pub fn namespace(namespace: impl Into<String>) -> Self {
        QueryOptions {
            namespace: Some(namespace.into()),
            ..Default::default()
        }
    }

    /// Blocks until the index moves past `index` or `wait` elapses.
    pub fn blocking(mut self, index: u64, wait: Duration) -> Self {
        self.index = Some(index);
        self.wait = Some(wait);
        self
    }

    pub(super) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let mut push = |key: &'static str, value: Option<String>| {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                pairs.push((key, value));
            }
        };
        push("namespace", self.namespace.clone());
        push("region", self.region.clone());
        push("prefix", self.prefix.clone());
        push("filter", self.filter.clone());
        push("per_page", self.per_page.map(|n| n.to_string()));
        push("next_token", self.next_token.clone());
        push("index", self.index.map(|i| i.to_string()));
        push("wait", self.wait.map(|w| format!("{}ms", w.as_millis())));
        pairs
    }
}

/// What Nomad says about the state it answered from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryMeta {
    /// `X-Nomad-Index`: pass it back as `index` to block for the next change.
    pub last_index: u64,
    /// `X-Nomad-KnownLeader`.
    pub known_leader: bool,
    /// `X-Nomad-LastContact`, milliseconds since the answering server heard the leader.
    pub last_contact_ms: u64,
    /// `X-Nomad-NextToken`: present while more pages remain.
    pub next_token: Option<String>,
}

impl QueryMeta {
    pub(super) fn from_headers(headers: &HeaderMap) -> QueryMeta {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        QueryMeta {
            last_index: text("x-nomad-index")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            known_leader: text("x-nomad-knownleader").is_some_and(|v| v == "true"),
            last_contact_ms: text("x-nomad-lastcontact")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            next_token: text("x-nomad-nexttoken").filter(|t| !t.is_empty()),
        }
    }
}

/// A read's answer with its metadata.
#[derive(Debug, Clone)]
pub struct Response<T> {
    pub value: T,
    pub meta: QueryMeta,
}
