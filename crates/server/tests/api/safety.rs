//! The age rules as a modified client would probe them: raw HTTP and WebSocket, a server
//! clock fixed by the test and moved across birthdays.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use chrono::NaiveDate;
use natter_server::state::Clock;
use serde_json::json;

use crate::harness::{connect_ws, Harness, User, PASSWORD};

/// A server clock the test moves: days after 2026-06-14.
fn movable_clock() -> (Clock, Arc<AtomicI32>) {
    let offset = Arc::new(AtomicI32::new(0));
    let days = offset.clone();
    let base = NaiveDate::from_ymd_opt(2026, 6, 14).unwrap();
    let clock = Clock(Arc::new(move || {
        base + chrono::Days::new(days.load(Ordering::SeqCst) as u64)
    }));
    (clock, offset)
}

async fn signup_born(h: &Harness, name: &str, birthdate: &str) -> crate::harness::Resp {
    h.anon()
        .post(
            "/v1/signup",
            json!({"username": name, "password": PASSWORD, "birthdate": birthdate}),
        )
        .await
}

#[tokio::test]
async fn under_13_cannot_sign_up_and_13_can_on_the_birthday() {
    let (clock, _) = movable_clock();
    let h = Harness::with(|c| c.clock = clock).await;
    // 2026-06-14: born 2013-06-15 is 12 (one day short), born 2013-06-14 is 13 today
    signup_born(&h, "almost", "2013-06-15")
        .await
        .assert_error(422, "too_young");
    assert_eq!(signup_born(&h, "today", "2013-06-14").await.status, 201);
}

#[tokio::test]
async fn under_16_no_dm_route_answers_until_the_16th_birthday() {
    let (clock, days) = movable_clock();
    let h = Harness::with(|c| c.clock = clock).await;
    // 15 on 2026-06-14, 16 on 2026-06-15
    assert_eq!(signup_born(&h, "teen", "2010-06-15").await.status, 201);
    let teen = h.login("teen").await;
    let adult = h.user("adult").await;
    let conv = adult.direct_with(&teen).await;
    adult.send_text(conv.id, "hi").await;

    let refused = |teen: &User| {
        let teen = teen.clone();
        async move {
            let c = conv.id;
            for r in [
                teen.get("/v1/conversations").await,
                teen.get(&format!("/v1/conversations/{c}")).await,
                teen.get(&format!("/v1/conversations/{c}/messages")).await,
                teen.post("/v1/conversations/direct", json!({"username": "adult"}))
                    .await,
                teen.post(
                    &format!("/v1/conversations/{c}/messages"),
                    json!({"id": uuid::Uuid::now_v7(), "text": "hello"}),
                )
                .await,
                teen.post(
                    &format!("/v1/conversations/{c}/receipts"),
                    json!({"kind": "read", "up_to_seq": 1}),
                )
                .await,
                teen.get("/v1/played?since=0").await,
            ] {
                r.assert_error(403, "dm_unavailable_under_16");
            }
            let ws = connect_ws(&teen.base, teen.token.as_deref(), None).await;
            assert!(ws.is_err(), "the live connection is refused too");
        }
    };
    refused(&teen).await;
    // the account itself still works
    assert_eq!(teen.get("/v1/me").await.status, 200);
    // nothing the teen tried changed anything
    assert_eq!(adult.history(conv.id, "").await.len(), 1);

    // the 16th birthday: access opens with nothing else to do
    days.store(1, Ordering::SeqCst);
    assert_eq!(teen.get("/v1/conversations").await.status, 200);
    assert_eq!(teen.history(conv.id, "").await.len(), 1);
    teen.send_text(conv.id, "hi back").await;
    assert!(connect_ws(&teen.base, teen.token.as_deref(), None)
        .await
        .is_ok());
}

#[tokio::test]
async fn the_filter_stays_locked_on_until_the_18th_birthday_then_is_the_users_choice() {
    let (clock, days) = movable_clock();
    let h = Harness::with(|c| c.clock = clock).await;
    // 17 on 2026-06-14, 18 on 2026-06-15
    assert_eq!(signup_born(&h, "nearly", "2008-06-15").await.status, 201);
    let user = h.login("nearly").await;
    let set = |on: bool| {
        user.request(reqwest::Method::PUT, "/v1/me/settings")
            .json(&json!({ "nudity_filter": on }))
            .send()
    };
    let me = user.get("/v1/me").await.body;
    assert_eq!(
        (
            me["nudity_filter"].clone(),
            me["nudity_filter_locked"].clone()
        ),
        (json!(true), json!(true))
    );
    let r = set(false).await.expect("request");
    assert_eq!(r.status(), 403);
    assert_eq!(
        user.get("/v1/me").await.body["nudity_filter"],
        true,
        "unchanged"
    );

    // the 18th birthday: the filter is off by default and may be switched
    days.store(1, Ordering::SeqCst);
    let me = user.get("/v1/me").await.body;
    assert_eq!(
        (
            me["nudity_filter"].clone(),
            me["nudity_filter_locked"].clone()
        ),
        (json!(false), json!(false))
    );
    assert_eq!(set(true).await.expect("request").status(), 200);
    assert_eq!(user.get("/v1/me").await.body["nudity_filter"], true);
}
