//! The audit log: one row per write attempt and per refused call. Rows are only inserted,
//! never updated.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum AuditEvents {
    Table,
    Id,
    OccurredAt,
    CallerSubject,
    CallerKeyId,
    CallerIssuer,
    Transport,
    Operation,
    Namespace,
    JobId,
    Arguments,
    Outcome,
    Message,
    NomadEvalId,
    DurationMs,
    TraceId,
    ClientAddr,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .if_not_exists()
                    .col(pk_uuid(AuditEvents::Id))
                    .col(timestamp_with_time_zone(AuditEvents::OccurredAt))
                    .col(string(AuditEvents::CallerSubject))
                    .col(uuid_null(AuditEvents::CallerKeyId))
                    .col(string_null(AuditEvents::CallerIssuer))
                    .col(string_len(AuditEvents::Transport, 16))
                    .col(string_len(AuditEvents::Operation, 64))
                    .col(string_null(AuditEvents::Namespace))
                    .col(string_null(AuditEvents::JobId))
                    .col(json(AuditEvents::Arguments))
                    .col(string_len(AuditEvents::Outcome, 16))
                    .col(text_null(AuditEvents::Message))
                    .col(string_null(AuditEvents::NomadEvalId))
                    .col(big_integer(AuditEvents::DurationMs))
                    .col(string_len_null(AuditEvents::TraceId, 32))
                    .col(string_null(AuditEvents::ClientAddr))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_audit_events_occurred_at", AuditEvents::OccurredAt),
            (
                "idx_audit_events_caller_subject",
                AuditEvents::CallerSubject,
            ),
            ("idx_audit_events_job_id", AuditEvents::JobId),
            ("idx_audit_events_operation", AuditEvents::Operation),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditEvents::Table)
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
            .drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await
    }
}
