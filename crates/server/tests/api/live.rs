use std::time::Duration;

use futures_util::StreamExt as _;
use natter_protocol::{ReceiptKind, ServerEvent};
use serde_json::json;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

use crate::harness::{connect_ws, Harness};

#[tokio::test]
async fn members_see_conversations_messages_receipts_and_typing_live() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let mut alice_ws = alice.ws().await;
    let mut bob_ws = bob.ws().await;

    let conv = alice.direct_with(&bob).await;
    for ws in [&mut alice_ws, &mut bob_ws] {
        assert_eq!(
            ws.next_event().await,
            ServerEvent::Conversation {
                conversation: conv.clone()
            }
        );
    }
    // getting it again is not news
    alice.direct_with(&bob).await;

    let message = alice.send_text(conv.id, "hello").await;
    for ws in [&mut alice_ws, &mut bob_ws] {
        assert_eq!(
            ws.next_event().await,
            ServerEvent::Message {
                message: message.clone()
            }
        );
    }

    assert_eq!(bob.receipt(conv.id, "read", 1).await.status, 204);
    let receipt = |kind| ServerEvent::Receipt {
        conversation_id: conv.id,
        user_id: bob.id,
        kind,
        up_to_seq: 1,
    };
    assert_eq!(alice_ws.next_event().await, receipt(ReceiptKind::Delivered));
    assert_eq!(alice_ws.next_event().await, receipt(ReceiptKind::Read));
    // a receipt that moves nothing is not announced
    assert_eq!(bob.receipt(conv.id, "read", 1).await.status, 204);

    // garbage is ignored and the connection stays usable
    bob_ws.send_text("{not json").await;
    bob_ws.send_text(r#"{"type":"dance"}"#).await;
    bob_ws
        .send_text(&json!({"type": "typing", "conversation_id": conv.id}).to_string())
        .await;
    assert_eq!(
        alice_ws.next_event().await,
        ServerEvent::Typing {
            conversation_id: conv.id,
            user_id: bob.id,
            username: "bob".into()
        }
    );
    // bob's own typing is not echoed back; drain bob's receipt events first
    assert!(matches!(
        bob_ws.next_event().await,
        ServerEvent::Receipt { .. }
    ));
    assert!(matches!(
        bob_ws.next_event().await,
        ServerEvent::Receipt { .. }
    ));
    bob_ws.assert_quiet(Duration::from_millis(300)).await;
    alice_ws.assert_quiet(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn typing_in_a_foreign_conversation_goes_nowhere() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let eve = h.user("eve").await;
    let conv = alice.direct_with(&bob).await;
    let mut alice_ws = alice.ws().await;
    let mut eve_ws = eve.ws().await;
    eve_ws
        .send_text(&json!({"type": "typing", "conversation_id": conv.id}).to_string())
        .await;
    alice_ws.assert_quiet(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn the_feed_takes_client_frames_up_to_its_limit_and_closes_a_socket_past_it_as_too_big() {
    use natter_server::routes::ws::FEED_MAX_CLIENT_MESSAGE;
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let conv = alice.direct_with(&bob).await;
    let mut alice_ws = alice.ws().await;
    let mut bob_ws = bob.ws().await;
    // A typing frame padded with trailing whitespace (still valid JSON) to `len` bytes.
    let typing = json!({"type": "typing", "conversation_id": conv.id}).to_string();
    let padded = |len: usize| format!("{typing:<len$}");

    bob_ws.send_text(&padded(FEED_MAX_CLIENT_MESSAGE)).await;
    assert_eq!(
        alice_ws.next_event().await,
        ServerEvent::Typing {
            conversation_id: conv.id,
            user_id: bob.id,
            username: "bob".into()
        },
        "a frame of exactly the limit is read"
    );

    bob_ws.send_text(&padded(FEED_MAX_CLIENT_MESSAGE + 1)).await;
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match bob_ws.stream.next().await {
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the server ends the connection in time");
    match end {
        Some(Ok(WsMessage::Close(Some(frame)))) => {
            assert_eq!(u16::from(frame.code), 1009, "closed as too big: {frame:?}")
        }
        other => panic!("expected a close frame saying why (1009), got {other:?}"),
    }
    alice_ws.assert_quiet(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn group_members_hear_about_new_members() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let mut bob_ws = bob.ws().await;
    let mut carol_ws = carol.ws().await;
    let group = alice.invite_group("club", &[&bob]).await;
    assert!(matches!(
        bob_ws.next_event().await,
        ServerEvent::Conversation { .. }
    ));
    let r = alice
        .post(
            &format!("/v1/conversations/{}/members", group.id),
            json!({"username": "carol"}),
        )
        .await;
    assert_eq!(r.status, 200);
    for ws in [&mut bob_ws, &mut carol_ws] {
        match ws.next_event().await {
            ServerEvent::Conversation { conversation } => {
                assert_eq!(conversation.id, group.id);
                assert_eq!(conversation.members.len(), 3);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn websocket_needs_a_token_and_an_allowed_origin() {
    let h = Harness::with(|c| c.allowed_origins = vec!["tauri://localhost".into()]).await;
    let alice = h.user("alice").await;
    let token = alice.token.as_deref();

    let status = |e: tungstenite::Error| match e {
        tungstenite::Error::Http(response) => {
            let body: serde_json::Value =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                    .unwrap_or_default();
            (
                response.status().as_u16(),
                body["code"].as_str().map(String::from),
            )
        }
        other => panic!("unexpected error {other}"),
    };
    let foreign = connect_ws(&h.base, token, Some("https://evil.example"))
        .await
        .err()
        .expect("foreign origin refused");
    assert_eq!(status(foreign), (403, Some("forbidden_origin".into())));
    let anonymous = connect_ws(&h.base, None, None)
        .await
        .err()
        .expect("no token refused");
    assert_eq!(status(anonymous), (401, Some("unauthenticated".into())));

    // an allowed origin and a native client (no Origin) both get through
    let mut allowed = connect_ws(&h.base, token, Some("tauri://localhost"))
        .await
        .expect("allowed origin");
    let mut native = alice.ws().await;
    let bob = h.user("bob").await;
    alice.direct_with(&bob).await;
    assert!(matches!(
        allowed.next_event().await,
        ServerEvent::Conversation { .. }
    ));
    assert!(matches!(
        native.next_event().await,
        ServerEvent::Conversation { .. }
    ));
}

#[tokio::test]
async fn shutdown_closes_websockets_with_a_close_frame() {
    let mut h = Harness::new().await;
    let alice = h.user("alice").await;
    let mut ws = alice.ws().await;
    let shutdown = tokio::spawn(async move {
        h.shutdown().await;
        h
    });
    let frame = tokio::time::timeout(Duration::from_secs(5), ws.stream.next())
        .await
        .expect("closed in time");
    match frame {
        Some(Ok(WsMessage::Close(Some(close)))) => assert_eq!(u16::from(close.code), 1001),
        other => panic!("expected a close frame, got {other:?}"),
    }
    drop(ws);
    tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .expect("shutdown finishes")
        .expect("task");
}

#[tokio::test]
async fn logging_out_closes_that_sessions_websocket_at_once() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let other_device = h.login("alice").await;
    let mut ws = alice.ws().await;
    let mut other_ws = other_device.ws().await;
    // Give both sockets time to be registered before the log-out.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(alice.api.post("/v1/logout", json!({})).await.status, 204);
    let frame = tokio::time::timeout(Duration::from_secs(5), ws.stream.next())
        .await
        .expect("closed at once");
    match frame {
        Some(Ok(WsMessage::Close(Some(close)))) => assert_eq!(u16::from(close.code), 1008),
        other => panic!("expected a close frame, got {other:?}"),
    }
    // The same account's other session keeps its live feed.
    let still_open = tokio::time::timeout(Duration::from_millis(300), other_ws.stream.next()).await;
    assert!(
        still_open.is_err(),
        "the other device's socket stayed open: {still_open:?}"
    );
}
