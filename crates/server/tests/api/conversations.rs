use std::collections::HashSet;

use natter_protocol::limits::GROUP_MAX_MEMBERS;
use natter_protocol::{Conversation, ConversationKind};
use serde_json::json;

use crate::harness::Harness;

fn member_names(c: &Conversation) -> Vec<&str> {
    c.members.iter().map(|m| m.username.as_str()).collect()
}

#[tokio::test]
async fn a_pair_has_one_direct_conversation_whoever_starts_it() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let first = alice.direct_with(&bob).await;
    assert_eq!(first.kind, ConversationKind::Direct);
    assert_eq!(first.name, None);
    assert_eq!(first.creator_id, alice.id);
    assert_eq!(member_names(&first), ["alice", "bob"]);
    assert_eq!(first.last_seq, 0);
    assert_eq!(bob.direct_with(&alice).await.id, first.id);
    assert_eq!(alice.direct_with(&bob).await.id, first.id);

    // by any spelling of the name
    let r = bob
        .post("/v1/conversations/direct", json!({"username": "ALICE"}))
        .await;
    assert_eq!(r.json::<Conversation>().id, first.id);

    // bob opening it himself accepted alice's request; nothing else changed
    assert!(!first.members[1].accepted);
    let mut now = first.clone();
    now.members[1].accepted = true;
    for user in [&alice, &bob] {
        let list: Vec<Conversation> = user.get("/v1/conversations").await.json();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0], now);
    }
}

#[tokio::test]
async fn concurrent_direct_creates_make_one_conversation() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (a, b) = if i % 2 == 0 {
            (alice.clone(), bob.clone())
        } else {
            (bob.clone(), alice.clone())
        };
        tasks.push(tokio::spawn(async move { a.direct_with(&b).await.id }));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        ids.insert(t.await.expect("task"));
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let list: Vec<Conversation> = alice.get("/v1/conversations").await.json();
    assert_eq!(list.len(), 1);
}

#[tokio::test]
async fn direct_conversations_need_another_existing_user() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    alice
        .post("/v1/conversations/direct", json!({"username": "Alice"}))
        .await
        .assert_error(422, "cannot_message_self");
    alice
        .post("/v1/conversations/direct", json!({"username": "ghost"}))
        .await
        .assert_error(404, "user_not_found");
    let list: Vec<Conversation> = alice.get("/v1/conversations").await.json();
    assert!(list.is_empty());
}

#[tokio::test]
async fn groups_are_created_with_deduplicated_members() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let r = alice
        .post(
            "/v1/conversations/group",
            json!({"name": "  Trip  ", "members": ["bob", "BOB", "carol", "alice"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let group: Conversation = r.json();
    assert_eq!(group.kind, ConversationKind::Group);
    assert_eq!(group.name.as_deref(), Some("Trip"));
    assert_eq!(group.creator_id, alice.id);
    assert_eq!(member_names(&group), ["alice", "bob", "carol"]);
    assert_eq!(bob.conversation(group.id).await, group);
    assert_eq!(carol.conversation(group.id).await, group);

    alice
        .post(
            "/v1/conversations/group",
            json!({"name": "x", "members": ["bob", "ghost"]}),
        )
        .await
        .assert_error(404, "user_not_found");
    alice
        .post(
            "/v1/conversations/group",
            json!({"name": " ", "members": ["bob"]}),
        )
        .await
        .assert_error(422, "invalid_group_name");
    // the failed attempts created nothing
    let list: Vec<Conversation> = bob.get("/v1/conversations").await.json();
    assert_eq!(list.len(), 1);
}

#[tokio::test]
async fn groups_are_capped_at_the_member_limit() {
    // Every one of them is a stranger to the owner: room for them in the day's limit.
    let h = Harness::with(|c| c.limits.new_conversations_per_day = 100).await;
    let owner = h.user("owner").await;
    let names: Vec<String> = (0..GROUP_MAX_MEMBERS).map(|i| format!("m{i:02}")).collect();
    for name in &names {
        assert_eq!(h.anon().signup(name).await.status, 201);
    }
    // creator + all of them is one too many
    owner
        .post(
            "/v1/conversations/group",
            json!({"name": "big", "members": names}),
        )
        .await
        .assert_error(422, "group_full");
    // creator + all but one fits exactly
    let r = owner
        .post(
            "/v1/conversations/group",
            json!({"name": "big", "members": names[1..]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let group: Conversation = r.json();
    assert_eq!(group.members.len(), GROUP_MAX_MEMBERS);
    owner
        .post(
            &format!("/v1/conversations/{}/members", group.id),
            json!({"username": names[0]}),
        )
        .await
        .assert_error(422, "group_full");
    assert_eq!(
        owner.conversation(group.id).await.members.len(),
        GROUP_MAX_MEMBERS
    );
}

#[tokio::test]
async fn only_the_creator_adds_members_and_only_to_groups() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let dave = h.user("dave").await;
    let group = alice.group("club", &[&bob]).await;
    let add = |who: &crate::harness::User, conv: uuid::Uuid, name: &str| {
        let who = who.clone();
        let name = name.to_string();
        async move {
            who.post(
                &format!("/v1/conversations/{conv}/members"),
                json!({"username": name}),
            )
            .await
        }
    };

    add(&bob, group.id, "carol")
        .await
        .assert_error(403, "not_group_creator");
    // an outsider learns nothing, even with a bogus username
    add(&dave, group.id, "carol")
        .await
        .assert_error(404, "conversation_not_found");
    add(&dave, group.id, "ghost")
        .await
        .assert_error(404, "conversation_not_found");
    add(&alice, group.id, "ghost")
        .await
        .assert_error(404, "user_not_found");
    let direct = alice.direct_with(&bob).await;
    add(&alice, direct.id, "carol")
        .await
        .assert_error(422, "wrong_conversation_kind");

    let r = add(&alice, group.id, "Carol").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let after: Conversation = r.json();
    assert_eq!(member_names(&after), ["alice", "bob", "carol"]);
    assert_eq!(carol.conversation(group.id).await, after);

    // adding again changes nothing
    let again = add(&alice, group.id, "carol").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json::<Conversation>(), after);
}

#[tokio::test]
async fn conversations_are_listed_newest_activity_first() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let with_bob = alice.direct_with(&bob).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let with_carol = alice.direct_with(&carol).await;
    let ids = |list: Vec<Conversation>| list.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        ids(alice.get("/v1/conversations").await.json()),
        [with_carol.id, with_bob.id]
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    bob.send_text(with_bob.id, "hi").await;
    let list: Vec<Conversation> = alice.get("/v1/conversations").await.json();
    assert_eq!(ids(list.clone()), [with_bob.id, with_carol.id]);
    assert_eq!(list[0].last_seq, 1);
    let bob_member = list[0]
        .members
        .iter()
        .find(|m| m.user_id == bob.id)
        .expect("bob");
    assert_eq!((bob_member.delivered_seq, bob_member.read_seq), (1, 1));
}
