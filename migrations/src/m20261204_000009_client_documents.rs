//! Clients named by a client ID metadata document: their `client_id` is the document's URL
//! (up to 255 characters), which grants and codes name. SQLite does not enforce a
//! `varchar` length (and cannot alter a column's type), so only Postgres changes.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OauthGrants {
    Table,
    ClientId,
}

#[derive(DeriveIden)]
enum OauthCodes {
    Table,
    ClientId,
}

async fn client_id_length(manager: &SchemaManager<'_>, length: u32) -> Result<(), DbErr> {
    if manager.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Sqlite {
        return Ok(());
    }
    manager
        .alter_table(
            Table::alter()
                .table(OauthGrants::Table)
                .modify_column(
                    ColumnDef::new(OauthGrants::ClientId)
                        .string_len(length)
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
    manager
        .alter_table(
            Table::alter()
                .table(OauthCodes::Table)
                .modify_column(
                    ColumnDef::new(OauthCodes::ClientId)
                        .string_len(length)
                        .not_null(),
                )
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        client_id_length(manager, 255).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        client_id_length(manager, 64).await
    }
}
