//! Only members can read or write a conversation; everyone else learns nothing.

use natter_core::protocol::{ErrorCode, LoginRequest, LoginResponse};
use natter_tests::{send_recv, Harness, PASSWORD};
use serde_json::json;

async fn token(url: &str, name: &str) -> String {
    let resp: LoginResponse = reqwest::Client::new()
        .post(format!("{url}/v1/login"))
        .json(&LoginRequest {
            username: name.into(),
            password: PASSWORD.into(),
        })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    resp.token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outsider_cannot_read_or_post_and_cannot_tell_the_chat_exists() {
    let h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let _carol = h.carol().await;
    let conv = alice.chat_with(&bob).await;
    send_recv(&alice, &bob, "just between us").await;

    let url = h.server.url();
    let carol = token(&url, "carol").await;
    let http = reqwest::Client::new();
    let missing = uuid::Uuid::now_v7();

    let attempts = |id: uuid::Uuid| {
        let http = http.clone();
        let url = url.clone();
        let carol = carol.clone();
        async move {
            let base = format!("{url}/v1/conversations/{id}");
            let reqs = vec![
                http.get(&base),
                http.get(format!("{base}/messages")),
                http.post(format!("{base}/messages"))
                    .json(&json!({"id": uuid::Uuid::now_v7(), "text": "let me in"})),
                http.post(format!("{base}/receipts"))
                    .json(&json!({"kind": "read", "up_to_seq": 1})),
                http.post(format!("{base}/members"))
                    .json(&json!({"username": "carol"})),
            ];
            let mut out = Vec::new();
            for r in reqs {
                let resp = r.bearer_auth(&carol).send().await.unwrap();
                out.push((resp.status().as_u16(), resp.text().await.unwrap()));
            }
            out
        }
    };
    let real = attempts(conv).await;
    let fake = attempts(missing).await;
    for ((status, body), (fstatus, fbody)) in real.iter().zip(&fake) {
        assert_eq!(*status, 404, "{body}");
        let code: ErrorCode = serde_json::from_value(
            serde_json::from_str::<serde_json::Value>(body).unwrap()["code"].clone(),
        )
        .unwrap();
        assert_eq!(code, ErrorCode::ConversationNotFound);
        assert_eq!(
            (status, body),
            (fstatus, fbody),
            "same answer as for no conversation at all"
        );
    }
    // Nothing carol tried reached the members.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(bob.texts(conv).await, ["just between us"]);
    assert_eq!(alice.texts(conv).await, ["just between us"]);
}
