use std::collections::HashSet;

use natter_protocol::{Conversation, Message};
use serde_json::json;
use uuid::Uuid;

use crate::harness::{Harness, User};

async fn pair(h: &Harness) -> (User, User, Conversation) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let conv = alice.direct_with(&bob).await;
    (alice, bob, conv)
}

#[tokio::test]
async fn messages_get_sequence_numbers_and_resends_are_idempotent() {
    let h = Harness::new().await;
    let (alice, bob, conv) = pair(&h).await;
    let id = Uuid::now_v7();
    let first = alice.try_send(conv.id, id, "hello bob").await;
    assert_eq!(first.status, 201, "{}", first.body);
    let stored: Message = first.json();
    assert_eq!(
        (
            stored.id,
            stored.seq,
            stored.sender_id,
            stored.sender.as_str()
        ),
        (id, 1, alice.id, "alice")
    );
    assert_eq!(stored.text, "hello bob");

    let again = alice.try_send(conv.id, id, "hello bob").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json::<Message>(), stored);
    assert_eq!(
        bob.history(conv.id, "").await,
        std::slice::from_ref(&stored)
    );

    // the same id for anything else is a conflict
    alice
        .try_send(conv.id, id, "something else")
        .await
        .assert_error(409, "id_conflict");
    bob.try_send(conv.id, id, "hello bob")
        .await
        .assert_error(409, "id_conflict");
    let carol = h.user("carol").await;
    let other = alice.direct_with(&carol).await;
    alice
        .try_send(other.id, id, "hello bob")
        .await
        .assert_error(409, "id_conflict");
    assert!(alice.history(other.id, "").await.is_empty());

    // the next message continues the sequence
    assert_eq!(bob.send_text(conv.id, "hi alice").await.seq, 2);
    assert_eq!(alice.conversation(conv.id).await.last_seq, 2);
}

#[tokio::test]
async fn bad_messages_are_rejected_and_store_nothing() {
    let h = Harness::new().await;
    let (alice, _bob, conv) = pair(&h).await;
    alice
        .try_send(conv.id, Uuid::new_v4(), "hi")
        .await
        .assert_error(422, "invalid_message_id");
    alice
        .try_send(conv.id, Uuid::now_v7(), " \n ")
        .await
        .assert_error(422, "invalid_text");
    alice
        .try_send(conv.id, Uuid::now_v7(), &"a".repeat(4001))
        .await
        .assert_error(422, "invalid_text");
    assert!(alice.history(conv.id, "").await.is_empty());
    assert_eq!(alice.conversation(conv.id).await.last_seq, 0);
    // four thousand characters (not bytes) are fine
    assert_eq!(alice.send_text(conv.id, &"é".repeat(4000)).await.seq, 1);
}

#[tokio::test]
async fn a_nul_character_is_refused_alike_on_every_store() {
    // PostgreSQL cannot store U+0000 and SQLite can: the rule refuses it before either store.
    let h = Harness::new().await;
    let (alice, bob, conv) = pair(&h).await;
    let id = Uuid::now_v7();
    let refused = alice.try_send(conv.id, id, "before\0after").await;
    refused.assert_error(422, "invalid_text");
    assert!(
        refused.body["message"].as_str().unwrap().contains("U+0000"),
        "{}",
        refused.body
    );
    assert!(bob.history(conv.id, "").await.is_empty());
    assert_eq!(bob.conversation(conv.id).await.last_seq, 0);
    // Nothing was kept under that id: it is free for the message without the NUL.
    let sent = alice.try_send(conv.id, id, "before after").await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    assert_eq!(sent.json::<Message>().seq, 1);

    // Nor can a group be named with one.
    let r = alice
        .post(
            "/v1/conversations/group",
            json!({"name": "nul\0group", "members": [bob.name]}),
        )
        .await;
    r.assert_error(422, "invalid_group_name");
    let listed: Vec<Conversation> = bob.get("/v1/conversations").await.json();
    assert_eq!(listed.len(), 1, "only the direct conversation");
}

#[tokio::test]
async fn concurrent_identical_resends_store_one_message() {
    let h = Harness::new().await;
    let (alice, _bob, conv) = pair(&h).await;
    let id = Uuid::now_v7();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let alice = alice.clone();
            tokio::spawn(async move { alice.try_send(conv.id, id, "once").await })
        })
        .collect();
    let mut statuses = Vec::new();
    let mut seqs = HashSet::new();
    for t in tasks {
        let r = t.await.expect("task");
        statuses.push(r.status);
        seqs.insert(r.json::<Message>().seq);
    }
    statuses.sort_unstable();
    assert_eq!(statuses[9], 201, "{statuses:?}");
    assert!(statuses[..9].iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(seqs, HashSet::from([1]));
    assert_eq!(alice.history(conv.id, "").await.len(), 1);
}

