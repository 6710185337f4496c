//! A real server on 127.0.0.1:0 over a real SQLite file in a temp dir, and users that talk
//! to it over HTTP and WebSocket.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use natter_protocol::{Conversation, Message, ServerEvent};
use natter_server::{RunningServer, ServerConfig};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery";
pub const BIRTHDATE: &str = "2000-01-01";

/// The birthdate of someone seventeen today (on the system clock).
pub fn seventeen_today() -> String {
    (chrono::Utc::now().date_naive() - chrono::Days::new(17 * 365))
        .format("%Y-%m-%d")
        .to_string()
}
const WAIT: Duration = Duration::from_secs(5);

pub struct Harness {
    pub server: Option<RunningServer>,
    pub dir: TempDir,
    pub http: reqwest::Client,
    pub base: String,
    /// `config.media` of every server this harness starts: restarts keep the same storage.
    pub media: Option<String>,
    /// Last, so that it is dropped after the server.
    pub database: Option<TestDatabase>,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    pub async fn with(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        init_tracing();
        let dir = TempDir::new().expect("temp dir");
        let mut config = ServerConfig::new(dir.path(), "127.0.0.1:0".parse().expect("addr"));
        let database = TestDatabase::from_env().await;
        config.database = database.as_ref().map(|d| d.url.clone());
        config.media = media_from_env();
        configure(&mut config);
        let media = config.media.clone();
        let server = natter_server::start(config).await.expect("server starts");
        let base = server.url();
        Self {
            server: Some(server),
            dir,
            http: reqwest::Client::new(),
            base,
            media,
            database,
        }
    }

    /// The server's database URL: `None` for the SQLite file in `dir`.
    pub fn database_url(&self) -> Option<&str> {
        self.database.as_ref().map(|d| d.url.as_str())
    }

    /// Whether any byte of resumable upload `id` is stored where this harness's servers keep
    /// uploads in progress (the data directory, or the object storage of `media`).
    pub async fn partial_upload_stored(&self, id: Uuid) -> bool {
        let (_, partials) = natter_server::blobs::open(self.media.as_deref(), self.dir.path())
            .await
            .expect("the harness's media storage");
        partials.read(id, 1).await.is_ok()
    }

    /// Shuts the server down gracefully and starts a new one on the same data directory.
    pub async fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("clean shutdown");
        }
        let mut config = ServerConfig::new(self.dir.path(), "127.0.0.1:0".parse().expect("addr"));
        config.database = self.database_url().map(str::to_owned);
        config.media = self.media.clone();
        let server = natter_server::start(config).await.expect("server restarts");
        self.base = server.url();
        self.server = Some(server);
    }

    /// A second instance of the same service: the same data directory and database, with
    /// `configure` applied (the bus both share, say). The caller shuts it down.
    pub async fn another_instance(
        &self,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> RunningServer {
        let mut config = ServerConfig::new(self.dir.path(), "127.0.0.1:0".parse().expect("addr"));
        config.database = self.database_url().map(str::to_owned);
        config.media = self.media.clone();
        configure(&mut config);
        natter_server::start(config)
            .await
            .expect("another instance starts")
    }

    pub async fn shutdown(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("clean shutdown");
        }
    }

    pub fn anon(&self) -> Api {
        Api {
            http: self.http.clone(),
            base: self.base.clone(),
            token: None,
        }
    }

    /// Signs up `name` and logs in.
    pub async fn user(&self, name: &str) -> User {
        let r = self.anon().signup(name).await;
        assert_eq!(r.status, 201, "signup {name}: {}", r.body);
        self.login(name).await
    }

    /// Signs up `name`, seventeen today (the filter locked on, no explicit media), and logs in.
    pub async fn seventeen(&self, name: &str) -> User {
        let r = self.anon().signup_born(name, &seventeen_today()).await;
        assert_eq!(r.status, 201, "signup {name}: {}", r.body);
        self.login(name).await
    }

    pub async fn login(&self, name: &str) -> User {
        let r = self
            .anon()
            .post("/v1/login", json!({"username": name, "password": PASSWORD}))
            .await;
        assert_eq!(r.status, 200, "login {name}: {}", r.body);
        User {
            id: r.body["account"]["id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("uuid"),
            name: r.body["account"]["username"]
                .as_str()
                .expect("username")
                .to_string(),
            api: Api {
                http: self.http.clone(),
                base: self.base.clone(),
                token: Some(r.body["token"].as_str().expect("token").to_string()),
            },
        }
    }
}

/// Where a test server keeps media when `NATTER_TEST_MEDIA_URL` (e.g.
/// `s3://natter-test/run-1`, with the `AWS_*` variables `tests/services/s3.sh` prints) is
/// set: under a fresh prefix of it per harness, so that the whole suite runs against object
/// storage too. Unset: the local directories in the data directory.
fn media_from_env() -> Option<String> {
    let url = std::env::var("NATTER_TEST_MEDIA_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    Some(format!("{}/{}", url.trim_end_matches('/'), Uuid::new_v4()))
}

/// The PostgreSQL database a test server runs on when `NATTER_TEST_DATABASE_URL` (an admin
/// URL, e.g. `postgres://postgres@127.0.0.1:5432/postgres`) is set: a fresh one per harness,
/// kept across restarts, dropped with the harness. Unset: the server uses SQLite.
pub struct TestDatabase {
    admin: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn from_env() -> Option<Self> {
        let admin = std::env::var("NATTER_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        let url = natter_server::store::postgres::scratch_database(&admin)
            .await
            .expect("a scratch database on NATTER_TEST_DATABASE_URL");
        Some(Self { admin, url })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, url) = (self.admin.clone(), self.url.clone());
        // Drop may run inside the test's runtime, which cannot be blocked on: a thread of
        // its own with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(natter_server::store::postgres::drop_scratch_database(
                    &admin, &url,
                ))
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("leaving the scratch database behind: {e:#}");
        }
    }
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

