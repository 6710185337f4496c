//! Typed calls to the server's HTTP API.

use std::time::Duration;

use futures_util::StreamExt as _;
use natter_protocol::{
    Account, ApiError, Conversation, CreateDirectRequest, CreateGroupRequest, ErrorCode,
    HistoryQuery, LoginRequest, LoginResponse, MediaInfo, Message, PlayedMark, PlayedQuery,
    ReceiptKind, ReceiptRequest, SendMessageRequest, SignupRequest,
};
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;
use uuid::Uuid;

use crate::error::{CoreError, Result};

/// What the server did with a piece of a resumable upload.
#[derive(Debug)]
pub(crate) enum Piece {
    /// Stored; the server now has this many bytes.
    Stored(u64),
    /// The server's copy ends elsewhere (a piece was lost, or sent twice): go on from there.
    Elsewhere(u64),
    /// The file is complete, checked and recorded.
    Done(MediaInfo),
}

fn offset_of(resp: &Response) -> Result<u64> {
    resp.headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            CoreError::Api(ApiError::new(
                ErrorCode::Internal,
                "the server did not say how much of the upload it has",
            ))
        })
}

/// Uploads and downloads of media may take longer than an ordinary request on a slow link.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
    base: Url,
}

impl Api {
    pub(crate) fn new(base: Url) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .user_agent(concat!("natter/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CoreError::Network(e.to_string()))?;
        Ok(Self { http, base })
    }

    /// The WebSocket URL for live events.
    pub(crate) fn ws_url(&self) -> Result<Url> {
        let mut url = self.url("/v1/ws")?;
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .map_err(|()| CoreError::Network(format!("cannot make a WebSocket URL of {url}")))?;
        Ok(url)
    }

    fn url(&self, path: &str) -> Result<Url> {
        self.base
            .join(path)
            .map_err(|e| CoreError::Network(format!("bad server URL {}: {e}", self.base)))
    }

    fn request(&self, method: Method, path: &str, token: Option<&str>) -> Result<RequestBuilder> {
        let mut req = self.http.request(method, self.url(path)?);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        Ok(req)
    }

    async fn send<T: DeserializeOwned>(req: RequestBuilder) -> Result<T> {
        let resp = Self::check(req.send().await?).await?;
        Ok(resp.json().await?)
    }

    async fn send_empty(req: RequestBuilder) -> Result<()> {
        Self::check(req.send().await?).await?;
        Ok(())
    }

    async fn check(resp: Response) -> Result<Response> {
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        let err = serde_json::from_str::<ApiError>(&body).unwrap_or_else(|_| {
            let code = if status.is_server_error() {
                ErrorCode::Internal
            } else {
                ErrorCode::BadRequest
            };
            ApiError::new(code, format!("server answered {status}"))
        });
        Err(CoreError::Api(err))
    }

    fn json<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: &B,
    ) -> Result<RequestBuilder> {
        Ok(self.request(method, path, token)?.json(body))
    }

    /// Whether a Natter server answers at this address (its `/healthz`), within 5 s.
    pub(crate) async fn health(&self) -> Result<()> {
        let req = self
            .request(Method::GET, "/healthz", None)?
            .timeout(Duration::from_secs(5));
        Self::send_empty(req).await
    }

    pub(crate) async fn signup(&self, req: &SignupRequest) -> Result<Account> {
        Self::send(self.json(Method::POST, "/v1/signup", None, req)?).await
    }

    pub(crate) async fn login(&self, req: &LoginRequest) -> Result<LoginResponse> {
        Self::send(self.json(Method::POST, "/v1/login", None, req)?).await
    }

    pub(crate) async fn logout(&self, token: &str) -> Result<()> {
        Self::send_empty(self.request(Method::POST, "/v1/logout", Some(token))?).await
    }

    pub(crate) async fn conversations(&self, token: &str) -> Result<Vec<Conversation>> {
        Self::send(self.request(Method::GET, "/v1/conversations", Some(token))?).await
    }

    pub(crate) async fn open_direct(&self, token: &str, username: &str) -> Result<Conversation> {
        let body = CreateDirectRequest {
            username: username.to_string(),
        };
        Self::send(self.json(Method::POST, "/v1/conversations/direct", Some(token), &body)?).await
    }

    pub(crate) async fn create_group(
        &self,
        token: &str,
        body: &CreateGroupRequest,
    ) -> Result<Conversation> {
        Self::send(self.json(Method::POST, "/v1/conversations/group", Some(token), body)?).await
    }

