//! Queries on `replicas`: each gateway process refreshes its row while it runs, so the
//! others can tell a live holder of an SSE stream from a dead one.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect,
};

use super::entities::replica::{ActiveModel, Column, Entity, Model};
use super::operations::Timestamp;

/// Records that `id` is alive at `at`.
pub async fn beat(
    db: &DatabaseConnection,
    id: &str,
    started: Timestamp,
    at: Timestamp,
) -> Result<(), DbErr> {
    let row: ActiveModel = Model {
        id: id.to_string(),
        started_at: started,
        seen_at: at,
    }
    .into();
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::Id)
                .update_column(Column::SeenAt)
                .to_owned(),
        )
        .exec(db)
        .await
        .map(|_| ())
}

/// True when `id` refreshed its row at or after `since`.
pub async fn alive(db: &DatabaseConnection, id: &str, since: Timestamp) -> Result<bool, DbErr> {
    Ok(Entity::find_by_id(id.to_string())
        .filter(Column::SeenAt.gte(since))
        .one(db)
        .await?
        .is_some())
}

/// The replicas seen at or after `since`.
pub async fn all_alive(db: &DatabaseConnection, since: Timestamp) -> Result<Vec<String>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::SeenAt.gte(since))
        .into_tuple::<String>()
        .all(db)
        .await
}

/// Removes `id` (at its shutdown) and every replica not seen since `before`.
pub async fn remove(db: &DatabaseConnection, id: &str, before: Timestamp) -> Result<(), DbErr> {
    Entity::delete_many()
        .filter(
            Condition::any()
                .add(Column::Id.eq(id))
                .add(Column::SeenAt.lt(before)),
        )
        .exec(db)
        .await
        .map(|_| ())
}
