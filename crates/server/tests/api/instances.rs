//! Two server instances on one database: two stores opened with `store::open` on the same
//! database (PostgreSQL when `NATTER_TEST_DATABASE_URL` is set, else one SQLite file),
//! writing at once. Every invariant a single instance keeps must hold across both.

use std::sync::Arc;

use chrono::NaiveDate;
use futures_util::future::join_all;
use natter_protocol::ErrorCode;
use natter_protocol::ReceiptKind;
use natter_server::store::{HistoryPage, NewGroup, NewMessage, NewUser, Store};
use tempfile::TempDir;
use uuid::Uuid;

use crate::harness::TestDatabase;

/// Two stores on one database, as two instances have.
struct Pair {
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
    _dir: TempDir,
    _database: Option<TestDatabase>,
}

impl Pair {
    async fn open() -> Self {
        let dir = TempDir::new().expect("temp dir");
        let database = TestDatabase::from_env().await;
        let url = database.as_ref().map(|d| d.url.as_str());
        let a = natter_server::store::open(url, dir.path())
            .await
            .expect("first store");
        let b = natter_server::store::open(url, dir.path())
            .await
            .expect("second store");
        Self {
            a,
            b,
            _dir: dir,
            _database: database,
        }
    }

    /// Store `a` for even `i`, `b` for odd.
    fn by(&self, i: usize) -> &Arc<dyn Store> {
        [&self.a, &self.b][i % 2]
    }

    async fn close(self) {
        self.a.close().await;
        self.b.close().await;
    }
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        id: Uuid::new_v4(),
        username: name.to_string(),
        password_hash: "$argon2id$unused".to_string(),
        birthdate: NaiveDate::from_ymd_opt(2000, 1, 1).expect("date"),
        created_at: 1,
    }
}

fn text(conversation_id: Uuid, sender_id: Uuid, id: Uuid, text: &str) -> NewMessage {
    NewMessage {
        id,
        conversation_id,
        sender_id,
        text: text.to_string(),
        voice: None,
        media: Vec::new(),
        sent_at: 2,
        rate: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_seqs_directs_usernames_and_resends_without_races() {
    let p = Pair::open().await;
    let alice = p.a.create_user(new_user("alice")).await.expect("alice");
    let bob = p.b.create_user(new_user("bob")).await.expect("bob");

    // Both instances open the pair's direct conversation at the same moment: one creates
    // it, the other finds it.
    let opened = join_all((0..8).map(|i| {
        let (me, other) = [(alice.id, bob.id), (bob.id, alice.id)][i % 2];
        p.by(i).get_or_create_direct(Uuid::new_v4(), me, other, 3)
    }))
    .await
    .into_iter()
    .map(|r| r.expect("get or create"))
    .collect::<Vec<_>>();
    assert_eq!(
        opened.iter().filter(|o| o.is_created()).count(),
        1,
        "created once"
    );
    let conv = opened[0].clone().into_inner().id;
    assert!(
        opened.iter().all(|o| o.clone().into_inner().id == conv),
        "one conversation for the pair"
    );
    let members = p.a.member_ids(conv, alice.id).await.expect("members");
    assert_eq!(members.map(|m| m.len()), Some(2));

    // Both instances insert into it at once: seqs are exactly 1..=N.
    const N: usize = 40;
    let sent = join_all((0..N).map(|i| {
        let sender = if i % 3 == 0 { bob.id } else { alice.id };
        p.by(i)
            .insert_message(text(conv, sender, Uuid::now_v7(), &format!("m{i}")))
    }))
    .await;
    let mut seqs = sent
        .into_iter()
        .map(|r| r.expect("insert").into_inner().seq)
        .collect::<Vec<_>>();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=N as i64).collect::<Vec<_>>(),
        "no gaps, no duplicates"
    );
    let history =
        p.b.history(
            conv,
            HistoryPage::After {
                after_seq: 0,
                limit: 1000,
            },
        )
        .await
        .expect("history");
    assert_eq!(
        history.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=N as i64).collect::<Vec<_>>()
    );
    let last =
        p.a.conversation_for_member(conv, bob.id)
            .await
            .expect("conv");
    assert_eq!(last.map(|c| c.last_seq), Some(N as i64));

    // The same message re-sent through both instances at once is stored once; the same id
    // with other content is a conflict, not a second message.
    let id = Uuid::now_v7();
    let resent = join_all((0..6).map(|i| p.by(i).insert_message(text(conv, alice.id, id, "once"))))
        .await
        .into_iter()
        .map(|r| r.expect("re-send"))
        .collect::<Vec<_>>();
    assert_eq!(resent.iter().filter(|o| o.is_created()).count(), 1);
    assert!(resent
        .iter()
        .all(|o| o.clone().into_inner().seq == N as i64 + 1));
    let conflict =
        p.b.insert_message(text(conv, alice.id, id, "other"))
            .await
            .expect_err("same id, other text");
    assert_eq!(conflict.code(), ErrorCode::IdConflict);

    // One username, claimed through both instances at once: exactly one account.
    let signups = join_all((0..6).map(|i| {
        let name = ["Carol", "carol"][i % 2];
        p.by(i).create_user(new_user(name))
    }))
    .await;
    let taken = signups
        .iter()
        .filter(|r| matches!(r, Err(e) if e.code() == ErrorCode::UsernameTaken))
        .count();
    assert_eq!(
        (signups.iter().filter(|r| r.is_ok()).count(), taken),
        (1, 5)
    );
    let carol = p.a.user_by_username("carol").await.expect("lookup");
    assert!(carol.is_some(), "case-insensitively the same name");

    // Receipts from both instances at once only move forward: however they interleave, the
    // furthest one is what stays (a read-then-write race would let a nearer one overwrite it).
    let last_seq = N as i64 + 1;
    let moves = join_all((1..=last_seq).map(|seq| {
        p.by(seq as usize)
            .update_receipt(conv, bob.id, ReceiptKind::Read, seq)
    }))
    .await
    .into_iter()
    .map(|r| r.expect("receipt"))
    .collect::<Vec<_>>();
    let furthest = moves
        .iter()
        .flatten()
        .filter(|(k, _)| *k == ReceiptKind::Read)
        .map(|(_, s)| *s)
        .max();
    assert_eq!(
        furthest,
        Some(last_seq),
        "the furthest receipt was reported"
    );
    let conversation =
        p.b.conversation_for_member(conv, bob.id)
            .await
            .expect("conv")
            .expect("member");
    let bob_member = conversation
        .members
        .iter()
        .find(|m| m.user_id == bob.id)
        .expect("bob");
    assert_eq!(
        (bob_member.read_seq, bob_member.delivered_seq),
        (last_seq, last_seq)
    );

    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_never_overfill_a_group() {
    let p = Pair::open().await;
    let max = natter_protocol::limits::GROUP_MAX_MEMBERS;
    let owner = p.a.create_user(new_user("owner")).await.expect("owner");
    let mut users = Vec::new();
    for i in 0..max + 3 {
        users.push(
            p.by(i)
                .create_user(new_user(&format!("user{i}")))
                .await
                .expect("user"),
        );
    }
    // Everyone but the last four places' worth, then a race for those places.
    let (initial, racing) = users.split_at(max - 4);
    let group =
        p.a.create_group(NewGroup {
            id: Uuid::new_v4(),
            name: "g".into(),
            creator_id: owner.id,
            member_ids: initial.iter().map(|u| u.id).collect(),
            counted: Vec::new(),
            created_at: 1,
        })
        .await
        .expect("group");
    assert_eq!(group.members.len(), max - 3);
    let added = join_all(
        racing
            .iter()
            .enumerate()
            .map(|(i, u)| p.by(i).add_member(group.id, owner.id, u.id, 2, false)),
    )
    .await;
    let ok = added.iter().filter(|r| r.is_ok()).count();
    let full = added
        .iter()
        .filter(|r| matches!(r, Err(e) if e.code() == ErrorCode::GroupFull))
        .count();
    assert_eq!((ok, full), (3, racing.len() - 3), "exactly the free places");
    let members =
        p.b.member_ids(group.id, owner.id)
            .await
            .expect("members")
            .expect("owner is a member");
    assert_eq!(members.len(), max);

    p.close().await;
}

