//! Queries on `audit_events`.

use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TryInsertResult,
};

use super::entities::audit_event::{ActiveModel, Column, Entity, Model};

pub type AuditRow = Model;

/// Inserts a batch in one statement and says how many rows were new. Events already
/// present (same id) are skipped, so a batch whose acknowledgement was lost can be sent
/// again: `INSERT ... ON CONFLICT (id) DO NOTHING` on Postgres and SQLite alike.
pub async fn insert_batch(db: &DatabaseConnection, rows: &[AuditRow]) -> Result<u64, DbErr> {
    if rows.is_empty() {
        return Ok(0);
    }
    let models: Vec<ActiveModel> = rows.iter().cloned().map(Into::into).collect();
    match Entity::insert_many(models)
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?
    {
        TryInsertResult::Inserted(n) => Ok(n),
        TryInsertResult::Empty | TryInsertResult::Conflicted => Ok(0),
    }
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub caller: Option<String>,
    pub job_id: Option<String>,
    pub operation: Option<String>,
    pub outcome: Option<String>,
    pub since: Option<chrono::DateTime<chrono::FixedOffset>>,
    pub until: Option<chrono::DateTime<chrono::FixedOffset>>,
    pub offset: u64,
    pub limit: u64,
}

pub async fn search(db: &DatabaseConnection, filter: &AuditFilter) -> Result<Vec<AuditRow>, DbErr> {
    let mut condition = Condition::all();
    if let Some(c) = &filter.caller {
        condition = condition.add(Column::CallerSubject.eq(c.clone()));
    }
    if let Some(j) = &filter.job_id {
        condition = condition.add(Column::JobId.eq(j.clone()));
    }
    if let Some(o) = &filter.operation {
        condition = condition.add(Column::Operation.eq(o.clone()));
    }
    if let Some(o) = &filter.outcome {
        condition = condition.add(Column::Outcome.eq(o.clone()));
    }
    if let Some(t) = filter.since {
        condition = condition.add(Column::OccurredAt.gte(t));
    }
    if let Some(t) = filter.until {
        condition = condition.add(Column::OccurredAt.lt(t));
    }
    Entity::find()
        .filter(condition)
        .order_by_desc(Column::OccurredAt)
        .offset(filter.offset)
        .limit(filter.limit)
        .all(db)
        .await
}
