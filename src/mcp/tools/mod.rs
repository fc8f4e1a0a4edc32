//! The MCP tools: one per service operation, each a thin adapter that turns the tool's
//! arguments into the service request, calls the one service function, and turns the
//! answer into `structuredContent` (matching the tool's `outputSchema`) plus a short text
//! summary. A failed operation is a tool result with `isError: true` and the service's
//! message; arguments that do not fit the input schema are JSON-RPC errors.

mod allocations;
pub mod bounded;
mod cluster;
mod deployments;
mod evaluations;
mod job_actions;
mod job_inputs;
mod jobs;
mod nodes;
mod operations;
pub(crate) mod schema;
mod services;
mod variables;
mod volumes;

use std::future::Future;
use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;
use rmcp::ErrorData;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use serde::Serialize;
use serde::de::DeserializeOwned;

use self::bounded::Keep;
use super::progress::Progress;
use crate::config::Toolset;
use crate::service::consequences::Change;
use crate::service::page::Resume;
use crate::service::policy::Access;
use crate::service::{Page, Principal, Service, ServiceError};

/// What a tool call runs with: the operations, the caller, the progress channel, and the
/// answer budget (bytes of text plus `structuredContent`, `GATEWAY_MCP_ANSWER_BYTES`).
pub struct Ctx {
    pub service: Service,
    pub who: Principal,
    pub progress: Progress,
    pub budget: usize,
}

/// What an answer over the budget gets told about the rest, unless its type knows better.
const NARROW: &str = "For the rest, narrow the call (a namespace, a prefix, a task, fewer lines or \
                      matches), or read the same operation from the REST API, which answers in full";

/// Turns a result into the short text next to `structuredContent`, and says how a result
/// cut to the answer budget (see [`bounded`]) gets the rest.
pub trait Summary {
    fn summary(&self) -> String;

    /// Which end of its lists and long strings a cut answer keeps.
    const KEEP: Keep = Keep::Head;

    /// Adjusts a cut answer from the `full` one and says how to get the rest.
    fn resume(&mut self, _full: &Self, _tool: &str) -> String {
        NARROW.into()
    }
}

/// The honest hints of a tool. Every tool reaches Nomad, an outside system, so
/// `openWorldHint` is always true.
#[derive(Clone, Copy)]
pub enum Kind {
    /// Reads only.
    Read,
    /// Changes something; repeating the call with the same arguments has no further effect.
    Idempotent,
    /// Changes something; a repeat does it again (a new evaluation, a new dispatch).
    Write,
    /// Stops, removes or overrides something: a person should agree first.
    Destructive { idempotent: bool },
}

impl Kind {
    fn annotations(self, title: &str) -> ToolAnnotations {
        let (read_only, destructive, idempotent) = match self {
            Kind::Read => (true, false, true),
            Kind::Idempotent => (false, false, true),
            Kind::Write => (false, false, false),
            Kind::Destructive { idempotent } => (false, true, idempotent),
        };
        ToolAnnotations::with_title(title)
            .read_only(read_only)
            .destructive(destructive)
            .idempotent(idempotent)
            .open_world(true)
    }
}

/// What a destructive tool's arguments would change, for the person to confirm first.
type Asks = Arc<dyn Fn(&JsonObject) -> Result<Change, ErrorData> + Send + Sync>;

type Handler = Arc<
    dyn Fn(Ctx, JsonObject) -> BoxFuture<'static, Result<CallToolResult, ErrorData>> + Send + Sync,
>;

/// A tool's definition (what `tools/list` shows), the access it needs, and its adapter.
pub struct ToolDef {
    pub name: &'static str,
    pub tool: Tool,
    /// What calling it needs: `tools/list` shows it only to callers who have this, and a
    /// call without it is refused before the tool runs. The service decides again, with
    /// the namespace, inside the operation.
    pub access: Access,
    /// The group an operator offers or leaves out (`GATEWAY_MCP_TOOLSETS`); [`all`] sets
    /// it from the module that declares the tool.
    pub toolset: Toolset,
    handler: Handler,
    asks: Option<Asks>,
}

impl ToolDef {
    pub async fn call(&self, ctx: Ctx, arguments: JsonObject) -> Result<CallToolResult, ErrorData> {
        (self.handler)(ctx, arguments).await
    }