    pub(crate) async fn add_member(
        &self,
        token: &str,
        conversation: Uuid,
        username: &str,
    ) -> Result<Conversation> {
        let body = natter_protocol::AddMemberRequest {
            username: username.to_string(),
        };
        let path = format!("/v1/conversations/{conversation}/members");
        Self::send(self.json(Method::POST, &path, Some(token), &body)?).await
    }

    pub(crate) async fn send_message(
        &self,
        token: &str,
        conversation: Uuid,
        body: &SendMessageRequest,
    ) -> Result<Message> {
        let path = format!("/v1/conversations/{conversation}/messages");
        Self::send(self.json(Method::POST, &path, Some(token), body)?).await
    }

    pub(crate) async fn history(
        &self,
        token: &str,
        conversation: Uuid,
        query: &HistoryQuery,
    ) -> Result<Vec<Message>> {
        let path = format!("/v1/conversations/{conversation}/messages");
        Self::send(self.request(Method::GET, &path, Some(token))?.query(query)).await
    }

    /// Uploads a voice note (`PUT /v1/media/{id}`), calling `progress(sent, total)` as the
    /// body goes out. Idempotent: the same id and bytes again is a no-op on the server.
    pub(crate) async fn upload_voice(
        &self,
        token: &str,
        id: Uuid,
        bytes: bytes::Bytes,
        progress: impl Fn(u64, u64) + Send + Sync + 'static,
    ) -> Result<MediaInfo> {
        const CHUNK: usize = 16 * 1024;
        let total = bytes.len() as u64;
        let chunks: Vec<bytes::Bytes> = (0..bytes.len())
            .step_by(CHUNK)
            .map(|at| bytes.slice(at..(at + CHUNK).min(bytes.len())))
            .collect();
        let mut sent = 0u64;
        let body = futures_util::stream::iter(chunks).map(move |chunk| {
            sent += chunk.len() as u64;
            progress(sent, total);
            Ok::<_, std::io::Error>(chunk)
        });
        let req = self
            .request(Method::PUT, &format!("/v1/media/{id}"), Some(token))?
            .header(reqwest::header::CONTENT_TYPE, "audio/ogg")
            .header(reqwest::header::CONTENT_LENGTH, total)
            .timeout(MEDIA_TIMEOUT)
            .body(reqwest::Body::wrap_stream(body));
        Self::send(req).await
    }

    /// Uploads a small file (a thumbnail) in one piece.
    pub(crate) async fn upload_whole(
        &self,
        token: &str,
        id: Uuid,
        bytes: bytes::Bytes,
        content_type: &str,
    ) -> Result<MediaInfo> {
        let req = self
            .request(Method::PUT, &format!("/v1/media/{id}"), Some(token))?
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .timeout(MEDIA_TIMEOUT)
            .body(bytes);
        Self::send(req).await
    }