/// One writer per upload across instances: claims made at once through both stores, only one
/// wins; a running claim is never taken; one that ran out (its instance died without giving
/// it up) is taken over, and its old holder learns it lost it.
#[tokio::test]
async fn one_claim_per_upload_across_instances() {
    let pair = Pair::open().await;
    let upload = Uuid::now_v7();
    let now = 1_000_000;
    let holders: Vec<Uuid> = (0..10).map(|_| Uuid::new_v4()).collect();
    let claims = join_all(
        holders
            .iter()
            .enumerate()
            .map(|(i, holder)| pair.by(i).claim_upload(upload, *holder, now, now + 30_000)),
    )
    .await;
    let won: Vec<Uuid> = holders
        .iter()
        .zip(&claims)
        .filter(|(_, c)| *c.as_ref().expect("claim answered"))
        .map(|(h, _)| *h)
        .collect();
    assert_eq!(won.len(), 1, "exactly one request may write: {claims:?}");
    let first = won[0];

    // Another upload is independent.
    let other = Uuid::now_v7();
    assert!(pair
        .b
        .claim_upload(other, Uuid::new_v4(), now, now + 30_000)
        .await
        .unwrap());

    // Still running, renewed from the other instance's point of view: nobody takes it.
    let late = Uuid::new_v4();
    assert!(!pair
        .b
        .claim_upload(upload, late, now + 29_999, now + 60_000)
        .await
        .unwrap());
    assert!(pair
        .a
        .renew_upload_claim(upload, first, now + 60_000)
        .await
        .unwrap());
    assert!(!pair
        .b
        .claim_upload(upload, late, now + 59_999, now + 90_000)
        .await
        .unwrap());

    // Its instance died: the claim runs out and is taken over.
    assert!(pair
        .b
        .claim_upload(upload, late, now + 60_000, now + 90_000)
        .await
        .unwrap());
    assert!(
        !pair
            .a
            .renew_upload_claim(upload, first, now + 90_000)
            .await
            .unwrap(),
        "the old holder learns it lost the claim"
    );
    // The old holder giving up changes nothing for the new one.
    pair.a.release_upload_claim(upload, first).await.unwrap();
    assert!(!pair
        .a
        .claim_upload(upload, first, now + 60_001, now + 90_000)
        .await
        .unwrap());
    assert!(pair
        .b
        .renew_upload_claim(upload, late, now + 120_000)
        .await
        .unwrap());

    // Given up: free at once for the next piece, whichever instance it reaches.
    pair.b.release_upload_claim(upload, late).await.unwrap();
    assert!(pair
        .a
        .claim_upload(upload, first, now + 60_002, now + 90_000)
        .await
        .unwrap());
    pair.close().await;
}
