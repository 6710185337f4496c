//! Two-account harness and end-to-end tests: a real server in-process on loopback, real
//! clients on real SQLite files, each test in its own temp directories.
//!
//! Tests read like a conversation: `let alice = h.alice().await; let bob = h.bob().await;
//! send_recv(&alice, &bob, "hi").await;`.

pub mod cluster;
pub mod proxy;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use natter_core::{Client, MessageStatus, MessageView};
use natter_server::{RunningServer, ServerConfig};
use tempfile::TempDir;
use uuid::Uuid;

/// How long a test waits for something a user would see happen "at once".
pub const PATIENCE: Duration = Duration::from_secs(15);
pub const PASSWORD: &str = "correct horse battery";

/// A real Natter server on 127.0.0.1 with its SQLite file in a temp directory, or its own
/// PostgreSQL database when `NATTER_TEST_DATABASE_URL` is set (see [`TestDatabase`]).
pub struct TestServer {
    data: TempDir,
    addr: SocketAddr,
    running: Option<RunningServer>,
    /// Last, so that it is dropped after the server.
    database: Option<TestDatabase>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server with its configuration changed first (e.g. lower rate limits).
    pub async fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig::new(data.path(), "127.0.0.1:0".parse().expect("addr"));
        let database = TestDatabase::from_env().await;
        config.database = database.as_ref().map(|d| d.url.clone());
        configure(&mut config);
        let running = natter_server::start(config).await.expect("server starts");
        let addr = running.local_addr();
        Self {
            data,
            addr,
            running: Some(running),
            database,
        }
    }

    /// The server's database URL: `None` for the SQLite file in [`data_dir`](Self::data_dir).
    pub fn database_url(&self) -> Option<&str> {
        self.database.as_ref().map(|d| d.url.as_str())
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data.path().to_path_buf()
    }

    /// Stops the server gracefully (clients see it go away).
    pub async fn stop(&mut self) {
        if let Some(s) = self.running.take() {
            s.shutdown().await.expect("graceful shutdown");
        }
    }

    /// Starts it again on the same address and data.
    pub async fn restart(&mut self) {
        self.stop().await;
        let mut last = None;
        for _ in 0..50 {
            let mut config = ServerConfig::new(self.data.path(), self.addr);
            config.database = self.database_url().map(str::to_owned);
            match natter_server::start(config).await {
                Ok(s) => {
                    self.running = Some(s);
                    return;
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("server did not restart: {last:?}");
    }
}

/// The PostgreSQL database a test server runs on when `NATTER_TEST_DATABASE_URL` (an admin
/// URL, e.g. `postgres://postgres@127.0.0.1:5432/postgres`) is set: a fresh one per server,
/// kept across restarts, dropped with the server. Unset: the server uses SQLite.
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

/// A server plus a temp directory holding one profile per user.
pub struct Harness {
    pub server: TestServer,
    profiles: TempDir,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// A harness whose server's configuration is changed first.
    pub async fn with(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        Self {
            server: TestServer::start_with(configure).await,
            profiles: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn profile(&self, name: &str) -> PathBuf {
        self.profiles.path().join(name)
    }

    /// Signs up `name` (an adult) on a fresh profile and starts its client.
    pub async fn user(&self, name: &str) -> TestClient {
        self.user_via(name, &self.server.url()).await
    }

    /// Like [`Harness::user`] but talking to the server through `url` (e.g. a proxy).
    pub async fn user_via(&self, name: &str, url: &str) -> TestClient {
        let client = Client::open(&self.profile(name), Some(url))
            .await
            .expect("open profile");
        client
            .signup(name, PASSWORD, "1990-05-17".parse().expect("date"))
            .await
            .expect("signup");
        TestClient::started(name, client).await
    }

    /// Signs up `name`, seventeen years and a few days old today (the nudity filter always
    /// on), on a fresh profile and starts its client.
    pub async fn seventeen(&self, name: &str) -> TestClient {
        let today = chrono::Utc::now().date_naive();
        let client = Client::open(&self.profile(name), Some(&self.server.url()))
            .await
            .expect("open profile");
        client
            .signup(name, PASSWORD, today - chrono::Days::new(17 * 365 + 10))
            .await
            .expect("signup");
        TestClient::started(name, client).await
    }

    /// Opens an existing profile again (as after a restart of the app) and starts it.
    pub async fn reopen(&self, name: &str) -> TestClient {
        let client = Client::open(&self.profile(name), None)
            .await
            .expect("reopen profile");
        TestClient::started(name, client).await
    }

    pub async fn alice(&self) -> TestClient {
        self.user("alice").await
    }
    pub async fn bob(&self) -> TestClient {
        self.user("bob").await
    }
    pub async fn carol(&self) -> TestClient {
        self.user("carol").await
    }
}

/// One user's running client.
pub struct TestClient {
    pub name: String,
    pub client: Client,
}

impl TestClient {
    async fn started(name: &str, client: Client) -> Self {
        client.start().await.expect("start");
        Self {
            name: name.to_string(),
            client,
        }
    }

    /// The direct conversation with `other`.
    pub async fn chat_with(&self, other: &TestClient) -> Uuid {
        self.client
            .open_direct(&other.name)
            .await
            .expect("open direct chat")
            .id
    }

    pub async fn send(&self, conv: Uuid, text: &str) -> MessageView {
        self.client.send_text(conv, text).await.expect("send")
    }

    /// Texts of the newest 500 cached messages, oldest first.
    pub async fn texts(&self, conv: Uuid) -> Vec<String> {
        self.messages(conv)
            .await
            .into_iter()
            .map(|m| m.text)
            .collect()
    }

    pub async fn messages(&self, conv: Uuid) -> Vec<MessageView> {
        self.client
            .messages(conv, None, 500)
            .await
            .unwrap_or_default()
    }

    /// Waits until this client's cache shows a message with `text` in `conv`.
    pub async fn wait_for_text(&self, conv: Uuid, text: &str) -> MessageView {
        eventually(&format!("{} sees {text:?}", self.name), || async {
            self.messages(conv)
                .await
                .into_iter()
                .find(|m| m.text == text)
        })
        .await
    }

    /// Waits until this client shows its message `id` with `status` (the ticks a user sees).
    pub async fn wait_for_status(&self, id: Uuid, status: MessageStatus) {
        eventually(
            &format!("{} sees {id} as {status:?}", self.name),
            || async {
                let m = self.client.message(id).await.ok()??;
                (m.status == status).then_some(())
            },
        )
        .await
    }

    /// Waits until the server has accepted `id`: Sent, or already Delivered or Read when the
    /// other side was quick.
    pub async fn wait_until_accepted(&self, id: Uuid) {
        eventually(
            &format!("the server accepts {}'s {id}", self.name),
            || async {
                let m = self.client.message(id).await.ok()??;
                matches!(
                    m.status,
                    MessageStatus::Sent | MessageStatus::Delivered | MessageStatus::Read
                )
                .then_some(())
            },
        )
        .await
    }

    /// Accepts the invitation to group `conv` once it has reached this client (being added to
    /// a group is an invitation: texts only until accepted).
    pub async fn join(&self, conv: Uuid) {
        eventually(&format!("{} is invited to {conv}", self.name), || async {
            let requests = self.client.requests().await.ok()?;
            requests.iter().any(|c| c.id == conv).then_some(())
        })
        .await;
        self.client.accept_request(conv).await.expect("accept");
    }

    /// Stops the client the way quitting the app does.
    pub async fn quit(self) {
        self.client.shutdown().await;
        self.client.cache().close().await;
    }
}

/// Sends `text` from `from` to `to` in their direct chat and waits until `to` has it.
pub async fn send_recv(from: &TestClient, to: &TestClient, text: &str) -> MessageView {
    let conv = from.chat_with(to).await;
    from.send(conv, text).await;
    to.wait_for_text(conv, text).await
}

/// Polls `check` until it returns `Some`, failing the test after [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A voice note made by independent tools: espeak-ng speech, padded by sox to `seconds`,
/// encoded by `opusenc` (opus-tools). Panics with a clear message if a tool is missing.
pub fn opusenc_note(seconds: u32) -> Vec<u8> {
    use std::process::Command;
    let dir = tempfile::tempdir().expect("temp dir");
    let speech = dir.path().join("speech.wav");
    let padded = dir.path().join("padded.wav");
    let note = dir.path().join("note.opus");
    let secs = seconds.to_string();
    let steps: [(&str, Vec<std::ffi::OsString>); 3] = [
        (
            "espeak-ng",
            vec![
                "-w".into(),
                speech.clone().into(),
                "Hi, it's me. Just a quick voice note to say I'm running late.".into(),
            ],
        ),
        (
            "sox",
            vec![
                speech.into(),
                "-r".into(),
                "48000".into(),
                "-c".into(),
                "1".into(),
                padded.clone().into(),
                "pad".into(),
                "0".into(),
                secs.clone().into(),
                "trim".into(),
                "0".into(),
                secs.into(),
            ],
        ),
        (
            "opusenc",
            vec!["--quiet".into(), padded.into(), note.clone().into()],
        ),
    ];
    for (tool, args) in steps {
        let out = Command::new(tool)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool} (./x test installs it): {e}"));
        assert!(
            out.status.success(),
            "{tool} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::read(note).expect("opusenc output")
}