#[tokio::test]
async fn concurrent_sends_get_gapless_sequence_numbers() {
    let h = Harness::new().await;
    let (alice, bob, conv) = pair(&h).await;
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let sender = if i % 2 == 0 {
                alice.clone()
            } else {
                bob.clone()
            };
            tokio::spawn(async move { sender.send_text(conv.id, &format!("m{i}")).await.seq })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.expect("task"));
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=30).collect::<Vec<i64>>());
    let history = alice.history(conv.id, "?limit=100").await;
    let history_seqs: Vec<i64> = history.iter().map(|m| m.seq).collect();
    assert_eq!(history_seqs, (1..=30).collect::<Vec<i64>>());
    assert_eq!(bob.conversation(conv.id).await.last_seq, 30);
}

#[tokio::test]
async fn history_pages_forwards_and_backwards() {
    let h = Harness::new().await;
    let (alice, bob, conv) = pair(&h).await;
    for i in 1..=10 {
        alice.send_text(conv.id, &format!("m{i}")).await;
    }
    let seqs = |msgs: Vec<Message>| msgs.into_iter().map(|m| m.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(bob.history(conv.id, "").await),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(seqs(bob.history(conv.id, "?limit=3").await), [8, 9, 10]);
    assert_eq!(
        seqs(bob.history(conv.id, "?before_seq=8&limit=3").await),
        [5, 6, 7]
    );
    assert_eq!(
        seqs(bob.history(conv.id, "?after_seq=2&limit=3").await),
        [3, 4, 5]
    );
    assert_eq!(
        seqs(bob.history(conv.id, "?after_seq=2&before_seq=6").await),
        [3, 4, 5]
    );
    assert_eq!(
        seqs(
            bob.history(conv.id, "?after_seq=2&before_seq=9&limit=2")
                .await
        ),
        [7, 8]
    );
    assert!(bob.history(conv.id, "?after_seq=10").await.is_empty());
    let texts: Vec<String> = bob
        .history(conv.id, "?after_seq=8")
        .await
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["m9", "m10"]);
}

#[tokio::test]
async fn non_members_learn_nothing() {
    let h = Harness::new().await;
    let (alice, _bob, conv) = pair(&h).await;
    alice.send_text(conv.id, "private").await;
    let eve = h.user("eve").await;
    let nowhere = Uuid::now_v7();
    let probes: Vec<(&str, Option<serde_json::Value>)> = vec![
        ("", None),
        ("/messages", None),
        (
            "/messages",
            Some(json!({"id": Uuid::now_v7(), "text": "hi"})),
        ),
        ("/receipts", Some(json!({"kind": "read", "up_to_seq": 1}))),
        ("/members", Some(json!({"username": "eve"}))),
    ];
    for (suffix, body) in probes {
        let call = |id: Uuid| {
            let eve = eve.clone();
            let body = body.clone();
            let path = format!("/v1/conversations/{id}{suffix}");
            async move {
                match body {
                    Some(b) => eve.post(&path, b).await,
                    None => eve.get(&path).await,
                }
            }
        };
        let existing = call(conv.id).await;
        let missing = call(nowhere).await;
        existing.assert_error(404, "conversation_not_found");
        assert_eq!(existing.body, missing.body, "{suffix}");
    }
    // and nothing changed
    let list: Vec<Conversation> = eve.get("/v1/conversations").await.json();
    assert!(list.is_empty());
    let after = alice.conversation(conv.id).await;
    assert_eq!(after.last_seq, 1);
    assert_eq!(after.members.len(), 2);
}