    /// How many bytes of a resumable upload the server has (0 when it has none).
    pub(crate) async fn upload_offset(&self, token: &str, id: Uuid) -> Result<u64> {
        let resp = self
            .request(Method::HEAD, &format!("/v1/uploads/{id}"), Some(token))?
            .send()
            .await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(0);
        }
        let resp = Self::check(resp).await?;
        offset_of(&resp)
    }

    /// Sends one piece of a resumable upload, starting at `offset` of a `length`-byte file.
    pub(crate) async fn upload_piece(
        &self,
        token: &str,
        id: Uuid,
        offset: u64,
        length: u64,
        content_type: &str,
        piece: bytes::Bytes,
    ) -> Result<Piece> {
        let resp = self
            .request(Method::PATCH, &format!("/v1/uploads/{id}"), Some(token))?
            .header("upload-offset", offset)
            .header("upload-length", length)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .timeout(MEDIA_TIMEOUT)
            .body(piece)
            .send()
            .await?;
        match resp.status() {
            reqwest::StatusCode::NO_CONTENT => Ok(Piece::Stored(offset_of(&resp)?)),
            reqwest::StatusCode::CONFLICT if resp.headers().contains_key("upload-offset") => {
                Ok(Piece::Elsewhere(offset_of(&resp)?))
            }
            _ => {
                let resp = Self::check(resp).await?;
                Ok(Piece::Done(resp.json().await?))
            }
        }
    }

    /// Downloads a media file the account may see.
    pub(crate) async fn download_media(&self, token: &str, id: Uuid) -> Result<bytes::Bytes> {
        let req = self
            .request(Method::GET, &format!("/v1/media/{id}"), Some(token))?
            .timeout(MEDIA_TIMEOUT);
        let resp = Self::check(req.send().await?).await?;
        Ok(resp.bytes().await?)
    }

    /// Tells the server this account played a voice note.
    pub(crate) async fn played(
        &self,
        token: &str,
        conversation: Uuid,
        message: Uuid,
    ) -> Result<()> {
        let path = format!("/v1/conversations/{conversation}/messages/{message}/played");
        Self::send_empty(self.request(Method::POST, &path, Some(token))?).await
    }

    /// Played marks recorded at or after `since` (server ms), oldest first.
    pub(crate) async fn played_since(&self, token: &str, since: i64) -> Result<Vec<PlayedMark>> {
        let query = PlayedQuery { since: Some(since) };
        Self::send(
            self.request(Method::GET, "/v1/played", Some(token))?
                .query(&query),
        )
        .await
    }

    pub(crate) async fn receipt(
        &self,
        token: &str,
        conversation: Uuid,
        kind: ReceiptKind,
        up_to_seq: i64,
    ) -> Result<()> {
        let path = format!("/v1/conversations/{conversation}/receipts");
        let body = ReceiptRequest { kind, up_to_seq };
        Self::send_empty(self.json(Method::POST, &path, Some(token), &body)?).await
    }

    pub(crate) async fn me(&self, token: &str) -> Result<Account> {
        Self::send(self.request(Method::GET, "/v1/me", Some(token))?).await
    }

    pub(crate) async fn settings(&self, token: &str, nudity_filter: bool) -> Result<Account> {
        let body = natter_protocol::SettingsRequest { nudity_filter };
        Self::send(self.json(Method::PUT, "/v1/me/settings", Some(token), &body)?).await
    }

    pub(crate) async fn accept(&self, token: &str, conversation: Uuid) -> Result<Conversation> {
        let path = format!("/v1/conversations/{conversation}/accept");
        Self::send(self.request(Method::POST, &path, Some(token))?).await
    }

    pub(crate) async fn delete_conversation(&self, token: &str, conversation: Uuid) -> Result<()> {
        let path = format!("/v1/conversations/{conversation}/delete");
        Self::send_empty(self.request(Method::POST, &path, Some(token))?).await
    }

    pub(crate) async fn leave(&self, token: &str, conversation: Uuid) -> Result<()> {
        let path = format!("/v1/conversations/{conversation}/leave");
        Self::send_empty(self.request(Method::POST, &path, Some(token))?).await
    }

    pub(crate) async fn remove_member(
        &self,
        token: &str,
        conversation: Uuid,
        username: &str,
    ) -> Result<Conversation> {
        let path = format!("/v1/conversations/{conversation}/members/{username}");
        Self::send(self.request(Method::DELETE, &path, Some(token))?).await
    }

    pub(crate) async fn rename_group(
        &self,
        token: &str,
        conversation: Uuid,
        name: &str,
    ) -> Result<Conversation> {
        let path = format!("/v1/conversations/{conversation}");
        let body = natter_protocol::RenameGroupRequest {
            name: name.to_string(),
        };
        Self::send(self.json(Method::PATCH, &path, Some(token), &body)?).await
    }

    pub(crate) async fn blocked(&self, token: &str) -> Result<Vec<natter_protocol::UserSummary>> {
        Self::send(self.request(Method::GET, "/v1/blocks", Some(token))?).await
    }

    pub(crate) async fn block(&self, token: &str, username: &str) -> Result<()> {
        let body = natter_protocol::BlockRequest {
            username: username.to_string(),
        };
        Self::send_empty(self.json(Method::POST, "/v1/blocks", Some(token), &body)?).await
    }

    pub(crate) async fn unblock(&self, token: &str, username: &str) -> Result<()> {
        let path = format!("/v1/blocks/{username}");
        Self::send_empty(self.request(Method::DELETE, &path, Some(token))?).await
    }

    pub(crate) async fn report(
        &self,
        token: &str,
        body: &natter_protocol::ReportRequest,
    ) -> Result<()> {
        Self::send_empty(self.json(Method::POST, "/v1/reports", Some(token), body)?).await
    }
}
