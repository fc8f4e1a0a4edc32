//! Confirmation before a destructive tool runs (`GATEWAY_MCP_CONFIRM`). The person is
//! asked with one concrete sentence (`Service::consequences`: "Stop job web in prod: its 3
//! running allocations stop."), and their answer is audited (operation `confirm`).
//!
//! - On a session (2025-06-18 and later, a client that declared the `elicitation`
//!   capability in form mode), the call sends `elicitation/create` on its own response
//!   stream and waits up to [`SESSION_WAIT`] for the answer. On Streamable HTTP the answer
//!   is a POST that a load balancer may send to another replica: that replica tells this
//!   one on the bus (`answer <session> <action> <id>`, see [`Answers`]), as the legacy SSE
//!   transport already relays a `POST /messages` to the replica holding its stream.
//! - On the 2026-07-28 revision, where a server sends no requests of its own, the call
//!   answers `input_required` (SEP-2322) with the question and a `requestState` that names
//!   a row of `mcp_confirmations`; the client retries the call with the answer, on any
//!   replica. The row is bound to the caller, the tool and the arguments, lives
//!   [`QUESTION_TTL`], and is used once.
//! - A client that cannot ask runs the tool as before (`ask`, the default; the tool's
//!   `destructiveHint` is all it has) or is refused (`require`). `off` never asks.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use rmcp::ErrorData;
use rmcp::model::{
    CallToolResponse, CallToolResult, ClientCapabilities, ClientResult, ContentBlock,
    ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema,
    InputRequest, InputRequiredResult, InputResponses, JsonObject, RequestId, ServerRequest,
};
use rmcp::service::{PeerRequestOptions, RequestContext, RoleServer};
use sha2::Digest;
use tokio::sync::oneshot;

use super::tools::{self, ToolDef};
use crate::config::Confirm;
use crate::db::confirmations::{self, ConfirmationRow};
use crate::db::operations::now;
use crate::service::consequences::Answer;
use crate::service::consequences::Confirmation;
use crate::service::{Principal, ServiceError};
use crate::state::AppState;

/// How long a session's call waits for the person.
pub const SESSION_WAIT: Duration = Duration::from_secs(5 * 60);
/// How long an `input_required` question stays answerable.
pub const QUESTION_TTL: Duration = Duration::from_secs(10 * 60);
/// The key of the question in `inputRequests` and of its answer in `inputResponses`.
pub const KEY: &str = "confirm";

/// What the call does next.
pub enum Verdict {
    /// Run the tool.
    Run,
    /// Answer this instead (a question, or why nothing ran).
    Answer(CallToolResponse),
    /// The arguments do not fit the tool: the JSON-RPC error the call itself would give.
    Invalid(ErrorData),
}

/// What one call brings to the decision.
pub struct Call<'a> {
    pub state: &'a AppState,
    pub tool: &'static ToolDef,
    pub who: &'a Principal,
    pub arguments: &'a JsonObject,
    pub input_responses: Option<&'a InputResponses>,
    pub request_state: Option<&'a str>,
    pub answers: &'a Answers,
}

/// Asks the person when `call`'s tool is destructive and the settings want it.
pub async fn confirm(call: Call<'_>, context: &RequestContext<RoleServer>) -> Verdict {
    let change = match call.tool.change(call.arguments) {
        None => return Verdict::Run,
        Some(Err(invalid)) => return Verdict::Invalid(invalid),
        Some(Ok(change)) => change,
    };
    let mode = call.state.config.mcp.confirm;
    if mode == Confirm::Off {
        return Verdict::Run;
    }
    let stateless = context
        .protocol_version()
        .is_some_and(|v| !v.has_initialize());
    if stateless && let Some(handle) = call.request_state {
        return resume(&call, handle).await;
    }
    if !context
        .client_capabilities()
        .is_some_and(|c| asks_forms(&c))
    {
        if mode == Confirm::Require {
            record(&call, None, "none", Answer::Refused).await;
            return Verdict::Answer(error(format!(
                "{} stops or replaces running work, and this gateway has a person confirm that \
                 first (GATEWAY_MCP_CONFIRM=require), but this client cannot ask them: it declares \
                 no elicitation capability. Nothing was changed. Use a client that supports \
                 elicitation, or the gateway's REST API.",
                call.tool.name
            )));
        }
        return Verdict::Run;
    }
    let asked = match call
        .state
        .service
        .consequences(call.who, call.tool.name, &change)
        .await
    {
        Ok(asked) => asked,
        Err(failure) => return Verdict::Answer(tools::failure(&failure).into()),
    };
    if stateless {
        question(&call, asked).await
    } else {
        elicit(&call, asked, context).await
    }
}