#[tokio::test]
async fn receipts_only_move_forward() {
    let h = Harness::new().await;
    let (alice, bob, conv) = pair(&h).await;
    for i in 0..3 {
        alice.send_text(conv.id, &format!("m{i}")).await;
    }
    let positions = |c: &Conversation, user: &User| {
        let m = c
            .members
            .iter()
            .find(|m| m.user_id == user.id)
            .expect("member");
        (m.delivered_seq, m.read_seq)
    };
    let c = bob.conversation(conv.id).await;
    // the sender has seen their own messages
    assert_eq!(positions(&c, &alice), (3, 3));
    assert_eq!(positions(&c, &bob), (0, 0));

    assert_eq!(bob.receipt(conv.id, "delivered", 2).await.status, 204);
    assert_eq!(positions(&bob.conversation(conv.id).await, &bob), (2, 0));
    assert_eq!(bob.receipt(conv.id, "read", 1).await.status, 204);
    assert_eq!(positions(&bob.conversation(conv.id).await, &bob), (2, 1));
    // backwards changes nothing
    assert_eq!(bob.receipt(conv.id, "delivered", 1).await.status, 204);
    assert_eq!(bob.receipt(conv.id, "read", 0).await.status, 204);
    assert_eq!(positions(&bob.conversation(conv.id).await, &bob), (2, 1));
    // beyond the newest message is clamped; read raises delivered
    assert_eq!(bob.receipt(conv.id, "read", 99).await.status, 204);
    assert_eq!(positions(&alice.conversation(conv.id).await, &bob), (3, 3));
    bob.post(
        &format!("/v1/conversations/{}/receipts", conv.id),
        json!({"kind": "seen", "up_to_seq": 1}),
    )
    .await
    .assert_error(422, "bad_request");
}

