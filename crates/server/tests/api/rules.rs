//! The safety rules a modified client would try to get past, over raw HTTP and WebSocket:
//! message requests, blocks, reports, rate limits, the nudity filter. Each bypass is refused
//! with its code and changes nothing.

use std::time::Duration;

use natter_protocol::{Conversation, Message};
use serde_json::json;
use uuid::Uuid;

use crate::album::{fetch, put, send_album, upload_item};
use crate::harness::{Harness, User};

fn member_accepted(c: &Conversation, user: &User) -> bool {
    c.members
        .iter()
        .find(|m| m.user_id == user.id)
        .expect("a member")
        .accepted
}

async fn listed(user: &User, id: Uuid) -> bool {
    let r = user.get("/v1/conversations").await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json::<Vec<Conversation>>().iter().any(|c| c.id == id)
}

#[tokio::test]
async fn media_waits_until_the_request_is_accepted_and_a_deleted_request_returns_on_a_new_message()
{
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let conv = alice.direct_with(&bob).await;
    assert!(member_accepted(&conv, &alice), "the starter has accepted");
    assert!(!member_accepted(&conv, &bob), "a request for bob");
    alice.send_text(conv.id, "hi bob").await;

    let item = upload_item(&alice, 1).await;
    send_album(&alice, conv.id, std::slice::from_ref(&item), "")
        .await
        .assert_error(403, "media_requires_accepted_request");
    assert_eq!(bob.history(conv.id, "").await.len(), 1, "only the text");

    // a stranger cannot accept on bob's behalf
    let mallory = h.user("mallory").await;
    mallory
        .post(&format!("/v1/conversations/{}/accept", conv.id), json!({}))
        .await
        .assert_error(404, "conversation_not_found");

    let r = bob
        .post(&format!("/v1/conversations/{}/accept", conv.id), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(member_accepted(&r.json(), &bob));
    assert_eq!(
        send_album(&alice, conv.id, &[item], "").await.status,
        201,
        "accepted: photos may follow"
    );

    // carol's request, deleted by bob: gone from his list until carol writes again
    let carol = h.user("carol").await;
    let from_carol = carol.direct_with(&bob).await;
    carol.send_text(from_carol.id, "hello?").await;
    assert!(listed(&bob, from_carol.id).await);
    let r = bob
        .post(
            &format!("/v1/conversations/{}/delete", from_carol.id),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(!listed(&bob, from_carol.id).await);
    assert!(listed(&carol, from_carol.id).await, "carol still has it");
    carol.send_text(from_carol.id, "hello again").await;
    assert!(listed(&bob, from_carol.id).await, "back as a request");
    assert!(!member_accepted(
        &bob.conversation(from_carol.id).await,
        &bob
    ));
}

#[tokio::test]
async fn blocking_stops_messages_both_ways_and_hides_typing_until_unblocked() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let conv = alice.direct_with(&bob).await;
    alice.send_text(conv.id, "hi").await;
    bob.send_text(conv.id, "hi!").await;

    let r = bob.post("/v1/blocks", json!({"username": "Alice"})).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let blocked: Vec<natter_protocol::UserSummary> = bob.get("/v1/blocks").await.json();
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].username, "alice");

    alice
        .try_send(conv.id, Uuid::now_v7(), "are you there?")
        .await
        .assert_error(403, "blocked");
    bob.try_send(conv.id, Uuid::now_v7(), "bye")
        .await
        .assert_error(403, "blocked");
    alice
        .post("/v1/conversations/direct", json!({"username": "bob"}))
        .await
        .assert_error(403, "blocked");
    assert_eq!(alice.history(conv.id, "").await.len(), 2, "nothing new");

    // presence: alice typing reaches nobody
    let mut bob_ws = bob.ws().await;
    let mut alice_ws = alice.ws().await;
    alice_ws
        .send_text(&json!({"type": "typing", "conversation_id": conv.id}).to_string())
        .await;
    bob_ws.assert_quiet(Duration::from_millis(700)).await;

    let r = bob
        .request(reqwest::Method::DELETE, "/v1/blocks/alice")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 204);
    alice.send_text(conv.id, "there you are").await;
    alice_ws
        .send_text(&json!({"type": "typing", "conversation_id": conv.id}).to_string())
        .await;
    // the message, then the typing event
    let mut typing = false;
    for _ in 0..3 {
        if let natter_protocol::ServerEvent::Typing { username, .. } = bob_ws.next_event().await {
            assert_eq!(username, "alice");
            typing = true;
            break;
        }
    }
    assert!(typing, "typing shows again once unblocked");
}

