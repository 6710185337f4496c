//! The cache on real SQLite files: ordering, contiguity, ticks, the outbox, account switches.

use natter_protocol::{Account, Conversation, ConversationKind, Member, Message, ReceiptKind};
use uuid::Uuid;

use crate::cache::{Cache, Session, PENDING_BASE};
use crate::views::MessageStatus;

struct Fixture {
    _dir: tempfile::TempDir,
    cache: Cache,
    me: Account,
    other: Uuid,
    conv: Uuid,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("t.db")).await.unwrap();
    let me = Account {
        id: Uuid::now_v7(),
        username: "me".into(),
        birthdate: "1990-01-01".parse().unwrap(),
        nudity_filter: false,
        nudity_filter_locked: false,
    };
    cache
        .save_session(&Session {
            server_url: "http://127.0.0.1:1".into(),
            token: "t".into(),
            account: me.clone(),
        })
        .await
        .unwrap();
    let other = Uuid::now_v7();
    let conv = Uuid::now_v7();
    let member = |id, name: &str| Member {
        user_id: id,
        username: name.into(),
        delivered_seq: 0,
        read_seq: 0,
        accepted: true,
        invited_by: None,
    };
    cache
        .upsert_conversations(&[Conversation {
            id: conv,
            kind: ConversationKind::Direct,
            name: None,
            creator_id: me.id,
            members: vec![member(me.id, "me"), member(other, "other")],
            last_seq: 0,
            created_at: 1,
        }])
        .await
        .unwrap();
    Fixture {
        _dir: dir,
        cache,
        me,
        other,
        conv,
    }
}

fn msg(f: &Fixture, seq: i64, from: Uuid, text: &str) -> Message {
    Message {
        id: Uuid::now_v7(),
        conversation_id: f.conv,
        seq,
        sender_id: from,
        sender: if from == f.me.id { "me" } else { "other" }.into(),
        text: text.into(),
        sent_at: 1000 + seq,
        voice: None,
        played_by: Vec::new(),
        media: Vec::new(),
        withheld: None,
        event: None,
    }
}

#[tokio::test]
async fn pending_messages_sort_after_stored_ones_and_take_their_seq_when_acked() {
    let f = fixture().await;
    f.cache
        .store_messages(&[msg(&f, 1, f.other, "hi")])
        .await
        .unwrap();
    let id = Uuid::now_v7();
    f.cache
        .insert_pending(f.conv, id, &f.me, "pending", None, &[])
        .await
        .unwrap();
    f.cache
        .store_messages(&[msg(&f, 2, f.other, "arrived meanwhile")])
        .await
        .unwrap();
    let page = f.cache.messages(f.me.id, f.conv, None, 10).await.unwrap();
    let texts: Vec<_> = page.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["hi", "arrived meanwhile", "pending"]);
    assert_eq!(page[2].status, MessageStatus::Sending);
    assert!(page[2].sort_key >= PENDING_BASE);
    assert_eq!(f.cache.outbox_len().await.unwrap(), 1);

    // The server's copy (same id) replaces the pending one; nothing is duplicated.
    let mut acked = msg(&f, 3, f.me.id, "pending");
    acked.id = id;
    f.cache.store_messages(&[acked]).await.unwrap();
    let page = f.cache.messages(f.me.id, f.conv, None, 10).await.unwrap();
    assert_eq!(page.len(), 3);
    assert_eq!(page[2].seq, Some(3));
    assert_eq!(page[2].status, MessageStatus::Sent);
    assert_eq!(f.cache.outbox_len().await.unwrap(), 0);
}

#[tokio::test]
async fn pages_go_back_and_forth_without_overlap() {
    let f = fixture().await;
    let batch: Vec<_> = (1..=120)
        .map(|s| msg(&f, s, f.other, &format!("m{s}")))
        .collect();
    f.cache.store_messages(&batch).await.unwrap();
    let newest = f.cache.messages(f.me.id, f.conv, None, 50).await.unwrap();
    assert_eq!(newest.first().unwrap().seq, Some(71));
    let older = f
        .cache
        .messages(f.me.id, f.conv, Some(newest[0].sort_key), 50)
        .await
        .unwrap();
    assert_eq!((older[0].seq, older[49].seq), (Some(21), Some(70)));
    let forward = f
        .cache
        .messages_after(f.me.id, f.conv, older[49].sort_key, 50)
        .await
        .unwrap();
    assert_eq!(
        forward, newest,
        "paging forward returns exactly the page after"
    );
}

#[tokio::test]
async fn synced_seq_stops_at_the_first_gap_and_moves_when_it_fills() {
    let f = fixture().await;
    let batch: Vec<_> = [1, 2, 3, 5, 6]
        .iter()
        .map(|s| msg(&f, *s, f.other, "x"))
        .collect();
    f.cache.store_messages(&batch).await.unwrap();
    assert_eq!(f.cache.sync_positions(f.conv).await.unwrap(), Some((3, 6)));
    f.cache
        .store_messages(&[msg(&f, 4, f.other, "late")])
        .await
        .unwrap();
    assert_eq!(f.cache.sync_positions(f.conv).await.unwrap(), Some((6, 6)));
}

