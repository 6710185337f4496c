use std::time::Duration;

use natter_protocol::Account;
use serde_json::json;

use crate::harness::{Api, Harness, BIRTHDATE, PASSWORD};

#[tokio::test]
async fn signup_login_me_logout() {
    let h = Harness::new().await;
    let r = h.anon().signup("Alice").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let account: Account = r.json();
    assert_eq!(account.username, "alice");
    assert_eq!(account.birthdate.to_string(), BIRTHDATE);

    let alice = h.login("alice").await;
    assert_eq!(alice.id, account.id);
    let me = alice.get("/v1/me").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json::<Account>(), account);

    // a second device has its own session
    let other_device = h.login("alice").await;
    assert_ne!(other_device.token, alice.token);

    let r = Api::send(alice.request(reqwest::Method::POST, "/v1/logout")).await;
    assert_eq!(r.status, 204);
    alice
        .get("/v1/me")
        .await
        .assert_error(401, "unauthenticated");
    Api::send(alice.request(reqwest::Method::POST, "/v1/logout"))
        .await
        .assert_error(401, "unauthenticated");
    // only that session ended
    assert_eq!(other_device.get("/v1/me").await.status, 200);
}

#[tokio::test]
async fn usernames_are_unique_case_insensitively() {
    let h = Harness::new().await;
    assert_eq!(h.anon().signup("alice").await.status, 201);
    for taken in ["ALICE", "Alice", " alice "] {
        h.anon()
            .signup(taken)
            .await
            .assert_error(409, "username_taken");
    }
    // and logging in works in any case
    let alice = h.login("ALICE").await;
    assert_eq!(alice.name, "alice");
}

#[tokio::test]
async fn bad_signups_are_rejected_and_store_nothing() {
    let h = Harness::new().await;
    let signup = |username: &str, password: &str, birthdate: &str| {
        let api = h.anon();
        let body = json!({"username": username, "password": password, "birthdate": birthdate});
        async move { api.post("/v1/signup", body).await }
    };
    for name in ["al", "1alice", "al ice", "ålice", &"a".repeat(33)] {
        signup(name, PASSWORD, BIRTHDATE)
            .await
            .assert_error(422, "invalid_username");
    }
    signup("shorty", "1234567", BIRTHDATE)
        .await
        .assert_error(422, "invalid_password");
    signup("longpw", &"x".repeat(1025), BIRTHDATE)
        .await
        .assert_error(422, "invalid_password");
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(2)).to_string();
    signup("future", PASSWORD, &tomorrow)
        .await
        .assert_error(422, "invalid_birthdate");
    signup("ancient", PASSWORD, "1899-12-31")
        .await
        .assert_error(422, "invalid_birthdate");
    // none of the rejected names were taken
    for name in ["shorty", "longpw", "future", "ancient"] {
        assert_eq!(h.anon().signup(name).await.status, 201, "{name}");
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let h = Harness::new().await;
    h.user("alice").await;
    let wrong = h
        .anon()
        .post(
            "/v1/login",
            json!({"username": "alice", "password": "not the password"}),
        )
        .await;
    let unknown = h
        .anon()
        .post(
            "/v1/login",
            json!({"username": "nobody", "password": PASSWORD}),
        )
        .await;
    let invalid = h
        .anon()
        .post("/v1/login", json!({"username": "!!", "password": PASSWORD}))
        .await;
    wrong.assert_error(401, "invalid_credentials");
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.body, invalid.body);
}

#[tokio::test]
async fn missing_and_forged_tokens_are_rejected() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    h.anon()
        .get("/v1/me")
        .await
        .assert_error(401, "unauthenticated");
    let mut forged = alice.api.clone();
    forged.token = Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into());
    forged
        .get("/v1/me")
        .await
        .assert_error(401, "unauthenticated");
    let basic = alice
        .http
        .get(alice.url("/v1/me"))
        .header("authorization", "Basic YWxpY2U6cHc=");
    Api::send(basic).await.assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn tokens_expire() {
    let h = Harness::with(|c| c.token_ttl = Duration::from_secs(1)).await;
    let alice = h.user("alice").await;
    assert_eq!(alice.get("/v1/me").await.status, 200);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    alice
        .get("/v1/me")
        .await
        .assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let post_raw = |path: &str, content_type: &str, body: Vec<u8>| {
        alice
            .request(reqwest::Method::POST, path)
            .header("content-type", content_type)
            .body(body)
    };
    // not JSON at all
    Api::send(post_raw(
        "/v1/signup",
        "application/json",
        b"{nope".to_vec(),
    ))
    .await
    .assert_error(422, "bad_request");
    // wrong types / missing fields
    let wrong = json!({"username": "bob", "password": PASSWORD, "birthdate": 5});
    h.anon()
        .post("/v1/signup", wrong)
        .await
        .assert_error(422, "bad_request");
    h.anon()
        .post("/v1/login", json!({"username": "alice"}))
        .await
        .assert_error(422, "bad_request");
    // not declared as JSON
    Api::send(post_raw("/v1/login", "text/plain", b"{}".to_vec()))
        .await
        .assert_error(422, "bad_request");
    // too large
    let big = serde_json::to_vec(&json!({"username": "x".repeat(70 * 1024), "password": "p"}))
        .expect("json");
    Api::send(post_raw("/v1/login", "application/json", big))
        .await
        .assert_error(413, "payload_too_large");
    // bad path and query parameters
    alice
        .get("/v1/conversations/not-a-uuid")
        .await
        .assert_error(422, "bad_request");
    let conv = uuid::Uuid::now_v7();
    alice
        .get(&format!("/v1/conversations/{conv}/messages?limit=-1"))
        .await
        .assert_error(422, "bad_request");
    // the failed signups stored nothing
    assert_eq!(h.anon().signup("bob").await.status, 201);
}

#[tokio::test]
async fn users_can_be_looked_up_by_name() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let r = alice.get("/v1/users/BOB").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"id": bob.id, "username": "bob"}));
    alice
        .get("/v1/users/nobody")
        .await
        .assert_error(404, "user_not_found");
    h.anon()
        .get("/v1/users/bob")
        .await
        .assert_error(401, "unauthenticated");
}
