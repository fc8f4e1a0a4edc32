//! `mcp_sessions`: one row per open MCP session of either transport, so any replica can
//! check who owns a session and serve it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mcp_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `streamable_http` or `sse`.
    pub transport: String,
    pub subject: String,
    /// The kind of credential that opened it (`local`, `api_key:<id>`, `jwt:<issuer>`).
    pub credential: String,
    pub protocol_version: Option<String>,
    pub client_info: Option<Json>,
    pub capabilities: Option<Json>,
    /// The client's `initialize` parameters, replayed when another replica restores it.
    pub initialize: Option<Json>,
    /// The replica that holds a legacy SSE stream; `NULL` for Streamable HTTP.
    pub holder: Option<String>,
    pub created_at: DateTimeWithTimeZone,
    pub last_seen_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
