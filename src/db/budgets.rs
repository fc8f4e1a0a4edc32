//! Shared rate-limit buckets on Postgres: one row per budget and caller, refilled
//! continuously (`capacity` tokens a minute) and taken from atomically, so replicas that
//! take their share from it never grant more than the bucket holds. The database's clock
//! is the only one used, so replicas with skewed clocks agree.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

/// What a take got: `granted` tokens (0 when the bucket is short) and what is left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Take {
    pub granted: u32,
    pub left: f64,
}

// One statement: lock the row, refill it to now, hand out up to `want` whole tokens.
const TAKE: &str = r#"
WITH old AS (
    SELECT LEAST($2::float8, "tokens" + EXTRACT(EPOCH FROM (now() - "at"))::float8 * $3::float8) AS avail
    FROM rate_buckets WHERE "key" = $1 FOR UPDATE
), grant_ AS (
    SELECT avail, GREATEST(0, LEAST($4::float8, FLOOR(avail))) AS n FROM old
), updated AS (
    UPDATE rate_buckets SET "tokens" = grant_.avail - grant_.n, "at" = now()
    FROM grant_ WHERE rate_buckets."key" = $1
    RETURNING grant_.n AS n, grant_.avail - grant_.n AS left_
)
SELECT n, left_ FROM updated
"#;

const CREATE: &str = r#"
INSERT INTO rate_buckets ("key", "tokens", "at") VALUES ($1, $2::float8, now())
ON CONFLICT ("key") DO NOTHING
"#;

/// Takes up to `want` tokens from the bucket `key` (created full on first use).
pub async fn take(
    db: &DatabaseConnection,
    key: &str,
    capacity: f64,
    per_second: f64,
    want: u32,
) -> Result<Take, DbErr> {
    let values = || {
        vec![
            key.into(),
            capacity.into(),
            per_second.into(),
            f64::from(want).into(),
        ]
    };
    for _ in 0..2 {
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                TAKE,
                values(),
            ))
            .await?;
        if let Some(row) = row {
            let granted: f64 = row.try_get("", "n")?;
            let left: f64 = row.try_get("", "left_")?;
            return Ok(Take {
                granted: granted as u32,
                left,
            });
        }
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            CREATE,
            vec![key.into(), capacity.into()],
        ))
        .await?;
    }
    Err(DbErr::Custom(format!("rate bucket {key} vanished twice")))
}

/// Drops buckets untouched for `idle_seconds` (they would be full again anyway).
pub async fn sweep(db: &DatabaseConnection, idle_seconds: f64) -> Result<u64, DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        r#"DELETE FROM rate_buckets WHERE "at" < now() - make_interval(secs => $1::float8)"#,
        vec![idle_seconds.into()],
    ))
    .await
    .map(|done| done.rows_affected())
}
