//! [`Client`]: one signed-in profile, its cache, and the background workers that keep it in
//! step with the server.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use natter_protocol::{
    validate, Account, ClientFrame, CreateGroupRequest, ErrorCode, LoginRequest, SignupRequest,
};
use tokio::sync::{broadcast, mpsc, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use url::Url;
use uuid::Uuid;

use crate::api::Api;
use crate::cache::{Cache, Session};
use crate::error::{CoreError, Result};
use crate::views::{ConnectionState, ConversationView, CoreEvent, MessageView};
use crate::{outbox, sync};

/// Where a new profile looks for its server: the local server started by the README's run
/// command.
pub const DEFAULT_SERVER_URL: &str = "http://127.0.0.1:7878";

/// How often a "typing" signal is sent at most, per conversation.
const TYPING_INTERVAL: Duration = Duration::from_secs(3);

/// The client engine for one profile directory. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) cache: Cache,
    profile: PathBuf,
    server: RwLock<Url>,
    api: RwLock<Api>,
    session: RwLock<Option<Session>>,
    /// Whether a server was chosen (given at start, chosen before, or signed in to): a
    /// packaged app asks at first start instead of guessing.
    server_chosen: std::sync::atomic::AtomicBool,
    pub(crate) events: broadcast::Sender<CoreEvent>,
    pub(crate) outbox_wake: Notify,
    /// Wakes the upload worker (an album was queued, or the connection came back).
    pub(crate) upload_wake: Notify,
    /// Frames for the live connection, present while it is up.
    pub(crate) frames: Mutex<Option<mpsc::Sender<ClientFrame>>>,
    typing_sent: Mutex<HashMap<Uuid, Instant>>,
    /// The live connection's state as last reported (front ends that start late ask for it).
    connection: Mutex<ConnectionState>,
    workers: tokio::sync::Mutex<Option<Workers>>,
}

struct Workers {
    cancel: CancellationToken,
    handles: Vec<JoinHandle<()>>,
}

fn parse_url(s: &str) -> Result<Url> {
    let url = Url::parse(s.trim())
        .map_err(|e| CoreError::Network(format!("invalid server URL {s:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(CoreError::Network(format!(
            "server URL must start with http:// or https://, got {s:?}"
        )));
    }
    Ok(url)
}

impl Client {
    /// Opens the profile in `profile` (created if missing). `server` overrides the server the
    /// profile last used; without either, [`DEFAULT_SERVER_URL`].
    pub async fn open(profile: &Path, server: Option<&str>) -> Result<Self> {
        std::fs::create_dir_all(profile).map_err(|e| {
            CoreError::Storage(format!("cannot create profile {}: {e}", profile.display()))
        })?;
        let cache = Cache::open(&profile.join("natter.db")).await?;
        let session = cache.session().await?;
        let remembered = cache.setting(crate::cache::SERVER_URL).await?;
        let chosen = server.is_some() || session.is_some() || remembered.is_some();
        let server = match (server, &session, remembered) {
            (Some(s), _, _) => parse_url(s)?,
            (None, Some(sess), _) => parse_url(&sess.server_url)?,
            (None, None, Some(url)) => parse_url(&url)?,
            (None, None, None) => parse_url(DEFAULT_SERVER_URL)?,
        };
        let (events, _) = broadcast::channel(1024);
        Ok(Self {
            inner: Arc::new(Inner {
                cache,
                profile: profile.to_path_buf(),
                api: RwLock::new(Api::new(server.clone())?),
                server: RwLock::new(server),
                session: RwLock::new(session),
                server_chosen: chosen.into(),
                events,
                outbox_wake: Notify::new(),
                upload_wake: Notify::new(),
                frames: Mutex::new(None),
                typing_sent: Mutex::new(HashMap::new()),
                connection: Mutex::new(ConnectionState::Offline),
                workers: tokio::sync::Mutex::new(None),
            }),
        })
    }

    pub fn profile_dir(&self) -> &Path {
        &self.inner.profile
    }

