//! Two server instances sharing one database and one NATS bus act as one service: people
//! connected to different instances see each other's messages, receipts and typing live, and
//! the rate limits count across instances. Needs NATS (`NATTER_TEST_NATS_URL`, default
//! `nats://127.0.0.1:4222`; `./x test` starts it).

use natter_protocol::{ReceiptKind, ServerEvent};
use natter_server::ServerConfig;
use serde_json::json;

use crate::harness::{Harness, User};

fn nats_url() -> String {
    std::env::var("NATTER_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

fn on_bus(config: &mut ServerConfig) {
    config.bus = Some(nats_url());
}

/// The same signed-in user, talking to another instance.
fn via(user: &User, base: &str) -> User {
    let mut moved = user.clone();
    moved.api.base = base.to_string();
    moved
}

#[tokio::test]
async fn people_on_different_instances_see_messages_receipts_and_typing_live() {
    let h = Harness::with(on_bus).await;
    let b = h.another_instance(on_bus).await;
    let alice = h.user("alice").await;
    let bob = via(&h.user("bob").await, &b.url());
    let mut alice_ws = alice.ws().await;
    let mut bob_ws = bob.ws().await;

    // alice (instance A) opens a chat: bob (instance B) sees it appear.
    let conv = alice.direct_with(&bob).await;
    for ws in [&mut alice_ws, &mut bob_ws] {
        assert_eq!(
            ws.next_event().await,
            ServerEvent::Conversation {
                conversation: conv.clone()
            }
        );
    }
    let hello = alice.send_text(conv.id, "hello from A").await;
    for ws in [&mut alice_ws, &mut bob_ws] {
        assert_eq!(
            ws.next_event().await,
            ServerEvent::Message {
                message: hello.clone()
            }
        );
    }
    assert_eq!(bob.receipt(conv.id, "read", hello.seq).await.status, 204);
    // Both see it: alice on A, and bob's own devices (here, his socket on B).
    for ws in [&mut alice_ws, &mut bob_ws] {
        for kind in [ReceiptKind::Delivered, ReceiptKind::Read] {
            assert_eq!(
                ws.next_event().await,
                ServerEvent::Receipt {
                    conversation_id: conv.id,
                    user_id: bob.id,
                    kind,
                    up_to_seq: hello.seq,
                }
            );
        }
    }
    let reply = bob.send_text(conv.id, "hi from B").await;
    for ws in [&mut alice_ws, &mut bob_ws] {
        assert_eq!(
            ws.next_event().await,
            ServerEvent::Message {
                message: reply.clone()
            }
        );
    }
    assert_eq!(reply.seq, hello.seq + 1, "one sequence across instances");

    bob_ws
        .send_text(&json!({"type": "typing", "conversation_id": conv.id}).to_string())
        .await;
    assert_eq!(
        alice_ws.next_event().await,
        ServerEvent::Typing {
            conversation_id: conv.id,
            user_id: bob.id,
            username: "bob".into(),
        }
    );
    // Nothing arrives twice: bob's own copies of the events came from his instance only.
    bob_ws
        .assert_quiet(std::time::Duration::from_millis(300))
        .await;
    alice_ws
        .assert_quiet(std::time::Duration::from_millis(300))
        .await;
    b.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn the_message_rate_limit_counts_across_instances() {
    let limited = |c: &mut ServerConfig| {
        on_bus(c);
        c.limits.messages_per_minute = 4;
    };
    let h = Harness::with(limited).await;
    let b = h.another_instance(limited).await;
    let alice = h.user("alice").await;
    let alice_b = via(&alice, &b.url());
    let bob = h.user("bob").await;
    let conv = alice.direct_with(&bob).await;
    for i in 0..4 {
        let who = if i % 2 == 0 { &alice } else { &alice_b };
        who.send_text(conv.id, &format!("{i}")).await;
    }
    for who in [&alice, &alice_b] {
        let r = who
            .try_send(conv.id, uuid::Uuid::now_v7(), "one too many")
            .await;
        r.assert_error(429, "rate_limited");
    }
    assert_eq!(bob.history(conv.id, "").await.len(), 4);
    b.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn logging_out_on_one_instance_closes_the_sessions_websocket_on_the_other() {
    use futures_util::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message as WsMessage;

    let h = Harness::with(on_bus).await;
    let b = h.another_instance(on_bus).await;
    let alice = h.user("alice").await;
    let mut ws_on_b = via(&alice, &b.url()).ws().await;
    let other_device = via(&h.login("alice").await, &b.url());
    let mut other_ws = other_device.ws().await;
    // Give both sockets time to be registered before the log-out.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(alice.api.post("/v1/logout", json!({})).await.status, 204);
    let frame = tokio::time::timeout(std::time::Duration::from_secs(5), ws_on_b.stream.next())
        .await
        .expect("closed at once");
    match frame {
        Some(Ok(WsMessage::Close(Some(close)))) => assert_eq!(u16::from(close.code), 1008),
        other => panic!("expected a close frame, got {other:?}"),
    }
    let still_open = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        other_ws.stream.next(),
    )
    .await;
    assert!(
        still_open.is_err(),
        "the other session's socket stayed open: {still_open:?}"
    );
    b.shutdown().await.expect("clean shutdown");
}
