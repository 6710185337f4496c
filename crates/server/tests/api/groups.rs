//! Groups as a modified client or a stranger would try them: being added is an invitation
//! (texts only until accepted, on every path), declining, leaving, removal, renaming, the
//! daily limit and blocks reaching into groups. Runs on both stores.

use std::time::Duration;

use natter_protocol::{Conversation, GroupEvent, Message, ServerEvent, Withheld};
use serde_json::json;
use uuid::Uuid;

use crate::album::{fetch, send_album, upload_item};
use crate::harness::{Harness, User, Ws};

fn member<'a>(c: &'a Conversation, user: &User) -> Option<&'a natter_protocol::Member> {
    c.members.iter().find(|m| m.user_id == user.id)
}

async fn listed(user: &User) -> Vec<Conversation> {
    let r = user.get("/v1/conversations").await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// The next message event on a socket, skipping conversation and receipt events.
async fn next_message(ws: &mut Ws) -> Message {
    loop {
        if let ServerEvent::Message { message } = ws.next_event().await {
            return message;
        }
    }
}

fn item_id(item: &serde_json::Value, key: &str) -> Uuid {
    serde_json::from_value(item[key].clone()).expect("an id")
}

#[tokio::test]
async fn an_invitee_gets_texts_only_until_they_accept_on_every_path() {
    let h = Harness::new().await;
    let stranger = h.user("stranger").await;
    let teen = h.user("teen").await;
    let outsider = h.user("outsider").await;
    let mut teen_ws = teen.ws().await;

    let group = stranger.invite_group("fun", &[&teen]).await;
    // The invitation: the group's name, who invited, how many are in it, in the list.
    let invitation = listed(&teen)
        .await
        .into_iter()
        .find(|c| c.id == group.id)
        .expect("the invitation is listed");
    assert_eq!(invitation.name.as_deref(), Some("fun"));
    assert_eq!(invitation.members.len(), 2);
    let me = member(&invitation, &teen).expect("a member row");
    assert!(!me.accepted, "only invited");
    assert_eq!(me.invited_by, Some(stranger.id));
    assert!(
        !member(&stranger.conversation(group.id).await, &teen)
            .unwrap()
            .accepted,
        "the members see who is still invited"
    );

    // A text reaches the invitee whole, live.
    stranger.send_text(group.id, "hello there").await;
    let live = next_message(&mut teen_ws).await;
    assert_eq!((live.text.as_str(), live.withheld), ("hello there", None));

    // A photo does not: neither live, nor in history, nor by its URL.
    let item = upload_item(&stranger, 7).await;
    let r = send_album(&stranger, group.id, std::slice::from_ref(&item), "look!").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let photo: Message = r.json();
    let live = next_message(&mut teen_ws).await;
    assert_eq!(live.id, photo.id);
    assert_eq!(live.withheld, Some(Withheld::Invitation));
    assert!(live.media.is_empty() && live.text.is_empty(), "{live:?}");
    let seen = teen.history(group.id, "").await;
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].text, "hello there");
    assert_eq!(seen[1].withheld, Some(Withheld::Invitation));
    assert!(seen[1].media.is_empty() && seen[1].text.is_empty());
    for key in ["media_id", "thumbnail_id"] {
        let id = item_id(&item, key);
        let as_outsider = fetch(&outsider, id).await;
        let as_invitee = fetch(&teen, id).await;
        assert_eq!(as_invitee.status(), 404, "answered as for an outsider");
        assert_eq!(as_outsider.status(), 404);
        assert_eq!(
            as_invitee.text().await.unwrap(),
            as_outsider.text().await.unwrap()
        );
    }
    // Receipts: the members learn nothing of what the invitee has seen.
    assert_eq!(teen.receipt(group.id, "read", 2).await.status, 204);
    assert_eq!(
        member(&stranger.conversation(group.id).await, &teen)
            .unwrap()
            .read_seq,
        0
    );
    // Played marks: as for an outsider.
    teen.post(
        &format!(
            "/v1/conversations/{}/messages/{}/played",
            group.id, photo.id
        ),
        json!({}),
    )
    .await
    .assert_error(404, "conversation_not_found");
    // An invitee cannot write until they accept.
    teen.try_send(group.id, Uuid::now_v7(), "hi")
        .await
        .assert_error(403, "invitation_pending");

    // Accept: a full member, who sees the group as every member does.
    let joined = teen.accept(group.id).await;
    assert!(member(&joined, &teen).unwrap().accepted);
    let seen = teen.history(group.id, "").await;
    assert_eq!(seen[1].withheld, None);
    assert_eq!(seen[1].text, "look!");
    assert_eq!(seen[1].media.len(), 1);
    assert_eq!(fetch(&teen, item_id(&item, "media_id")).await.status(), 200);
    assert_eq!(teen.receipt(group.id, "read", 2).await.status, 204);
    assert_eq!(
        member(&stranger.conversation(group.id).await, &teen)
            .unwrap()
            .read_seq,
        2
    );
    teen.send_text(group.id, "hi all").await;
}

