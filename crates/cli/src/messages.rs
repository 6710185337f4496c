//! `natter send` and `natter messages`: writing (text, a voice note, an album) and reading a
//! conversation.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use natter_core::{Client, CoreError, MessageStatus, MessageView};
use uuid::Uuid;

use crate::{flush_quietly, print_json};

/// `natter send`: exactly one of text, a voice note or photos/videos.
#[derive(Args)]
pub struct SendArgs {
    /// Username of the person to write to (direct chat).
    #[arg(
        long,
        conflicts_with = "conversation",
        required_unless_present = "conversation"
    )]
    to: Option<String>,
    /// Conversation id (e.g. a group).
    #[arg(long)]
    conversation: Option<Uuid>,
    #[arg(
        long,
        conflicts_with_all = ["voice", "media"],
        required_unless_present_any = ["voice", "media"]
    )]
    text: Option<String>,
    /// A voice note: any Ogg Opus file of at most 60 s (`natter voice record/encode`
    /// make one).
    #[arg(long, conflicts_with = "media")]
    voice: Option<PathBuf>,
    /// Photos to send as one album (at most 9), prepared here first: upright, resized,
    /// without metadata.
    #[arg(long, num_args = 1..)]
    media: Vec<PathBuf>,
    /// The album's caption (at most 1,000 characters).
    #[arg(long, requires = "media")]
    caption: Option<String>,
    /// Keep up to 4096 px on the long edge instead of 2048.
    #[arg(long, requires = "media")]
    hd: bool,
    /// Seconds to keep trying before leaving the message queued.
    #[arg(long, default_value_t = 15)]
    timeout: u64,
    #[arg(long)]
    json: bool,
}

/// `natter messages`.
#[derive(Args)]
pub struct ListArgs {
    /// Username of the other person (direct chat).
    #[arg(
        long,
        conflicts_with = "conversation",
        required_unless_present = "conversation"
    )]
    with: Option<String>,
    #[arg(long)]
    conversation: Option<Uuid>,
    /// How many of the newest messages.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    #[arg(long)]
    json: bool,
}

