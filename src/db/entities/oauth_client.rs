//! `oauth_clients`: a client registered with the built-in authorization server (RFC 7591).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Json,
    /// SHA-256 of the client secret; `None` for a public client.
    pub secret_sha256: Option<String>,
    /// `none`, `client_secret_basic` or `client_secret_post`.
    pub auth_method: String,
    pub registered_from: Option<String>,
    pub created_at: DateTimeWithTimeZone,
    /// When a token was first issued to it; a registration never used expires.
    pub used_at: Option<DateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
