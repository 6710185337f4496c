//! The age rules as the app lives them: an account under 16 has no direct messages, knows
//! why, and its client does not hammer a server that would refuse it anyway.

use natter_core::protocol::ErrorCode;
use natter_core::{Client, ConnectionState};
use natter_tests::{Harness, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_under_16_is_told_why_and_the_server_agrees() {
    let h = Harness::new().await;
    let _alice = h.alice().await;
    let today = chrono::Utc::now().date_naive();
    // fifteen years and a few days ago, whatever the leap years: 15 today
    let born = today - chrono::Days::new(15 * 365 + 10);
    let teen = Client::open(&h.profile("teen"), Some(&h.server.url()))
        .await
        .expect("open profile");
    teen.signup("teen", PASSWORD, born)
        .await
        .expect("13+ may sign up");
    assert_eq!(
        teen.dm_blocked().map(|e| e.code),
        Some(ErrorCode::DmUnavailableUnder16)
    );
    teen.start().await.expect("start");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        teen.connection_state(),
        ConnectionState::Offline,
        "no live connection is even tried"
    );
    // a client that tried anyway gets the same answer from the server
    let err = teen.open_direct("alice").await.expect_err("refused");
    assert_eq!(err.code(), ErrorCode::DmUnavailableUnder16);

    // under 13 cannot sign up at all; the client says so before asking the server
    let child = Client::open(&h.profile("child"), Some(&h.server.url()))
        .await
        .expect("open profile");
    let err = child
        .signup("child", PASSWORD, today - chrono::Days::new(12 * 365))
        .await
        .expect_err("too young");
    assert_eq!(err.code(), ErrorCode::TooYoung);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_media_reminder_always_shows_under_18_and_adults_may_turn_it_off_per_chat() {
    let h = Harness::new().await;
    let alice = h.alice().await;
    let teen = h.seventeen("teen").await.client;

    let conv = alice.client.open_direct("teen").await.expect("chat").id;
    let adults = alice
        .client
        .conversation(conv)
        .await
        .unwrap()
        .media_reminder;
    assert!(adults.show && adults.can_turn_off);
    alice
        .client
        .turn_off_media_reminder(conv)
        .await
        .expect("an adult may");
    assert!(
        !alice
            .client
            .conversation(conv)
            .await
            .unwrap()
            .media_reminder
            .show
    );

    let teens_conv = teen.open_direct("alice").await.expect("16+ may chat").id;
    let teens = teen.conversation(teens_conv).await.unwrap().media_reminder;
    assert!(teens.show && !teens.can_turn_off);
    assert_eq!(
        teen.turn_off_media_reminder(teens_conv)
            .await
            .expect_err("under 18")
            .code(),
        ErrorCode::BadRequest
    );
    assert!(
        teen.conversation(teens_conv)
            .await
            .unwrap()
            .media_reminder
            .show
    );
}

/// An abstract pattern the real nudity model scores as explicit (natter-safety's
/// `find_explicit_fixture` example made it; it contains no nudity).
fn explicit_png() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/safety/tests/fixtures/explicit-by-search.png"
    );
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_waits_in_its_own_list_and_media_opens_once_it_is_accepted() {
    use natter_tests::eventually;
    let h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    alice
        .send(conv, "hi bob, we met at the climbing wall")
        .await;
    let request = eventually("bob sees a request", || async {
        bob.client
            .requests()
            .await
            .ok()?
            .into_iter()
            .find(|c| c.id == conv)
    })
    .await;
    assert!(request.request && request.title == "alice");
    assert_eq!(
        alice
            .client
            .conversation(conv)
            .await
            .unwrap()
            .media_blocked
            .map(|e| e.code),
        Some(ErrorCode::MediaRequiresAcceptedRequest)
    );

    let accepted = bob.client.accept_request(conv).await.expect("accept");
    assert!(!accepted.request);
    assert!(bob.client.requests().await.unwrap().is_empty());
    eventually("alice may send photos now", || async {
        let c = alice.client.conversation(conv).await.ok()?;
        c.media_blocked.is_none().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_block_the_blocked_persons_messages_fail_with_the_reason() {
    use natter_core::MessageStatus;
    let h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    alice.send(conv, "hello").await;
    bob.wait_for_text(conv, "hello").await;
    bob.client.block("alice").await.expect("block");
    assert_eq!(
        bob.client.blocked_users().await.unwrap()[0].username,
        "alice"
    );
    // the request from alice leaves bob's lists
    assert!(bob.client.conversation(conv).await.is_err());

    let sent = alice.send(conv, "why won't you answer").await;
    alice.wait_for_status(sent.id, MessageStatus::Failed).await;
    let failed = alice.client.message(sent.id).await.unwrap().unwrap();
    assert!(
        failed.error.as_deref().unwrap_or("").contains("blocked"),
        "{:?}",
        failed.error
    );

    bob.client.unblock("alice").await.expect("unblock");
    assert!(bob.client.blocked_users().await.unwrap().is_empty());
    alice.send(conv, "hi again").await;
    bob.wait_for_text(conv, "hi again").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_photo_is_refused_under_18_blurred_for_a_filtered_adult_and_hidden_from_a_teen()
{
    use natter_core::{AlbumItemDraft, MediaDisplay};
    use natter_tests::eventually;
    let h = Harness::new().await;
    let carol = h.carol().await;
    let alice = h.alice().await;
    let dave = h.user("dave").await;
    let teen = h.seventeen("teen").await.client;
    alice
        .client
        .set_nudity_filter(true)
        .await
        .expect("an adult may");
    assert_eq!(
        teen.set_nudity_filter(false)
            .await
            .expect_err("locked")
            .code(),
        ErrorCode::NudityFilterLocked
    );

    let group = carol
        .client
        .create_group("climbers", &["alice".into(), "dave".into(), "teen".into()])
        .await
        .expect("group")
        .id;
    alice.join(group).await;
    dave.join(group).await;
    carol.send(group, "pics from today").await;
    teen_joins(&teen, group).await;

    // on the teen's own device it never gets as far as the tray
    let staged = stage_explicit(&teen, group).await;
    assert_eq!(
        staged[0].error.as_ref().map(|e| e.code),
        Some(ErrorCode::ExplicitImageBlocked)
    );

    // an adult may send it; each recipient sees it as their age and filter say
    let staged = stage_explicit(&carol.client, group).await;
    let item = staged[0].item.clone().expect("staged for an adult");
    assert!(item.explicit, "classified on carol's device");
    let sent = carol
        .client
        .send_album(
            group,
            vec![AlbumItemDraft {
                staged_id: item.id,
                edits: Default::default(),
                video: None,
            }],
            "",
            false,
        )
        .await
        .expect("send");
    carol.wait_until_accepted(sent.id).await;
    assert_eq!(
        carol.client.message(sent.id).await.unwrap().unwrap().media[0].display,
        MediaDisplay::Show
    );

    let seen_by = |c: &Client| {
        let c = c.clone();
        async move {
            eventually("the album arrives", || async {
                let m = c.message(sent.id).await.ok()??;
                m.media.first().map(|i| i.display)
            })
            .await
        }
    };
    assert_eq!(seen_by(&alice.client).await, MediaDisplay::Blur);
    assert_eq!(seen_by(&dave.client).await, MediaDisplay::Show);
    assert_eq!(seen_by(&teen).await, MediaDisplay::Hide);
}

async fn stage_explicit(c: &Client, conv: uuid::Uuid) -> Vec<natter_core::StageResult> {
    c.stage_media(
        conv,
        vec![natter_core::StageInput::Bytes {
            name: "pattern.png".into(),
            bytes: explicit_png(),
        }],
        false,
    )
    .await
    .expect("staging runs")
}

/// The teen accepts the invitation to `conv` once it has arrived.
async fn teen_joins(teen: &Client, conv: uuid::Uuid) {
    natter_tests::eventually("the teen is invited", || async {
        teen.requests()
            .await
            .ok()?
            .iter()
            .any(|c| c.id == conv)
            .then_some(())
    })
    .await;
    teen.accept_request(conv).await.expect("accept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_past_the_rate_limit_waits_its_turn_and_says_when_it_goes() {
    use natter_core::MessageStatus;
    let h = Harness::with(|c| c.limits.messages_per_minute = 2).await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    for text in ["one", "two"] {
        let m = alice.send(conv, text).await;
        alice.wait_until_accepted(m.id).await;
    }
    let started = chrono::Utc::now().timestamp_millis();
    let third = alice.send(conv, "three").await;
    let held = natter_tests::eventually("alice sees when it will go", || async {
        alice.client.message(third.id).await.ok()??.held_until
    })
    .await;
    let m = alice.client.message(third.id).await.unwrap().unwrap();
    assert_eq!(m.status, MessageStatus::Sending, "queued, not failed");
    assert!(
        held > started && held <= started + 61_000,
        "goes out within the minute: {} ms",
        held - started
    );
    bob.wait_for_text(conv, "two").await;
    assert_eq!(
        bob.texts(conv).await,
        ["one", "two"],
        "the server stored nothing more"
    );
}
