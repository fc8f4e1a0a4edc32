//! The MCP server handler: initialize, tools, resources, prompts and completions. One handler
//! per session; every tool call runs as the caller the HTTP layer identified.

use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CancelTaskParams, CompleteRequestParams,
    CompleteResult, ErrorData, Extensions, GetPromptRequestParams, GetPromptResponse,
    GetTaskParams, GetTaskResult, Implementation, JsonObject, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
    SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams, UpdateTaskParams,
};
use rmcp::service::{RequestContext, RoleServer, SubscriptionContext};
use tracing::Instrument;

use std::sync::Arc;

use super::confirm::{self, Answers, Verdict};
use super::progress::Progress;
use super::tools::{self, Ctx};
use super::{completions, live, prompts, resources, tasks};
use crate::config::Toolset;
use crate::service::Principal;
use crate::service::policy::Access;
use crate::service::watch::Watcher;
use crate::state::AppState;

const INSTRUCTIONS: &str = "Operate HashiCorp Nomad: list and inspect jobs, allocations, \
evaluations, deployments, services, variables and nodes; create, submit, plan, scale, restart, \
stop and revert jobs; read task logs; drain nodes. Start with find_problems, list_jobs or \
get_cluster_status. When a job is not healthy, call diagnose_job first. A `namespace` left out \
is the gateway's default; `*` on a list means every namespace you may read. Lists answer one \
page: pass `next_cursor` back as `cursor` for the next. Write tools answer an `operation` \
(get_operation, wait_for_operation); with `wait` (seconds) they follow the change and the \
answer's `operation` says where it ended. Tools marked destructive stop or replace running \
work: confirm with the user first.";

/// How long a client may keep the tool, resource, template and prompt lists (SEP-2549
/// `ttlMs`): they change only when the gateway's configuration or the caller's key does.
/// They are `private`, since the tools a caller sees follow their scopes.
const CATALOGUE_TTL_MS: u64 = 5 * 60 * 1000;

/// A request's `_meta` read as a W3C trace-context carrier (SEP-414).
struct MetaCarrier<'a>(&'a JsonObject);

impl opentelemetry::propagation::Extractor for MetaCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.as_str()
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

#[derive(Clone)]
pub struct NomadMcp {
    state: AppState,
    /// The confirmations a call waits for, which another replica may relay here.
    answers: Arc<Answers>,
    /// The gateway's Nomad event stream; without it (the legacy SSE transport) resources
    /// cannot be subscribed to.
    watcher: Option<Arc<Watcher>>,
}

impl NomadMcp {
    /// The legacy SSE transport's handler.
    pub fn new(state: AppState) -> NomadMcp {
        NomadMcp {
            state,
            answers: Arc::default(),
            watcher: None,
        }
    }

    /// The Streamable HTTP handler: calls hear relayed confirmation answers in `answers`,
    /// and subscriptions watch through `watcher`.
    pub fn streamable(state: AppState, answers: Arc<Answers>, watcher: Arc<Watcher>) -> NomadMcp {
        NomadMcp {
            state,
            answers,
            watcher: Some(watcher),
        }
    }

    fn default_namespace(&self) -> &str {
        self.state.nomad.default_namespace()
    }