/// Many members writing at once: the server stores what waits together (one transaction for
/// many messages), so a refused message must not take others down with it, and every message
/// still gets exactly one place in the conversation.
#[tokio::test]
async fn concurrent_sends_each_get_one_place_and_a_refusal_stays_alone() {
    let h = Harness::with(|c| c.limits.messages_per_minute = 10_000).await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let dave = h.user("dave").await;
    let eve = h.user("eve").await;
    let group = alice.group("busy", &[&bob, &carol, &dave]).await;
    let first = alice.send_text(group.id, "first").await;
    let members = [alice.clone(), bob.clone(), carol.clone(), dave.clone()];

    enum Expect {
        Stored(Uuid, String),
        Twice(Uuid, String),
        Refused(u16, &'static str),
    }
    let mut sends = Vec::new();
    let mut expected = Vec::new();
    for i in 0..160usize {
        let sender = members[i % members.len()].clone();
        let path = format!("/v1/conversations/{}/messages", group.id);
        let id = Uuid::now_v7();
        let text = format!("message {i} from {}", sender.name);
        let (who, body, expect) = match i % 10 {
            // an id already used, for something else
            3 => (
                bob.clone(),
                json!({"id": first.id, "text": "not the first"}),
                Expect::Refused(409, "id_conflict"),
            ),
            // a voice note never uploaded
            5 => (
                sender,
                json!({"id": id, "voice": {"media_id": Uuid::now_v7(),
                    "waveform": vec![8u8; 64]}}),
                Expect::Refused(404, "media_not_found"),
            ),
            // not a member
            7 => (
                eve.clone(),
                json!({"id": id, "text": text}),
                Expect::Refused(404, "conversation_not_found"),
            ),
            // the same message sent twice at once (a retry racing the original)
            9 => {
                let body = json!({"id": id, "text": text});
                let again = (sender.clone(), path.clone(), body.clone());
                sends.push(again);
                (sender, body, Expect::Twice(id, text))
            }
            _ => (
                sender,
                json!({"id": id, "text": text}),
                Expect::Stored(id, text),
            ),
        };
        sends.push((who, path, body));
        expected.push(expect);
    }
    let answers = futures_util::future::join_all(
        sends
            .iter()
            .map(|(who, path, body)| who.post(path, body.clone())),
    )
    .await;

    let by_id = |id: Uuid| {
        answers
            .iter()
            .filter(move |r| r.status < 300 && r.json::<Message>().id == id)
    };
    let mut stored = Vec::new();
    for expect in &expected {
        match expect {
            Expect::Stored(id, text) => {
                let mine: Vec<_> = by_id(*id).collect();
                assert_eq!(mine.len(), 1, "{id} acknowledged once");
                assert_eq!(mine[0].status, 201, "{}", mine[0].body);
                let m: Message = mine[0].json();
                assert_eq!(&m.text, text);
                stored.push(m);
            }
            Expect::Twice(id, text) => {
                let mut statuses: Vec<u16> = by_id(*id).map(|r| r.status).collect();
                statuses.sort_unstable();
                assert_eq!(
                    statuses,
                    [200, 201],
                    "one stored, the other answered with it"
                );
                let copies: HashSet<i64> = by_id(*id).map(|r| r.json::<Message>().seq).collect();
                assert_eq!(copies.len(), 1, "both answers carry the same place");
                let m: Message = by_id(*id).next().expect("answered").json();
                assert_eq!(&m.text, text);
                stored.push(m);
            }
            Expect::Refused(..) => {}
        }
    }
    // Exactly the bad messages were refused, each for its own reason.
    let mut refused_expected: Vec<(u16, String)> = expected
        .iter()
        .filter_map(|e| match e {
            Expect::Refused(status, code) => Some((*status, code.to_string())),
            _ => None,
        })
        .collect();
    let mut refused: Vec<(u16, String)> = answers
        .iter()
        .filter(|r| r.status >= 300)
        .map(|r| (r.status, r.code().to_string()))
        .collect();
    refused_expected.sort();
    refused.sort();
    assert_eq!(refused, refused_expected);

    // Every acknowledged message has its own place, with no gap: 2, 3, … after "first".
    let mut seqs: Vec<i64> = stored.iter().map(|m| m.seq).collect();
    seqs.sort_unstable();
    let places: Vec<i64> = (2..2 + stored.len() as i64).collect();
    assert_eq!(seqs, places);
    // What a member reads back is exactly that: nothing refused, nothing twice.
    let history = dave.history(group.id, "?limit=200").await;
    assert_eq!(history.len(), stored.len() + 1);
    assert_eq!(history[0], first);
    stored.sort_by_key(|m| m.seq);
    assert_eq!(&history[1..], stored.as_slice());
    assert_eq!(
        carol.conversation(group.id).await.last_seq,
        stored.len() as i64 + 1
    );
}

/// Makes the store fail any message whose text is `poison` at its row's INSERT: after the
/// message took its place in the conversation (an internal failure half-way through its
/// writes, as a full disk would cause), on whichever store the harness runs.
async fn poison_text(h: &Harness) {
    use sqlx::Connection as _;
    match h.database_url() {
        None => {
            let path = h.dir.path().join("natter.db");
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("the server's SQLite file");
            sqlx::query(
                "CREATE TRIGGER test_poison BEFORE INSERT ON messages WHEN NEW.text = 'poison'
                 BEGIN SELECT RAISE(ABORT, 'poisoned by the test'); END",
            )
            .execute(&mut conn)
            .await
            .expect("trigger");
        }
        Some(url) => {
            let mut conn = sqlx::PgConnection::connect(url)
                .await
                .expect("the server's database");
            sqlx::raw_sql(
                "CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                     IF NEW.text = 'poison' THEN RAISE EXCEPTION 'poisoned by the test'; END IF;
                     RETURN NEW;
                 END $$;
                 CREATE TRIGGER test_poison BEFORE INSERT ON messages
                     FOR EACH ROW EXECUTE FUNCTION test_poison();",
            )
            .execute(&mut conn)
            .await
            .expect("trigger");
        }
    }
}

/// A message that fails half-way through its writes is undone alone: the messages stored in
/// the same transaction keep their places, nobody sees a gap where it failed, and the next
/// message takes the place it would have had.
#[tokio::test]
async fn a_message_failing_half_way_is_undone_alone_and_leaves_no_gap() {
    let h = Harness::with(|c| c.limits.messages_per_minute = 10_000).await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let group = alice.group("busy", &[&bob, &carol]).await;
    poison_text(&h).await;
    let members = [alice.clone(), bob.clone(), carol.clone()];
    let path = format!("/v1/conversations/{}/messages", group.id);
    let sends: Vec<(User, Uuid, String)> = (0..90usize)
        .map(|i| {
            let text = if i % 9 == 4 {
                "poison".to_owned()
            } else {
                format!("message {i}")
            };
            (members[i % members.len()].clone(), Uuid::now_v7(), text)
        })
        .collect();
    let answers = futures_util::future::join_all(
        sends
            .iter()
            .map(|(who, id, text)| who.post(&path, json!({"id": id, "text": text}))),
    )
    .await;

    let mut stored = Vec::new();
    for ((_, id, text), answer) in sends.iter().zip(&answers) {
        if text == "poison" {
            answer.assert_error(500, "internal");
        } else {
            assert_eq!(answer.status, 201, "{text}: {}", answer.body);
            let m: Message = answer.json();
            assert_eq!((&m.id, &m.text), (id, text));
            stored.push(m);
        }
    }
    assert_eq!(stored.len(), 80);
    let mut seqs: Vec<i64> = stored.iter().map(|m| m.seq).collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=80).collect::<Vec<i64>>(),
        "one place each, no gap"
    );
    stored.sort_by_key(|m| m.seq);
    assert_eq!(bob.history(group.id, "?limit=200").await, stored);
    let next = carol.send_text(group.id, "after").await;
    assert_eq!(next.seq, 81);
    assert_eq!(alice.conversation(group.id).await.last_seq, 81);
}
