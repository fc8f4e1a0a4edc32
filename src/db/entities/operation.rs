//! `operations`: one row per tracked write, updated while it is followed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: String,
    pub caller_subject: String,
    pub namespace: Option<String>,
    pub job_id: Option<String>,
    pub node_id: Option<String>,
    pub nomad_eval_id: Option<String>,
    pub job_version: Option<i64>,
    pub job_modify_index: Option<i64>,
    pub deployment_id: Option<String>,
    pub state: String,
    pub progress: Json,
    #[sea_orm(column_type = "Text", nullable)]
    pub message: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_sha256: Option<String>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
    pub finished_at: Option<DateTimeWithTimeZone>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeWithTimeZone>,
    /// The write's answer; `NULL` while Nomad has not answered yet.
    pub result: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