#[tokio::test]
async fn ticks_follow_the_other_members_positions() {
    let f = fixture().await;
    let m = msg(&f, 1, f.me.id, "mine");
    f.cache
        .store_messages(std::slice::from_ref(&m))
        .await
        .unwrap();
    let status = |c: Cache, me| async move { c.message(me, m.id).await.unwrap().unwrap().status };
    assert_eq!(status(f.cache.clone(), f.me.id).await, MessageStatus::Sent);
    f.cache
        .apply_receipt(f.conv, f.other, ReceiptKind::Delivered, 1)
        .await
        .unwrap();
    assert_eq!(
        status(f.cache.clone(), f.me.id).await,
        MessageStatus::Delivered
    );
    f.cache
        .apply_receipt(f.conv, f.other, ReceiptKind::Read, 1)
        .await
        .unwrap();
    assert_eq!(status(f.cache.clone(), f.me.id).await, MessageStatus::Read);
    // Receipts never move back.
    f.cache
        .apply_receipt(f.conv, f.other, ReceiptKind::Delivered, 0)
        .await
        .unwrap();
    assert_eq!(status(f.cache.clone(), f.me.id).await, MessageStatus::Read);
}

#[tokio::test]
async fn unread_counts_and_mark_read() {
    let f = fixture().await;
    let batch: Vec<_> = (1..=3).map(|s| msg(&f, s, f.other, "x")).collect();
    f.cache.store_messages(&batch).await.unwrap();
    f.cache
        .store_messages(&[msg(&f, 4, f.me.id, "my own")])
        .await
        .unwrap();
    let view = f
        .cache
        .conversation(f.me.id, f.conv)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.unread, 3, "own messages are never unread");
    assert_eq!(view.title, "other");
    assert_eq!(f.cache.mark_read(f.me.id, f.conv).await.unwrap(), Some(4));
    assert_eq!(f.cache.mark_read(f.me.id, f.conv).await.unwrap(), None);
    let view = f
        .cache
        .conversation(f.me.id, f.conv)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.unread, 0);
    assert_eq!(f.cache.pending_reads(f.me.id).await.unwrap(), [(f.conv, 4)]);
}

#[tokio::test]
async fn the_outbox_hands_out_the_oldest_message_first() {
    let f = fixture().await;
    let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    for (i, id) in ids.iter().enumerate() {
        f.cache
            .insert_pending(f.conv, *id, &f.me, &format!("m{i}"), None, &[])
            .await
            .unwrap();
    }
    // The head waits for its retry; it is still the head (nothing overtakes it).
    f.cache
        .outbox_retry_later(ids[0], 1, i64::MAX, "offline", false)
        .await
        .unwrap();
    let head = f.cache.outbox_head().await.unwrap().unwrap();
    assert_eq!(head.message_id, ids[0]);
    assert_eq!(head.attempts, 1);
    f.cache.outbox_fail(ids[0], "refused").await.unwrap();
    assert_eq!(
        f.cache.outbox_head().await.unwrap().unwrap().message_id,
        ids[1]
    );
    let failed = f.cache.message(f.me.id, ids[0]).await.unwrap().unwrap();
    assert_eq!(failed.status, MessageStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("refused"));
}

#[tokio::test]
async fn another_account_on_the_same_profile_starts_empty() {
    let f = fixture().await;
    let session = |account: Account| Session {
        server_url: "http://127.0.0.1:1".into(),
        token: "t".into(),
        account,
    };
    f.cache.save_session(&session(f.me.clone())).await.unwrap();
    f.cache
        .store_messages(&[msg(&f, 1, f.other, "private")])
        .await
        .unwrap();
    // Same account again: everything stays.
    f.cache.save_session(&session(f.me.clone())).await.unwrap();
    assert_eq!(f.cache.conversation_ids().await.unwrap().len(), 1);
    let someone_else = Account {
        id: Uuid::now_v7(),
        username: "else".into(),
        birthdate: "1990-01-01".parse().unwrap(),
        nudity_filter: false,
        nudity_filter_locked: false,
    };
    f.cache.save_session(&session(someone_else)).await.unwrap();
    assert!(f.cache.conversation_ids().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_reopened_cache_keeps_everything() {
    let f = fixture().await;
    let path = f._dir.path().join("t.db");
    f.cache
        .insert_pending(f.conv, Uuid::now_v7(), &f.me, "survives", None, &[])
        .await
        .unwrap();
    f.cache.close().await;
    let again = Cache::open(&path).await.unwrap();
    assert_eq!(again.outbox_len().await.unwrap(), 1);
    let page = again.messages(f.me.id, f.conv, None, 10).await.unwrap();
    assert_eq!(page[0].text, "survives");
}

#[tokio::test]
async fn only_unsent_messages_can_be_discarded() {
    let f = fixture().await;
    let queued = Uuid::now_v7();
    f.cache
        .insert_pending(f.conv, queued, &f.me, "never mind", None, &[])
        .await
        .unwrap();
    let sent = msg(&f, 1, f.me.id, "already out");
    f.cache
        .store_messages(std::slice::from_ref(&sent))
        .await
        .unwrap();

    assert_eq!(f.cache.discard_unsent(queued).await.unwrap(), Some(f.conv));
    assert_eq!(
        f.cache.outbox_len().await.unwrap(),
        0,
        "its outbox entry went with it"
    );
    assert_eq!(f.cache.discard_unsent(sent.id).await.unwrap(), None);
    let texts: Vec<_> = f
        .cache
        .messages(f.me.id, f.conv, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["already out"]);
}