    /// A subscription's session: the Streamable HTTP session of the request.
    fn subscribing(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> Result<(&Watcher, String), ErrorData> {
        let not_here = || ErrorData::method_not_found::<rmcp::model::SubscribeRequestMethod>();
        let watcher = self.watcher.as_deref().ok_or_else(not_here)?;
        let session = super::session_of(context).ok_or_else(not_here)?;
        Ok((watcher, session))
    }

    /// Whether the operator offers this tool's toolset.
    fn offers(&self, tool: &tools::ToolDef) -> bool {
        self.state.config.mcp.toolsets.contains(&tool.toolset)
    }

    fn ctx(&self, context: &RequestContext<RoleServer>) -> Ctx {
        Ctx {
            service: self.state.service.clone(),
            who: caller(&context.extensions),
            progress: Progress::new(context.peer.clone(), context.meta.get_progress_token()),
            budget: self.state.config.mcp.answer_bytes,
        }
    }
}

/// The caller the HTTP layer identified: the authentication middleware puts a
/// [`Principal`] into the request's extensions (the local operator when authentication
/// is off), and rmcp hands the request's parts to the handler. Without one the caller is
/// anonymous and may do nothing.
pub fn caller(extensions: &Extensions) -> Principal {
    // Both transports hand the tool the HTTP request's parts (the SSE transport those of
    // `GET /sse`), where the middleware left the caller.
    extensions
        .get::<http::request::Parts>()
        .map(|parts| super::principal_of(&parts.extensions))
        .unwrap_or_else(Principal::anonymous)
}

impl rmcp::ServerHandler for NomadMcp {
    fn get_info(&self) -> ServerConfig {
        let mut capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .enable_prompts()
            .enable_completions()
            .enable_tasks()
            .build();
        if self.watcher.is_some()
            && let Some(resources) = capabilities.resources.as_mut()
        {
            resources.subscribe = Some(true);
        }
        ServerConfig::new(capabilities)
            .with_server_info(
                Implementation::new("nomad-gateway", env!("CARGO_PKG_VERSION"))
                    .with_title("Nomad gateway")
                    .with_description("HashiCorp Nomad jobs, allocations, deployments and nodes"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    /// Only the tools of the offered toolsets that this caller may call (scopes, read-only
    /// gateway); a namespace is checked when a tool is called, since most tools take one.
    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let who = caller(&context.extensions);
        let service = &self.state.service;
        Ok(ListToolsResult::with_all_items(
            tools::all()
                .iter()
                .filter(|t| self.offers(t) && service.may(&who, t.access))
                .map(|t| t.tool.clone())
                .collect(),
        )
        .with_ttl_ms(CATALOGUE_TTL_MS)
        .with_cache_scope(CacheScope::Private))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(tool) = tools::find(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool '{}'; tools/list shows the tools this server has",
                    request.name
                ),
                None,
            ));
        };
        if !self.offers(tool) {
            let offered = &self.state.config.mcp.toolsets;
            return Err(ErrorData::invalid_params(
                format!(
                    "tool '{}' is in the '{}' toolset, which this gateway does not offer \
                     (GATEWAY_MCP_TOOLSETS={}); tools/list shows the tools it has",
                    tool.name,
                    tool.toolset.name(),
                    Toolset::list(offered)
                ),
                None,
            ));
        }
        let ctx = self.ctx(&context);
        let mut arguments = request.arguments.unwrap_or_default();
        // A write called by a client that follows tasks answers at once, with its
        // operation as the task; `wait` is for clients that do not.
        let as_task =
            tasks::declared(&context) && !matches!(tool.access, Access::Read | Access::ClusterRead);
        if as_task {
            arguments.remove("wait");
        }
        let who = ctx.who.clone();
        if let Err(refusal) = ctx
            .service
            .admit(&ctx.who, tool.access, tool.name, &arguments)
            .await
        {
            count_call(tool.name, "refused", None);
            return Ok(CallToolResponse::from(tools::failure(&refusal)));
        }
        let asking = confirm::Call {
            state: &self.state,
            tool,
            who: &who,
            arguments: &arguments,
            input_responses: request.input_responses.as_ref(),
            request_state: request.request_state.as_deref(),
            answers: &self.answers,
        };
        match confirm::confirm(asking, &context).await {
            Verdict::Run => {}
            Verdict::Answer(answer) => {
                count_call(tool.name, "unconfirmed", None);
                return Ok(answer);
            }
            Verdict::Invalid(invalid) => {
                count_call(tool.name, "invalid", None);
                return Err(invalid);
            }
        }
        let parent = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<tracing::Span>())
            .cloned()
            .unwrap_or_else(tracing::Span::current);
        let span = tracing::info_span!(
            parent: &parent,
            "mcp.tool",
            otel.name = %format!("tools/call {}", request.name),
            mcp.tool = %request.name,
            caller = %ctx.who.subject,
        );
        // A trace context in the request's `_meta` (SEP-414: `traceparent`, `tracestate`)
        // continues the caller's trace, as the HTTP header does for the request.
        let meta: &JsonObject = &context.meta;
        crate::telemetry::continue_trace(&span, &MetaCarrier(meta));
        let call = tool.call(ctx, arguments).instrument(span);
        let started = std::time::Instant::now();
        let result = tokio::select! {
            result = call => result,
            _ = context.ct.cancelled() => Err(ErrorData::internal_error(
                "the call was cancelled", None,
            )),
        };
        let outcome = match &result {
            Ok(r) if r.is_error == Some(true) => "error",
            Ok(_) => "ok",
            Err(_) => "invalid",
        };
        count_call(tool.name, outcome, Some(started.elapsed()));
        match result {
            Ok(result) if as_task => Ok(tasks::start(
                &self.state.service,
                &who,
                result,
                self.state.config.operations.retention,
            )
            .await),
            result => result.map(CallToolResponse::from),
        }
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let who = caller(&context.extensions);
        tasks::get(
            &self.state.service,
            &who,
            &request.task_id,
            self.state.config.operations.retention,
        )
        .await
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let who = caller(&context.extensions);
        tasks::cancel(&self.state.service, &who, &request.task_id).await
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let who = caller(&context.extensions);
        tasks::update(&self.state.service, &who, &request.task_id).await
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(resources::list())
            .with_ttl_ms(CATALOGUE_TTL_MS)
            .with_cache_scope(CacheScope::Private))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(
            ListResourceTemplatesResult::with_all_items(resources::templates())
                .with_ttl_ms(CATALOGUE_TTL_MS)
                .with_cache_scope(CacheScope::Private),
        )
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let ctx = self.ctx(&context);
        let answer = resources::read(&ctx, &request.uri).await;
        answer
            .map(ReadResourceResponse::from)
            .map_err(|error| resources::not_found_code(error, context.protocol_version()))
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let (_, session) = self.subscribing(&context)?;
        let version = context.protocol_version();
        live::watched(&request.uri, self.default_namespace())?;
        live::check(&self.ctx(&context), &request.uri)
            .await
            .map_err(|error| resources::not_found_code(error, version))?;
        let db = &self.state.db;
        let unavailable = |e: sea_orm::DbErr| {
            ErrorData::internal_error(
                format!("the gateway's database cannot keep the subscription: {e}; retry shortly"),
                None,
            )
        };
        let held = crate::db::subscriptions::of(db, &session)
            .await
            .map_err(unavailable)?;
        if !held.contains(&request.uri) && held.len() >= live::MAX_PER_CLIENT {
            return Err(ErrorData::invalid_params(
                format!(
                    "this session holds {} subscriptions, the most it may; unsubscribe from one first",
                    held.len()
                ),
                None,
            ));
        }
        crate::db::subscriptions::add(db, &session, &request.uri)
            .await
            .map_err(unavailable)?;
        self.tell_streams(&session).await;
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let (_, session) = self.subscribing(&context)?;
        let removed = crate::db::subscriptions::remove(&self.state.db, &session, &request.uri)
            .await
            .map_err(|e| {
                ErrorData::internal_error(
                    format!(
                        "the gateway's database cannot drop the subscription: {e}; retry shortly"
                    ),
                    None,
                )
            })?;
        if removed {
            self.tell_streams(&session).await;
        }
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        self.watcher.as_ref()?;
        let mut accepted = SubscriptionFilter::new();
        accepted.resource_subscriptions = requested.resource_subscriptions.as_ref().map(|uris| {
            uris.iter()
                .filter(|uri| live::watched(uri, self.default_namespace()).is_ok())
                .cloned()
                .collect()
        });
        Some(accepted)
    }

    async fn listen(&self, subscription: SubscriptionContext) -> Result<(), ErrorData> {
        let Some(watcher) = self.watcher.as_deref() else {
            return Err(ErrorData::method_not_found::<
                rmcp::model::SubscriptionsListenRequestMethod,
            >());
        };
        let ctx = self.ctx(subscription.request_context());
        let version = subscription.request_context().protocol_version();
        live::listen(
            watcher,
            &ctx,
            subscription,
            self.default_namespace(),
            &self.state.shutdown,
        )
        .await
        .map_err(|error| resources::not_found_code(error, version))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(prompts::list())
            .with_ttl_ms(CATALOGUE_TTL_MS)
            .with_cache_scope(CacheScope::Private))
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let who = caller(&context.extensions);
        completions::complete(&self.state.service, &who, request).await
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        prompts::get(&request.name, request.arguments.unwrap_or_default())
            .map(GetPromptResponse::from)
    }
}

impl NomadMcp {
    /// Tells the replica serving the session's `GET /mcp` stream (this one, or another)
    /// that its subscriptions changed.
    async fn tell_streams(&self, session: &str) {
        let note = format!("subscribed {session}");
        if let Err(error) = self
            .state
            .cluster
            .bus
            .publish(crate::db::cluster::ALL, &note)
            .await
        {
            tracing::warn!(%session, %error, "telling the replicas about a subscription failed");
        }
    }
}

/// `gateway_tool_calls_total{tool, outcome}` (`ok`, `error`: a tool error, `invalid`: a
/// JSON-RPC error such as arguments that do not fit, `refused`: the caller lacks the scope,
/// `unconfirmed`: a question for the person, or their no)
/// and the call's duration.
fn count_call(tool: &'static str, outcome: &'static str, took: Option<std::time::Duration>) {
    metrics::counter!("gateway_tool_calls_total", "tool" => tool, "outcome" => outcome)
        .increment(1);
    if let Some(took) = took {
        metrics::histogram!("gateway_tool_call_duration_seconds", "tool" => tool)
            .record(took.as_secs_f64());
    }
}
