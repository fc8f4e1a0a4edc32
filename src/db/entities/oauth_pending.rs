//! `oauth_pending`: an authorization request waiting for the identity provider's answer.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_pending")]
pub struct Model {
    /// SHA-256 of the `state` sent to the provider.
    #[sea_orm(primary_key, auto_increment = false)]
    pub state_sha256: String,
    /// The authorization request (JSON).
    #[sea_orm(column_type = "Text")]
    pub request: String,
    /// The scopes the person ticked.
    pub ticked: Json,
    pub nonce: String,
    /// The PKCE verifier of the request to the provider.
    pub verifier: String,
    /// SHA-256 of the cookie of the browser that left.
    pub browser_sha256: String,
    pub created_at: DateTimeWithTimeZone,
    pub expires_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
