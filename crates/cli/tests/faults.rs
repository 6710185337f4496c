//! Faults in a service of several instances, with real parts: `natter server` processes
//! sharing one PostgreSQL database and one NATS bus behind a load balancer, and real clients
//! (the app's core, with its cache and outbox) sending while something breaks.
//!
//! Needs PostgreSQL (`NATTER_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/postgres`,
//! an admin URL: each test makes its own database) and NATS (`NATTER_TEST_NATS_URL`, default
//! `nats://127.0.0.1:4222`); `./x test` installs and starts both.

use std::path::Path;
use std::time::Duration;

use natter_tests::cluster::{
    assert_has_each_once, signup, Balancer, Instance, PrivateNats, PrivatePostgres,
};
use natter_tests::{eventually, TestClient};
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_natter");

fn admin_url() -> String {
    std::env::var("NATTER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn nats_url() -> String {
    std::env::var("NATTER_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A fresh database on the PostgreSQL server of `admin`; its URL.
async fn create_database(admin: &str) -> String {
    natter_server::store::postgres::scratch_database(admin)
        .await
        .expect("a scratch database")
}

fn server_args(data: &Path, database: &str, bus: Option<&str>) -> Vec<String> {
    let mut args = vec![
        "--data".to_string(),
        data.display().to_string(),
        "--database".into(),
        database.into(),
        // The load below is far above one person's limit of 60 a minute.
        "--messages-per-minute".into(),
        "1000000".into(),
    ];
    if let Some(bus) = bus {
        args.extend(["--bus".to_string(), bus.to_string()]);
    }
    args
}

/// `who` sends `n` messages to `conv`, `gap` apart; returns their texts once the server has
/// acknowledged every one.
async fn send_many(who: &TestClient, conv: Uuid, n: usize, gap: Duration) -> Vec<String> {
    let mut sent = Vec::new();
    for i in 0..n {
        let text = format!("{} #{i}", who.name);
        sent.push((who.send(conv, &text).await.id, text));
        tokio::time::sleep(gap).await;
    }
    for (id, _) in &sent {
        who.wait_until_accepted(*id).await;
    }
    sent.into_iter().map(|(_, t)| t).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_an_instance_under_load_loses_nothing_and_shows_nothing_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = create_database(&admin_url()).await;
    let args = server_args(&dir.path().join("data"), &database, Some(&nats_url()));
    let mut a = Instance::spawn(Path::new(BIN), &args, &dir.path().join("a.log")).await;
    let b = Instance::spawn(Path::new(BIN), &args, &dir.path().join("b.log")).await;
    let lb = Balancer::start(vec![a.addr, b.addr]).await;

    let mut people = Vec::new();
    for name in ["alice", "bob", "carol", "dave"] {
        people.push(signup(&dir.path().join(name), name, &lb.url()).await);
    }
    let [alice, bob, carol, dave] = &people[..] else {
        unreachable!()
    };
    let group = alice
        .client
        .create_group("faults", &["bob".into(), "carol".into(), "dave".into()])
        .await
        .expect("create group")
        .id;
    // bob writes too: he joins once the live feed (or a sync) has brought the invitation.
    bob.join(group).await;

    // Two people write steadily; a quarter of a second in, instance A dies outright.
    let gap = Duration::from_millis(15);
    let (from_alice, from_bob, ()) = tokio::join!(
        send_many(alice, group, 60, gap),
        send_many(bob, group, 60, gap),
        async {
            tokio::time::sleep(Duration::from_millis(250)).await;
            a.kill().await;
        }
    );
    let all: Vec<String> = from_alice.into_iter().chain(from_bob).collect();
    for who in [alice, bob, carol, dave] {
        assert_has_each_once(who, group, &all).await;
    }
    assert_eq!(
        b.ready_status().await,
        Some(200),
        "the surviving instance is ready"
    );
    assert_eq!(a.ready_status().await, None, "the killed instance is gone");
    drop(b);
    natter_server::store::postgres::drop_scratch_database(&admin_url(), &database)
        .await
        .expect("drop the test database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_postgres_under_load_reports_unready_recovers_and_loses_nothing() {
    let pg = PrivatePostgres::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let database = create_database(&pg.url()).await;
    let args = server_args(&dir.path().join("data"), &database, None);
    let server = Instance::spawn(Path::new(BIN), &args, &dir.path().join("server.log")).await;
    assert_eq!(server.ready_status().await, Some(200));

    let alice = signup(&dir.path().join("alice"), "alice", &server.url).await;
    let bob = signup(&dir.path().join("bob"), "bob", &server.url).await;
    let conv = alice.chat_with(&bob).await;

    let (texts, ()) = tokio::join!(
        send_many(&alice, conv, 80, Duration::from_millis(20)),
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            pg.stop().await;
            eventually("the server reports unready", || async {
                (server.ready_status().await == Some(503)).then_some(())
            })
            .await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            pg.resume().await;
            eventually("the server is ready again by itself", || async {
                (server.ready_status().await == Some(200)).then_some(())
            })
            .await;
        }
    );
    assert_has_each_once(&bob, conv, &texts).await;
    assert_has_each_once(&alice, conv, &texts).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_nats_under_load_reports_unready_and_delivers_everything_once() {
    let mut nats = PrivateNats::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let database = create_database(&admin_url()).await;
    let args = server_args(&dir.path().join("data"), &database, Some(&nats.url()));
    let a = Instance::spawn(Path::new(BIN), &args, &dir.path().join("a.log")).await;
    let b = Instance::spawn(Path::new(BIN), &args, &dir.path().join("b.log")).await;
    // alice on A, bob on B: everything bob sees live crosses the bus.
    let alice = signup(&dir.path().join("alice"), "alice", &a.url).await;
    let bob = signup(&dir.path().join("bob"), "bob", &b.url).await;
    let group = alice
        .client
        .create_group("bus down", &["bob".into()])
        .await
        .expect("create group")
        .id;

    // alice writes steadily; the bus disappears for a second and comes back.
    let (texts, ()) = tokio::join!(
        send_many(&alice, group, 80, Duration::from_millis(20)),
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            nats.stop().await;
            for (name, instance) in [("A", &a), ("B", &b)] {
                eventually(
                    &format!("{name} reports unready without its bus"),
                    || async { (instance.ready_status().await == Some(503)).then_some(()) },
                )
                .await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            nats.resume().await;
            for (name, instance) in [("A", &a), ("B", &b)] {
                eventually(&format!("{name} is ready again by itself"), || async {
                    (instance.ready_status().await == Some(200)).then_some(())
                })
                .await;
            }
        }
    );
    // Everything acknowledged during the outage reaches bob once, in order.
    assert_has_each_once(&bob, group, &texts).await;
    assert_has_each_once(&alice, group, &texts).await;
    // And the live path works again: a message written now reaches bob on the other instance.
    let after = "written after the outage".to_string();
    let id = alice.send(group, &after).await.id;
    alice.wait_until_accepted(id).await;
    let all: Vec<String> = texts.into_iter().chain([after]).collect();
    assert_has_each_once(&bob, group, &all).await;
    drop((a, b));
    natter_server::store::postgres::drop_scratch_database(&admin_url(), &database)
        .await
        .expect("drop the test database");
}
