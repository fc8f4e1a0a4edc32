//! `oauth_keys`: the ES256 keys the built-in authorization server signs access tokens with.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    /// The private key, PKCS#8 DER in base64.
    #[sea_orm(column_type = "Text")]
    pub private_pkcs8: String,
    /// The public key as a JWK (JSON text).
    #[sea_orm(column_type = "Text")]
    pub public_jwk: String,
    pub created_at: DateTimeWithTimeZone,
    /// New tokens are signed with it until then; it is published until the last of them
    /// has expired.
    pub signs_until: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
