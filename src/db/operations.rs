//! Queries on `operations`. Every change a follower makes is conditional on holding the
//! lease, so a replica that lost it cannot overwrite the one that took over.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};

use super::entities::operation::{Column, Entity, Model};

pub type OperationRow = Model;
pub type Timestamp = sea_orm::prelude::DateTimeWithTimeZone;

/// Now, in UTC and whole microseconds (what Postgres keeps), so timestamps compare the
/// same way in both databases.
pub fn now() -> Timestamp {
    use chrono::{SubsecRound, Utc};
    Utc::now().trunc_subsecs(6).fixed_offset()
}

/// Inserts a new operation; `Ok(false)` when its idempotency key is already taken.
pub async fn insert(db: &DatabaseConnection, row: OperationRow) -> Result<bool, DbErr> {
    match Entity::insert(row.into_active_model()).exec(db).await {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Ok(false),
        Err(e) => Err(e),
    }
}

pub async fn find(db: &DatabaseConnection, id: uuid::Uuid) -> Result<Option<OperationRow>, DbErr> {
    Entity::find_by_id(id).one(db).await
}

pub async fn find_by_key(
    db: &DatabaseConnection,
    caller: &str,
    key: &str,
) -> Result<Option<OperationRow>, DbErr> {
    Entity::find()
        .filter(Column::CallerSubject.eq(caller))
        .filter(Column::IdempotencyKey.eq(key))
        .one(db)
        .await
}

pub async fn delete(db: &DatabaseConnection, id: uuid::Uuid) -> Result<(), DbErr> {
    Entity::delete_by_id(id).exec(db).await.map(|_| ())
}

/// Stores the write's answer and what it set off; the lease is released so any replica
/// may follow it.
pub async fn accept(db: &DatabaseConnection, row: OperationRow) -> Result<(), DbErr> {
    let mut active = row.into_active_model();
    active = active.reset_all();
    active.update(db).await.map(|_| ())
}

#[derive(Debug, Default, Clone)]
pub struct OperationFilter {
    pub job_id: Option<String>,
    pub caller: Option<String>,
    pub state: Option<String>,
    pub kind: Option<String>,
    pub offset: u64,
    pub limit: u64,
}

/// Accepted operations, newest first.
pub async fn list(
    db: &DatabaseConnection,
    filter: &OperationFilter,
) -> Result<Vec<OperationRow>, DbErr> {
    let mut condition = Condition::all().add(Column::Result.is_not_null());
    if let Some(j) = &filter.job_id {
        condition = condition.add(Column::JobId.eq(j.clone()));
    }
    if let Some(c) = &filter.caller {
        condition = condition.add(Column::CallerSubject.eq(c.clone()));
    }
    if let Some(s) = &filter.state {
        condition = condition.add(Column::State.eq(s.clone()));
    }
    if let Some(k) = &filter.kind {
        condition = condition.add(Column::Kind.eq(k.clone()));
    }
    Entity::find()
        .filter(condition)
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .offset(filter.offset)
        .limit(filter.limit)
        .all(db)
        .await
}

/// Unfinished operations nobody holds (no lease, or an expired one).
pub async fn claimable(
    db: &DatabaseConnection,
    now: Timestamp,
    limit: u64,
) -> Result<Vec<OperationRow>, DbErr> {
    Entity::find()
        .filter(Column::FinishedAt.is_null())
        .filter(
            Condition::any()
                .add(Column::LeaseOwner.is_null())
                .add(Column::LeaseExpiresAt.lt(now)),
        )
        .order_by_asc(Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await
}

/// Takes the lease when it is free, expired or already ours; true when it is ours now.
pub async fn claim(
    db: &DatabaseConnection,
    id: uuid::Uuid,
    owner: &str,
    until: Timestamp,
    now: Timestamp,
) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::LeaseOwner, Expr::value(owner))
        .col_expr(Column::LeaseExpiresAt, Expr::value(until))
        .filter(Column::Id.eq(id))
        .filter(Column::FinishedAt.is_null())
        .filter(
            Condition::any()
                .add(Column::LeaseOwner.is_null())
                .add(Column::LeaseOwner.eq(owner))
                .add(Column::LeaseExpiresAt.lt(now)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Writes a follower's view of the operation, only while it holds the lease; extends
/// the lease. False when the lease is gone (another replica follows it now) or the
/// operation finished meanwhile (cancelled).
pub async fn update_followed(
    db: &DatabaseConnection,
    row: &OperationRow,
    owner: &str,
    until: Timestamp,
) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::State, Expr::value(row.state.clone()))
        .col_expr(Column::Progress, Expr::value(row.progress.clone()))
        .col_expr(Column::Message, Expr::value(row.message.clone()))
        .col_expr(Column::DeploymentId, Expr::value(row.deployment_id.clone()))
        .col_expr(Column::JobVersion, Expr::value(row.job_version))
        .col_expr(Column::UpdatedAt, Expr::value(row.updated_at))
        .col_expr(Column::FinishedAt, Expr::value(row.finished_at))
        .col_expr(Column::LeaseExpiresAt, Expr::value(until))
        .filter(Column::Id.eq(row.id))
        .filter(Column::LeaseOwner.eq(owner))
        .filter(Column::FinishedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Finishes an operation that is still open, whoever follows it (cancel).
pub async fn finish_open(
    db: &DatabaseConnection,
    id: uuid::Uuid,
    state: &str,
    message: &str,
) -> Result<bool, DbErr> {
    let now = now();
    let result = Entity::update_many()
        .col_expr(Column::State, Expr::value(state))
        .col_expr(Column::Message, Expr::value(message))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .col_expr(Column::FinishedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::FinishedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Gives up every lease `owner` holds (at shutdown), so another replica takes over at once.
pub async fn release_all(db: &DatabaseConnection, owner: &str) -> Result<u64, DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseExpiresAt,
            Expr::value(Option::<Timestamp>::None),
        )
        .filter(Column::LeaseOwner.eq(owner))
        .filter(Column::FinishedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Removes operations that finished before `before`.
pub async fn delete_finished_before(
    db: &DatabaseConnection,
    before: Timestamp,
) -> Result<u64, DbErr> {
    let result = Entity::delete_many()
        .filter(Column::FinishedAt.lt(before))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Holds a lock on one job across replicas until dropped: a Postgres transaction holding
/// `pg_advisory_xact_lock`. SQLite serves one process, whose own lock is enough: `None`.
pub async fn lock_job(
    db: &DatabaseConnection,
    key: &str,
) -> Result<Option<sea_orm::DatabaseTransaction>, DbErr> {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, TransactionTrait};
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(None);
    }
    let txn = db.begin().await?;
    txn.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))::text",
        [key.into()],
    ))
    .await?;
    Ok(Some(txn))
}