#[tokio::test]
async fn declining_takes_the_invitee_out_for_good_unless_invited_anew() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let group = alice.invite_group("club", &[&bob]).await;
    let mut bob_ws = bob.ws().await;

    let r = bob
        .post(&format!("/v1/conversations/{}/delete", group.id), json!({}))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(listed(&bob).await.is_empty());
    bob.get(&format!("/v1/conversations/{}", group.id))
        .await
        .assert_error(404, "conversation_not_found");
    assert!(member(&alice.conversation(group.id).await, &bob).is_none());
    // His own app is told the group is gone for him.
    match bob_ws.next_event().await {
        ServerEvent::Conversation { conversation } => {
            assert!(member(&conversation, &bob).is_none())
        }
        other => panic!("unexpected {other:?}"),
    }
    // What the group writes afterwards never reaches him, and it does not come back.
    alice.send_text(group.id, "still there?").await;
    bob_ws.assert_quiet(Duration::from_millis(300)).await;
    assert!(listed(&bob).await.is_empty());
    bob.history_status(group.id, 404).await;

    // Invited anew: the invitation is back.
    let r = alice
        .post(
            &format!("/v1/conversations/{}/members", group.id),
            json!({"username": "bob"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let back = listed(&bob).await;
    assert_eq!(back.len(), 1);
    assert!(!member(&back[0], &bob).unwrap().accepted);
}

#[tokio::test]
async fn members_leave_the_admin_removes_and_renames_and_everyone_sees_the_lines() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let dave = h.user("dave").await;
    let group = alice.group("trip", &[&bob, &carol, &dave]).await;
    alice.send_text(group.id, "hello").await;
    let mut carol_ws = carol.ws().await;
    let mut bob_ws = bob.ws().await;

    // Any member can leave: the others see "bob left", nothing more reaches him.
    let r = bob
        .post(&format!("/v1/conversations/{}/leave", group.id), json!({}))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let line = next_message(&mut carol_ws).await;
    assert_eq!(
        line.event,
        Some(GroupEvent::Left {
            user_id: bob.id,
            username: "bob".into()
        })
    );
    assert_eq!(line.seq, 2);
    alice.send_text(group.id, "bye bob").await;
    assert_eq!(next_message(&mut carol_ws).await.text, "bye bob");
    bob_ws.assert_no_message(Duration::from_millis(300)).await;
    bob.history_status(group.id, 404).await;
    bob.post(&format!("/v1/conversations/{}/leave", group.id), json!({}))
        .await
        .assert_error(404, "conversation_not_found");

    // Only the admin removes and renames.
    let remove = |who: &User, name: &str| {
        let (who, path) = (
            who.clone(),
            format!("/v1/conversations/{}/members/{name}", group.id),
        );
        async move { crate::harness::Api::send(who.request(reqwest::Method::DELETE, &path)).await }
    };
    let rename = |who: &User, name: &str| {
        let (who, path, name) = (
            who.clone(),
            format!("/v1/conversations/{}", group.id),
            name.to_string(),
        );
        async move {
            crate::harness::Api::send(
                who.request(reqwest::Method::PATCH, &path)
                    .json(&json!({ "name": name })),
            )
            .await
        }
    };
    remove(&carol, "dave")
        .await
        .assert_error(403, "not_group_creator");
    rename(&carol, "mine now")
        .await
        .assert_error(403, "not_group_creator");
    remove(&alice, "bob")
        .await
        .assert_error(404, "user_not_found");
    rename(&alice, "  ")
        .await
        .assert_error(422, "invalid_group_name");

    let r = remove(&alice, "Dave").await;
    assert_eq!(r.status, 200, "{}", r.body);
    dave.history_status(group.id, 404).await;
    let r = rename(&alice, "Trip 2027").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        carol.conversation(group.id).await.name.as_deref(),
        Some("Trip 2027")
    );
    let lines: Vec<Option<GroupEvent>> = carol
        .history(group.id, "")
        .await
        .into_iter()
        .map(|m| m.event)
        .collect();
    assert_eq!(
        lines,
        [
            None,
            Some(GroupEvent::Left {
                user_id: bob.id,
                username: "bob".into()
            }),
            None,
            Some(GroupEvent::Removed {
                user_id: dave.id,
                username: "dave".into()
            }),
            Some(GroupEvent::Renamed {
                name: "Trip 2027".into()
            }),
        ]
    );
    let names: Vec<String> = carol
        .conversation(group.id)
        .await
        .members
        .into_iter()
        .map(|m| m.username)
        .collect();
    assert_eq!(names, ["alice", "carol"]);
}

