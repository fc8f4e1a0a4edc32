//! The audit writer against a real SQLite database: places, replay, poison events.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait};

use super::spool::{Kind, Line, Spool};
use super::*;
use crate::config::DatabaseSettings;
use crate::db::entities::audit_event::Entity as Events;

async fn database(dir: &std::path::Path) -> DatabaseConnection {
    let path = dir.join("gateway.db");
    let settings = DatabaseSettings::Sqlite {
        url: format!("sqlite://{}", path.display()),
        path: Some(path),
    };
    let db = crate::db::connect(&settings).await.unwrap();
    crate::db::migrate(&db).await.unwrap();
    db
}

fn entry(operation: &'static str) -> Entry {
    Entry {
        operation,
        namespace: Some("default".into()),
        job_id: Some("web".into()),
        arguments: serde_json::json!({}),
        outcome: Outcome::Ok,
        message: None,
        eval_id: None,
        duration: Duration::ZERO,
    }
}

fn start(db: &DatabaseConnection, folder: &std::path::Path) -> Audit {
    let spool = AuditSpool::Path(folder.to_path_buf());
    Audit::start(db.clone(), 10, &spool, Duration::from_secs(1)).unwrap()
}

async fn settle(audit: &Audit) -> Status {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = audit.status();
        if status.waiting == 0 && status.spooled == 0 {
            return status;
        }
        assert!(Instant::now() < deadline, "still waiting: {status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn refusals_have_places_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path()).await;
    let audit = Audit::start(db.clone(), 2, &AuditSpool::Off, Duration::from_secs(1)).unwrap();
    // The database goes away: events stay waiting, holding their places.
    db.close_by_ref().await.unwrap();
    let who = Principal::anonymous();
    for _ in 0..5 {
        audit.record(&who, entry("authenticate"));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(audit.status().waiting, 2, "refusals took their two places");
    assert_eq!(
        audit.shared.writes.available_permits(),
        2,
        "and left the writes' places alone"
    );
    // The writer knows the database is away, and without a spool writes are refused.
    assert_eq!(audit.reserve().err(), Some(Unavailable::DatabaseAway));
    assert_eq!(audit.status().status, "refusing_writes");
}

#[tokio::test]
async fn a_spool_replays_without_duplicates_events_already_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path()).await;
    let who = Principal::anonymous();
    let written = row(&who, entry("create_job"));
    let spooled = row(&who, entry("scale_job"));
    crate::db::audit::insert_batch(&db, std::slice::from_ref(&written))
        .await
        .unwrap();
    // A spool as a crash leaves it: an event whose insert committed but was never
    // acknowledged, one that never reached the database, and a torn last line.
    let folder = dir.path().join("spool");
    {
        let (mut spool, left) = Spool::open(&folder).unwrap();
        assert!(left.is_empty());
        let lines = [
            Line {
                kind: Kind::Write,
                event: written.clone(),
            },
            Line {
                kind: Kind::Write,
                event: spooled.clone(),
            },
        ];
        spool.append(lines.iter()).unwrap();
    }
    let file = folder.join("audit-spool-0.jsonl");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("{\"kind\":\"write\",\"event\":{\"id\":");
    std::fs::write(&file, text).unwrap();

    let audit = start(&db, &folder);
    settle(&audit).await;
    let ids: Vec<uuid::Uuid> = Events::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&written.id) && ids.contains(&spooled.id));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "", "spool emptied");

    // Replaying the same events once more (a spool rewrite lost in a crash) adds nothing.
    audit.finish(Duration::from_secs(1)).await;
    {
        let (mut spool, _) = Spool::open(&folder).unwrap();
        let again = Line {
            kind: Kind::Write,
            event: spooled.clone(),
        };
        spool.append([&again]).unwrap();
    }
    let audit = start(&db, &folder);
    settle(&audit).await;
    assert_eq!(Events::find().count(&db).await.unwrap(), 2);
}

#[tokio::test]
async fn an_event_the_database_refuses_does_not_hold_back_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path()).await;
    db.execute_unprepared(
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON audit_events \
         WHEN NEW.operation = 'poison' BEGIN SELECT RAISE(ABORT, 'refused for the test'); END",
    )
    .await
    .unwrap();
    let folder = dir.path().join("spool");
    let audit = start(&db, &folder);
    let who = Principal::anonymous();
    let slots: Vec<Slot> = (0..3).map(|_| audit.reserve().unwrap()).collect();
    let recorded = slots
        .into_iter()
        .zip(["create_job", "poison", "stop_job"])
        .map(|(slot, operation)| slot.record(&who, entry(operation)));
    futures::future::join_all(recorded).await;
    let status = settle(&audit).await;
    assert_eq!(status.status, "ok", "{status:?}");
    let operations: Vec<String> = Events::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.operation)
        .collect();
    assert_eq!(operations.len(), 2, "{operations:?}");
    assert!(!operations.contains(&"poison".to_string()));
    let rejected = std::fs::read_to_string(folder.join("audit-rejected.jsonl")).unwrap();
    assert!(rejected.contains("\"poison\""), "{rejected}");
    // Later events are written as usual.
    audit
        .reserve()
        .unwrap()
        .record(&who, entry("scale_job"))
        .await;
    settle(&audit).await;
    assert_eq!(Events::find().count(&db).await.unwrap(), 3);
}

#[test]
fn processes_sharing_a_spool_folder_take_a_file_each_and_adopt_a_dead_ones() {
    let dir = tempfile::tempdir().unwrap();
    let event = row(&Principal::anonymous(), entry("create_job"));
    let (mut first, _) = Spool::open(dir.path()).unwrap();
    let (second, _) = Spool::open(dir.path()).unwrap();
    assert_ne!(first.path(), second.path());
    first
        .append([&Line {
            kind: Kind::Write,
            event: event.clone(),
        }])
        .unwrap();
    let left_by_first = first.path().to_path_buf();
    drop(first);
    // The next process takes the free file and finds the event the first one left.
    let (third, lines) = Spool::open(dir.path()).unwrap();
    assert_eq!(third.path(), left_by_first);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].event.id, event.id);
}
