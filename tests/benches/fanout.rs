//! Server fan-out: one message to a 32-member group with every member connected over
//! WebSocket; prints p50/p99 delivery latency (send request start → event received).
//! Run with `cargo bench -p natter-tests --bench fanout`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use natter_core::protocol::{
    Conversation, CreateGroupRequest, LoginRequest, LoginResponse, SendMessageRequest, ServerEvent,
    SignupRequest,
};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Ws;
use uuid::Uuid;

const MEMBERS: usize = 32;
const MESSAGES: usize = 300;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() {
    // Measures fan-out, not the per-sender rate limit (60 a minute), which one sender's burst
    // would hit at once, nor the daily limit of new conversations (31 strangers invited).
    let server = natter_tests::TestServer::start_with(|c| {
        c.limits.messages_per_minute = u32::MAX;
        c.limits.new_conversations_per_day = u32::MAX;
    })
    .await;
    let url = server.url();
    let http = reqwest::Client::new();
    let mut tokens = Vec::new();
    for i in 0..MEMBERS {
        let username = format!("member{i:02}");
        let password = "benchmark password".to_string();
        http.post(format!("{url}/v1/signup"))
            .json(&SignupRequest {
                username: username.clone(),
                password: password.clone(),
                birthdate: "1990-01-01".parse().expect("date"),
            })
            .send()
            .await
            .expect("signup")
            .error_for_status()
            .expect("signup ok");
        let login: LoginResponse = http
            .post(format!("{url}/v1/login"))
            .json(&LoginRequest { username, password })
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("login body");
        tokens.push(login.token);
    }
    let group: Conversation = http
        .post(format!("{url}/v1/conversations/group"))
        .bearer_auth(&tokens[0])
        .json(&CreateGroupRequest {
            name: "bench".into(),
            members: (1..MEMBERS).map(|i| format!("member{i:02}")).collect(),
        })
        .send()
        .await
        .expect("group")
        .json()
        .await
        .expect("group body");
    assert_eq!(group.members.len(), MEMBERS);

    // Every member listens; each reports (message id, time received).
    let (tx, mut rx) = mpsc::unbounded_channel::<(Uuid, Instant)>();
    for token in &tokens {
        let mut req = format!("ws://{}/v1/ws", server.addr())
            .into_client_request()
            .expect("ws url");
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        let (ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("ws connect");
        let tx = tx.clone();
        tokio::spawn(async move {
            let (_sink, mut stream) = ws.split();
            while let Some(Ok(frame)) = stream.next().await {
                if let Ws::Text(t) = frame {
                    if let Ok(ServerEvent::Message { message }) = serde_json::from_str(&t) {
                        let _ = tx.send((message.id, Instant::now()));
                    }
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut latencies = Vec::with_capacity(MESSAGES * MEMBERS);
    let mut pending: HashMap<Uuid, (Instant, usize)> = HashMap::new();
    let started = Instant::now();
    for i in 0..MESSAGES {
        let id = Uuid::now_v7();
        let t0 = Instant::now();
        pending.insert(id, (t0, 0));
        http.post(format!("{url}/v1/conversations/{}/messages", group.id))
            .bearer_auth(&tokens[i % MEMBERS])
            .json(&SendMessageRequest {
                id,
                text: format!("fan-out message {i}"),
                voice: None,
                media: Vec::new(),
            })
            .send()
            .await
            .expect("send")
            .error_for_status()
            .expect("send ok");
        // Wait until every member has it before the next one: latency, not throughput.
        while pending.get(&id).is_some_and(|(_, n)| *n < MEMBERS) {
            let (mid, at) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("delivery within 10 s")
                .expect("listeners alive");
            if let Some((sent, n)) = pending.get_mut(&mid) {
                latencies.push(at - *sent);
                *n += 1;
            }
        }
        pending.remove(&id);
    }
    let total = started.elapsed();
    latencies.sort();
    println!(
        "fan-out to {MEMBERS} connected members, {MESSAGES} messages, {} deliveries in {:.2?}",
        latencies.len(),
        total
    );
    println!(
        "delivery latency: p50 {:.2?}  p99 {:.2?}  max {:.2?}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
}
