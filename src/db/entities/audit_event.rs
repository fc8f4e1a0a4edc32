//! `audit_events`: inserted, never updated.

use sea_orm::entity::prelude::*;

// Serde: events waiting for the database are kept in the audit spool as JSON lines.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub occurred_at: DateTimeWithTimeZone,
    pub caller_subject: String,
    pub caller_key_id: Option<Uuid>,
    pub caller_issuer: Option<String>,
    pub transport: String,
    pub operation: String,
    pub namespace: Option<String>,
    pub job_id: Option<String>,
    pub arguments: Json,
    pub outcome: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub message: Option<String>,
    pub nomad_eval_id: Option<String>,
    pub duration_ms: i64,
    pub trace_id: Option<String>,
    pub client_addr: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
