//! `mcp_subscriptions`: the resources a Streamable HTTP session subscribed to
//! (`resources/subscribe`), so the replica that serves the session's `GET /mcp` stream, which
//! need not be the one the subscription arrived at, knows what to watch.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum McpSubscriptions {
    Table,
    SessionId,
    Uri,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(McpSubscriptions::Table)
                    .if_not_exists()
                    .col(string_len(McpSubscriptions::SessionId, 64))
                    .col(string_len(McpSubscriptions::Uri, 1024))
                    .col(timestamp_with_time_zone(McpSubscriptions::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(McpSubscriptions::SessionId)
                            .col(McpSubscriptions::Uri),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(McpSubscriptions::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
