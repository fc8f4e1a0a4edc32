//! `mcp_confirmations`: a destructive call waiting for the person's answer on the 2026-07-28
//! revision, where the question travels in an `input_required` result and the answer comes
//! back with the retried call, to whichever replica. The row's id is the `requestState`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum McpConfirmations {
    Table,
    Id,
    Caller,
    Tool,
    ArgumentsDigest,
    Asked,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(McpConfirmations::Table)
                    .if_not_exists()
                    .col(pk_uuid(McpConfirmations::Id))
                    .col(string_len(McpConfirmations::Caller, 512))
                    .col(string_len(McpConfirmations::Tool, 64))
                    .col(string_len(McpConfirmations::ArgumentsDigest, 64))
                    .col(text(McpConfirmations::Asked))
                    .col(timestamp_with_time_zone(McpConfirmations::CreatedAt))
                    .col(timestamp_with_time_zone(McpConfirmations::ExpiresAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(McpConfirmations::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