    /// A destructive tool asks the person first (see `mcp::confirm`): `change` turns its
    /// input into the change to describe.
    fn asks<I: DeserializeOwned + 'static>(mut self, change: fn(I) -> Change) -> ToolDef {
        let name = self.name;
        self.asks = Some(Arc::new(move |arguments: &JsonObject| {
            parse_arguments::<I>(name, arguments.clone()).map(change)
        }));
        self
    }

    /// The change this call would make, when the tool asks before it runs; arguments that
    /// do not fit are the same JSON-RPC error the call itself would answer.
    pub fn change(&self, arguments: &JsonObject) -> Option<Result<Change, ErrorData>> {
        self.asks.as_ref().map(|asks| asks(arguments))
    }
}

/// Declares one tool: `I` is its input (its schemars schema is the input schema), `O` its
/// output (its utoipa schema, the same the REST API documents, is the output schema).
pub fn define<I, O, F, Fut>(
    name: &'static str,
    title: &'static str,
    description: &'static str,
    kind: Kind,
    access: Access,
    run: F,
) -> ToolDef
where
    I: DeserializeOwned + schemars::JsonSchema + Send + 'static,
    O: Serialize + DeserializeOwned + utoipa::ToSchema + Summary + Send + 'static,
    F: Fn(Ctx, I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, ServiceError>> + Send + 'static,
{
    let mut tool = Tool::new(name, description, schema::input::<I>());
    tool.title = Some(title.to_string());
    tool.output_schema = Some(Arc::new(schema::output::<O>()));
    tool.annotations = Some(kind.annotations(title));
    let run = Arc::new(run);
    let handler: Handler = Arc::new(move |ctx, arguments| {
        let run = run.clone();
        Box::pin(async move {
            let input: I = parse_arguments(name, arguments)?;
            let budget = ctx.budget;
            match run(ctx, input).await {
                Ok(output) => success(&output, budget, name),
                Err(error) => Ok(failure(&error)),
            }
        })
    });
    debug_assert!(
        matches!(kind, Kind::Read) == matches!(access, Access::Read | Access::ClusterRead),
        "{name}: a read-only tool needs read access and a write tool write access"
    );
    ToolDef {
        name,
        tool,
        access,
        toolset: Toolset::Jobs,
        handler,
        asks: None,
    }
}

/// Declares one list tool: its output is a `Page<T>`, the page every list answers with.
pub fn define_list<I, T, F, Fut>(
    name: &'static str,
    title: &'static str,
    description: &'static str,
    access: Access,
    run: F,
) -> ToolDef
where
    I: DeserializeOwned + schemars::JsonSchema + Send + 'static,
    T: Serialize + DeserializeOwned + utoipa::ToSchema + Line + Send + 'static,
    F: Fn(Ctx, I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Page<T>, ServiceError>> + Send + 'static,
{
    let mut def = define(name, title, description, Kind::Read, access, run);
    def.tool.output_schema = Some(Arc::new(schema::page_output::<T>()));
    def
}

/// Arguments that do not fit the schema are the caller's protocol mistake: a JSON-RPC
/// "invalid params" error naming the field.
fn parse_arguments<I: DeserializeOwned>(tool: &str, arguments: JsonObject) -> Result<I, ErrorData> {
    let value = serde_json::Value::Object(arguments);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = if path == "." {
            format!("invalid arguments for {tool}: {}", e.inner())
        } else {
            format!("invalid arguments for {tool}: {path}: {}", e.inner())
        };
        ErrorData::invalid_params(message, None)
    })
}

/// A tool's answer within the budget: `structuredContent`, its text, and when it was cut,
/// what was cut and how to get the rest (in the text and in `_meta`).
fn success<O: Serialize + DeserializeOwned + Summary>(
    output: &O,
    budget: usize,
    tool: &str,
) -> Result<CallToolResult, ErrorData> {
    let fitted = bounded::fit(output, budget, tool)
        .map_err(|e| ErrorData::internal_error(format!("cannot encode the result: {e}"), None))?;
    let mut result = CallToolResult::structured(fitted.value);
    result.content = vec![ContentBlock::text(fitted.text)];
    if let Some(serde_json::Value::Object(meta)) = fitted.meta {
        result.meta = Some(rmcp::model::MetaObject(meta));
    }
    Ok(result)
}

/// The service's message plus what to do about it, for an agent to act on.
pub fn failure(error: &ServiceError) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(error_text(error))])
}

