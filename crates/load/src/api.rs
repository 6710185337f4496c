//! The HTTP side of the protocol, as a client speaks it: sign-up, log-in, groups, sending.

use std::time::Duration;

use anyhow::{bail, Context as _};
use natter_protocol::{
    ApiError, Conversation, CreateGroupRequest, ErrorCode, LoginRequest, LoginResponse,
    SendMessageRequest, SignupRequest,
};
use reqwest::StatusCode;
use uuid::Uuid;

/// One HTTP client (a connection pool per instance) and the instances' base URLs.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    servers: Vec<String>,
}

/// What a sign-up came to.
pub enum Signup {
    Created,
    /// The name exists already (an earlier run stopped before saving its state): log in.
    Taken,
}

impl Api {
    pub fn new(servers: &[String], timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            // Thousands of sends a second reuse kept-alive connections instead of opening
            // (and leaving in TIME_WAIT) one per request.
            .pool_max_idle_per_host(4096)
            .build()
            .context("building the HTTP client")?;
        let servers = servers
            .iter()
            .map(|s| s.trim_end_matches('/').to_string())
            .collect();
        Ok(Self { http, servers })
    }

    /// The instance user `index` belongs to (round-robin).
    pub fn server_of(&self, index: usize) -> &str {
        &self.servers[index % self.servers.len()]
    }

    pub fn servers(&self) -> &[String] {
        &self.servers
    }

    pub async fn signup(
        &self,
        server: &str,
        username: &str,
        password: &str,
    ) -> anyhow::Result<Signup> {
        let birthdate = chrono::NaiveDate::from_ymd_opt(1990, 1, 1).context("birthdate")?;
        let resp = self
            .http
            .post(format!("{server}/v1/signup"))
            .json(&SignupRequest {
                username: username.to_string(),
                password: password.to_string(),
                birthdate,
            })
            .send()
            .await
            .context("sign-up request")?;
        if resp.status() == StatusCode::CREATED {
            return Ok(Signup::Created);
        }
        let status = resp.status();
        match resp.json::<ApiError>().await {
            Ok(e) if e.code == ErrorCode::UsernameTaken => Ok(Signup::Taken),
            Ok(e) => bail!("sign-up of {username}: {status}: {e}"),
            Err(_) => bail!("sign-up of {username}: {status}"),
        }
    }

    pub async fn login(
        &self,
        server: &str,
        username: &str,
        password: &str,
    ) -> anyhow::Result<LoginResponse> {
        let resp = self
            .http
            .post(format!("{server}/v1/login"))
            .json(&LoginRequest {
                username: username.to_string(),
                password: password.to_string(),
            })
            .send()
            .await
            .context("log-in request")?;
        ok_json(resp, "log-in").await
    }

    /// Whether a token is still accepted (a cached state may belong to a wiped database).
    pub async fn token_valid(&self, server: &str, token: &str) -> anyhow::Result<bool> {
        let resp = self
            .http
            .get(format!("{server}/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .context("GET /v1/me")?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::UNAUTHORIZED => Ok(false),
            s => bail!("GET /v1/me answered {s}"),
        }
    }

    pub async fn create_group(
        &self,
        server: &str,
        token: &str,
        name: String,
        members: Vec<String>,
    ) -> anyhow::Result<Conversation> {
        let resp = self
            .http
            .post(format!("{server}/v1/conversations/group"))
            .bearer_auth(token)
            .json(&CreateGroupRequest { name, members })
            .send()
            .await
            .context("create-group request")?;
        ok_json(resp, "create group").await
    }

    /// Accepts an invitation to a group (being added to one is an invitation).
    pub async fn accept(
        &self,
        server: &str,
        token: &str,
        conversation: Uuid,
    ) -> anyhow::Result<()> {
        let resp = self
            .http
            .post(format!("{server}/v1/conversations/{conversation}/accept"))
            .bearer_auth(token)
            .send()
            .await
            .context("accept request")?;
        let _: Conversation = ok_json(resp, "accept invitation").await?;
        Ok(())
    }

    /// Sends a text message; on failure, a short label of what went wrong, for counting.
    pub async fn send_text(
        &self,
        server: &str,
        token: &str,
        conversation: Uuid,
        text: String,
    ) -> Result<(), String> {
        let resp = self
            .http
            .post(format!("{server}/v1/conversations/{conversation}/messages"))
            .bearer_auth(token)
            .json(&SendMessageRequest {
                id: Uuid::now_v7(),
                text,
                voice: None,
                media: Vec::new(),
            })
            .send()
            .await
            .map_err(|e| transport_label(&e))?;
        let status = resp.status();
        if status.is_success() {
            // The body (the stored message) is not needed: the event says the same.
            return Ok(());
        }
        match resp.json::<ApiError>().await {
            Ok(e) => Err(format!("HTTP {} {:?}", status.as_u16(), e.code)),
            Err(_) => Err(format!("HTTP {}", status.as_u16())),
        }
    }
}

/// Groups transport errors into a few countable kinds.
fn transport_label(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect error".into()
    } else {
        format!("transport: {e}")
    }
}

async fn ok_json<T: serde::de::DeserializeOwned>(
    resp: reqwest::Response,
    what: &str,
) -> anyhow::Result<T> {
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().await.unwrap_or_default();
        bail!("{what}: {status}: {body}");
    }
    resp.json::<T>()
        .await
        .with_context(|| format!("{what}: reading the answer"))
}
