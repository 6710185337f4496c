//! The safety commands of a signed-in profile (`requests`, `accept`, `delete-request`,
//! `block`, `unblock`, `report`, `settings`) and the moderators' `admin reports`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use natter_core::protocol::{ApiError, ErrorCode};
use natter_core::{Client, CoreError};
use uuid::Uuid;

use crate::print_json;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// The moderation queue: every report with its reason and the reported messages.
    Reports {
        #[arg(long)]
        json: bool,
    },
}

/// The request from `username` (a direct conversation that is a request for this account).
async fn request_from(client: &Client, username: &str) -> anyhow::Result<Uuid> {
    let name = username.trim().to_lowercase();
    if let Err(e) = client.sync_now().await {
        tracing::info!(error = %e, "looking at cached requests only");
    }
    client
        .requests()
        .await?
        .into_iter()
        .find(|c| c.title == name)
        .map(|c| c.id)
        .ok_or_else(|| {
            CoreError::Api(ApiError::new(
                ErrorCode::ConversationNotFound,
                format!("no message request from {name:?}"),
            ))
            .into()
        })
}

/// The request named by `--from USER` or `--conversation ID`.
async fn the_request(
    client: &Client,
    from: Option<&str>,
    id: Option<Uuid>,
) -> anyhow::Result<Uuid> {
    match (from, id) {
        (_, Some(id)) => {
            if let Err(e) = client.sync_now().await {
                tracing::info!(error = %e, "looking at cached requests only");
            }
            if client.requests().await?.iter().any(|c| c.id == id) {
                Ok(id)
            } else {
                Err(CoreError::Api(ApiError::new(
                    ErrorCode::ConversationNotFound,
                    format!("no request or invitation {id}"),
                ))
                .into())
            }
        }
        (Some(from), None) => request_from(client, from).await,
        (None, None) => anyhow::bail!("say which request: --from USER or --conversation ID"),
    }
}

/// A request as `requests --json` prints it: the conversation, its kind, and for a group
/// invitation the group's name and who invited (`name` and `inviter`).
fn request_json(c: &natter_core::ConversationView) -> anyhow::Result<serde_json::Value> {
    let mut value = serde_json::to_value(c)?;
    let group = c.kind == natter_core::protocol::ConversationKind::Group;
    value["name"] = serde_json::json!(group.then_some(&c.title));
    value["inviter"] = serde_json::json!(c.invited_by);
    value["member_count"] = serde_json::json!(c.members.len());
    Ok(value)
}

pub async fn requests(client: &Client, json: bool) -> anyhow::Result<()> {
    if let Err(e) = client.sync_now().await {
        tracing::info!(error = %e, "showing cached requests only");
    }
    let requests = client.requests().await?;
    if json {
        let entries = requests
            .iter()
            .map(request_json)
            .collect::<anyhow::Result<Vec<_>>>()?;
        return print_json(&entries);
    }
    for c in &requests {
        let last = c.last_message.as_ref().map_or("", |m| m.text.as_str());
        match &c.invited_by {
            Some(inviter) => println!(
                "{} group {} ({} members), invited by {inviter}: {last}",
                c.id,
                c.title,
                c.members.len()
            ),
            None => println!("{} {}: {last}", c.id, c.title),
        }
    }
    Ok(())
}

pub async fn accept(client: &Client, from: Option<&str>, id: Option<Uuid>) -> anyhow::Result<()> {
    let id = the_request(client, from, id).await?;
    let c = client.accept_request(id).await?;
    match c.kind {
        natter_core::protocol::ConversationKind::Group => println!("joined {}", c.title),
        natter_core::protocol::ConversationKind::Direct => {
            println!("accepted the request from {}", c.title)
        }
    }
    Ok(())
}

pub async fn delete_request(
    client: &Client,
    from: Option<&str>,
    id: Option<Uuid>,
) -> anyhow::Result<()> {
    let id = the_request(client, from, id).await?;
    let title = client.conversation(id).await?.title;
    client.delete_request(id).await?;
    println!("deleted the request from {title}");
    Ok(())
}

pub async fn block(client: &Client, username: &str, unblock: bool) -> anyhow::Result<()> {
    if unblock {
        client.unblock(username).await?;
        println!("unblocked {}", username.trim().to_lowercase());
    } else {
        client.block(username).await?;
        println!("blocked {}", username.trim().to_lowercase());
    }
    Ok(())
}

pub async fn report(
    client: &Client,
    user: &str,
    conversation: Option<Uuid>,
    reason: &str,
    messages: Vec<Uuid>,
) -> anyhow::Result<()> {
    let me = client.account().ok_or(CoreError::NotSignedIn)?;
    let conversation = match conversation {
        Some(id) => Some(id),
        None => {
            client
                .cache()
                .direct_with(me.id, &user.trim().to_lowercase())
                .await?
        }
    };
    client.report(user, conversation, messages, reason).await?;
    println!("reported {} to the moderators", user.trim().to_lowercase());
    Ok(())
}

pub async fn settings(client: &Client, nudity_filter: Option<OnOff>) -> anyhow::Result<()> {
    let account = match nudity_filter {
        Some(v) => client.set_nudity_filter(v == OnOff::On).await?,
        None => client.account().ok_or(CoreError::NotSignedIn)?,
    };
    println!(
        "nudity filter: {}{}",
        if account.nudity_filter { "on" } else { "off" },
        if account.nudity_filter_locked {
            " (always on until you are 18)"
        } else {
            ""
        }
    );
    Ok(())
}

/// Reads the server's own store: its PostgreSQL `database`, or else its SQLite file in
/// `data` (run it where the server's data directory is).
pub async fn admin(
    data: PathBuf,
    database: Option<String>,
    command: AdminCommand,
) -> anyhow::Result<()> {
    let store = natter_server::store::open(database.as_deref(), &data)
        .await
        .with_context(|| match &database {
            // The store's own error names the URL (without its password).
            Some(_) => "opening the server's store".to_string(),
            None => format!("opening the server's store in {}", data.display()),
        })?;
    let result = match command {
        AdminCommand::Reports { json } => match store.reports().await {
            Ok(reports) if json => print_json(&reports),
            Ok(reports) => {
                for r in &reports {
                    let place = match (&r.conversation_kind, &r.conversation_name) {
                        (Some(_), Some(name)) => format!(" in the group {name:?}"),
                        _ => String::new(),
                    };
                    println!(
                        "{} {} reported {}{place}: {} ({} messages)",
                        r.id,
                        r.reporter,
                        r.reported,
                        r.reason,
                        r.messages.len()
                    );
                }
                Ok(())
            }
            Err(e) => Err(anyhow::anyhow!("{e}")),
        },
    };
    store.close().await;
    result
}
