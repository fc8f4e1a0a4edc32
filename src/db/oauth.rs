//! Queries of the built-in authorization server. A code or a refresh token is spent by one
//! conditional `UPDATE` (`used_at` still empty), so two replicas presented the same one
//! cannot both spend it.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::entities::{
    oauth_client, oauth_code, oauth_grant, oauth_key, oauth_pending, oauth_refresh_token,
};
use super::operations::now;

pub type ClientRow = oauth_client::Model;
pub type GrantRow = oauth_grant::Model;
pub type CodeRow = oauth_code::Model;
pub type RefreshRow = oauth_refresh_token::Model;
pub type KeyRow = oauth_key::Model;
pub type PendingRow = oauth_pending::Model;

type At = chrono::DateTime<chrono::FixedOffset>;

pub async fn insert_client(db: &DatabaseConnection, row: ClientRow) -> Result<(), DbErr> {
    let active: oauth_client::ActiveModel = row.into();
    ActiveModelTrait::insert(active.reset_all(), db).await?;
    Ok(())
}

pub async fn client(db: &DatabaseConnection, id: &str) -> Result<Option<ClientRow>, DbErr> {
    oauth_client::Entity::find_by_id(id.to_string())
        .one(db)
        .await
}

/// Records the first token issued to a client (a used registration does not expire).
pub async fn client_used(db: &DatabaseConnection, id: &str) -> Result<(), DbErr> {
    oauth_client::Entity::update_many()
        .col_expr(oauth_client::Column::UsedAt, Expr::value(now()))
        .filter(oauth_client::Column::ClientId.eq(id))
        .filter(oauth_client::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn insert_grant(db: &DatabaseConnection, row: GrantRow) -> Result<(), DbErr> {
    let active: oauth_grant::ActiveModel = row.into();
    ActiveModelTrait::insert(active.reset_all(), db).await?;
    Ok(())
}

pub async fn grant(db: &DatabaseConnection, id: uuid::Uuid) -> Result<Option<GrantRow>, DbErr> {
    oauth_grant::Entity::find_by_id(id).one(db).await
}

/// Revokes a grant (its refresh tokens and access tokens stop working); `false` when it
/// was revoked already.
pub async fn revoke_grant(
    db: &DatabaseConnection,
    id: uuid::Uuid,
    why: &str,
) -> Result<bool, DbErr> {
    let done = oauth_grant::Entity::update_many()
        .col_expr(oauth_grant::Column::RevokedAt, Expr::value(now()))
        .col_expr(oauth_grant::Column::RevokedWhy, Expr::value(why))
        .filter(oauth_grant::Column::Id.eq(id))
        .filter(oauth_grant::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

pub async fn insert_code(db: &DatabaseConnection, row: CodeRow) -> Result<(), DbErr> {
    let active: oauth_code::ActiveModel = row.into();
    ActiveModelTrait::insert(active.reset_all(), db).await?;
    Ok(())
}

/// What presenting a code or a refresh token came to.
#[derive(Debug)]
pub enum Spent<T> {
    /// Spent now, by this call.
    Now(T),
    /// Spent before: a replay.
    Before(T),
    Unknown,
}

/// Spends a one-use row (a code, a refresh token) by one conditional `UPDATE` that marks it
/// used only if it was not, so two replicas cannot both spend it; then reads it.
async fn spend<E>(
    db: &DatabaseConnection,
    sha256: &str,
    key: E::Column,
    used: E::Column,
) -> Result<Spent<E::Model>, DbErr>
where
    E: EntityTrait,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<String>,
{
    let done = E::update_many()
        .col_expr(used, Expr::value(now()))
        .filter(key.eq(sha256))
        .filter(used.is_null())
        .exec(db)
        .await?;
    let row = E::find_by_id(sha256.to_string()).one(db).await?;
    Ok(match (row, done.rows_affected) {
        (Some(row), 1) => Spent::Now(row),
        (Some(row), _) => Spent::Before(row),
        (None, _) => Spent::Unknown,
    })
}

/// Spends a code: marks it used if it was not, and answers its row.
pub async fn spend_code(db: &DatabaseConnection, sha256: &str) -> Result<Spent<CodeRow>, DbErr> {
    spend::<oauth_code::Entity>(
        db,
        sha256,
        oauth_code::Column::CodeSha256,
        oauth_code::Column::UsedAt,
    )
    .await
}

pub async fn insert_refresh(db: &DatabaseConnection, row: RefreshRow) -> Result<(), DbErr> {
    let active: oauth_refresh_token::ActiveModel = row.into();
    ActiveModelTrait::insert(active.reset_all(), db).await?;
    Ok(())
}

/// Spends a refresh token: marks it used if it was not, and answers its row.
pub async fn spend_refresh(
    db: &DatabaseConnection,
    sha256: &str,
) -> Result<Spent<RefreshRow>, DbErr> {
    spend::<oauth_refresh_token::Entity>(
        db,
        sha256,
        oauth_refresh_token::Column::TokenSha256,
        oauth_refresh_token::Column::UsedAt,
    )
    .await
}

/// A refresh token's row, spent or not (revocation).
pub async fn refresh(db: &DatabaseConnection, sha256: &str) -> Result<Option<RefreshRow>, DbErr> {
    oauth_refresh_token::Entity::find_by_id(sha256.to_string())
        .one(db)
        .await
}

pub async fn insert_pending(db: &DatabaseConnection, row: PendingRow) -> Result<(), DbErr> {
    let active: oauth_pending::ActiveModel = row.into();
    ActiveModelTrait::insert(active.reset_all(), db).await?;
    Ok(())
}

/// Takes a waiting request (one `DELETE ... RETURNING`, so it is answered once).
pub async fn take_pending(
    db: &DatabaseConnection,
    state_sha256: &str,
) -> Result<Option<PendingRow>, DbErr> {
    let mut taken = oauth_pending::Entity::delete_many()
        .filter(oauth_pending::Column::StateSha256.eq(state_sha256))
        .exec_with_returning(db)
        .await?;
    Ok(taken.pop())
}

/// The signing keys, newest first.
pub async fn keys(db: &DatabaseConnection) -> Result<Vec<KeyRow>, DbErr> {
    oauth_key::Entity::find()
        .order_by_desc(oauth_key::Column::CreatedAt)
        .all(db)
        .await
}

pub async fn insert_key(db: &DatabaseConnection, row: KeyRow) -> Result<(), DbErr> {
    let active: oauth_key::ActiveModel = row.into();
    ActiveModelTrait::insert(active.reset_all(), db).await?;
    Ok(())
}

/// Removes what no request can use any more: codes and refresh tokens past their expiry,
/// grants expired or revoked before `grants_before`, keys that stopped signing before
/// `keys_before`, and registrations made before `clients_before` that were never used.
pub async fn sweep(
    db: &DatabaseConnection,
    grants_before: At,
    keys_before: At,
    clients_before: At,
) -> Result<u64, DbErr> {
    let at = now();
    let mut removed = 0;
    removed += oauth_code::Entity::delete_many()
        .filter(oauth_code::Column::ExpiresAt.lt(at))
        .exec(db)
        .await?
        .rows_affected;
    removed += oauth_pending::Entity::delete_many()
        .filter(oauth_pending::Column::ExpiresAt.lt(at))
        .exec(db)
        .await?
        .rows_affected;
    removed += oauth_refresh_token::Entity::delete_many()
        .filter(oauth_refresh_token::Column::ExpiresAt.lt(at))
        .exec(db)
        .await?
        .rows_affected;
    let gone = Condition::any()
        .add(oauth_grant::Column::ExpiresAt.lt(grants_before))
        .add(oauth_grant::Column::RevokedAt.lt(grants_before));
    let grants: Vec<uuid::Uuid> = oauth_grant::Entity::find()
        .filter(gone)
        .all(db)
        .await?
        .into_iter()
        .map(|g| g.id)
        .collect();
    if !grants.is_empty() {
        removed += oauth_refresh_token::Entity::delete_many()
            .filter(oauth_refresh_token::Column::GrantId.is_in(grants.clone()))
            .exec(db)
            .await?
            .rows_affected;
        removed += oauth_grant::Entity::delete_many()
            .filter(oauth_grant::Column::Id.is_in(grants))
            .exec(db)
            .await?
            .rows_affected;
    }
    removed += oauth_key::Entity::delete_many()
        .filter(oauth_key::Column::SignsUntil.lt(keys_before))
        .exec(db)
        .await?
        .rows_affected;
    removed += oauth_client::Entity::delete_many()
        .filter(oauth_client::Column::UsedAt.is_null())
        .filter(oauth_client::Column::CreatedAt.lt(clients_before))
        .exec(db)
        .await?
        .rows_affected;
    Ok(removed)
}