    pub fn cache(&self) -> &Cache {
        &self.inner.cache
    }

    pub fn server_url(&self) -> String {
        read(&self.inner.server)
            .as_str()
            .trim_end_matches('/')
            .to_string()
    }

    /// Whether this profile has a server yet (see [`Client::choose_server`]).
    pub fn server_chosen(&self) -> bool {
        self.inner
            .server_chosen
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Points the profile at the server the person chose, after checking a Natter server
    /// answers there, and remembers it (also across signing out).
    pub async fn choose_server(&self, server: &str) -> Result<()> {
        let url = parse_url(server)?;
        let api = Api::new(url.clone())?;
        if let Err(e) = api.health().await {
            let shown = url.as_str().trim_end_matches('/');
            tracing::warn!(server = %shown, error = %e, "chosen server does not answer");
            return Err(CoreError::Network(format!(
                "no Natter server answers at {shown}: check the address ({e})"
            )));
        }
        self.inner
            .cache
            .set_setting(crate::cache::SERVER_URL, url.as_str().trim_end_matches('/'))
            .await?;
        *write(&self.inner.api) = api;
        *write(&self.inner.server) = url;
        self.inner
            .server_chosen
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Points the profile at another server (before logging in).
    pub fn set_server_url(&self, server: &str) -> Result<()> {
        let url = parse_url(server)?;
        *write(&self.inner.api) = Api::new(url.clone())?;
        *write(&self.inner.server) = url;
        Ok(())
    }

    /// The signed-in account, if any.
    pub fn account(&self) -> Option<Account> {
        read(&self.inner.session)
            .as_ref()
            .map(|s| s.account.clone())
    }

    /// The account as the server last described it (settings changed, or refreshed).
    pub(crate) async fn update_account(&self, account: Account) -> Result<()> {
        self.inner
            .cache
            .set_filter(account.nudity_filter, account.nudity_filter_locked)
            .await?;
        if let Some(s) = write(&self.inner.session).as_mut() {
            if s.account.id == account.id {
                s.account = account;
            }
        }
        Ok(())
    }

    pub(crate) fn api(&self) -> Api {
        read(&self.inner.api).clone()
    }

    /// `(token, account)` of the session, or `NotSignedIn`.
    pub(crate) fn auth(&self) -> Result<(String, Account)> {
        read(&self.inner.session)
            .as_ref()
            .map(|s| (s.token.clone(), s.account.clone()))
            .ok_or(CoreError::NotSignedIn)
    }

    pub(crate) fn me(&self) -> Result<Uuid> {
        Ok(self.auth()?.1.id)
    }

    pub(crate) fn emit(&self, event: CoreEvent) {
        if let CoreEvent::Connection { state } = &event {
            *lock(&self.inner.connection) = *state;
        }
        // No receiver is fine: nobody is watching.
        let _ = self.inner.events.send(event);
    }

    /// The live connection's current state.
    pub fn connection_state(&self) -> ConnectionState {
        *lock(&self.inner.connection)
    }

    /// Live events for a front end.
    pub fn subscribe(&self) -> broadcast::Receiver<CoreEvent> {
        self.inner.events.subscribe()
    }

    /// Called when the server rejects the token: forget it and tell the front end.
    pub(crate) async fn signed_out(&self) {
        tracing::warn!("the server rejected this session; signing out");
        *write(&self.inner.session) = None;
        if let Err(e) = self.inner.cache.clear_session().await {
            tracing::error!(error = %e, "could not clear the stored session");
        }
        self.emit(CoreEvent::SignedOut);
    }

    // ---- account ---------------------------------------------------------------------------

    /// Creates an account and signs in to it.
    #[tracing::instrument(skip(self, password), err)]
    pub async fn signup(
        &self,
        username: &str,
        password: &str,
        birthdate: NaiveDate,
    ) -> Result<Account> {
        let username = validate::username(username)?;
        validate::password(password)?;
        let today = chrono::Utc::now().date_naive();
        validate::birthdate(birthdate, today)?;
        natter_protocol::policy::may_sign_up(birthdate, today)?;
        self.api()
            .signup(&SignupRequest {
                username: username.clone(),
                password: password.to_string(),
                birthdate,
            })
            .await?;
        self.login(&username, password).await
    }

    /// Signs in; the session is stored in the profile for the next start.
    #[tracing::instrument(skip(self, password), err)]
    pub async fn login(&self, username: &str, password: &str) -> Result<Account> {
        let resp = self
            .api()
            .login(&LoginRequest {
                username: username.trim().to_lowercase(),
                password: password.to_string(),
            })
            .await?;
        let session = Session {
            server_url: self.server_url(),
            token: resp.token,
            account: resp.account.clone(),
        };
        self.inner.cache.save_session(&session).await?;
        *write(&self.inner.session) = Some(session);
        Ok(resp.account)
    }

    /// Signs out here and revokes the token on the server (if it can be reached).
    pub async fn logout(&self) -> Result<()> {
        self.shutdown().await;
        if let Ok((token, _)) = self.auth() {
            if let Err(e) = self.api().logout(&token).await {
                tracing::warn!(error = %e, "could not revoke the token on the server");
            }
        }
        *write(&self.inner.session) = None;
        self.inner.cache.clear_session().await
    }

    // ---- workers ---------------------------------------------------------------------------

    /// Why this account cannot use direct messages today (under 16: they open on the 16th
    /// birthday), or `None`. The server enforces the same rule on every request.
    pub fn dm_blocked(&self) -> Option<natter_protocol::ApiError> {
        let account = self.account()?;
        let band = natter_protocol::policy::AgeBand::on(
            account.birthdate,
            chrono::Utc::now().date_naive(),
        );
        natter_protocol::policy::may_use_dms(band).err()
    }

    /// Starts the live connection, the outbox and the upload worker (once; later calls do
    /// nothing), and sweeps staged files left over from an earlier run.
    pub async fn start(&self) -> Result<()> {
        self.auth()?;
        if let Some(why) = self.dm_blocked() {
            // Nothing to sync or send: the server would refuse every call.
            tracing::info!(reason = %why, "direct messages are not available to this account");
            return Ok(());
        }
        let mut workers = self.inner.workers.lock().await;
        if workers.is_some() {
            return Ok(());
        }
        let cancel = CancellationToken::new();
        let handles = vec![
            tokio::spawn(sync::run(self.clone(), cancel.clone())),
            tokio::spawn(outbox::run(self.clone(), cancel.clone())),
            tokio::spawn(crate::album::upload::run(self.clone(), cancel.clone())),
        ];
        let sweeper = self.clone();
        tokio::spawn(async move {
            if let Err(e) = sweeper.sweep_staging().await {
                tracing::warn!(error = %e, "could not sweep the staging folder");
            }
        });
        *workers = Some(Workers { cancel, handles });
        Ok(())
    }

    /// Stops the workers and waits for them. Unsent messages stay in the outbox.
    pub async fn shutdown(&self) {
        let workers = self.inner.workers.lock().await.take();
        if let Some(w) = workers {
            w.cancel.cancel();
            for h in w.handles {
                if let Err(e) = h.await {
                    tracing::error!(error = %e, "a background task failed");
                }
            }
        }
        *lock(&self.inner.frames) = None;
    }

    /// Wakes the outbox and the upload worker (something was queued or may go now).
    pub(crate) fn wake_workers(&self) {
        self.inner.outbox_wake.notify_one();
        self.inner.upload_wake.notify_one();
    }

    /// Fetches everything missed since the last sequence seen, over HTTP.
    pub async fn sync_now(&self) -> Result<()> {
        sync::catch_up(self).await
    }

    /// Delivers queued messages until the outbox is empty or `deadline` passes; returns how
    /// many are still queued.
    pub async fn flush_outbox(&self, deadline: Duration) -> Result<i64> {
        outbox::flush(self, deadline).await
    }

    // ---- conversations ---------------------------------------------------------------------

    pub async fn conversations(&self) -> Result<Vec<ConversationView>> {
        self.inner.cache.conversations(self.me()?).await
    }

    pub async fn conversation(&self, id: Uuid) -> Result<ConversationView> {
        self.inner
            .cache
            .conversation(self.me()?, id)
            .await?
            .ok_or_else(not_found)
    }

    /// The direct conversation with `username`: from the cache when known, otherwise created
    /// (or found) on the server.
    pub async fn open_direct(&self, username: &str) -> Result<ConversationView> {
        let (token, me) = self.auth()?;
        let username = validate::username(username).map_err(|_| {
            natter_protocol::ApiError::new(
                ErrorCode::UserNotFound,
                format!("no user called {username:?}"),
            )
        })?;
        if username == me.username {
            return Err(natter_protocol::ApiError::new(
                ErrorCode::CannotMessageSelf,
                "you cannot start a chat with yourself",
            )
            .into());
        }
        if let Some(id) = self.inner.cache.direct_with(me.id, &username).await? {
            return self.conversation(id).await;
        }
        let conv = self.api().open_direct(&token, &username).await?;
        self.remember(conv).await
    }

    /// Caches a conversation the server just returned and tells the front ends.
    pub(crate) async fn remember(
        &self,
        conv: natter_protocol::Conversation,
    ) -> Result<ConversationView> {
        self.inner
            .cache
            .upsert_conversations(std::slice::from_ref(&conv))
            .await?;
        let view = self.conversation(conv.id).await?;
        self.emit(CoreEvent::Conversation {
            conversation: view.clone(),
        });
        Ok(view)
    }

    pub async fn create_group(&self, name: &str, members: &[String]) -> Result<ConversationView> {
        let (token, _) = self.auth()?;
        let name = validate::group_name(name)?;
        let conv = self
            .api()
            .create_group(
                &token,
                &CreateGroupRequest {
                    name,
                    members: members.to_vec(),
                },
            )
            .await?;
        self.remember(conv).await
    }

    pub async fn add_member(&self, conversation: Uuid, username: &str) -> Result<ConversationView> {
        let (token, _) = self.auth()?;
        let conv = self
            .api()
            .add_member(&token, conversation, username)
            .await?;
        self.remember(conv).await
    }

    // ---- messages --------------------------------------------------------------------------

    /// Up to `limit` messages older than `before` (a `sort_key`), or the newest; oldest first.
    /// Reads only the cache, so it works offline.
    pub async fn messages(
        &self,
        conversation: Uuid,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<MessageView>> {
        let limit = limit.clamp(1, natter_protocol::limits::PAGE_MAX);
        self.inner
            .cache
            .messages(self.me()?, conversation, before, limit)
            .await
    }

    /// Up to `limit` messages newer than `after` (a `sort_key`), oldest first; from the cache.
    pub async fn messages_after(
        &self,
        conversation: Uuid,
        after: i64,
        limit: u32,
    ) -> Result<Vec<MessageView>> {
        let limit = limit.clamp(1, natter_protocol::limits::PAGE_MAX);
        self.inner
            .cache
            .messages_after(self.me()?, conversation, after, limit)
            .await
    }

    pub async fn message(&self, id: Uuid) -> Result<Option<MessageView>> {
        self.inner.cache.message(self.me()?, id).await
    }

    /// Writes the message locally (shown at once as "sending") and queues it; the outbox
    /// worker delivers it.
    #[tracing::instrument(skip(self, text), err)]
    pub async fn send_text(&self, conversation: Uuid, text: &str) -> Result<MessageView> {
        let (_, me) = self.auth()?;
        validate::text(text)?;
        self.ensure_conversation(me.id, conversation).await?;
        self.queue(conversation, &me, text, None).await
    }

    /// `conversation_not_found` unless the conversation is in this profile's cache.
    pub(crate) async fn ensure_conversation(&self, me: Uuid, conversation: Uuid) -> Result<()> {
        match self.inner.cache.conversation(me, conversation).await? {
            Some(_) => Ok(()),
            None => Err(not_found()),
        }
    }

    /// Writes a message and its outbox row in one transaction, shows it, wakes the outbox.
    pub(crate) async fn queue(
        &self,
        conversation: Uuid,
        me: &Account,
        text: &str,
        voice: Option<&crate::cache::PendingVoice>,
    ) -> Result<MessageView> {
        self.queue_with(conversation, me, text, voice, &[]).await
    }

    /// Queues an album (its files already in the profile) with its caption.
    pub(crate) async fn queue_album(
        &self,
        conversation: Uuid,
        me: &Account,
        caption: &str,
        album: &[natter_protocol::MediaItem],
    ) -> Result<MessageView> {
        self.queue_with(conversation, me, caption, None, album)
            .await
    }

    async fn queue_with(
        &self,
        conversation: Uuid,
        me: &Account,
        text: &str,
        voice: Option<&crate::cache::PendingVoice>,
        album: &[natter_protocol::MediaItem],
    ) -> Result<MessageView> {
        let id = Uuid::now_v7();
        self.inner
            .cache
            .insert_pending(conversation, id, me, text, voice, album)
            .await?;
        let view = self
            .inner
            .cache
            .message(me.id, id)
            .await?
            .ok_or_else(|| CoreError::Storage("message vanished after insert".into()))?;
        self.emit(CoreEvent::Message {
            message: view.clone(),
        });
        self.wake_workers();
        Ok(view)
    }

    /// Deletes a message that was never sent (still queued, or refused by the server). A
    /// message the server already has cannot be taken back this way.
    pub async fn discard(&self, id: Uuid) -> Result<()> {
        self.auth()?;
        match self.inner.cache.discard_unsent(id).await? {
            Some(conversation_id) => {
                self.emit(CoreEvent::MessageRemoved {
                    conversation_id,
                    id,
                });
                Ok(())
            }
            None => Err(natter_protocol::ApiError::new(
                ErrorCode::BadRequest,
                "only a message that has not been sent can be deleted",
            )
            .into()),
        }
    }

    /// Marks everything in the conversation as read, here and (when reachable) on the server.
    pub async fn mark_read(&self, conversation: Uuid) -> Result<()> {
        let (token, me) = self.auth()?;
        let Some(seq) = self.inner.cache.mark_read(me.id, conversation).await? else {
            return Ok(());
        };
        self.emit(CoreEvent::Conversation {
            conversation: self.conversation(conversation).await?,
        });
        match self
            .api()
            .receipt(
                &token,
                conversation,
                natter_protocol::ReceiptKind::Read,
                seq,
            )
            .await
        {
            Ok(()) => {
                self.inner
                    .cache
                    .clear_pending_read(me.id, conversation, seq)
                    .await
            }
            // Kept as pending; sent again after the next reconnect.
            Err(e) if e.is_transient() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Tells the other members this account is typing (throttled; dropped when offline).
    pub fn typing(&self, conversation: Uuid) {
        let mut sent = lock(&self.inner.typing_sent);
        if sent
            .get(&conversation)
            .is_some_and(|t| t.elapsed() < TYPING_INTERVAL)
        {
            return;
        }
        if let Some(tx) = lock(&self.inner.frames).as_ref() {
            if tx
                .try_send(ClientFrame::Typing {
                    conversation_id: conversation,
                })
                .is_ok()
            {
                sent.insert(conversation, Instant::now());
            }
        }
    }
}

pub(crate) fn not_found() -> CoreError {
    natter_protocol::ApiError::new(ErrorCode::ConversationNotFound, "no such conversation").into()
}

// Poisoning only follows a panic elsewhere; the data (a URL, a session) is still whole.
fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}
fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}
pub(crate) fn lock<T>(l: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|p| p.into_inner())
}
