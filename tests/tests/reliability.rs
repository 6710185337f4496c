//! The outbox, idempotent re-sends and catch-up: nothing a user sent is lost or doubled,
//! whatever the network or the process does.

use natter_core::MessageStatus;
use natter_tests::proxy::{Mode, Proxy};
use natter_tests::{eventually, send_recv, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_written_offline_are_delivered_once_in_order_after_a_restart() {
    let mut h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    send_recv(&alice, &bob, "before the outage").await;

    h.server.stop().await;
    for text in ["one", "two", "three"] {
        let m = alice.send(conv, text).await;
        assert_eq!(m.status, MessageStatus::Sending);
    }
    // The app is killed while offline: the outbox lives on disk.
    alice.quit().await;
    h.server.restart().await;

    let alice = h.reopen("alice").await;
    assert_eq!(
        alice.texts(conv).await,
        ["before the outage", "one", "two", "three"],
        "opening the chat offline shows what was written, from the cache"
    );
    for text in ["one", "two", "three"] {
        bob.wait_for_text(conv, text).await;
    }
    eventually("alice's outbox drains", || async {
        (alice.client.cache().outbox_len().await.ok()? == 0).then_some(())
    })
    .await;
    let seen = bob.messages(conv).await;
    let texts: Vec<_> = seen.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        ["before the outage", "one", "two", "three"],
        "once each, in order"
    );
    let seqs: Vec<_> = seen.iter().map(|m| m.seq.unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_acknowledgement_is_retried_without_a_duplicate() {
    let h = Harness::new().await;
    let proxy = Proxy::start(h.server.addr()).await;
    let alice = h.user_via("alice", &proxy.url()).await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;

    // The server stores the message but its answer never reaches alice.
    proxy.set(Mode::LoseAnswers);
    let sent = alice.send(conv, "only once please").await;
    bob.wait_for_text(conv, "only once please").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        alice.client.message(sent.id).await.unwrap().unwrap().status,
        MessageStatus::Sending,
        "alice has not heard back yet"
    );

    proxy.set(Mode::Pass);
    eventually("alice's retry is acknowledged", || async {
        let m = alice.client.message(sent.id).await.ok()??;
        (m.status != MessageStatus::Sending).then_some(())
    })
    .await;
    let texts = bob.texts(conv).await;
    assert_eq!(
        texts,
        ["only once please"],
        "the retry did not make a second copy"
    );
    assert_eq!(alice.texts(conv).await, ["only once please"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_was_away_catches_up_from_its_last_sequence() {
    // 121 messages in a few seconds is past the per-minute rate limit (tested on its own in
    // safety.rs); here it is lifted so the test is about catching up.
    let h = Harness::with(|c| c.limits.messages_per_minute = 1000).await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    send_recv(&alice, &bob, "m0").await;

    bob.quit().await;
    let texts: Vec<String> = (1..=120).map(|i| format!("m{i}")).collect();
    for t in &texts {
        alice.send(conv, t).await;
    }
    eventually("alice's outbox drains", || async {
        (alice.client.cache().outbox_len().await.ok()? == 0).then_some(())
    })
    .await;

    let bob = h.reopen("bob").await;
    bob.wait_for_text(conv, "m120").await;
    let got = bob.texts(conv).await;
    assert_eq!(got.len(), 121);
    assert_eq!(got[0], "m0");
    assert_eq!(got[1..], texts[..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_reconnect_by_themselves_after_the_server_restarts() {
    let mut h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    send_recv(&alice, &bob, "before").await;

    h.server.restart().await;
    // Sent right after the restart: delivered once alice's outbox or bob's live link is back.
    send_recv(&alice, &bob, "after the restart").await;
    send_recv(&bob, &alice, "still here").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_deleted_before_it_went_out_never_arrives() {
    let mut h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    send_recv(&alice, &bob, "first").await;

    h.server.stop().await;
    let oops = alice.send(conv, "sent to the wrong person").await;
    alice.send(conv, "ignore that").await;
    alice.client.discard(oops.id).await.unwrap();
    assert_eq!(alice.texts(conv).await, ["first", "ignore that"]);
    h.server.restart().await;

    bob.wait_for_text(conv, "ignore that").await;
    eventually("alice's outbox drains", || async {
        (alice.client.cache().outbox_len().await.ok()? == 0).then_some(())
    })
    .await;
    assert_eq!(bob.texts(conv).await, ["first", "ignore that"]);
    // Once it is out, it cannot be taken back from this device.
    let sent = alice.messages(conv).await.pop().unwrap();
    assert!(alice.client.discard(sent.id).await.is_err());
}

/// A packaged app asks for its server once: a profile without one says so, refuses an address
/// where no Natter server answers (and keeps asking), and remembers the one chosen across
/// restarts and signing out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chosen_server_is_checked_and_remembered_across_restarts_and_sign_out() {
    let h = Harness::new().await;
    let profile = h.profile("tester");
    let fresh = natter_core::Client::open(&profile, None).await.unwrap();
    assert!(!fresh.server_chosen(), "a new profile has no server yet");

    // Nothing listens on port 1 of loopback: refused with a message naming the address.
    let err = fresh.choose_server("http://127.0.0.1:1").await.unwrap_err();
    assert!(
        err.to_string().contains("http://127.0.0.1:1"),
        "the error names the address: {err}"
    );
    assert!(!fresh.server_chosen());
    let err = fresh.choose_server("ftp://example.org").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("must start with http:// or https://"),
        "{err}"
    );

    fresh.choose_server(&h.server.url()).await.unwrap();
    assert!(fresh.server_chosen());
    assert_eq!(fresh.server_url(), h.server.url().trim_end_matches('/'));
    fresh.cache().close().await;
    drop(fresh);

    // After a restart: the same server, without asking again; signing up there works.
    let again = natter_core::Client::open(&profile, None).await.unwrap();
    assert!(again.server_chosen());
    assert_eq!(again.server_url(), h.server.url().trim_end_matches('/'));
    again
        .signup(
            "tester",
            "correct horse battery",
            "1990-05-17".parse().unwrap(),
        )
        .await
        .unwrap();
    again.logout().await.unwrap();
    again.cache().close().await;
    drop(again);

    // Signed out and restarted: still that server.
    let after = natter_core::Client::open(&profile, None).await.unwrap();
    assert!(after.server_chosen());
    assert_eq!(after.server_url(), h.server.url().trim_end_matches('/'));
}
