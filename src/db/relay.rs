//! Queries on `mcp_relay`: a legacy SSE message parked for the replica holding the stream.
//! Whoever deletes the row owns the message: the holder when it takes it, the replica it
//! arrived at when the holder did not answer in time. So a message is delivered once or
//! refused, never both and never silently dropped.

use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use super::entities::mcp_relay::{ActiveModel, Column, Entity, Model};
use super::operations::{Timestamp, now};

pub type RelayRow = Model;

pub async fn park(
    db: &DatabaseConnection,
    session_id: &str,
    body: String,
    traceparent: Option<String>,
) -> Result<uuid::Uuid, DbErr> {
    let id = uuid::Uuid::now_v7();
    let row = Model {
        id,
        session_id: session_id.to_string(),
        body,
        traceparent,
        created_at: now(),
    };
    let active: ActiveModel = row.into();
    ActiveModelTrait::insert(active.reset_all(), db).await?;
    Ok(id)
}

/// Takes the parked message (one `DELETE ... RETURNING`): `None` when somebody else took
/// (or withdrew) it first.
pub async fn take(db: &DatabaseConnection, id: uuid::Uuid) -> Result<Option<RelayRow>, DbErr> {
    let mut taken = Entity::delete_many()
        .filter(Column::Id.eq(id))
        .exec_with_returning(db)
        .await?;
    Ok(taken.pop())
}

/// Removes the parked message; true when it was still there (nobody took it).
pub async fn withdraw(db: &DatabaseConnection, id: uuid::Uuid) -> Result<bool, DbErr> {
    let done = Entity::delete_many()
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Drops messages older than `before` (left by a replica that died mid-relay).
pub async fn sweep(db: &DatabaseConnection, before: Timestamp) -> Result<u64, DbErr> {
    Entity::delete_many()
        .filter(Column::CreatedAt.lt(before))
        .exec(db)
        .await
        .map(|done| done.rows_affected)
}
