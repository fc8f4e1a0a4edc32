//! The built-in OAuth authorization server (`GATEWAY_OAUTH=builtin`): registered clients,
//! grants (what a person approved for a client), their one-use codes and rotating refresh
//! tokens (both kept as SHA-256 only), requests waiting for the team's identity provider,
//! and the signing key ring shared by the replicas.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OauthClients {
    Table,
    ClientId,
    Name,
    RedirectUris,
    SecretSha256,
    AuthMethod,
    RegisteredFrom,
    CreatedAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum OauthGrants {
    Table,
    Id,
    ClientId,
    Subject,
    Scopes,
    Namespaces,
    ApiKeyId,
    Resource,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    RevokedWhy,
}

#[derive(DeriveIden)]
enum OauthCodes {
    Table,
    CodeSha256,
    GrantId,
    ClientId,
    RedirectUri,
    CodeChallenge,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum OauthRefreshTokens {
    Table,
    TokenSha256,
    GrantId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum OauthPending {
    Table,
    StateSha256,
    Request,
    Ticked,
    Nonce,
    Verifier,
    BrowserSha256,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum OauthKeys {
    Table,
    Kid,
    PrivatePkcs8,
    PublicJwk,
    CreatedAt,
    SignsUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OauthClients::Table)
                    .if_not_exists()
                    .col(string_len(OauthClients::ClientId, 64).primary_key())
                    .col(string_len(OauthClients::Name, 256))
                    .col(json(OauthClients::RedirectUris))
                    .col(char_len_null(OauthClients::SecretSha256, 64))
                    .col(string_len(OauthClients::AuthMethod, 32))
                    .col(string_len_null(OauthClients::RegisteredFrom, 64))
                    .col(timestamp_with_time_zone(OauthClients::CreatedAt))
                    .col(timestamp_with_time_zone_null(OauthClients::UsedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OauthGrants::Table)
                    .if_not_exists()
                    .col(pk_uuid(OauthGrants::Id))
                    .col(string_len(OauthGrants::ClientId, 64))
                    .col(string_len(OauthGrants::Subject, 512))
                    .col(json(OauthGrants::Scopes))
                    .col(json(OauthGrants::Namespaces))
                    .col(uuid_null(OauthGrants::ApiKeyId))
                    .col(text(OauthGrants::Resource))
                    .col(timestamp_with_time_zone(OauthGrants::CreatedAt))
                    .col(timestamp_with_time_zone(OauthGrants::ExpiresAt))
                    .col(timestamp_with_time_zone_null(OauthGrants::RevokedAt))
                    .col(string_len_null(OauthGrants::RevokedWhy, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OauthCodes::Table)
                    .if_not_exists()
                    .col(char_len(OauthCodes::CodeSha256, 64).primary_key())
                    .col(uuid(OauthCodes::GrantId))
                    .col(string_len(OauthCodes::ClientId, 64))
                    .col(text(OauthCodes::RedirectUri))
                    .col(string_len(OauthCodes::CodeChallenge, 128))
                    .col(timestamp_with_time_zone(OauthCodes::CreatedAt))
                    .col(timestamp_with_time_zone(OauthCodes::ExpiresAt))
                    .col(timestamp_with_time_zone_null(OauthCodes::UsedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OauthRefreshTokens::Table)
                    .if_not_exists()
                    .col(char_len(OauthRefreshTokens::TokenSha256, 64).primary_key())
                    .col(uuid(OauthRefreshTokens::GrantId))
                    .col(timestamp_with_time_zone(OauthRefreshTokens::CreatedAt))
                    .col(timestamp_with_time_zone(OauthRefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(OauthRefreshTokens::UsedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("oauth_refresh_tokens_grant")
                    .table(OauthRefreshTokens::Table)
                    .col(OauthRefreshTokens::GrantId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OauthPending::Table)
                    .if_not_exists()
                    .col(char_len(OauthPending::StateSha256, 64).primary_key())
                    .col(text(OauthPending::Request))
                    .col(json(OauthPending::Ticked))
                    .col(string_len(OauthPending::Nonce, 64))
                    .col(string_len(OauthPending::Verifier, 128))
                    .col(char_len(OauthPending::BrowserSha256, 64))
                    .col(timestamp_with_time_zone(OauthPending::CreatedAt))
                    .col(timestamp_with_time_zone(OauthPending::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OauthKeys::Table)
                    .if_not_exists()
                    .col(string_len(OauthKeys::Kid, 64).primary_key())
                    .col(text(OauthKeys::PrivatePkcs8))
                    .col(text(OauthKeys::PublicJwk))
                    .col(timestamp_with_time_zone(OauthKeys::CreatedAt))
                    .col(timestamp_with_time_zone(OauthKeys::SignsUntil))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OauthKeys::Table.into_iden(),
            OauthPending::Table.into_iden(),
            OauthRefreshTokens::Table.into_iden(),
            OauthCodes::Table.into_iden(),
            OauthGrants::Table.into_iden(),
            OauthClients::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
