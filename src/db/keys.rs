//! Queries on `api_keys`.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};

use super::entities::api_key::{self, ActiveModel, Column, Entity, Model};

pub type ApiKeyRow = Model;

pub async fn insert(db: &DatabaseConnection, row: ApiKeyRow) -> Result<(), DbErr> {
    let active: ActiveModel = row.into();
    ActiveModelTrait::insert(active.reset_all(), db)
        .await
        .map(|_| ())
}

pub async fn by_prefix(db: &DatabaseConnection, prefix: &str) -> Result<Option<ApiKeyRow>, DbErr> {
    Entity::find()
        .filter(Column::Prefix.eq(prefix))
        .one(db)
        .await
}

pub async fn by_id(db: &DatabaseConnection, id: uuid::Uuid) -> Result<Option<ApiKeyRow>, DbErr> {
    Entity::find_by_id(id).one(db).await
}

pub async fn list(db: &DatabaseConnection) -> Result<Vec<ApiKeyRow>, DbErr> {
    Entity::find().order_by_asc(Column::CreatedAt).all(db).await
}

pub async fn count(db: &DatabaseConnection) -> Result<u64, DbErr> {
    Entity::find().count(db).await
}

/// Marks a key revoked; `false` when no such key exists.
pub async fn revoke(
    db: &DatabaseConnection,
    id: uuid::Uuid,
    at: chrono::DateTime<chrono::FixedOffset>,
) -> Result<bool, DbErr> {
    let Some(row) = Entity::find_by_id(id).one(db).await? else {
        return Ok(false);
    };
    if row.revoked_at.is_some() {
        return Ok(true);
    }
    let mut active: ActiveModel = row.into();
    active.revoked_at = Set(Some(at));
    active.update(db).await.map(|_| true)
}

pub async fn touch(
    db: &DatabaseConnection,
    id: uuid::Uuid,
    at: chrono::DateTime<chrono::FixedOffset>,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::LastUsedAt, sea_orm::sea_query::Expr::value(at))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}

pub use api_key::Column as ApiKeyColumn;
