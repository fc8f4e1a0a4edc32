//! What replicas share besides operations: MCP sessions of both transports (so any replica
//! can serve a session it did not open), legacy SSE messages on their way to the replica
//! that holds the stream, the replicas alive now, and the shared rate-limit buckets.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum McpSessions {
    Table,
    Id,
    Transport,
    Subject,
    Credential,
    ProtocolVersion,
    ClientInfo,
    Capabilities,
    Initialize,
    Holder,
    CreatedAt,
    LastSeenAt,
}

#[derive(DeriveIden)]
enum McpRelay {
    Table,
    Id,
    SessionId,
    Body,
    Traceparent,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Replicas {
    Table,
    Id,
    StartedAt,
    SeenAt,
}

#[derive(DeriveIden)]
enum RateBuckets {
    Table,
    Key,
    Tokens,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(McpSessions::Table)
                    .if_not_exists()
                    .col(string_len(McpSessions::Id, 64).primary_key())
                    .col(string_len(McpSessions::Transport, 16))
                    .col(string(McpSessions::Subject))
                    .col(string(McpSessions::Credential))
                    .col(string_len_null(McpSessions::ProtocolVersion, 32))
                    .col(json_null(McpSessions::ClientInfo))
                    .col(json_null(McpSessions::Capabilities))
                    .col(json_null(McpSessions::Initialize))
                    .col(string_len_null(McpSessions::Holder, 64))
                    .col(timestamp_with_time_zone(McpSessions::CreatedAt))
                    .col(timestamp_with_time_zone(McpSessions::LastSeenAt))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_mcp_sessions_subject", McpSessions::Subject),
            ("idx_mcp_sessions_last_seen_at", McpSessions::LastSeenAt),
            ("idx_mcp_sessions_holder", McpSessions::Holder),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(McpSessions::Table)
                        .col(column)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(McpRelay::Table)
                    .if_not_exists()
                    .col(pk_uuid(McpRelay::Id))
                    .col(string_len(McpRelay::SessionId, 64))
                    .col(text(McpRelay::Body))
                    .col(string_len_null(McpRelay::Traceparent, 128))
                    .col(timestamp_with_time_zone(McpRelay::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Replicas::Table)
                    .if_not_exists()
                    .col(string_len(Replicas::Id, 64).primary_key())
                    .col(timestamp_with_time_zone(Replicas::StartedAt))
                    .col(timestamp_with_time_zone(Replicas::SeenAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RateBuckets::Table)
                    .if_not_exists()
                    .col(string(RateBuckets::Key).primary_key())
                    .col(double(RateBuckets::Tokens))
                    .col(timestamp_with_time_zone(RateBuckets::At))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            McpSessions::Table.into_iden(),
            McpRelay::Table.into_iden(),
            Replicas::Table.into_iden(),
            RateBuckets::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
