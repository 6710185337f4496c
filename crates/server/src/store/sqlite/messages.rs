//! Storing sent messages: one writer task commits whatever messages are waiting together
//! (group commit).
//!
//! With `synchronous=FULL` every commit waits for the disk, and the file has one writer, so
//! one transaction per message caps a busy server at the disk's commit rate and makes every
//! sender queue behind every other's fsync. The writer task instead takes all messages queued
//! while the last batch committed (at most [`MAX_BATCH`]) and stores them in one `IMMEDIATE`
//! transaction, each inside its own savepoint: a message refused by a rule (not a member, an id
//! reused, media not the sender's) is rolled back alone and answered with its error, the others
//! commit. Nobody is answered before the commit that stores their message has returned, so an
//! acknowledged message is on disk exactly as before. If the commit itself fails, every
//! message of the batch is answered `internal` and none is stored (the client's outbox
//! retries; ids make that idempotent).

use anyhow::Context as _;
use natter_protocol::{ErrorCode, Message};
use sqlx::{Connection as _, Row, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{album, message_row, MESSAGE_SELECT};
use crate::error::{Error, Result};
use crate::store::{resend_outcome, NewMessage, Outcome};

/// The most messages stored in one transaction: enough to amortise the fsync many times over,
/// few enough that the first sender of a batch does not wait long for the last.
pub(super) const MAX_BATCH: usize = 64;

/// Messages waiting for the writer task; more wait on the channel's capacity (back-pressure on
/// the requests, never an unbounded queue).
const QUEUE: usize = 1024;

/// A message waiting to be stored, and where its outcome goes.
pub(super) struct Queued {
    message: NewMessage,
    reply: oneshot::Sender<Result<Outcome<Message>>>,
}

/// The handle requests use to have a message stored.
#[derive(Clone)]
pub(super) struct Inserts(mpsc::Sender<Queued>);

impl Inserts {
    /// Starts the writer task on `writer` (the store's one write connection). It ends when the
    /// last handle is dropped.
    pub(super) fn start(writer: SqlitePool) -> Self {
        let (send, queue) = mpsc::channel(QUEUE);
        tokio::spawn(write_loop(writer, queue));
        Self(send)
    }

    /// Stores `message` (or finds it already stored) and answers once it is committed.
    pub(super) async fn insert(&self, message: NewMessage) -> Result<Outcome<Message>> {
        let (reply, answer) = oneshot::channel();
        self.0
            .send(Queued { message, reply })
            .await
            .map_err(|_| Error::internal(anyhow::anyhow!("the message writer has stopped")))?;
        answer.await.map_err(|_| {
            Error::internal(anyhow::anyhow!(
                "the message writer stopped before answering"
            ))
        })?
    }
}

async fn write_loop(writer: SqlitePool, mut queue: mpsc::Receiver<Queued>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        store_batch(&writer, &mut batch).await;
        batch.clear();
    }
}

