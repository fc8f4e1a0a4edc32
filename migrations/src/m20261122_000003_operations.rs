//! Tracked operations: every accepted write, followed until Nomad says how it ended. The
//! lease columns let exactly one replica follow an operation at a time.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Operations {
    Table,
    Id,
    Kind,
    CallerSubject,
    Namespace,
    JobId,
    NodeId,
    NomadEvalId,
    JobVersion,
    JobModifyIndex,
    DeploymentId,
    State,
    Progress,
    Message,
    IdempotencyKey,
    RequestSha256,
    CreatedAt,
    UpdatedAt,
    FinishedAt,
    LeaseOwner,
    LeaseExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Operations::Table)
                    .if_not_exists()
                    .col(pk_uuid(Operations::Id))
                    .col(string_len(Operations::Kind, 32))
                    .col(string(Operations::CallerSubject))
                    .col(string_null(Operations::Namespace))
                    .col(string_null(Operations::JobId))
                    .col(string_null(Operations::NodeId))
                    .col(string_null(Operations::NomadEvalId))
                    .col(big_integer_null(Operations::JobVersion))
                    .col(big_integer_null(Operations::JobModifyIndex))
                    .col(string_null(Operations::DeploymentId))
                    .col(string_len(Operations::State, 16))
                    .col(json(Operations::Progress))
                    .col(text_null(Operations::Message))
                    .col(string_null(Operations::IdempotencyKey))
                    .col(char_len_null(Operations::RequestSha256, 64))
                    .col(timestamp_with_time_zone(Operations::CreatedAt))
                    .col(timestamp_with_time_zone(Operations::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Operations::FinishedAt))
                    .col(string_null(Operations::LeaseOwner))
                    .col(timestamp_with_time_zone_null(Operations::LeaseExpiresAt))
                    .to_owned(),
            )
            .await?;
        // One idempotency key per caller; NULL keys never collide in either database.
        manager
            .create_index(
                Index::create()
                    .name("idx_operations_caller_idempotency_key")
                    .table(Operations::Table)
                    .col(Operations::CallerSubject)
                    .col(Operations::IdempotencyKey)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_operations_state", Operations::State),
            ("idx_operations_job_id", Operations::JobId),
            ("idx_operations_created_at", Operations::CreatedAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Operations::Table)
                        .col(column)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Operations::Table).to_owned())
            .await
    }
}
