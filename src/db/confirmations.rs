//! Queries on `mcp_confirmations`. A confirmation is used once: whoever deletes the row
//! owns the answer, so two retries of one call cannot both run it.

use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use super::entities::mcp_confirmation::{ActiveModel, Column, Entity, Model};
use super::operations::now;

pub type ConfirmationRow = Model;

/// Records a question.
pub async fn ask(db: &DatabaseConnection, row: ConfirmationRow) -> Result<(), DbErr> {
    let active: ActiveModel = row.into();
    ActiveModelTrait::insert(active.reset_all(), db).await?;
    Ok(())
}

/// Drops the questions that expired unanswered (the session sweep calls it); a retry that
/// comes after expiry is refused by its expiry before this runs.
pub async fn expire(db: &DatabaseConnection) -> Result<u64, DbErr> {
    Entity::delete_many()
        .filter(Column::ExpiresAt.lt(now()))
        .exec(db)
        .await
        .map(|done| done.rows_affected)
}

/// Takes the question (one `DELETE ... RETURNING`): `None` when it was never asked, was
/// answered already, or expired and was swept.
pub async fn take(
    db: &DatabaseConnection,
    id: uuid::Uuid,
) -> Result<Option<ConfirmationRow>, DbErr> {
    let mut taken = Entity::delete_many()
        .filter(Column::Id.eq(id))
        .exec_with_returning(db)
        .await?;
    Ok(taken.pop())
}
