//! Queries on `mcp_sessions`: who owns a session, when it was last used, and which replica
//! holds a legacy SSE stream.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use super::entities::mcp_session::{ActiveModel, Column, Entity, Model};
use super::operations::Timestamp;

pub type SessionRow = Model;

pub async fn insert(db: &DatabaseConnection, row: SessionRow) -> Result<(), DbErr> {
    let active: ActiveModel = row.into();
    ActiveModelTrait::insert(active.reset_all(), db)
        .await
        .map(|_| ())
}

pub async fn find(db: &DatabaseConnection, id: &str) -> Result<Option<SessionRow>, DbErr> {
    Entity::find_by_id(id.to_string()).one(db).await
}

/// Removes the session; true when it existed.
pub async fn delete(db: &DatabaseConnection, id: &str) -> Result<bool, DbErr> {
    let done = Entity::delete_many()
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Removes these sessions; the ids that existed.
pub async fn delete_many(db: &DatabaseConnection, ids: &[String]) -> Result<Vec<String>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found = existing(db, ids).await?;
    if !found.is_empty() {
        Entity::delete_many()
            .filter(Column::Id.is_in(found.clone()))
            .exec(db)
            .await?;
    }
    Ok(found)
}

/// Which of `ids` still have a row.
pub async fn existing(db: &DatabaseConnection, ids: &[String]) -> Result<Vec<String>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Id.is_in(ids.to_vec()))
        .into_tuple::<String>()
        .all(db)
        .await
}

/// Marks sessions used at `at` (one statement for all the sessions a replica saw).
pub async fn touch(db: &DatabaseConnection, ids: &[String], at: Timestamp) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    Entity::update_many()
        .col_expr(Column::LastSeenAt, Expr::value(at))
        .filter(Column::Id.is_in(ids.to_vec()))
        .filter(Column::LastSeenAt.lt(at))
        .exec(db)
        .await
        .map(|_| ())
}

/// A caller's sessions on one transport beyond the `keep` most recently used, least
/// recently used first: the ones a cap of `keep` ends. `except` (the session just opened)
/// is never among them and counts as one of those kept.
///
/// A caller under the cap (the usual case) costs one count on the subject's index. Over
/// it, the ids come from one statement that skips the newest `keep`, so they are one
/// snapshot even while other sessions end between the count and the list.
pub async fn beyond(
    db: &DatabaseConnection,
    transport: &str,
    subject: &str,
    keep: usize,
    except: Option<&str>,
) -> Result<Vec<String>, DbErr> {
    let mine = || {
        Entity::find()
            .filter(Column::Transport.eq(transport))
            .filter(Column::Subject.eq(subject))
    };
    if mine().count(db).await? <= keep as u64 {
        return Ok(Vec::new());
    }
    let skip = if except.is_some() {
        keep.saturating_sub(1)
    } else {
        keep
    };
    let mut newest_first = mine()
        .select_only()
        .column(Column::Id)
        .apply_if(except, |q, id| q.filter(Column::Id.ne(id)))
        .order_by_desc(Column::LastSeenAt)
        .order_by_desc(Column::CreatedAt)
        .offset(skip as u64)
        // SQLite takes an OFFSET only after a LIMIT.
        .limit(i64::MAX as u64)
        .into_tuple::<String>()
        .all(db)
        .await?;
    newest_first.reverse();
    Ok(newest_first)
}

/// Sessions of `transport` unused since `before`.
pub async fn idle_since(
    db: &DatabaseConnection,
    transport: &str,
    before: Timestamp,
) -> Result<Vec<String>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Transport.eq(transport))
        .filter(Column::LastSeenAt.lt(before))
        .limit(1000)
        .into_tuple::<String>()
        .all(db)
        .await
}

/// SSE sessions held by a replica that is not in `alive`.
pub async fn orphaned(db: &DatabaseConnection, alive: &[String]) -> Result<Vec<String>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Holder.is_not_null())
        .filter(Column::Holder.is_not_in(alive.to_vec()))
        .limit(1000)
        .into_tuple::<String>()
        .all(db)
        .await
}

/// Removes the SSE sessions a replica holds (at its shutdown).
pub async fn delete_held_by(db: &DatabaseConnection, holder: &str) -> Result<u64, DbErr> {
    Entity::delete_many()
        .filter(Column::Holder.eq(holder))
        .exec(db)
        .await
        .map(|done| done.rows_affected)
}
