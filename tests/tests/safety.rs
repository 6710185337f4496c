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
    let today = chrono::Utc::now().date_naive();
    let teen = Client::open(&h.profile("teen"), Some(&h.server.url()))
        .await
        .expect("open profile");
    // seventeen years and a few days ago: 17 today
    teen.signup("teen", PASSWORD, today - chrono::Days::new(17 * 365 + 10))
        .await
        .expect("signup");
    teen.start().await.expect("start");

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
