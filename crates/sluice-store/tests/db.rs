//! The SQL store against real SQLite and PostgreSQL, and the counters
//! against real Redis.
#![cfg(test)]

use sluice_store::counters::redis::RedisCounters;
use sluice_store::counters::{Charge, Counters, Window};
use sluice_store::db::requests::SpendBy;
use sluice_store::keys::{generate_key, hash_key};
use sluice_store::{
    Consumer, Db, KeyRecord, KeyStore, RecordSink, RequestRecord, StoreError, Team,
};

/// A fresh PostgreSQL database for one test; returns it and its name.
pub async fn postgres_db() -> (Db, String) {
    let admin = std::env::var("SLUICE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("sluice_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&format!("{admin}/postgres"))
        .await
        .expect("PostgreSQL is running");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    (
        Db::postgres(&format!("{admin}/{name}")).await.unwrap(),
        name,
    )
}

/// Drops a database made by [`postgres_db`].
async fn drop_db(name: &str) {
    let admin = std::env::var("SLUICE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let pool = sqlx::AnyPool::connect(&format!("{admin}/postgres"))
        .await
        .unwrap();
    let q = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(q))
        .execute(&pool)
        .await
        .unwrap();
}

fn key(name: &str) -> (String, KeyRecord) {
    let k = generate_key();
    let rec = KeyRecord {
        id: uuid::Uuid::now_v7().to_string(),
        hash: hash_key(&k),
        prefix: sluice_store::keys::display_prefix(&k),
        name: Some(name.into()),
        consumer_id: None,
        imported: false,
        metadata: Some(serde_json::json!({"env": "test"})),
        allowed_models: Some(vec!["gpt-*".into()]),
        allowed_routes: None,
        limits: vec![
            serde_json::from_str(r#"{"metric":"requests","limit":5,"window_secs":60}"#).unwrap(),
        ],
        budget: None,
        created_at: 1,
        expires_at: None,
        revoked_at: None,
        previous_hash: None,
        previous_expires_at: None,
    };
    (k, rec)
}

async fn exercise(db: &Db) {
    assert!(!db.any_active_key(10).await.unwrap());
    let team = Team {
        id: "t1".into(),
        name: "ml".into(),
        metadata: None,
        limits: vec![],
        budget: None,
        created_at: 1,
    };
    db.insert_team(&team).await.unwrap();
    let consumer = Consumer {
        id: "c1".into(),
        name: "alice".into(),
        team_id: Some("t1".into()),
        metadata: None,
        limits: vec![],
        budget: None,
        created_at: 1,
    };
    db.insert_consumer(&consumer).await.unwrap();
    assert!(matches!(
        db.insert_consumer(&consumer).await,
        Err(StoreError::Conflict(_))
    ));
    let (plain, mut rec) = key("k1");
    rec.consumer_id = Some("c1".into());
    db.insert_key(&rec).await.unwrap();
    assert!(db.any_active_key(10).await.unwrap());
    let found = db.resolve(&hash_key(&plain)).await.unwrap().unwrap();
    assert_eq!(found.key, rec);
    assert_eq!(found.consumer.unwrap().name, "alice");
    assert_eq!(found.team.unwrap().name, "ml");
    assert!(
        db.resolve(&hash_key("sk-sluice-wrong"))
            .await
            .unwrap()
            .is_none()
    );
    // Rotation: the new key resolves, and the old one within its grace.
    let rotated = generate_key();
    rec.previous_hash = Some(rec.hash.clone());
    rec.previous_expires_at = Some(100);
    rec.hash = hash_key(&rotated);
    db.update_key(&rec).await.unwrap();
    let by_new = db.resolve(&hash_key(&rotated)).await.unwrap().unwrap();
    assert!(by_new.key.accepts(&rotated, 50));
    let by_old = db.resolve(&hash_key(&plain)).await.unwrap().unwrap();
    assert_eq!(by_old.key.id, rec.id);
    assert!(by_old.key.accepts(&plain, 50));
    assert!(!by_old.key.accepts(&plain, 150), "the grace period ends");
    rec.revoked_at = Some(5);
    db.update_key(&rec).await.unwrap();
    assert!(!db.any_active_key(10).await.unwrap());
    assert_eq!(db.keys().await.unwrap().len(), 1);

    let mut r = RequestRecord::new("r1".into(), 1_000, "POST", "/v1/chat/completions");
    r.identity.key_id = Some(rec.id.clone());
    r.identity.consumer = Some("c1".into());
    r.cost_usd = Some(0.25);
    let mut r2 = r.clone();
    r2.request_id = "r2".into();
    db.write_batch(&[r.clone(), r2]).await.unwrap();
    db.write_batch(&[r]).await.unwrap();
    assert_eq!(
        db.count_requests().await.unwrap(),
        2,
        "inserts are idempotent on the request id"
    );
    let spend = db.spend_since(SpendBy::Consumer, 0).await.unwrap();
    assert_eq!(spend, vec![("c1".to_owned(), 0.5)]);
    let one = db.spend_of(SpendBy::Consumer, "c1", 0).await.unwrap();
    assert!((one - 0.5).abs() < 1e-9);
    assert_eq!(db.spend_of(SpendBy::Team, "none", 0).await.unwrap(), 0.0);
    let t = db.totals_of(SpendBy::Key, &rec.id, 0).await.unwrap();
    assert_eq!(t.requests, 2);
    assert!((t.cost_usd - 0.5).abs() < 1e-9);
    let by_key = db.totals_by_key(0).await.unwrap();
    assert_eq!(by_key.len(), 1);
    assert_eq!(by_key[0].1, t);
    assert_eq!(
        db.totals_of(SpendBy::Key, "none", 0)
            .await
            .unwrap()
            .requests,
        0
    );
}

#[tokio::test]
async fn sqlite_store() {
    let dir = std::env::temp_dir().join(format!("sluice-db-{}", uuid::Uuid::new_v4()));
    let db = Db::sqlite(&dir.join("sluice.db")).await.unwrap();
    exercise(&db).await;
    // Reopening keeps the data and re-runs migrations harmlessly.
    drop(db);
    let db = Db::sqlite(&dir.join("sluice.db")).await.unwrap();
    assert_eq!(db.keys().await.unwrap().len(), 1);
}

#[tokio::test]
async fn postgres_store() {
    let (db, name) = postgres_db().await;
    exercise(&db).await;
    db.pool().close().await;
    drop_db(&name).await;
}

#[tokio::test]
async fn redis_counters_reserve_atomically() {
    let url =
        std::env::var("SLUICE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let c = std::sync::Arc::new(
        RedisCounters::connect(&url, std::time::Duration::from_millis(500))
            .await
            .expect("Redis is running"),
    );
    let key = format!("test:{}", uuid::Uuid::new_v4());
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let c = c.clone();
            let key = key.clone();
            tokio::spawn(async move {
                c.reserve(&[Charge::exact(
                    key,
                    10.0,
                    Window::Sliding { ms: 60_000 },
                    1.0,
                )])
                .await
                .unwrap()
                .allowed
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap());
    }
    assert_eq!(ok, 10);
    let fixed = format!("{key}:budget");
    c.seed(&fixed, 3, 10_000, 4.5).await.unwrap();
    let r = c
        .reserve(&[Charge::exact(
            fixed.clone(),
            5.0,
            Window::Fixed {
                id: 3,
                ttl_ms: 10_000,
            },
            1.0,
        )])
        .await
        .unwrap();
    assert!(!r.allowed);
    assert!((r.slots[0].used - 4.5).abs() < 1e-9);
    c.adjust(&[sluice_store::counters::Adjustment {
        key: fixed.clone(),
        bucket: 3,
        ttl_ms: 10_000,
        delta: -4.0,
    }])
    .await
    .unwrap();
    assert!((c.read(&fixed, 3).await.unwrap() - 0.5).abs() < 1e-9);
    // An estimate larger than the room takes the rest; the floor must fit.
    let partial = Charge {
        floor: 0.25,
        ..Charge::exact(
            fixed.clone(),
            5.0,
            Window::Fixed {
                id: 3,
                ttl_ms: 10_000,
            },
            100.0,
        )
    };
    let r = c.reserve(std::slice::from_ref(&partial)).await.unwrap();
    assert!(r.allowed);
    assert!((r.slots[0].charged - 4.5).abs() < 1e-9, "{:?}", r.slots[0]);
    assert!(!c.reserve(&[partial]).await.unwrap().allowed);
}
