//! The age rules as a modified client would probe them: raw HTTP and WebSocket, a server
//! clock fixed by the test and moved across birthdays.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use chrono::NaiveDate;
use natter_server::state::Clock;
use serde_json::json;

use crate::harness::{connect_ws, Harness, User};

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

#[tokio::test]
async fn under_13_cannot_sign_up_and_13_can_on_the_birthday() {
    let (clock, _) = movable_clock();
    let h = Harness::with(|c| c.clock = clock).await;
    // 2026-06-14: born 2013-06-15 is 12 (one day short), born 2013-06-14 is 13 today
    h.anon()
        .signup_born("almost", "2013-06-15")
        .await
        .assert_error(422, "too_young");
    assert_eq!(
        h.anon().signup_born("today", "2013-06-14").await.status,
        201
    );
}

/// What every route that takes a username answers for `name`, from `asker`.
async fn lookups(asker: &User, name: &str, group: uuid::Uuid) -> Vec<(u16, serde_json::Value)> {
    let mut answers = Vec::new();
    for r in [
        asker.get(&format!("/v1/users/{name}")).await,
        asker
            .post("/v1/conversations/direct", json!({"username": name}))
            .await,
        asker
            .post(
                "/v1/conversations/group",
                json!({"name": "club", "members": [name]}),
            )
            .await,
        asker
            .post(
                &format!("/v1/conversations/{group}/members"),
                json!({"username": name}),
            )
            .await,
        asker.post("/v1/blocks", json!({"username": name})).await,
        asker
            .post("/v1/reports", json!({"username": name, "reason": "spam"}))
            .await,
    ] {
        // The name itself is echoed back; everything else must be the same.
        let body = serde_json::to_string(&r.body)
            .unwrap()
            .replace(name, "NAME");
        answers.push((r.status, serde_json::from_str(&body).unwrap()));
    }
    answers
}

#[tokio::test]
async fn under_16_is_unreachable_exactly_like_a_name_that_does_not_exist_until_the_16th_birthday() {
    let (clock, days) = movable_clock();
    let h = Harness::with(|c| c.clock = clock).await;
    // 15 on 2026-06-14, 16 on 2026-06-15
    assert_eq!(h.anon().signup_born("teen", "2010-06-15").await.status, 201);
    let teen = h.login("teen").await;
    let adult = h.user("adult").await;
    let friend = h.user("friend").await;
    let group = adult.group("club", &[&friend]).await;

    // Whatever an adult tries with the 15-year-old's name, the answer is the one a name that
    // was never taken gets: nothing reveals the account, nor its age.
    let teen_answers = lookups(&adult, "teen", group.id).await;
    assert_eq!(teen_answers, lookups(&adult, "nobody", group.id).await);
    assert!(teen_answers
        .iter()
        .all(|(status, body)| *status == 404 && body["code"] == "user_not_found"));
    // ...and nothing was stored for it: no conversation, no invitation, nothing to read on
    // the 16th birthday.
    let listed: Vec<natter_protocol::Conversation> = adult.get("/v1/conversations").await.json();
    assert_eq!(listed.len(), 1, "only the club");
    assert_eq!(adult.conversation(group.id).await.members.len(), 2);

    let refused = |teen: &User| {
        let teen = teen.clone();
        async move {
            let c = group.id;
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

    // the 16th birthday: access opens with nothing else to do, and the teen is reachable
    days.store(1, Ordering::SeqCst);
    assert_eq!(teen.get("/v1/conversations").await.status, 200);
    let conv = adult.direct_with(&teen).await;
    adult.send_text(conv.id, "happy birthday").await;
    assert_eq!(teen.history(conv.id, "").await.len(), 1);
    teen.send_text(conv.id, "thanks").await;
    assert!(connect_ws(&teen.base, teen.token.as_deref(), None)
        .await
        .is_ok());
}

#[tokio::test]
async fn the_filter_stays_locked_on_until_the_18th_birthday_then_is_the_users_choice() {
    let (clock, days) = movable_clock();
    let h = Harness::with(|c| c.clock = clock).await;
    // 17 on 2026-06-14, 18 on 2026-06-15
    assert_eq!(
        h.anon().signup_born("nearly", "2008-06-15").await.status,
        201
    );
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
