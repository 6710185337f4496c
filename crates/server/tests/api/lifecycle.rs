use natter_protocol::Message;
use serde_json::Value;

use crate::harness::{Api, Harness};

#[tokio::test]
async fn openapi_describes_every_route() {
    let h = Harness::new().await;
    let r = h.anon().get("/openapi.json").await;
    assert_eq!(r.status, 200);
    let paths = r.body["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/v1/signup", "post"),
        ("/v1/login", "post"),
        ("/v1/logout", "post"),
        ("/v1/me", "get"),
        ("/v1/users/{username}", "get"),
        ("/v1/conversations", "get"),
        ("/v1/conversations/direct", "post"),
        ("/v1/conversations/group", "post"),
        ("/v1/conversations/{id}", "get"),
        ("/v1/conversations/{id}/members", "post"),
        ("/v1/conversations/{id}/members/{username}", "delete"),
        ("/v1/conversations/{id}/leave", "post"),
        ("/v1/conversations/{id}", "patch"),
        ("/v1/conversations/{id}/messages", "get"),
        ("/v1/conversations/{id}/messages", "post"),
        ("/v1/conversations/{id}/receipts", "post"),
        ("/v1/ws", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    assert_eq!(
        r.body["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(
        r.body["paths"]["/v1/me"]["get"]["security"][0]["bearer"],
        Value::Array(vec![])
    );
    // the served document is the one the library hands out
    let doc = serde_json::to_value(natter_server::openapi()).expect("json");
    assert_eq!(doc, r.body);
}

#[tokio::test]
async fn health_check_answers() {
    let h = Harness::new().await;
    let r = h
        .http
        .get(h.anon().url("/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.expect("body"), "ok");
}

#[tokio::test]
async fn data_survives_a_restart() {
    let mut h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let conv = alice.direct_with(&bob).await;
    let first = alice.send_text(conv.id, "before restart").await;

    h.restart().await;

    // old tokens still work against the new process
    let mut alice_api = alice.api.clone();
    alice_api.base = h.base.clone();
    let me = alice_api.get("/v1/me").await;
    assert_eq!(me.status, 200);
    let history: Vec<Message> = alice_api
        .get(&format!("/v1/conversations/{}/messages", conv.id))
        .await
        .json();
    assert_eq!(history, [first]);
    // the sequence continues and passwords still check out
    let bob = h.login("bob").await;
    assert_eq!(bob.send_text(conv.id, "after restart").await.seq, 2);
    assert_eq!(bob.direct_with(&alice).await.id, conv.id);
    let logout = Api::send(alice_api.request(reqwest::Method::POST, "/v1/logout")).await;
    assert_eq!(logout.status, 204);
}
