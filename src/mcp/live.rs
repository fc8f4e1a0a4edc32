//! Live resources: a client subscribes to a job, node or list resource and hears
//! `notifications/resources/updated` when Nomad changes it, within a second (the gateway's
//! one event stream, `service::watch`).
//!
//! - A Streamable HTTP session (2025-03-26 to 2025-11-25) subscribes with
//!   `resources/subscribe` on any replica: the subscription is a row of
//!   `mcp_subscriptions`, and the bus tells (`subscribed <session>`) the replica serving the
//!   session's `GET /mcp` stream, which watches the session's rows and writes the
//!   notifications there (`standalone`). It ends with `resources/unsubscribe` or the
//!   session.
//! - A 2026-07-28 request opens `subscriptions/listen` with `resourceSubscriptions`: the
//!   acknowledgement and then the notifications travel on that request's own stream,
//!   until the client closes it or the gateway shuts down.
//! - The legacy SSE transport does not offer subscriptions (it is for 2024-11-05 clients).
//!
//! A subscription is checked as a read of the resource by the caller: an unknown URI, a
//! missing object or a namespace the caller may not read is refused, so the notifications
//! never tell a caller about what they could not read.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::Event;
use futures::Stream;
use rmcp::model::{
    ErrorData, ResourceUpdatedNotification, ResourceUpdatedNotificationParam, ServerNotification,
};
use rmcp::service::SubscriptionContext;
use sea_orm::DatabaseConnection;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::resources;
use super::tools::Ctx;
use crate::db::subscriptions;
use crate::service::watch::{ResourceUri, Watch, Watcher};

/// Resources one session or one listen may watch.
pub const MAX_PER_CLIENT: usize = 100;
/// Changes closer together than this make one notification per resource.
const COALESCE: Duration = Duration::from_millis(100);

/// What `uri` watches, or the JSON-RPC error for a URI no resource has.
pub fn watched(uri: &str, default_namespace: &str) -> Result<ResourceUri, ErrorData> {
    ResourceUri::parse(uri, default_namespace).ok_or_else(|| {
        ErrorData::invalid_params(
            format!(
                "no resource '{uri}' to subscribe to; resources/list and \
                 resources/templates/list show what exists"
            ),
            Some(serde_json::json!({ "uri": uri })),
        )
    })
}

/// Checks that the caller may read `uri` now: a subscription is a standing read.
pub async fn check(ctx: &Ctx, uri: &str) -> Result<(), ErrorData> {
    resources::read(ctx, uri).await.map(|_| ())
}

/// The next batch of changed URIs: the first, and whatever else arrives within
/// [`COALESCE`], each once. `None` when the watch ended.
async fn next_changes(updates: &mut mpsc::Receiver<String>) -> Option<Vec<String>> {
    let first = updates.recv().await?;
    let mut changed = vec![first];
    let until = tokio::time::Instant::now() + COALESCE;
    while let Ok(Some(uri)) = tokio::time::timeout_at(until, updates.recv()).await {
        if !changed.contains(&uri) {
            changed.push(uri);
        }
    }
    Some(changed)
}

fn watch_all(watcher: &Watcher, uris: &[String], default_namespace: &str) -> Option<Watch> {
    let resources: Vec<(String, ResourceUri)> = uris
        .iter()
        .filter_map(|uri| ResourceUri::parse(uri, default_namespace).map(|w| (uri.clone(), w)))
        .collect();
    (!resources.is_empty()).then(|| watcher.watch(resources))
}

/// Runs a 2026-07-28 `subscriptions/listen` until the client leaves or shutdown.
pub async fn listen(
    watcher: &Watcher,
    ctx: &Ctx,
    subscription: SubscriptionContext,
    default_namespace: &str,
    shutdown: &CancellationToken,
) -> Result<(), ErrorData> {
    let uris = subscription
        .accepted()
        .resource_subscriptions
        .clone()
        .unwrap_or_default();
    if uris.len() > MAX_PER_CLIENT {
        return Err(ErrorData::invalid_params(
            format!(
                "{} resources in one subscription; at most {MAX_PER_CLIENT}",
                uris.len()
            ),
            None,
        ));
    }
    for uri in &uris {
        check(ctx, uri).await?;
    }
    let Some(mut watch) = watch_all(watcher, &uris, default_namespace) else {
        tokio::select! {
            _ = subscription.cancelled() => {}
            _ = shutdown.cancelled() => {}
        }
        return Ok(());
    };
    loop {
        let changed = tokio::select! {
            _ = subscription.cancelled() => return Ok(()),
            _ = shutdown.cancelled() => return Ok(()),
            changed = next_changes(&mut watch.updates) => changed,
        };
        let Some(changed) = changed else {
            return Ok(());
        };
        for uri in changed {
            let notification = ServerNotification::ResourceUpdatedNotification(
                ResourceUpdatedNotification::new(ResourceUpdatedNotificationParam::new(uri)),
            );
            if subscription.sink().send(notification).await.is_err() {
                return Ok(());
            }
        }
    }
}

/// One JSON-RPC notification as an SSE `message` event.
fn updated(uri: &str) -> Event {
    let message = serde_json::json!({
        "jsonrpc": "2.0",
        "method": "notifications/resources/updated",
        "params": { "uri": uri },
    });
    Event::default().data(message.to_string())
}

/// The events of a session's standalone stream: its subscriptions' updates, reloaded from
/// `mcp_subscriptions` whenever `reload` moves, until `ended`.
pub fn session_updates(
    db: DatabaseConnection,
    watcher: Arc<Watcher>,
    default_namespace: String,
    session: String,
    mut reload: watch::Receiver<u64>,
    ended: CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let (tx, rx) = mpsc::channel::<Result<Event, Infallible>>(16);
    tokio::spawn(async move {
        let mut watching: Option<Watch> = None;
        loop {
            match subscriptions::of(&db, &session).await {
                // The new watch first, then the old one goes: the Nomad stream stays open.
                Ok(uris) => watching = watch_all(&watcher, &uris, &default_namespace),
                Err(error) => {
                    tracing::warn!(%session, %error, "reading a session's subscriptions failed");
                }
            }
            loop {
                let changed = tokio::select! {
                    _ = ended.cancelled() => return,
                    _ = tx.closed() => return,
                    moved = reload.changed() => {
                        if moved.is_err() {
                            return;
                        }
                        break;
                    }
                    changed = async {
                        match watching.as_mut() {
                            Some(watch) => next_changes(&mut watch.updates).await,
                            None => std::future::pending().await,
                        }
                    } => changed,
                };
                let Some(changed) = changed else {
                    watching = None;
                    continue;
                };
                for uri in changed {
                    if tx.send(Ok(updated(&uri))).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (event, rx))
    })
}