#[tokio::test]
async fn history_lines_do_not_open_a_group_for_media() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let group = alice.group("trip", &[&bob, &carol]).await;
    // Only history lines so far: carol left, the admin renamed the group.
    let r = carol
        .post(&format!("/v1/conversations/{}/leave", group.id), json!({}))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = crate::harness::Api::send(
        alice
            .request(
                reqwest::Method::PATCH,
                &format!("/v1/conversations/{}", group.id),
            )
            .json(&json!({ "name": "Trip 2027" })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(bob.history(group.id, "").await.len(), 2, "two lines");

    let photo = upload_item(&alice, 7).await;
    send_album(&alice, group.id, std::slice::from_ref(&photo), "")
        .await
        .assert_error(403, "media_not_allowed_first_message");
    bob.send_text(group.id, "hi all").await;
    let r = send_album(&alice, group.id, &[photo], "").await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn inviting_strangers_counts_against_the_daily_limit_and_refuses_the_whole_request() {
    let h = Harness::with(|c| c.limits.new_conversations_per_day = 3).await;
    let alice = h.user("alice").await;
    let names = ["bob", "carol", "dave", "erin", "frank"];
    let mut users = Vec::new();
    for name in names {
        users.push(h.user(name).await);
    }
    // Three strangers: exactly the day's limit.
    let first = alice
        .invite_group("one", &[&users[0], &users[1], &users[2]])
        .await;
    // One more stranger, alone or with friends: the whole request is refused.
    let r = alice
        .post(
            "/v1/conversations/group",
            json!({"name": "two", "members": ["bob", "erin"]}),
        )
        .await;
    r.assert_error(429, "rate_limited");
    assert!(r.body["retry_after_s"].as_u64().unwrap() > 0);
    alice
        .post(
            &format!("/v1/conversations/{}/members", first.id),
            json!({"username": "frank"}),
        )
        .await
        .assert_error(429, "rate_limited");
    // Nobody was added anywhere.
    assert!(listed(&users[3]).await.is_empty());
    assert!(listed(&users[4]).await.is_empty());
    assert_eq!(alice.conversation(first.id).await.members.len(), 4);
    // A direct chat with a new person counts against the same limit.
    alice
        .post("/v1/conversations/direct", json!({"username": "erin"}))
        .await
        .assert_error(429, "rate_limited");
    // People she already shares a conversation with are no strangers: not counted.
    let r = alice
        .post(
            "/v1/conversations/group",
            json!({"name": "again", "members": ["bob", "carol"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn a_block_either_way_refuses_the_invitation_without_saying_which() {
    let h = Harness::new().await;
    let mallory = h.user("mallory").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let dave = h.user("dave").await;
    let group = mallory.group("mine", &[&dave]).await;
    // bob blocked mallory; mallory blocked carol.
    assert_eq!(
        bob.post("/v1/blocks", json!({"username": "mallory"}))
            .await
            .status,
        204
    );
    assert_eq!(
        mallory
            .post("/v1/blocks", json!({"username": "carol"}))
            .await
            .status,
        204
    );
    let mut answers = Vec::new();
    for name in ["bob", "carol"] {
        let created = mallory
            .post(
                "/v1/conversations/group",
                json!({"name": "fun", "members": [name]}),
            )
            .await;
        let added = mallory
            .post(
                &format!("/v1/conversations/{}/members", group.id),
                json!({"username": name}),
            )
            .await;
        for r in [created, added] {
            r.assert_error(403, "cannot_invite");
            answers.push(r.body.to_string());
        }
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "one answer whoever blocked whom: {answers:?}"
    );
    assert!(listed(&bob).await.is_empty());
    assert!(listed(&carol).await.is_empty());
    assert_eq!(mallory.conversation(group.id).await.members.len(), 2);
}

#[tokio::test]
async fn a_block_reaches_into_shared_groups_and_reports_carry_the_group() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let group = alice.group("climbers", &[&bob, &carol]).await;
    carol.send_text(group.id, "before").await;
    assert_eq!(
        bob.post("/v1/blocks", json!({"username": "carol"}))
            .await
            .status,
        204
    );
    let mut bob_ws = bob.ws().await;
    let mut alice_ws = alice.ws().await;

    carol.send_text(group.id, "you can't hide").await;
    let item = upload_item(&carol, 3).await;
    let r = send_album(&carol, group.id, std::slice::from_ref(&item), "").await;
    assert_eq!(r.status, 201, "{}", r.body);
    for _ in 0..2 {
        let got = next_message(&mut bob_ws).await;
        assert_eq!(got.withheld, Some(Withheld::Blocked));
        assert!(got.text.is_empty() && got.media.is_empty(), "{got:?}");
        let whole = next_message(&mut alice_ws).await;
        assert_eq!(whole.withheld, None, "others get it whole");
    }
    let seen = bob.history(group.id, "").await;
    assert!(seen.iter().all(|m| m.withheld == Some(Withheld::Blocked)));
    assert!(seen.iter().all(|m| m.text.is_empty()));
    assert_eq!(fetch(&bob, item_id(&item, "media_id")).await.status(), 404);
    assert_eq!(
        fetch(&alice, item_id(&item, "media_id")).await.status(),
        200
    );
    // bob's own messages still reach carol: the block is bob's choice of what he sees.
    bob.send_text(group.id, "hi all").await;

    // Reporting a group member carries their recent messages there and the group.
    let r = bob
        .post(
            "/v1/reports",
            json!({"username": "carol", "conversation_id": group.id, "reason": "harassment"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let store = natter_server::store::open(h.database_url(), h.dir.path())
        .await
        .expect("store");
    let queue = store.reports().await.expect("reports");
    assert_eq!(queue.len(), 1);
    let report = &queue[0];
    assert_eq!(
        report.conversation_kind,
        Some(natter_protocol::ConversationKind::Group)
    );
    assert_eq!(report.conversation_name.as_deref(), Some("climbers"));
    let texts: Vec<&str> = report.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["before", "you can't hide", ""]);
    assert_eq!(
        report.messages[2].media.len(),
        1,
        "the photo, for moderators"
    );
}
