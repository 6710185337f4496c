//! Operations: liveness, readiness and the Prometheus metrics an operator watches.

use crate::harness::Harness;

/// The value of an unlabelled sample (or one with exactly these labels) in a metrics text.
fn sample(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            (key == name_and_labels).then(|| value.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no sample {name_and_labels} in:\n{text}"))
}

#[tokio::test]
async fn healthz_and_readyz_answer_when_the_database_answers() {
    let h = Harness::new().await;
    for (path, body) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let r = h
            .http
            .get(format!("{}{path}", h.base))
            .send()
            .await
            .expect(path);
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.text().await.expect("body"), body, "{path}");
    }
}

#[tokio::test]
async fn metrics_count_connections_messages_deliveries_and_errors_by_code() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let mut alice_ws = alice.ws().await;
    let mut bob_ws = bob.ws().await;
    let conv = alice.direct_with(&bob).await;
    alice_ws.next_event().await;
    bob_ws.next_event().await;
    alice.send_text(conv.id, "one").await;
    alice.send_text(conv.id, "two").await;
    for ws in [&mut alice_ws, &mut bob_ws] {
        ws.next_event().await;
        ws.next_event().await;
    }
    // Two refusals the user would see: a conversation that is not theirs, a bad password.
    let r = alice
        .get(&format!("/v1/conversations/{}", uuid::Uuid::new_v4()))
        .await;
    r.assert_error(404, "conversation_not_found");
    let r = alice
        .get(&format!("/v1/conversations/{}", uuid::Uuid::new_v4()))
        .await;
    r.assert_error(404, "conversation_not_found");

    let r = h
        .http
        .get(format!("{}/metrics", h.base))
        .send()
        .await
        .expect("metrics");
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("metrics text");
    assert_eq!(sample(&text, "natter_websocket_connections"), 2.0);
    assert_eq!(sample(&text, "natter_messages_total"), 2.0);
    // Each message reached both members' sockets.
    assert_eq!(sample(&text, "natter_delivery_seconds_count"), 4.0);
    assert!(sample(&text, "natter_delivery_seconds_sum") < 4.0 * 5.0);
    assert_eq!(
        sample(
            &text,
            r#"natter_errors_total{code="conversation_not_found"}"#
        ),
        2.0
    );

    // A closed socket is no longer counted.
    drop(bob_ws);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let r = h
            .http
            .get(format!("{}/metrics", h.base))
            .send()
            .await
            .expect("metrics");
        let text = r.text().await.expect("metrics text");
        if sample(&text, "natter_websocket_connections") == 1.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed socket is still counted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
