//! Streaming endpoints: task logs (`/v1/client/fs/logs/:alloc`, plain or framed, with
//! follow and heartbeats) and the event stream (`/v1/event/stream`, NDJSON).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{Ctx, LogRange, Params, Q, authorize, flag, text};
use crate::Shared;
use crate::acl::Need;
use crate::logs::LogSource;

const CHUNK: u64 = 64 * 1024;
/// Nomad's stream framer sends a heartbeat frame after a second without data.
const HEARTBEAT: Duration = Duration::from_secs(1);

fn body_from(rx: mpsc::Receiver<Bytes>) -> Body {
    Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    }))
}

/// A frame as Nomad's framer sends it: `Offset` is where the data *ends* in the file (the
/// reader adds what it read before it sends, `streamFile` in `client/fs_endpoint.go`).
fn frame(file: &str, end: u64, data: &[u8]) -> Bytes {
    let value = json!({
        "File": file,
        "Offset": end,
        "Data": base64::engine::general_purpose::STANDARD.encode(data)
    });
    Bytes::from(serde_json::to_vec(&value).unwrap_or_default())
}

/// Sends `start..end` of the log in chunks; false when the reader went away.
async fn send_range(
    tx: &mpsc::Sender<Bytes>,
    source: &LogSource,
    file: &str,
    plain: bool,
    start: u64,
    end: u64,
) -> bool {
    let mut at = start;
    while at < end {
        let to = (at + CHUNK).min(end);
        let data = source.read(at, to);
        let chunk = if plain {
            Bytes::from(data)
        } else {
            frame(file, to, &data)
        };
        if tx.send(chunk).await.is_err() {
            return false;
        }
        at = to;
    }
    true
}

fn current_source(
    shared: &Shared,
    alloc: &str,
    task: &str,
    stream: &str,
) -> Option<(LogSource, bool)> {
    shared.read(|w| {
        let a = w.allocs.get(alloc)?;
        Some((crate::logs::source(a, task, stream)?, a.terminal()))
    })
}

pub async fn logs(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    let Some(task) = query.get("task").filter(|t| !t.is_empty()).cloned() else {
        return text(StatusCode::BAD_REQUEST, "must include task name");
    };
    let stream = match query.get("type").map(String::as_str) {
        Some(s @ ("stdout" | "stderr")) => s.to_string(),
        Some(other) => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("invalid log type {other:?}"),
            );
        }
        None => return text(StatusCode::BAD_REQUEST, "must include type"),
    };
    let origin = query.get("origin").map(String::as_str).unwrap_or("start");
    if origin != "start" && origin != "end" {
        return text(StatusCode::BAD_REQUEST, "origin must be start or end");
    }
    let offset: u64 = match query.get("offset").map(|o| o.parse()) {
        None => 0,
        Some(Ok(o)) => o,
        Some(Err(_)) => return text(StatusCode::BAD_REQUEST, "invalid offset"),
    };
    let (plain, follow) = (flag(&query, "plain"), flag(&query, "follow"));
    let Some(namespace) = shared.read(|w| w.allocs.get(&id).map(|a| a.namespace.clone())) else {
        return text(StatusCode::NOT_FOUND, "Unknown allocation");
    };
    if let Err(e) = authorize(
        &shared,
        &headers,
        Need::Namespace(namespace, crate::Capability::Read),
    ) {
        return e;
    }
    let Some((source, _)) = current_source(&shared, &id, &task, &stream) else {
        return text(
            StatusCode::NOT_FOUND,
            &format!("unknown task name {task:?}"),
        );
    };
    let size = source.size();
    let start = if origin == "end" {
        size.saturating_sub(offset)
    } else {
        offset.min(size)
    };
    let file = format!("alloc/logs/{task}.{stream}.0");
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let shared2: Arc<Shared> = shared.clone();
    tokio::spawn(async move {
        if !send_range(&tx, &source, &file, plain, start, size).await || !follow {
            return;
        }
        let mut sent = size;
        let mut quiet = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(shared2.step / 2).await;
            let Some((source, terminal)) = current_source(&shared2, &id, &task, &stream) else {
                return;
            };
            let now_size = source.size();
            if now_size > sent {
                if !send_range(&tx, &source, &file, plain, sent, now_size).await {
                    return;
                }
                sent = now_size;
                quiet = tokio::time::Instant::now();
            } else if terminal {
                return;
            } else if quiet.elapsed() >= HEARTBEAT {
                quiet = tokio::time::Instant::now();
                let beat = if plain {
                    Bytes::new()
                } else {
                    Bytes::from_static(b"{}")
                };
                if !beat.is_empty() && tx.send(beat).await.is_err() {
                    return;
                }
                if tx.is_closed() {
                    return;
                }
            }
        }
    });
    let content_type = if plain {
        "text/plain; charset=utf-8"
    } else {
        "application/json"
    };
    let mut response = ([("content-type", content_type)], body_from(rx)).into_response();
    response.extensions_mut().insert(LogRange(start, size));
    response
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn topic_matches(topics: &[(String, String)], event: &crate::world::Event) -> bool {
    topics.is_empty()
        || topics.iter().any(|(topic, key)| {
            // `nomad/stream/subscription.go`: the key or one of the filter keys.
            (topic == "*" || topic == &event.topic)
                && (key == "*" || key == &event.key || event.filter_keys.contains(key))
        })
}