/// Form-mode elicitation: declared with `form`, or with neither mode (2025-06-18's shape).
fn asks_forms(capabilities: &ClientCapabilities) -> bool {
    capabilities
        .elicitation
        .as_ref()
        .is_some_and(|e| e.form.is_some() || e.url.is_none())
}

fn error(text: String) -> CallToolResponse {
    CallToolResult::error(vec![ContentBlock::text(text)]).into()
}

/// The elicitation: the sentence, and an empty form (accepting is the answer).
fn request(asked: &str) -> ElicitRequest {
    ElicitRequest::new(ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: format!("{asked} Go ahead?"),
        requested_schema: ElicitationSchema::new(BTreeMap::new()),
    })
}

fn answer_of(action: ElicitationAction) -> Answer {
    match action {
        ElicitationAction::Accept => Answer::Accepted,
        ElicitationAction::Decline => Answer::Declined,
        _ => Answer::Cancelled,
    }
}

async fn record(call: &Call<'_>, asked: Option<&str>, via: &'static str, answer: Answer) {
    // [`confirm`] turned these arguments into the change before anything was asked.
    let Some(Ok(change)) = call.tool.change(call.arguments) else {
        tracing::error!(tool = call.tool.name, "a confirmation without its change");
        return;
    };
    let about = Confirmation {
        tool: call.tool.name,
        change: &change,
        arguments: call.arguments,
        asked,
        via,
    };
    call.state
        .service
        .record_confirmation(call.who, about, answer)
        .await;
}

/// The verdict once the person answered.
async fn decided(call: &Call<'_>, asked: &str, via: &'static str, answer: Answer) -> Verdict {
    record(call, Some(asked), via, answer).await;
    let said = match answer {
        Answer::Accepted | Answer::NotAsked => return Verdict::Run,
        Answer::Declined => "The user declined",
        Answer::Cancelled => "The user dismissed the question",
        Answer::Unanswered | Answer::Refused => "No answer came",
    };
    Verdict::Answer(error(format!(
        "{said}: \"{asked}\" Nothing was changed; do not call {} again unless they ask for it.",
        call.tool.name
    )))
}

/// SHA-256 of the arguments as sent (the retried call sends the same).
fn digest(arguments: &JsonObject) -> String {
    let bytes = serde_json::to_vec(arguments).unwrap_or_default();
    hex::encode(sha2::Sha256::digest(&bytes))
}

/// 2026-07-28: the question as an `input_required` result, remembered in the database.
async fn question(call: &Call<'_>, asked: String) -> Verdict {
    let id = uuid::Uuid::new_v4();
    let created = now();
    let row = ConfirmationRow {
        id,
        caller: call.who.key(),
        tool: call.tool.name.to_string(),
        arguments_digest: digest(call.arguments),
        asked: asked.clone(),
        created_at: created,
        expires_at: created + QUESTION_TTL,
    };
    if let Err(e) = confirmations::ask(&call.state.db, row).await {
        let failure = ServiceError::DatabaseUnavailable(format!(
            "the gateway cannot keep the question to confirm this change: {e}"
        ));
        return Verdict::Answer(tools::failure(&failure).into());
    }
    let requests = BTreeMap::from([(KEY.to_string(), InputRequest::Elicitation(request(&asked)))]);
    Verdict::Answer(CallToolResponse::InputRequired(InputRequiredResult::new(
        Some(requests),
        Some(id.to_string()),
    )))
}

/// 2026-07-28: the retried call, with the answer to the question its `requestState` names.
async fn resume(call: &Call<'_>, handle: &str) -> Verdict {
    let stale = || {
        Verdict::Answer(error(format!(
            "This confirmation is unknown, was used already or expired (a question can be \
             answered for {} minutes). Nothing was changed: call {} again without requestState \
             to be asked again.",
            QUESTION_TTL.as_secs() / 60,
            call.tool.name
        )))
    };
    let Ok(id) = uuid::Uuid::parse_str(handle) else {
        return stale();
    };
    let row = match confirmations::take(&call.state.db, id).await {
        Ok(Some(row)) => row,
        Ok(None) => return stale(),
        Err(e) => {
            let failure = ServiceError::DatabaseUnavailable(format!(
                "the gateway cannot read the confirmation: {e}"
            ));
            return Verdict::Answer(tools::failure(&failure).into());
        }
    };
    if row.expires_at < now() {
        return stale();
    }
    if row.caller != call.who.key()
        || row.tool != call.tool.name
        || row.arguments_digest != digest(call.arguments)
    {
        return Verdict::Answer(error(format!(
            "This confirmation was given for another call (another tool, other arguments or \
             another caller). Nothing was changed: call {} again without requestState to be \
             asked about this one.",
            call.tool.name
        )));
    }
    let answer = call
        .input_responses
        .and_then(|responses| responses.get(KEY))
        .and_then(|value| serde_json::from_value::<ElicitResult>(value.clone()).ok())
        .map_or(Answer::Unanswered, |result| answer_of(result.action));
    decided(call, &row.asked, "input_required", answer).await
}