/// What an agent reads when a tool fails: the service's message and the next step. One
/// arm per kind of service error, so a new kind needs its own words here.
pub fn error_text(error: &ServiceError) -> String {
    match error {
        ServiceError::Validation(_) => {
            format!("{error}. Fix the named fields and call the tool again.")
        }
        ServiceError::NotFound(_) => error.to_string(),
        ServiceError::Conflict(_) => format!(
            "{error}. Something changed meanwhile: read the current state again (get_job, get_variable) and retry."
        ),
        ServiceError::Rejected(_) => format!(
            "Nomad rejected the request: {error}. Correct the job and try again; plan_job shows what Nomad would do without changing anything."
        ),
        ServiceError::NomadUnavailable(_) => format!(
            "Nomad is not reachable right now: {error}. Try again in a little while; nothing was changed."
        ),
        ServiceError::DatabaseUnavailable(_) => format!(
            "{error}. This is the gateway's own database, not Nomad; try again in a little while."
        ),
        ServiceError::NomadFailed(_) => format!(
            "Nomad failed to answer: {error}. Try again; if it keeps failing, check the cluster with get_cluster_status."
        ),
        ServiceError::NomadPermission(_) => format!(
            "{error}. This is the gateway's own Nomad token, not yours: ask an operator to extend its ACL policy."
        ),
        ServiceError::Forbidden {
            missing_scope: Some(scope),
            ..
        } => format!(
            "{error}. Your credential needs the '{scope}' scope; ask an admin for a key or token with it."
        ),
        ServiceError::Forbidden { .. } => {
            format!("{error}. Your credential does not allow this here; nothing was changed.")
        }
        ServiceError::RateLimited { .. } => {
            format!("{error}. Wait that long, then call the tool again; nothing was changed.")
        }
        ServiceError::AuditUnavailable(_) => format!(
            "{error}. The gateway pauses writes while its audit log cannot record them; nothing was changed. Try again in a few seconds."
        ),
        ServiceError::Internal(_) => format!(
            "{error}. This is a fault in the gateway, not in your request or Nomad; an operator can find it in the gateway's log."
        ),
    }
}

/// Every tool, in the order `tools/list` shows them.
pub fn all() -> &'static [ToolDef] {
    static TOOLS: OnceLock<Vec<ToolDef>> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let modules = [
            (Toolset::Jobs, jobs::tools()),
            (Toolset::Jobs, job_actions::tools()),
            (Toolset::Allocations, allocations::tools()),
            (Toolset::Services, services::tools()),
            (Toolset::Variables, variables::tools()),
            (Toolset::Evaluations, evaluations::tools()),
            (Toolset::Deployments, deployments::tools()),
            (Toolset::Nodes, nodes::tools()),
            (Toolset::Volumes, volumes::tools()),
            (Toolset::Cluster, cluster::tools()),
            (Toolset::Operations, operations::tools()),
        ];
        modules
            .into_iter()
            .flat_map(|(toolset, defs)| defs.into_iter().map(move |def| ToolDef { toolset, ..def }))
            .collect()
    })
}

pub fn find(name: &str) -> Option<&'static ToolDef> {
    all().iter().find(|t| t.name == name)
}

/// One line of a list's text summary.
pub trait Line {
    fn line(&self) -> String;
}

impl<T: Line> Summary for Page<T> {
    fn summary(&self) -> String {
        if self.items.is_empty() {
            return "Nothing to list.".into();
        }
        let mut rows: Vec<String> = self.items.iter().map(Line::line).collect();
        if let Some(cursor) = &self.next_cursor {
            let total = self.total.map(|t| format!(" of {t}")).unwrap_or_default();
            rows.push(format!(
                "({} shown{total}; more: call again with cursor '{cursor}')",
                self.items.len()
            ));
        }
        rows.join("\n")
    }

    /// A page cut to the budget continues right after its last kept item.
    fn resume(&mut self, full: &Self, tool: &str) -> String {
        self.resume = Resume::None;
        self.next_cursor = full.cursor_after(self.items.len());
        match &self.next_cursor {
            Some(cursor) if self.items.len() < full.items.len() => format!(
                "For the next items, call {tool} again with cursor '{cursor}' (a smaller limit \
                 fits more of each page)"
            ),
            _ => NARROW.into(),
        }
    }
}

/// The page arguments of a list that takes nothing else.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageInput {
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_described_with_hints_and_schemas() {
        for def in all() {
            let tool = &def.tool;
            assert!(tool.title.is_some(), "{}", tool.name);
            assert!(
                tool.description.as_ref().is_some_and(|d| d.len() > 40),
                "{}",
                tool.name
            );
            assert!(tool.output_schema.is_some(), "{}", tool.name);
            let hints = tool.annotations.as_ref().unwrap();
            assert!(hints.read_only_hint.is_some() && hints.destructive_hint.is_some());
            // What is marked destructive asks the person first, and nothing else does.
            assert_eq!(
                hints.destructive_hint == Some(true),
                def.asks.is_some(),
                "{}: a destructive tool says what it would change",
                tool.name
            );
        }
    }
}
