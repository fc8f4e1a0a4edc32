//! Queries on `mcp_subscriptions`.

use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use super::entities::mcp_subscription::{ActiveModel, Column, Entity, Model};
use super::operations::now;

/// Adds a subscription; one the session has already is left as it is.
pub async fn add(db: &DatabaseConnection, session_id: &str, uri: &str) -> Result<(), DbErr> {
    let row: ActiveModel = Model {
        session_id: session_id.to_string(),
        uri: uri.to_string(),
        created_at: now(),
    }
    .into();
    Entity::insert(row)
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// Removes a subscription; true when the session had it.
pub async fn remove(db: &DatabaseConnection, session_id: &str, uri: &str) -> Result<bool, DbErr> {
    let done = Entity::delete_many()
        .filter(Column::SessionId.eq(session_id))
        .filter(Column::Uri.eq(uri))
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}

/// The URIs a session subscribed to, oldest first.
pub async fn of(db: &DatabaseConnection, session_id: &str) -> Result<Vec<String>, DbErr> {
    use sea_orm::QueryOrder;
    Ok(Entity::find()
        .filter(Column::SessionId.eq(session_id))
        .order_by_asc(Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.uri)
        .collect())
}

/// Drops the subscriptions of sessions that ended.
pub async fn forget(db: &DatabaseConnection, session_ids: &[String]) -> Result<(), DbErr> {
    Entity::delete_many()
        .filter(Column::SessionId.is_in(session_ids.iter().cloned()))
        .exec(db)
        .await
        .map(|_| ())
}

/// Drops the subscriptions whose session row is gone (a replica that died before it could
/// forget them).
pub async fn drop_orphans(db: &DatabaseConnection) -> Result<u64, DbErr> {
    use sea_orm::sea_query::Query;

    use super::entities::mcp_session;
    Entity::delete_many()
        .filter(
            Column::SessionId.not_in_subquery(
                Query::select()
                    .column(mcp_session::Column::Id)
                    .from(mcp_session::Entity)
                    .to_owned(),
            ),
        )
        .exec(db)
        .await
        .map(|done| done.rows_affected)
}