/// A session: `elicitation/create` on the call's own stream, and the answer from wherever
/// it arrives.
async fn elicit(call: &Call<'_>, asked: String, context: &RequestContext<RoleServer>) -> Verdict {
    let request = ServerRequest::ElicitRequest(request(&asked));
    let options = PeerRequestOptions::with_timeout(SESSION_WAIT);
    let handle = match context
        .peer
        .send_request_with_option(request, options)
        .await
    {
        Ok(handle) => handle,
        Err(e) => {
            tracing::warn!(error = %e, "could not ask the client to confirm a destructive call");
            return decided(call, &asked, "elicitation", Answer::Unanswered).await;
        }
    };
    // An answer that reaches another replica comes back here over the bus.
    let session = super::session_of(context);
    let relayed = session
        .as_deref()
        .map(|session| call.answers.expect(session, &handle.id));
    let id = handle.id.clone();
    let answer = tokio::select! {
        answer = handle.await_response() => match answer {
            Ok(ClientResult::ElicitResult(result)) => answer_of(result.action),
            Ok(_) | Err(_) => Answer::Unanswered,
        },
        Some(Ok(answer)) = async {
            match relayed {
                Some(relayed) => Some(relayed.await),
                None => None,
            }
        } => answer,
    };
    if let Some(session) = &session {
        call.answers.forget(session, &id);
    }
    decided(call, &asked, "elicitation", answer).await
}

/// The elicitations this replica waits on, by session and request id: an answer POSTed to
/// another replica is told here over the bus and delivered to the waiting call.
#[derive(Default)]
pub struct Answers {
    waiting: Mutex<HashMap<(String, String), oneshot::Sender<Answer>>>,
}

/// A client's answer, as `jsonrpc::check` finds it in a POST body.
#[derive(Debug, Clone)]
pub struct ClientAnswer {
    pub id: RequestId,
    /// `accept`, `decline` or `cancel`; an error answer is `cancel`.
    pub action: &'static str,
}

impl ClientAnswer {
    /// The answer in a client message, when it is one (a result or an error with an id).
    pub fn of(message: &rmcp::model::ClientJsonRpcMessage) -> Option<ClientAnswer> {
        use rmcp::model::JsonRpcMessage;
        match message {
            JsonRpcMessage::Response(response) => {
                let action = match &response.result {
                    ClientResult::ElicitResult(r) => action_name(&r.action),
                    _ => "cancel",
                };
                Some(ClientAnswer {
                    id: response.id.clone(),
                    action,
                })
            }
            JsonRpcMessage::Error(error) => error.id.clone().map(|id| ClientAnswer {
                id,
                action: "cancel",
            }),
            _ => None,
        }
    }
}

fn action_name(action: &ElicitationAction) -> &'static str {
    match action {
        ElicitationAction::Accept => "accept",
        ElicitationAction::Decline => "decline",
        _ => "cancel",
    }
}

fn key(session: &str, id: &RequestId) -> (String, String) {
    (session.to_string(), id.to_string())
}

impl Answers {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, String), oneshot::Sender<Answer>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expect(&self, session: &str, id: &RequestId) -> oneshot::Receiver<Answer> {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(key(session, id), tx);
        rx
    }

    fn forget(&self, session: &str, id: &RequestId) {
        self.lock().remove(&key(session, id));
    }

    /// Whether a call here waits for this answer (then rmcp's own worker takes it).
    pub fn waits_here(&self, session: &str, id: &RequestId) -> bool {
        self.lock().contains_key(&key(session, id))
    }

    /// The bus message that carries `answer` to the replica waiting for it; `None` when
    /// the id is too long to be one the gateway made.
    pub fn note(session: &str, answer: &ClientAnswer) -> Option<String> {
        let id = answer.id.to_string();
        (id.len() <= 64 && !id.contains(' '))
            .then(|| format!("answer {session} {} {id}", answer.action))
    }

    /// Hands a relayed answer (`answer <session> <action> <id>`) to the call waiting here,
    /// if one is.
    pub fn hear(&self, message: &str) {
        let mut words = message.split(' ');
        let (Some("answer"), Some(session), Some(action), Some(id)) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return;
        };
        let answer = match action {
            "accept" => Answer::Accepted,
            "decline" => Answer::Declined,
            _ => Answer::Cancelled,
        };
        if let Some(waiting) = self.lock().remove(&(session.to_string(), id.to_string())) {
            let _ = waiting.send(answer);
        }
    }
}
