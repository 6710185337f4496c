//! Conversations between real clients through a real server: what two or three people would
//! see on their screens.

use natter_core::{CoreEvent, MessageStatus};
use natter_tests::{eventually, send_recv, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_message_arrives_and_ticks_go_delivered_then_read() {
    let h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;

    let conv = alice.chat_with(&bob).await;
    let sent = alice.send(conv, "hi bob").await;
    assert_eq!(
        sent.status,
        MessageStatus::Sending,
        "shown at once, before the server answers"
    );

    let got = bob.wait_for_text(conv, "hi bob").await;
    assert_eq!(got.sender, "alice");
    assert!(!got.mine);
    assert_eq!(got.seq, Some(1));

    // Bob's device stored it, so alice sees two ticks...
    alice
        .wait_for_status(sent.id, MessageStatus::Delivered)
        .await;
    let list = bob.client.conversations().await.unwrap();
    assert_eq!(list[0].unread, 1, "bob has one unread message");
    assert_eq!(list[0].title, "alice");

    // ...and once bob opens the chat, they turn to read.
    bob.client.mark_read(conv).await.unwrap();
    assert_eq!(bob.client.conversations().await.unwrap()[0].unread, 0);
    alice.wait_for_status(sent.id, MessageStatus::Read).await;

    // Both ways, both in the same single conversation.
    send_recv(&bob, &alice, "hello alice").await;
    assert_eq!(alice.texts(conv).await, ["hi bob", "hello alice"]);
    assert_eq!(bob.texts(conv).await, ["hi bob", "hello alice"]);
    assert_eq!(alice.client.conversations().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_messages_reach_every_member_and_read_needs_everyone() {
    let h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let carol = h.carol().await;

    let group = alice
        .client
        .create_group("Weekend", &["bob".into(), "carol".into()])
        .await
        .unwrap();
    assert_eq!(group.members, ["alice", "bob", "carol"]);
    assert_eq!(group.invited, ["bob", "carol"], "both only invited so far");
    bob.join(group.id).await;
    carol.join(group.id).await;

    let sent = alice.send(group.id, "Picnic on Saturday?").await;
    for member in [&bob, &carol] {
        let m = member.wait_for_text(group.id, "Picnic on Saturday?").await;
        assert_eq!(m.sender, "alice");
    }
    let title = eventually("bob lists the group", || async {
        let list = bob.client.conversations().await.ok()?;
        list.into_iter().find(|c| c.id == group.id).map(|c| c.title)
    })
    .await;
    assert_eq!(title, "Weekend");

    bob.client.mark_read(group.id).await.unwrap();
    // Only bob has read it: not "read" yet for alice.
    alice
        .wait_for_status(sent.id, MessageStatus::Delivered)
        .await;
    carol.client.mark_read(group.id).await.unwrap();
    alice.wait_for_status(sent.id, MessageStatus::Read).await;

    carol.send(group.id, "Yes!").await;
    alice.wait_for_text(group.id, "Yes!").await;
    bob.wait_for_text(group.id, "Yes!").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_added_later_sees_the_group_and_new_messages() {
    let h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let carol = h.carol().await;
    let group = alice
        .client
        .create_group("Book club", &["bob".into()])
        .await
        .unwrap();
    bob.join(group.id).await;
    alice.send(group.id, "first").await;
    bob.wait_for_text(group.id, "first").await;

    // Only the creator may add people.
    let err = bob.client.add_member(group.id, "carol").await.unwrap_err();
    assert_eq!(
        err.code(),
        natter_core::protocol::ErrorCode::NotGroupCreator
    );

    alice.client.add_member(group.id, "carol").await.unwrap();
    carol.join(group.id).await;
    alice.send(group.id, "welcome carol").await;
    carol.wait_for_text(group.id, "welcome carol").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_shows_on_the_other_side() {
    let h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    send_recv(&alice, &bob, "are you there?").await;

    let mut events = bob.client.subscribe();
    // Typing is best-effort over the live link (which may still be settling), so keep typing
    // the way a person would until bob's screen shows it.
    let deadline = tokio::time::Instant::now() + natter_tests::PATIENCE;
    let typed = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "bob never saw alice typing"
        );
        alice.client.typing(conv);
        let seen = tokio::time::timeout(std::time::Duration::from_millis(500), async {
            loop {
                match events.recv().await {
                    Ok(CoreEvent::Typing {
                        username,
                        conversation_id,
                    }) => return Some((username, conversation_id)),
                    Ok(_) => continue,
                    Err(_) => return None,
                }
            }
        })
        .await;
        if let Ok(Some(t)) = seen {
            break t;
        }
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    };
    assert_eq!(typed, ("alice".to_string(), conv));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_with_a_nul_character_is_refused_before_the_outbox() {
    let h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;

    let refused = alice
        .client
        .send_text(conv, "before\0after")
        .await
        .expect_err("U+0000 is refused on the device");
    assert_eq!(
        refused.code(),
        natter_core::protocol::ErrorCode::InvalidText
    );
    assert!(
        alice.texts(conv).await.is_empty(),
        "nothing shown as sending"
    );
    assert_eq!(alice.client.cache().outbox_len().await.unwrap(), 0);

    // The conversation carries on; bob never saw the refused one.
    send_recv(&alice, &bob, "before after").await;
    assert_eq!(bob.texts(conv).await, ["before after"]);
}
