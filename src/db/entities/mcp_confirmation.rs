//! `mcp_confirmations`: a destructive call asked about with `input_required`, waiting for
//! the retried call that carries the person's answer.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mcp_confirmations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Who was asked (the rate-limit key form: credential kind, issuer, subject or key id).
    pub caller: String,
    pub tool: String,
    /// SHA-256 of the call's arguments, so the answer only lets the same call run.
    pub arguments_digest: String,
    #[sea_orm(column_type = "Text")]
    pub asked: String,
    pub created_at: DateTimeWithTimeZone,
    pub expires_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