/// Stores `batch` in one transaction and answers every message in it.
async fn store_batch(writer: &SqlitePool, batch: &mut Vec<Queued>) {
    let mut outcomes = Vec::with_capacity(batch.len());
    let committed = async {
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
        for queued in batch.iter() {
            let mut savepoint = tx.begin().await?;
            let outcome = insert_one(&mut savepoint, &queued.message).await;
            match outcome {
                Ok(_) => savepoint.commit().await?,
                Err(_) => savepoint.rollback().await?,
            }
            outcomes.push(outcome);
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(())
    }
    .await;
    match committed {
        Ok(()) => {
            tracing::debug!(messages = batch.len(), "batch of messages committed");
            for (queued, outcome) in batch.drain(..).zip(outcomes) {
                // A sender that went away meanwhile re-sends the same id and is answered from
                // the stored copy.
                let _ = queued.reply.send(outcome);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, messages = batch.len(), "storing a batch of messages failed; none was stored");
            for queued in batch.drain(..) {
                let _ = queued.reply.send(Err(Error::internal(
                    anyhow::anyhow!("{e}").context("storing the message"),
                )));
            }
        }
    }
}

/// Stores one message inside the batch's transaction; an error leaves the savepoint to be
/// rolled back by the caller.
async fn insert_one(conn: &mut SqliteConnection, message: &NewMessage) -> Result<Outcome<Message>> {
    let conversation_id = message.conversation_id.to_string();
    let sender_id = message.sender_id.to_string();
    let id = message.id.to_string();
    // Membership, the sender's name and whether this id is already stored, in one query.
    let Some(facts) = sqlx::query(
        "
        SELECT u.username, EXISTS (SELECT 1 FROM messages WHERE id = ?3) AS stored
        FROM members AS mb JOIN users AS u ON u.id = mb.user_id
        WHERE mb.conversation_id = ?1 AND mb.user_id = ?2",
    )
    .bind(&conversation_id)
    .bind(&sender_id)
    .bind(&id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Err(Error::conversation_not_found());
    };
    let by_id = format!("{MESSAGE_SELECT} WHERE m.id = ?1");
    if facts.try_get::<bool, _>("stored")? {
        let row = sqlx::query(&by_id).bind(&id).fetch_one(&mut *conn).await?;
        let mut stored = [message_row(&row)?];
        album::fill_albums(conn, &mut stored).await?;
        let [stored] = stored;
        return resend_outcome(stored, message);
    }
    if let Some(voice) = &message.voice {
        let owned = sqlx::query("SELECT 1 FROM media WHERE id = ?1 AND owner_id = ?2")
            .bind(voice.media_id.to_string())
            .bind(&sender_id)
            .fetch_optional(&mut *conn)
            .await?;
        if owned.is_none() {
            return Err(Error::api(
                ErrorCode::MediaNotFound,
                "upload the voice note before sending it",
            ));
        }
    }
    let seq: i64 = sqlx::query(
        "
        UPDATE conversations
        SET last_seq = last_seq + 1, last_activity_at = ?2
        WHERE id = ?1
        RETURNING last_seq",
    )
    .bind(&conversation_id)
    .bind(message.sent_at)
    .fetch_one(&mut *conn)
    .await?
    .try_get("last_seq")?;
    sqlx::query(
        "
        INSERT INTO messages (id, conversation_id, seq, sender_id, text, sent_at,
            voice_media_id, voice_waveform)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .bind(&id)
    .bind(&conversation_id)
    .bind(seq)
    .bind(&sender_id)
    .bind(&message.text)
    .bind(message.sent_at)
    .bind(message.voice.as_ref().map(|v| v.media_id.to_string()))
    .bind(message.voice.as_ref().map(|v| v.waveform.clone()))
    .execute(&mut *conn)
    .await?;
    album::insert_album(conn, message.id, message.sender_id, &message.media).await?;
    // The sender has delivered and read up to their own message; writing accepts a request;
    // and a new message brings a deleted request back to every member's list.
    sqlx::query(
        "
        UPDATE members
        SET hidden = 0,
            accepted = CASE WHEN user_id = ?2 THEN 1 ELSE accepted END,
            delivered_seq = CASE WHEN user_id = ?2 THEN max(delivered_seq, ?3)
                ELSE delivered_seq END,
            read_seq = CASE WHEN user_id = ?2 THEN max(read_seq, ?3) ELSE read_seq END
        WHERE conversation_id = ?1 AND (user_id = ?2 OR hidden = 1)",
    )
    .bind(&conversation_id)
    .bind(&sender_id)
    .bind(seq)
    .execute(&mut *conn)
    .await?;
    if message.voice.is_none() && message.media.is_empty() {
        // A text: everything it holds is known, no need to read it back.
        return Ok(Outcome::Created(Message {
            id: message.id,
            conversation_id: message.conversation_id,
            seq,
            sender_id: message.sender_id,
            sender: facts.try_get("username")?,
            text: message.text.clone(),
            sent_at: message.sent_at,
            voice: None,
            played_by: Vec::new(),
            media: Vec::new(),
        }));
    }
    // Voice notes and albums carry what the store measured (duration, size, dimensions).
    let row = sqlx::query(&by_id)
        .bind(&id)
        .fetch_one(&mut *conn)
        .await
        .context("reading back the stored message")?;
    let mut stored = [message_row(&row)?];
    album::fill_albums(conn, &mut stored).await?;
    let [stored] = stored;
    Ok(Outcome::Created(stored))
}
