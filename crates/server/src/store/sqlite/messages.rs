//! Storing sent messages: one writer task commits whatever messages are waiting together
//! (group commit), on a thread of its own.
//!
//! With `synchronous=FULL` every commit waits for the disk, and the file has one writer, so
//! one transaction per message caps a busy server at the disk's commit rate and makes every
//! sender queue behind every other's fsync. The writer task instead takes all messages queued
//! while the last batch committed (at most [`MAX_BATCH`]) and stores them in one `IMMEDIATE`
//! transaction. A message refused by a rule (not a member, an id reused, media not the
//! sender's) is refused by reads before any of its writes, so it leaves nothing behind and is
//! answered with its error while the others commit; one that fails half-way through its writes
//! has the batch stored again with a savepoint per message ([`store_batch`]). Nobody is answered before the commit that stores their message has returned, so an
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
    /// Starts the writer task on `writer` (the store's one write connection), on a thread of
    /// its own. It ends when the last handle is dropped.
    ///
    /// Why not on the server's runtime: a batch is some hundreds of statements, each a round
    /// trip to the connection's SQLite thread, and every answer wakes the writer task from
    /// outside the runtime. On the busy runtime that wake-up waits in the shared queue behind
    /// thousands of socket and request tasks, so the writer spent most of its time waiting to
    /// be polled, not writing: at 1,500 messages/s it used a fifth of a core while the queue
    /// of senders grew by seconds. Its own single-threaded runtime polls it at once.
    pub(super) fn start(writer: SqlitePool) -> std::io::Result<Self> {
        let (send, queue) = mpsc::channel(QUEUE);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("natter-msg-writer".into())
            .spawn(move || runtime.block_on(write_loop(writer, queue)))?;
        Ok(Self(send))
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
///
/// First without savepoints: every rule that can refuse a message is checked by reads before
/// its first write ([`check`]), so a refusal leaves nothing to undo, and the savepoint pair
/// would be two more round trips to the SQLite thread per message for nothing. Only when a
/// write itself fails half-way (a constraint, the disk) is that pass rolled back as a whole and
/// the batch stored again with a savepoint per message, which undoes the failed one alone.
async fn store_batch(writer: &SqlitePool, batch: &mut Vec<Queued>) {
    let committed = match store_all(writer, batch).await {
        Ok(Some(outcomes)) => Ok(outcomes),
        Ok(None) => store_each(writer, batch).await,
        Err(e) => Err(e),
    };
    match committed {
        Ok(outcomes) => {
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

/// The fast pass: the whole batch in one transaction without savepoints. `None` when a
/// message failed after writing (the transaction is rolled back; nothing is answered yet).
async fn store_all(
    writer: &SqlitePool,
    batch: &[Queued],
) -> sqlx::Result<Option<Vec<Result<Outcome<Message>>>>> {
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    for queued in batch {
        match insert_one(&mut tx, &queued.message).await {
            Stored::Answer(outcome) => outcomes.push(outcome),
            Stored::Torn(e) => {
                tracing::warn!(message_id = %queued.message.id, error = %e,
                    "a message failed after writing; storing its batch one savepoint each");
                tx.rollback().await?;
                return Ok(None);
            }
        }
    }
    tx.commit().await?;
    Ok(Some(outcomes))
}

/// The careful pass: one transaction with a savepoint per message, so a message that fails
/// half-way is rolled back alone and answered with its error, the others commit.
async fn store_each(
    writer: &SqlitePool,
    batch: &[Queued],
) -> sqlx::Result<Vec<Result<Outcome<Message>>>> {
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    for queued in batch {
        let mut savepoint = tx.begin().await?;
        let outcome = match insert_one(&mut savepoint, &queued.message).await {
            Stored::Answer(outcome) => outcome,
            Stored::Torn(e) => Err(e),
        };
        match outcome {
            Ok(_) => savepoint.commit().await?,
            Err(_) => savepoint.rollback().await?,
        }
        outcomes.push(outcome);
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// What storing one message inside a batch's transaction came to. Lives for one message
/// and is moved once into the answer: boxing the message would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Stored {
    /// Stored, found already stored, or refused before anything of it was written.
    Answer(Result<Outcome<Message>>),
    /// Failed after some of its rows were written: only a rollback undoes it.
    Torn(Error),
}

/// Stores one message inside the batch's transaction: every check first, then the writes.
async fn insert_one(conn: &mut SqliteConnection, message: &NewMessage) -> Stored {
    match check(conn, message).await {
        Ok(Checked::New { sender }) => match write(conn, message, sender).await {
            Ok(stored) => Stored::Answer(Ok(Outcome::Created(stored))),
            Err(e) => Stored::Torn(e),
        },
        Ok(Checked::Existing(outcome)) => Stored::Answer(outcome),
        Err(e) => Stored::Answer(Err(e)),
    }
}

#[allow(clippy::large_enum_variant)] // as `Stored`: short-lived, moved once
enum Checked {
    /// Not stored yet, and every rule lets it be: the sender's username.
    New { sender: String },
    /// Already stored under this id: the answer to the re-send.
    Existing(Result<Outcome<Message>>),
}

/// Every rule that can refuse the message, by reads only.
async fn check(conn: &mut SqliteConnection, message: &NewMessage) -> Result<Checked> {
    let sender_id = message.sender_id.to_string();
    let id = message.id.to_string();
    // Membership, the sender's name and whether this id is already stored, in one query.
    let Some(facts) = sqlx::query(
        "
        SELECT u.username, EXISTS (SELECT 1 FROM messages WHERE id = ?3) AS stored
        FROM members AS mb JOIN users AS u ON u.id = mb.user_id
        WHERE mb.conversation_id = ?1 AND mb.user_id = ?2",
    )
    .bind(message.conversation_id.to_string())
    .bind(&sender_id)
    .bind(&id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Err(Error::conversation_not_found());
    };
    if facts.try_get::<bool, _>("stored")? {
        let stored = read_back(conn, &id).await?;
        return Ok(Checked::Existing(resend_outcome(stored, message)));
    }
    if let Some(window) = message.rate {
        // Inside the batch's transaction on the file's one writer: every message of the
        // sender committed before, or stored earlier in this batch, is counted.
        let times: Vec<i64> = sqlx::query_scalar(
            "SELECT sent_at FROM messages WHERE sender_id = ?1 AND sent_at >= ?2
             ORDER BY sent_at",
        )
        .bind(&sender_id)
        .bind(window.start(message.sent_at))
        .fetch_all(&mut *conn)
        .await?;
        if let Some(wait) = window.wait(&times, message.sent_at) {
            tracing::warn!(user_id = %message.sender_id, sent = times.len(), "message rate limit reached");
            return Err(crate::rate::messages_too_fast(wait).into());
        }
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
    album::check_album(conn, message.sender_id, &message.media).await?;
    Ok(Checked::New {
        sender: facts.try_get("username")?,
    })
}

/// Writes a checked message: its place in the conversation, its row, its album, and the
/// members it affects.
async fn write(
    conn: &mut SqliteConnection,
    message: &NewMessage,
    sender: String,
) -> Result<Message> {
    let conversation_id = message.conversation_id.to_string();
    let sender_id = message.sender_id.to_string();
    let id = message.id.to_string();
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
    album::insert_album(conn, message.id, &message.media).await?;
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
        return Ok(Message {
            id: message.id,
            conversation_id: message.conversation_id,
            seq,
            sender_id: message.sender_id,
            sender,
            text: message.text.clone(),
            sent_at: message.sent_at,
            voice: None,
            played_by: Vec::new(),
            media: Vec::new(),
            withheld: None,
            event: None,
        });
    }
    // Voice notes and albums carry what the store measured (duration, size, dimensions).
    read_back(conn, &id).await
}

/// A stored message as members see it, with its album.
async fn read_back(conn: &mut SqliteConnection, id: &str) -> Result<Message> {
    let row = sqlx::query(&format!("{MESSAGE_SELECT} WHERE m.id = ?1"))
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .context("reading back the stored message")?;
    let mut stored = [message_row(&row)?];
    album::fill_albums(conn, &mut stored).await?;
    let [stored] = stored;
    Ok(stored)
}
