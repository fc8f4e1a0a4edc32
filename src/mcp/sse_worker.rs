//! rmcp's server behind one legacy SSE session, started when the session's first message
//! arrives and set aside when the replica keeps too many (`GATEWAY_MCP_SESSIONS_IN_MEMORY`).
//! The stream stays open meanwhile; the next message starts a fresh server and replays the
//! session's `initialize` into it first, as rmcp does for a Streamable HTTP session it
//! restores. The replayed handshake's answer never reaches the client.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use futures::channel::mpsc;
use rmcp::model::{
    ClientJsonRpcMessage, ClientNotification, ClientRequest, GetExtensions, InitializeRequest,
    InitializeRequestParams, InitializedNotification, NumberOrString, ServerJsonRpcMessage,
};
use tokio_util::sync::CancellationToken;

use super::server::NomadMcp;
use crate::state::AppState;

/// Messages waiting for the server, per session.
const CHANNEL: usize = 64;

/// The id of a replayed `initialize`; its answer is dropped on the way to the client.
const REPLAY_ID: &str = "nomad-gateway/replayed-initialize";

/// A running server for one session.
pub(super) struct Worker {
    to_server: mpsc::Sender<ClientJsonRpcMessage>,
    /// Cancelled to set the worker aside; a child of the session's own token.
    stop: CancellationToken,
    /// The replica's count of running workers, which this one is part of.
    running: Arc<AtomicUsize>,
}

impl Worker {
    /// Starts rmcp's server, answering on `to_client`. With `replay`, the session's
    /// handshake goes in first (`parts` are the request parts the handler reads).
    pub fn start(
        app: &AppState,
        to_client: mpsc::Sender<ServerJsonRpcMessage>,
        session: &CancellationToken,
        replay: Option<(&InitializeRequestParams, &http::request::Parts)>,
        running: &Arc<AtomicUsize>,
    ) -> Worker {
        let (mut to_server, from_client) = mpsc::channel::<ClientJsonRpcMessage>(CHANNEL);
        if let Some((params, parts)) = replay {
            let mut initialize = ClientJsonRpcMessage::request(
                ClientRequest::InitializeRequest(InitializeRequest::new(params.clone())),
                NumberOrString::String(Arc::from(REPLAY_ID)),
            );
            let mut initialized = ClientJsonRpcMessage::notification(
                ClientNotification::InitializedNotification(InitializedNotification::default()),
            );
            with_parts(&mut initialize, parts.clone());
            with_parts(&mut initialized, parts.clone());
            // A fresh channel has room for both.
            let _ = to_server.try_send(initialize);
            let _ = to_server.try_send(initialized);
        }
        let stop = session.child_token();
        let server = NomadMcp::new(app.clone());
        let (session, stopped) = (session.clone(), stop.clone());
        tokio::spawn(async move {
            // Boxed: the handshake's state is large and is not needed once it is done.
            let served = Box::pin(rmcp::service::serve_server_with_ct(
                server,
                (to_client, from_client),
                stopped.clone(),
            ))
            .await;
            match served {
                Ok(running) => {
                    let _ = running.waiting().await;
                }
                Err(error) => tracing::debug!(%error, "SSE session ended before initialize"),
            }
            // Ended by itself (not set aside, not closed): the session ends with it.
            if !stopped.is_cancelled() {
                session.cancel();
            }
        });
        running.fetch_add(1, Ordering::Relaxed);
        Worker {
            to_server,
            stop,
            running: running.clone(),
        }
    }

    /// A handle to send with outside the session registry's lock.
    pub fn sender(&self) -> mpsc::Sender<ClientJsonRpcMessage> {
        self.to_server.clone()
    }
}

impl Drop for Worker {
    /// Dropped when set aside or when the session ends: the server stops.
    fn drop(&mut self) {
        self.stop.cancel();
        self.running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Puts the request parts where the handler looks for the caller and the parent span.
pub(super) fn with_parts(message: &mut ClientJsonRpcMessage, parts: http::request::Parts) {
    match message {
        ClientJsonRpcMessage::Request(request) => {
            request.request.extensions_mut().insert(parts);
        }
        ClientJsonRpcMessage::Notification(notification) => {
            notification.notification.extensions_mut().insert(parts);
        }
        _ => {}
    }
}

/// The handshake a message carries, to replay if the worker is set aside.
pub(super) fn handshake(message: &ClientJsonRpcMessage) -> Option<InitializeRequestParams> {
    match message {
        ClientJsonRpcMessage::Request(request) => match &request.request {
            ClientRequest::InitializeRequest(initialize) => Some(initialize.params.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Requests the client sent that have no answer yet, and messages on their way to the
/// server: a worker with any stays.
#[derive(Default)]
pub(super) struct Pending {
    unanswered: AtomicU32,
    sending: AtomicU32,
}

impl Pending {
    /// Counts a client message on its way in (under the registry's lock, so a worker is
    /// not set aside between the decision to use it and the hand-over).
    pub fn sent(&self, message: &ClientJsonRpcMessage) {
        if matches!(message, ClientJsonRpcMessage::Request(_)) {
            self.unanswered.fetch_add(1, Ordering::Relaxed);
        }
        self.sending.fetch_add(1, Ordering::Relaxed);
    }

    /// The message counted by [`Pending::sent`] is in the server's channel.
    pub fn handed_over(&self) {
        self.sending.fetch_sub(1, Ordering::Relaxed);
    }

    /// Whether a server message goes to the client (not the answer to a replayed
    /// handshake); counts answers.
    pub fn answered(&self, message: &ServerJsonRpcMessage) -> bool {
        let id = match message {
            ServerJsonRpcMessage::Response(response) => &response.id,
            ServerJsonRpcMessage::Error(error) => match &error.id {
                Some(id) => id,
                None => return true,
            },
            _ => return true,
        };
        if matches!(id, NumberOrString::String(s) if &**s == REPLAY_ID) {
            return false;
        }
        let _ = self
            .unanswered
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        true
    }

    pub fn idle(&self) -> bool {
        self.unanswered.load(Ordering::Relaxed) == 0 && self.sending.load(Ordering::Relaxed) == 0
    }
}