#[tokio::test]
async fn a_report_copies_the_chosen_messages_into_the_moderation_queue() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let conv = alice.direct_with(&bob).await;
    let first: Message = alice.send_text(conv.id, "buy my stuff").await;
    alice.send_text(conv.id, "hello?").await;
    let third: Message = alice.send_text(conv.id, "BUY IT NOW").await;
    let other = bob.direct_with(&h.user("carol").await).await;
    let elsewhere = bob.send_text(other.id, "unrelated").await;

    let report = |ids: Vec<Uuid>, reason: &str| {
        let bob = bob.clone();
        let reason = reason.to_string();
        async move {
            bob.post(
                "/v1/reports",
                json!({"username": "alice", "conversation_id": conv.id, "message_ids": ids, "reason": reason}),
            )
            .await
        }
    };
    report(vec![first.id], "   ")
        .await
        .assert_error(422, "invalid_report");
    report(vec![first.id, elsewhere.id], "spam")
        .await
        .assert_error(422, "invalid_report");
    // U+0000, which PostgreSQL cannot store, is refused on every store alike
    report(vec![first.id], "spam\0")
        .await
        .assert_error(422, "invalid_report");
    // someone outside the conversation cannot report its messages
    h.user("mallory")
        .await
        .post(
            "/v1/reports",
            json!({"username": "alice", "conversation_id": conv.id, "message_ids": [first.id], "reason": "x"}),
        )
        .await
        .assert_error(404, "conversation_not_found");
    let r = report(vec![third.id, first.id], "spam, twice").await;
    assert_eq!(r.status, 201, "{}", r.body);

    let store = natter_server::store::open(h.database_url(), h.dir.path())
        .await
        .expect("store");
    let queue = store.reports().await.expect("reports");
    assert_eq!(queue.len(), 1, "the refused reports left nothing");
    let q = &queue[0];
    assert_eq!((q.reporter.as_str(), q.reported.as_str()), ("bob", "alice"));
    assert_eq!(q.reason, "spam, twice");
    assert_eq!(q.conversation_id, Some(conv.id));
    let texts: Vec<&str> = q.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["buy my stuff", "BUY IT NOW"], "chosen, in order");
}

#[tokio::test]
async fn bursts_past_the_rate_limits_get_429_with_retry_after_and_store_nothing() {
    let h = Harness::with(|c| {
        c.limits.messages_per_minute = 5;
        c.limits.new_conversations_per_day = 2;
    })
    .await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let conv = alice.direct_with(&bob).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(alice.send_text(conv.id, &format!("msg {i}")).await.id);
    }
    let r = alice
        .request(
            reqwest::Method::POST,
            &format!("/v1/conversations/{}/messages", conv.id),
        )
        .json(&json!({"id": Uuid::now_v7(), "text": "one too many"}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["retry_after_s"], wait);
    assert!(body["message"].as_str().unwrap().contains("try again in"));
    // an outbox re-sending a stored message is not a new one
    assert_eq!(alice.try_send(conv.id, ids[4], "msg 4").await.status, 200);
    assert_eq!(bob.history(conv.id, "").await.len(), 5);
    // another sender has their own allowance
    assert_eq!(
        bob.try_send(conv.id, Uuid::now_v7(), "hi").await.status,
        201
    );

    // new conversations: bob was one, carol is two, dave is refused; bob again is fine
    let carol = h.user("carol").await;
    let dave = h.user("dave").await;
    alice.direct_with(&carol).await;
    let r = alice
        .post("/v1/conversations/direct", json!({"username": dave.name}))
        .await;
    r.assert_error(429, "rate_limited");
    assert!(r.body["retry_after_s"].as_u64().unwrap() > 23 * 3600);
    alice.direct_with(&bob).await;
    let daves: Vec<Conversation> = dave.get("/v1/conversations").await.json();
    assert!(daves.is_empty(), "no conversation was made with dave");
}