/// Counts an event stream as open until its task ends (the client went away).
struct OpenStream(std::sync::Arc<crate::Shared>);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0
            .event_streams
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

pub async fn events(State(shared): Ctx, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let params = pairs(raw.as_deref().unwrap_or(""));
    let single: HashMap<String, String> = params.iter().cloned().collect();
    let namespace = super::namespace_of(&single);
    let token = match authorize(
        &shared,
        &headers,
        if namespace == "*" {
            Need::AnyNamespace
        } else {
            Need::Namespace(namespace.clone(), crate::Capability::Read)
        },
    ) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let mut topics = Vec::new();
    for (k, v) in &params {
        if k == "topic" {
            let (topic, key) = v.split_once(':').unwrap_or((v.as_str(), "*"));
            if ![
                "*",
                "Job",
                "Allocation",
                "Evaluation",
                "Deployment",
                "Node",
                "NodePool",
                "Service",
                "ACLToken",
                "ACLPolicy",
                "ACLRole",
                "Namespace",
            ]
            .contains(&topic)
            {
                return text(StatusCode::BAD_REQUEST, &format!("invalid topic {topic:?}"));
            }
            topics.push((topic.to_string(), key.to_string()));
        }
    }
    let start = match single.get("index").map(|i| i.parse::<u64>()) {
        None => shared.read(|w| w.index) + 1,
        Some(Ok(i)) => i,
        Some(Err(_)) => return text(StatusCode::BAD_REQUEST, "Invalid index"),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let shared2 = shared.clone();
    tokio::spawn(async move {
        shared2
            .event_streams
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _open = OpenStream(shared2.clone());
        let mut next = start;
        let mut quiet = tokio::time::Instant::now();
        let mut receiver = shared2.index.subscribe();
        loop {
            let batches: Vec<(u64, Vec<Value>)> = shared2.read(|w| {
                let mut batches: Vec<(u64, Vec<Value>)> = Vec::new();
                for e in w.events.iter().filter(|e| e.index >= next) {
                    if !topic_matches(&topics, e) {
                        continue;
                    }
                    let ns_ok = e.namespace.is_empty()
                        || (namespace == "*" && super::visible(&token, &e.namespace))
                        || e.namespace == namespace;
                    if !ns_ok {
                        continue;
                    }
                    let value = json!({
                        "Topic": e.topic, "Type": e.kind, "Key": e.key, "Namespace": e.namespace,
                        "FilterKeys": if e.filter_keys.is_empty() { Value::Null } else { json!(e.filter_keys) },
                        "Index": e.index, "Payload": e.payload
                    });
                    match batches.last_mut() {
                        Some((i, list)) if *i == e.index => list.push(value),
                        _ => batches.push((e.index, vec![value])),
                    }
                }
                batches
            });
            let latest = shared2.read(|w| w.index);
            for (index, events) in batches {
                let mut line = serde_json::to_vec(&json!({"Index": index, "Events": events}))
                    .unwrap_or_default();
                line.push(b'\n');
                if tx.send(Bytes::from(line)).await.is_err() {
                    return;
                }
                quiet = tokio::time::Instant::now();
            }
            next = latest + 1;
            tokio::select! {
                _ = receiver.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(10).saturating_sub(quiet.elapsed())) => {
                    // Nomad's heartbeat: an empty object on its own line.
                    if tx.send(Bytes::from_static(b"{}\n")).await.is_err() {
                        return;
                    }
                    quiet = tokio::time::Instant::now();
                }
                _ = tx.closed() => return,
            }
        }
    });
    ([("content-type", "application/json")], body_from(rx)).into_response()
}
