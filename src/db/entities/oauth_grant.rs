//! `oauth_grants`: what a person approved for a client: the scopes and namespaces its
//! tokens carry, and the API key they signed in with (the grant dies with it).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_grants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: String,
    pub subject: String,
    pub scopes: Json,
    pub namespaces: Json,
    pub api_key_id: Option<Uuid>,
    pub resource: String,
    pub created_at: DateTimeWithTimeZone,
    /// No refresh after this.
    pub expires_at: DateTimeWithTimeZone,
    pub revoked_at: Option<DateTimeWithTimeZone>,
    pub revoked_why: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