#[tokio::test]
async fn parallel_sends_past_the_limit_store_exactly_the_limit() {
    let h = Harness::with(|c| c.limits.messages_per_minute = 10).await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let with_bob = alice.direct_with(&bob).await;
    let group = alice.group("trip", &[&bob, &carol]).await;
    // 40 at once, into two conversations (the limit is the sender's, wherever they write).
    let sends = (0..40).map(|i| {
        let alice = alice.clone();
        let conv = if i % 2 == 0 { with_bob.id } else { group.id };
        tokio::spawn(async move {
            alice
                .try_send(conv, Uuid::now_v7(), &format!("burst {i}"))
                .await
                .status
        })
    });
    let mut statuses = Vec::new();
    for send in sends.collect::<Vec<_>>() {
        statuses.push(send.await.expect("the send ran"));
    }
    let stored = statuses.iter().filter(|&&s| s == 201).count();
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!((stored, refused), (10, 30), "{statuses:?}");
    let in_history =
        bob.history(with_bob.id, "").await.len() + bob.history(group.id, "").await.len();
    assert_eq!(in_history, 10, "exactly the limit was stored");
}

/// Signs up `name`, seventeen today.
async fn signup_17(h: &Harness, name: &str) -> crate::harness::Resp {
    let r = h
        .anon()
        .signup_born(name, &crate::harness::seventeen_today())
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r
}

#[tokio::test]
async fn the_filter_is_locked_on_under_18_and_an_adults_choice_otherwise() {
    let h = Harness::new().await;
    let r = signup_17(&h, "teen").await;
    assert_eq!(r.body["nudity_filter"], true);
    assert_eq!(r.body["nudity_filter_locked"], true);
    let teen = h.login("teen").await;
    let put_filter = |u: &User, on: bool| {
        u.request(reqwest::Method::PUT, "/v1/me/settings")
            .json(&json!({ "nudity_filter": on }))
            .send()
    };
    let r = put_filter(&teen, false).await.expect("request");
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "nudity_filter_locked");
    assert_eq!(teen.get("/v1/me").await.body["nudity_filter"], true);

    let adult = h.user("adult").await;
    assert_eq!(adult.get("/v1/me").await.body["nudity_filter"], false);
    let r = put_filter(&adult, true).await.expect("request");
    assert_eq!(r.status(), 200);
    let me = adult.get("/v1/me").await.body;
    assert_eq!(
        (
            me["nudity_filter"].clone(),
            me["nudity_filter_locked"].clone()
        ),
        (json!(true), json!(false))
    );
}

/// An abstract pattern the real model scores as explicit (see natter-safety's
/// `find_explicit_fixture` example; it contains no nudity).
fn explicit_png() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../safety/tests/fixtures/explicit-by-search.png"
    );
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn an_explicit_photo_is_refused_from_teens_withheld_from_them_and_kept_for_adults() {
    let h = Harness::new().await;
    signup_17(&h, "teen").await;
    let teen = h.login("teen").await;
    let alice = h.user("alice").await;
    let carol = h.user("carol").await;

    // a teen's modified client uploading it directly: refused, nothing stored
    let id = Uuid::now_v7();
    put(&teen, id, explicit_png(), "image/png")
        .await
        .assert_error(403, "explicit_image_blocked");
    assert_eq!(fetch(&teen, id).await.status(), 404);

    // an adult may send it; the album says it is explicit
    let group = alice.group("friends", &[&teen, &carol]).await;
    alice.send_text(group.id, "look").await;
    let (media_id, thumbnail_id) = (Uuid::now_v7(), Uuid::now_v7());
    assert_eq!(
        put(&alice, media_id, explicit_png(), "image/png")
            .await
            .status,
        201
    );
    let thumb = crate::album::jpeg(64, 64, 3);
    assert_eq!(
        put(&alice, thumbnail_id, thumb, "image/jpeg").await.status,
        201
    );
    let item = json!({"media_id": media_id, "thumbnail_id": thumbnail_id, "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj"});
    let r = send_album(&alice, group.id, &[item], "").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let sent: Message = r.json();
    assert!(sent.media[0].explicit);

    // withheld from the teen by URL, thumbnail included; delivered to the adult
    for id in [media_id, thumbnail_id] {
        let r = fetch(&teen, id).await;
        assert_eq!(r.status(), 403);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], "media_withheld");
        assert_eq!(fetch(&carol, id).await.status(), 200);
    }
    let seen = teen.history(group.id, "").await;
    assert!(
        seen.last().unwrap().media[0].explicit,
        "the teen's app knows to hide it"
    );

    // an ordinary photo in the same chat reaches the teen
    let ordinary = upload_item(&alice, 5).await;
    let r = send_album(&alice, group.id, std::slice::from_ref(&ordinary), "").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(!r.json::<Message>().media[0].explicit);
    let id: Uuid = serde_json::from_value(ordinary["media_id"].clone()).unwrap();
    assert_eq!(fetch(&teen, id).await.status(), 200);
}