/// Sends one message and waits (up to `--timeout`) until the server has it.
pub async fn send(client: &Client, args: SendArgs) -> anyhow::Result<()> {
    let SendArgs {
        to,
        conversation,
        text,
        voice,
        media,
        caption,
        hd,
        timeout,
        json,
    } = args;
    // Refused before anything is prepared or uploaded.
    if media.len() > natter_core::protocol::limits::ALBUM_MAX_ITEMS {
        return Err(CoreError::Api(natter_core::protocol::ApiError::new(
            natter_core::protocol::ErrorCode::TooManyItems,
            format!(
                "at most {} photos and videos in one message, not {}",
                natter_core::protocol::limits::ALBUM_MAX_ITEMS,
                media.len()
            ),
        ))
        .into());
    }
    let conv = conversation_for(client, to, conversation).await?;
    let queued = match (text, voice) {
        (Some(text), _) => client.send_text(conv, &text).await?,
        (None, None) if !media.is_empty() => {
            if let Err(e) = client.sync_now().await {
                tracing::info!(error = %e, "could not catch up before sending");
            }
            send_album(client, conv, media, caption.unwrap_or_default(), hd).await?
        }
        (None, Some(path)) => {
            // Whether media may be sent here depends on what the other side wrote:
            // learn it first (offline, the cache decides and the server has the last
            // word).
            if let Err(e) = client.sync_now().await {
                tracing::info!(error = %e, "could not catch up before sending");
            }
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            client.send_voice(conv, bytes, None).await?
        }
        (None, None) => anyhow::bail!("give --text, --voice or --media"),
    };
    client.flush_outbox(Duration::from_secs(timeout)).await?;
    let msg = client
        .message(queued.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the message vanished from the local cache"))?;
    match msg.status {
        MessageStatus::Sending => anyhow::bail!(
            "the server could not be reached; the message stays queued and the next natter command delivers it"
        ),
        MessageStatus::Failed => anyhow::bail!(
            "the server refused the message: {}",
            msg.error.unwrap_or_default()
        ),
        _ if json => print_json(&msg)?,
        _ => println!("sent (#{})", msg.seq.unwrap_or_default()),
    }
    Ok(())
}

/// Catches up, then prints the newest messages and marks them read.
pub async fn list(client: &Client, args: ListArgs) -> anyhow::Result<()> {
    let ListArgs {
        with,
        conversation,
        limit,
        json,
    } = args;
    let conv = match (&with, conversation) {
        // Offline, a cached direct chat still opens.
        (Some(u), None) => match client.account() {
            Some(me) => match client.cache().direct_with(me.id, u).await? {
                Some(id) => id,
                None => conversation_for(client, with, None).await?,
            },
            None => return Err(CoreError::NotSignedIn.into()),
        },
        _ => conversation_for(client, with, conversation).await?,
    };
    if let Err(e) = client.sync_now().await {
        tracing::info!(error = %e, "showing cached messages only");
    }
    flush_quietly(client, 2).await;
    let messages = client.messages(conv, None, limit).await?;
    client.mark_read(conv).await?;
    if json {
        print_json(&messages)?;
    } else {
        for m in &messages {
            println!("{}", human_message(m));
        }
    }
    Ok(())
}

/// Prepares every file, and sends them as one album only when all of them could be
/// prepared (a refused file fails the command before anything is uploaded).
async fn send_album(
    client: &Client,
    conversation: Uuid,
    files: Vec<PathBuf>,
    caption: String,
    hd: bool,
) -> anyhow::Result<MessageView> {
    let inputs = files
        .into_iter()
        .map(natter_core::StageInput::Path)
        .collect();
    let staged = client.stage_media(conversation, inputs, hd).await?;
    let mut refused = None;
    for result in &staged {
        if let Some(e) = &result.error {
            eprintln!("{}: {} ({})", result.name, e.message, e.code);
            refused.get_or_insert_with(|| e.clone());
        }
    }
    if let Some(e) = refused {
        for item in staged.iter().filter_map(|r| r.item.as_ref()) {
            client.unstage(item.id).await?;
        }
        return Err(CoreError::Api(e).into());
    }
    let drafts = staged
        .iter()
        .filter_map(|r| r.item.as_ref())
        .map(|item| natter_core::AlbumItemDraft {
            staged_id: item.id,
            edits: Default::default(),
            video: None,
        })
        .collect();
    Ok(client
        .send_album(conversation, drafts, &caption, hd)
        .await?)
}

async fn conversation_for(
    client: &Client,
    username: Option<String>,
    id: Option<Uuid>,
) -> anyhow::Result<Uuid> {
    match (username, id) {
        (_, Some(id)) => Ok(id),
        (Some(u), None) => Ok(client.open_direct(&u).await?.id),
        (None, None) => anyhow::bail!("name a user or a conversation"),
    }
}

pub(crate) fn human_message(m: &MessageView) -> String {
    let at = chrono::DateTime::from_timestamp_millis(m.sent_at)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default();
    let status = if m.mine {
        format!(
            " [{}]",
            serde_json::to_value(m.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        )
    } else {
        String::new()
    };
    if let Some(event) = &m.event {
        use natter_core::protocol::GroupEvent;
        let line = match event {
            GroupEvent::Left { username, .. } => format!("{username} left"),
            GroupEvent::Removed { username, .. } => format!("{} removed {username}", m.sender),
            GroupEvent::Renamed { name } => format!("{} renamed the group to {name:?}", m.sender),
        };
        return format!("{at} -- {line}");
    }
    if m.blocked_sender {
        return format!("{at} [message from someone you blocked]");
    }
    let body = match &m.voice {
        Some(v) => format!(
            "[voice note {}:{:02}{}]",
            v.duration_ms / 60_000,
            (v.duration_ms / 1000) % 60,
            if v.played { ", played" } else { "" }
        ),
        None => m.text.clone(),
    };
    format!("{at} {}: {body}{status}", m.sender)
}