/// A response: status and JSON body (`Null` when empty).
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("<no code>")
    }

    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.body.clone())
            .unwrap_or_else(|e| panic!("unexpected body {}: {e}", self.body))
    }

    /// Asserts an error response with this status and code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "body: {}",
            self.body
        );
        assert!(self.body["message"].is_string(), "body: {}", self.body);
    }
}

/// HTTP calls, with or without a bearer token.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, self.url(path));
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    pub async fn send(rb: reqwest::RequestBuilder) -> Resp {
        let response = rb.send().await.expect("request reaches the server");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "status {status}: body is not JSON: {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        Resp { status, body }
    }

    pub async fn get(&self, path: &str) -> Resp {
        Self::send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        Self::send(self.request(reqwest::Method::POST, path).json(&body)).await
    }

    pub async fn signup(&self, name: &str) -> Resp {
        self.signup_born(name, BIRTHDATE).await
    }

    /// Signs up `name` born on `birthdate` (`YYYY-MM-DD`), whatever the answer.
    pub async fn signup_born(&self, name: &str, birthdate: &str) -> Resp {
        self.post(
            "/v1/signup",
            json!({"username": name, "password": PASSWORD, "birthdate": birthdate}),
        )
        .await
    }
}

/// A signed-in user.
#[derive(Clone)]
pub struct User {
    pub id: Uuid,
    pub name: String,
    pub api: Api,
}

impl std::ops::Deref for User {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

impl User {
    pub async fn direct_with(&self, other: &User) -> Conversation {
        let r = self
            .post("/v1/conversations/direct", json!({"username": other.name}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// A group every one of `members` has joined (each accepts the invitation).
    pub async fn group(&self, name: &str, members: &[&User]) -> Conversation {
        let invited = self.invite_group(name, members).await;
        for member in members {
            member.accept(invited.id).await;
        }
        self.conversation(invited.id).await
    }

    /// A group `members` are only invited to.
    pub async fn invite_group(&self, name: &str, members: &[&User]) -> Conversation {
        let names: Vec<&str> = members.iter().map(|u| u.name.as_str()).collect();
        let r = self
            .post(
                "/v1/conversations/group",
                json!({"name": name, "members": names}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()
    }

    /// Accepts a message request or a group invitation.
    pub async fn accept(&self, conversation: Uuid) -> Conversation {
        let r = self
            .post(
                &format!("/v1/conversations/{conversation}/accept"),
                json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    pub async fn try_send(&self, conversation: Uuid, id: Uuid, text: &str) -> Resp {
        self.post(
            &format!("/v1/conversations/{conversation}/messages"),
            json!({"id": id, "text": text}),
        )
        .await
    }

    pub async fn send_text(&self, conversation: Uuid, text: &str) -> Message {
        let r = self.try_send(conversation, Uuid::now_v7(), text).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()
    }

    pub async fn history(&self, conversation: Uuid, query: &str) -> Vec<Message> {
        let r = self
            .get(&format!("/v1/conversations/{conversation}/messages{query}"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// Asserts that reading a conversation's history answers `status` (404: not a member).
    pub async fn history_status(&self, conversation: Uuid, status: u16) {
        let r = self
            .get(&format!("/v1/conversations/{conversation}/messages"))
            .await;
        assert_eq!(r.status, status, "{}", r.body);
    }

    pub async fn conversation(&self, id: Uuid) -> Conversation {
        let r = self.get(&format!("/v1/conversations/{id}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    pub async fn receipt(&self, conversation: Uuid, kind: &str, up_to_seq: i64) -> Resp {
        self.post(
            &format!("/v1/conversations/{conversation}/receipts"),
            json!({"kind": kind, "up_to_seq": up_to_seq}),
        )
        .await
    }

    pub async fn ws(&self) -> Ws {
        connect_ws(&self.base, self.token.as_deref(), None)
            .await
            .expect("websocket connects")
    }
}

pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub async fn connect_ws(
    base: &str,
    token: Option<&str>,
    origin: Option<&str>,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let url = format!("{}/v1/ws", base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request()?;
    if let Some(token) = token {
        request.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
        );
    }
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_str(origin).expect("header"));
    }
    let (stream, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(Ws { stream })
}

pub struct Ws {
    pub stream: WsStream,
}

impl Ws {
    /// The next event, skipping pings; fails after a few seconds.
    pub async fn next_event(&mut self) -> ServerEvent {
        loop {
            let frame = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("an event arrives in time")
                .expect("socket open")
                .expect("frame");
            match frame {
                WsMessage::Text(text) => {
                    return serde_json::from_str(text.as_str())
                        .unwrap_or_else(|e| panic!("bad event {text}: {e}"))
                }
                WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// Asserts that no event arrives for a while.
    pub async fn assert_quiet(&mut self, wait: Duration) {
        if let Ok(Some(Ok(WsMessage::Text(text)))) =
            tokio::time::timeout(wait, self.stream.next()).await
        {
            panic!("unexpected event {text}");
        }
    }

    /// Asserts that no message event arrives for a while (other events may).
    pub async fn assert_no_message(&mut self, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(until, self.stream.next()).await {
            if let WsMessage::Text(text) = frame {
                if let Ok(ServerEvent::Message { message }) = serde_json::from_str(text.as_str()) {
                    panic!("unexpected message {message:?}");
                }
            }
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(WsMessage::Text(text.into()))
            .await
            .expect("send frame");
    }
}
