//! `natter`: the headless Natter client on natter-core, for scripts, tests and benchmarks;
//! `natter server` runs the server on the embedded SQLite store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use natter_core::{Client, CoreError, CoreEvent};
use uuid::Uuid;

mod media;
mod messages;
mod rules;
mod safety;
mod voice;

#[derive(Parser)]
#[command(
    name = "natter",
    version,
    about = "Natter: direct messages from the command line"
)]
struct Cli {
    /// Server URL.
    #[arg(long, global = true, env = "NATTER_SERVER")]
    server: Option<String>,
    /// Profile directory (session and local cache).
    #[arg(long, global = true, env = "NATTER_PROFILE")]
    profile: Option<PathBuf>,
    /// Log format on stderr: `text` for people, `json` (one object a line) for log collectors.
    #[arg(long, global = true, env = "NATTER_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run a Natter server (by default on the embedded SQLite store); prints the URL it
    /// serves on. Instances given the same --database, --bus and --media act as one service.
    Server {
        /// Directory for the SQLite database, media and partial uploads (when --database and
        /// --media do not put them elsewhere).
        #[arg(long, env = "NATTER_DATA", default_value = "natter-data")]
        data: PathBuf,
        /// PostgreSQL URL (postgres://USER[:PASSWORD]@HOST[:PORT]/DB) shared by every
        /// instance; without it, SQLite in --data.
        #[arg(long, env = "NATTER_DATABASE")]
        database: Option<String>,
        /// NATS URL (nats://HOST:PORT) through which instances share live events; without it,
        /// events stay in this process (one instance).
        #[arg(long, env = "NATTER_BUS")]
        bus: Option<String>,
        /// Object storage for media (s3://BUCKET[/PREFIX]; endpoint and credentials from
        /// AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY); without
        /// it, files in --data.
        #[arg(long, env = "NATTER_MEDIA")]
        media: Option<String>,
        /// Address to listen on (port 0 picks a free one).
        #[arg(long, env = "NATTER_LISTEN", default_value = "127.0.0.1:7878")]
        listen: SocketAddr,
        /// Origins allowed to open the WebSocket from a browser (repeatable).
        #[arg(
            long = "allow-origin",
            env = "NATTER_ALLOW_ORIGIN",
            value_delimiter = ','
        )]
        allowed_origins: Vec<String>,
        /// Days a log-in stays valid.
        #[arg(long, env = "NATTER_TOKEN_TTL_DAYS", default_value_t = 30)]
        token_ttl_days: u64,
        /// Messages one account may send per minute (past it: 429 with Retry-After).
        #[arg(long, env = "NATTER_MESSAGES_PER_MINUTE",
            default_value_t = natter_protocol::limits::MESSAGES_PER_MINUTE)]
        messages_per_minute: u32,
        /// New direct conversations one account may start per day.
        #[arg(long, env = "NATTER_NEW_CONVERSATIONS_PER_DAY",
            default_value_t = natter_protocol::limits::NEW_CONVERSATIONS_PER_DAY)]
        new_conversations_per_day: u32,
    },
    /// Record, encode and inspect voice notes (needs no server or profile).
    Voice {
        #[command(subcommand)]
        command: voice::VoiceCommand,
    },
    /// Prepare photos for an album (needs no server or profile).
    Media {
        #[command(subcommand)]
        command: media::MediaCommand,
    },
    /// Classify photos with the on-device nudity model (needs no server or profile).
    Safety {
        #[command(subcommand)]
        command: safety::SafetyCommand,
    },
    /// Create an account and sign in to it.
    Signup {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
        /// Date of birth, YYYY-MM-DD.
        #[arg(long)]
        birthdate: String,
    },
    /// Sign in; the session is kept in the profile.
    Login {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
    },
    /// Sign out and revoke the session on the server.
    Logout,
    /// Send a text message, a voice note, or an album of photos.
    Send(messages::SendArgs),
    /// Show the messages of a conversation (and mark them read).
    Messages(messages::ListArgs),
    /// List conversations.
    Conversations {
        #[arg(long)]
        json: bool,
    },
    /// Create a group with the given members.
    GroupCreate {
        #[arg(long)]
        name: String,
        /// Usernames, comma-separated.
        #[arg(long, value_delimiter = ',')]
        members: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Add a member to a group you created.
    GroupAdd {
        #[arg(long)]
        conversation: Uuid,
        #[arg(long)]
        username: String,
    },
    /// Leave a group: nothing more reaches you, and the others see that you left.
    GroupLeave {
        #[arg(long)]
        conversation: Uuid,
    },
    /// Remove a member from a group you created.
    GroupRemove {
        #[arg(long)]
        conversation: Uuid,
        #[arg(long)]
        username: String,
    },
    /// Rename a group you created.
    GroupRename {
        #[arg(long)]
        conversation: Uuid,
        #[arg(long)]
        name: String,
    },
    /// Message requests waiting for an answer: conversations started by people you never
    /// wrote to, and groups you were invited to.
    Requests {
        #[arg(long)]
        json: bool,
    },
    /// Accept the message request from a user, or a group invitation.
    Accept {
        #[arg(
            long,
            conflicts_with = "conversation",
            required_unless_present = "conversation"
        )]
        from: Option<String>,
        /// A group invitation (or any request) by its conversation id.
        #[arg(long)]
        conversation: Option<Uuid>,
    },
    /// Delete the message request from a user, or decline a group invitation.
    DeleteRequest {
        #[arg(
            long,
            conflicts_with = "conversation",
            required_unless_present = "conversation"
        )]
        from: Option<String>,
        #[arg(long)]
        conversation: Option<Uuid>,
    },
    /// Block a user: nothing can be sent between you either way.
    Block { username: String },
    /// Unblock a user.
    Unblock { username: String },
    /// Report a user to the moderators, with their messages in a conversation (your direct
    /// chat with them unless `--conversation` names a group).
    Report {
        #[arg(long)]
        user: String,
        #[arg(long)]
        conversation: Option<Uuid>,
        #[arg(long)]
        reason: String,
        /// Message ids to include (default: their latest messages).
        #[arg(long, value_delimiter = ',')]
        messages: Vec<Uuid>,
    },
    /// Show or change your settings.
    Settings {
        /// The nudity filter (always on under 18).
        #[arg(long)]
        nudity_filter: Option<rules::OnOff>,
    },
    /// Moderation, on the server's machine: reads the server's store (its SQLite file in the
    /// data directory, or its PostgreSQL database).
    Admin {
        /// The server's data directory (its SQLite store).
        #[arg(long, env = "NATTER_DATA", default_value = "natter-data")]
        data: PathBuf,
        /// The server's PostgreSQL database (`postgres://…`), read instead of `--data`.
        #[arg(long, env = "NATTER_DATABASE")]
        database: Option<String>,
        #[command(subcommand)]
        command: rules::AdminCommand,
    },
    /// Stay connected and print every event until interrupted.
    Watch {
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    // Hidden: `natter server` runs its own binary this way to decode videos' frames in a
    // separate, resource-limited process (natter_server::frames). Before anything else starts.
    if std::env::args_os().nth(1).as_deref() == Some(natter_server::frames::WORKER_ARG.as_ref()) {
        return natter_server::frames::worker_main();
    }
    let cli = Cli::parse();
    let is_server = matches!(cli.command, Command::Server { .. });
    init_logging(is_server, cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let line = match e.downcast_ref::<CoreError>() {
                Some(core @ CoreError::Api(_)) => core.to_string(),
                Some(core) => format!("{core} ({})", core.code()),
                None => format!("{e:#}"),
            };
            eprintln!("error: {}", line.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn init_logging(server: bool, format: LogFormat) {
    let default = if server { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().with_current_span(true).init(),
    }
}

fn default_profile() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("natter").join("cli-profile")
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Server {
        data,
        database,
        bus,
        media,
        listen,
        allowed_origins,
        token_ttl_days,
        messages_per_minute,
        new_conversations_per_day,
    } = cli.command
    {
        let mut config = natter_server::ServerConfig::new(data, listen);
        config.allowed_origins = allowed_origins;
        config.database = database;
        config.bus = bus;
        config.media = media;
        config.limits.messages_per_minute = messages_per_minute;
        config.limits.new_conversations_per_day = new_conversations_per_day;
        config.token_ttl = Duration::from_secs(token_ttl_days.saturating_mul(24 * 60 * 60));
        config.frame_worker = Some(
            natter_server::frames::FrameWorker::this_program()
                .context("finding this program for the frame worker")?,
        );
        return serve(config).await;
    }
    let command = match cli.command {
        Command::Voice { command } => return voice::run(command).await,
        Command::Media { command } => return media::run(command).await,
        Command::Safety { command } => return safety::run(command).await,
        Command::Admin {
            data,
            database,
            command,
        } => return rules::admin(data, database, command).await,
        other => other,
    };
    let profile = cli.profile.unwrap_or_else(default_profile);
    let client = Client::open(&profile, cli.server.as_deref()).await?;
    let result = client_command(&client, command).await;
    client.shutdown().await;
    client.cache().close().await;
    result
}

async fn serve(config: natter_server::ServerConfig) -> anyhow::Result<()> {
    let server = natter_server::start(config).await?;
    println!("{}", server.url());
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Delivers what an earlier run left in the outbox (never fails the command).
async fn flush_quietly(client: &Client, secs: u64) {
    if let Err(e) = client.flush_outbox(Duration::from_secs(secs)).await {
        tracing::info!(error = %e, "could not flush the outbox");
    }
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(v)?);
    Ok(())
}

async fn client_command(client: &Client, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Server { .. }
        | Command::Voice { .. }
        | Command::Media { .. }
        | Command::Admin { .. }
        | Command::Safety { .. } => {
            unreachable!("handled before a profile is opened")
        }
        Command::Signup {
            username,
            password,
            birthdate,
        } => {
            let date = chrono::NaiveDate::parse_from_str(&birthdate, "%Y-%m-%d")
                .map_err(|_| anyhow::anyhow!("birthdate must be YYYY-MM-DD, got {birthdate:?}"))?;
            let account = client.signup(&username, &password, date).await?;
            println!("signed up and logged in as {}", account.username);
        }
        Command::Login { username, password } => {
            let account = client.login(&username, &password).await?;
            println!("logged in as {}", account.username);
        }
        Command::Logout => {
            client.logout().await?;
            println!("logged out");
        }
        Command::Send(args) => messages::send(client, args).await?,
        Command::Messages(args) => messages::list(client, args).await?,
        Command::Requests { json } => rules::requests(client, json).await?,
        Command::Accept { from, conversation } => {
            rules::accept(client, from.as_deref(), conversation).await?
        }
        Command::DeleteRequest { from, conversation } => {
            rules::delete_request(client, from.as_deref(), conversation).await?
        }
        Command::GroupLeave { conversation } => {
            client.leave_group(conversation).await?;
            println!("left the group");
        }
        Command::GroupRemove {
            conversation,
            username,
        } => {
            let conv = client.remove_member(conversation, &username).await?;
            println!("{} now has {} members", conv.title, conv.members.len());
        }
        Command::GroupRename { conversation, name } => {
            let conv = client.rename_group(conversation, &name).await?;
            println!("renamed to {}", conv.title);
        }
        Command::Block { username } => rules::block(client, &username, false).await?,
        Command::Unblock { username } => rules::block(client, &username, true).await?,
        Command::Report {
            user,
            conversation,
            reason,
            messages,
        } => rules::report(client, &user, conversation, &reason, messages).await?,
        Command::Settings { nudity_filter } => rules::settings(client, nudity_filter).await?,
        Command::Conversations { json } => {
            if let Err(e) = client.sync_now().await {
                tracing::info!(error = %e, "showing cached conversations only");
            }
            // The main list: message requests have their own (`natter requests`).
            let convs: Vec<_> = client
                .conversations()
                .await?
                .into_iter()
                .filter(|c| !c.request)
                .collect();
            if json {
                print_json(&convs)?;
            } else {
                for c in &convs {
                    let last = c
                        .last_message
                        .as_ref()
                        .map(|m| m.text.as_str())
                        .unwrap_or("");
                    println!("{} {} ({} unread) {}", c.id, c.title, c.unread, last);
                }
            }
        }
        Command::GroupCreate {
            name,
            members,
            json,
        } => {
            let conv = client.create_group(&name, &members).await?;
            if json {
                print_json(&conv)?;
            } else {
                println!("{}", conv.id);
            }
        }
        Command::GroupAdd {
            conversation,
            username,
        } => {
            let conv = client.add_member(conversation, &username).await?;
            println!("{} now has {} members", conv.title, conv.members.len());
        }
        Command::Watch { json } => {
            let mut events = client.subscribe();
            client.start().await?;
            let stop = shutdown_signal();
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    _ = &mut stop => break,
                    ev = events.recv() => match ev {
                        Ok(ev) => {
                            if json {
                                print_json(&ev)?;
                            } else {
                                println!("{}", describe(&ev));
                            }
                            if ev == CoreEvent::SignedOut {
                                anyhow::bail!("the server rejected the session; log in again");
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(skipped = n, "too many events; some were not printed");
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    },
                }
            }
        }
    }
    Ok(())
}

fn describe(ev: &CoreEvent) -> String {
    match ev {
        CoreEvent::Message { message } => messages::human_message(message),
        CoreEvent::Receipts { conversation_id } => format!("receipts changed in {conversation_id}"),
        CoreEvent::MessageRemoved { id, .. } => format!("unsent message {id} deleted"),
        CoreEvent::Typing { username, .. } => format!("{username} is typing…"),
        CoreEvent::Conversation { conversation } => format!("conversation {}", conversation.title),
        CoreEvent::ConversationRemoved { conversation } => {
            format!("conversation {conversation} removed")
        }
        CoreEvent::Connection { state } => format!("connection: {state:?}").to_lowercase(),
        CoreEvent::SignedOut => "signed out".into(),
        CoreEvent::Upload {
            id,
            media_id: None,
            sent,
            total,
            ..
        } => format!("uploading {id}: {sent}/{total} bytes"),
        CoreEvent::Upload {
            id,
            media_id: Some(item),
            sent,
            total,
            ..
        } => format!("uploading {id} (item {item}): {sent}/{total} bytes"),
        CoreEvent::Staged { done, total, .. } => format!("prepared {done} of {total} files"),
    }
}
