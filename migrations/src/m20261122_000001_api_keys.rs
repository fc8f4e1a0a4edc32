//! API keys: only the SHA-256 of the secret is kept; the short prefix identifies a key in
//! listings and logs without revealing it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum ApiKeys {
    Table,
    Id,
    Prefix,
    SecretSha256,
    Name,
    Owner,
    Scopes,
    Namespaces,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .if_not_exists()
                    .col(pk_uuid(ApiKeys::Id))
                    .col(string_len_uniq(ApiKeys::Prefix, 32))
                    .col(char_len(ApiKeys::SecretSha256, 64))
                    .col(string(ApiKeys::Name))
                    .col(string(ApiKeys::Owner))
                    .col(json(ApiKeys::Scopes))
                    .col(json(ApiKeys::Namespaces))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiKeys::Table).to_owned())
            .await
    }
}
