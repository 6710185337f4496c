//! Sending messages, reading history, receipts.

use axum::extract::State;
use axum::http::StatusCode;
use natter_protocol::limits::{PAGE_DEFAULT, PAGE_MAX};
use natter_protocol::{
    policy, validate, ApiError, ErrorCode, HistoryQuery, Message, PlayedMark, PlayedQuery,
    ReceiptRequest, SendMessageRequest, ServerEvent,
};
use uuid::Uuid;

use super::safety;
use crate::auth::DmUser;
use crate::error::{Error, Result};
use crate::extract::{Json, Path, Query};
use crate::state::{now_ms, AppState};
use crate::store::{HistoryPage, NewMessage, Outcome, SendFacts};

/// Send a message. Re-sending the same id returns the stored message (200) instead of a
/// duplicate.
#[utoipa::path(
    post, path = "/v1/conversations/{id}/messages", tag = "messages",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Conversation id")),
    request_body = SendMessageRequest,
    responses(
        (status = 201, description = "Stored with its sequence number", body = Message),
        (status = 200, description = "Already stored (idempotent re-send)", body = Message),
        (status = 404, description = "conversation_not_found", body = ApiError),
        (status = 409, description = "id_conflict", body = ApiError),
        (status = 403, description = "media_not_allowed_first_message, media_requires_accepted_request, blocked, invitation_pending", body = ApiError),
        (status = 429, description = "rate_limited (Retry-After says when to try again)", body = ApiError),
        (status = 404, description = "media_not_found: a voice note, photo, video or thumbnail was not uploaded by the sender", body = ApiError),
        (status = 422, description = "invalid_text, invalid_message_id, invalid_voice, too_many_items, invalid_image (a thumbnail too large)", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id, conversation_id = %id))]
pub async fn send_message(
    State(state): State<AppState>,
    user: DmUser,
    Path(id): Path<Uuid>,
    Json(req): Json<SendMessageRequest>,
) -> Result<(StatusCode, Json<Message>)> {
    // Membership before anything else: a non-member learns nothing from validation errors.
    // What the rules below need is read in one go.
    let Some(known) = state.store.send_facts(id, user.id).await? else {
        return Err(Error::conversation_not_found());
    };
    if known.sender_invited {
        return Err(Error::api(
            ErrorCode::InvitationPending,
            "accept the invitation to write in this group",
        ));
    }
    validate::message_id(req.id)?;
    validate::message_content(&req.text, req.voice.as_ref(), &req.media)?;
    // Nothing between two people when one blocked the other; media never starts a
    // conversation, nor goes to someone who has not accepted the request or written back.
    let content = if req.voice.is_some() || !req.media.is_empty() {
        policy::Content::Media
    } else {
        policy::Content::Text
    };
    policy::content_rule(content, known.facts)?;
    let outcome = state
        .store
        .insert_message(NewMessage {
            id: req.id,
            conversation_id: id,
            sender_id: user.id,
            text: req.text,
            voice: req.voice,
            media: req.media,
            sent_at: now_ms(),
            rate: Some(safety::message_window(&state)),
        })
        .await?;
    match outcome {
        Outcome::Created(message) => {
            tracing::info!(message_id = %message.id, seq = message.seq, "message stored");
            state.metrics.message_stored();
            deliver(&state, &known, &message).await;
            Ok((StatusCode::CREATED, Json(message)))
        }
        Outcome::Existing(message) => {
            tracing::info!(message_id = %message.id, "idempotent re-send");
            Ok((StatusCode::OK, Json(message)))
        }
    }
}

/// Sends a new message to every member as they may read it (`policy::reader_copy`): whole
/// to most, without its content to members who blocked the sender ("message from someone
/// you blocked") and, for a photo, video or voice note, to those only invited to the group.
async fn deliver(state: &AppState, known: &SendFacts, message: &Message) {
    let reader_of = |id: &Uuid| policy::Reader {
        invited: known.invited.contains(id),
        blocked_sender: known.blockers.contains(id),
    };
    let mut groups: Vec<(policy::Reader, Vec<Uuid>)> = Vec::new();
    for id in &known.members {
        let reader = reader_of(id);
        match groups.iter_mut().find(|(r, _)| *r == reader) {
            Some((_, ids)) => ids.push(*id),
            None => groups.push((reader, vec![*id])),
        }
    }
    for (reader, ids) in groups {
        let message = policy::reader_copy(reader, message);
        state
            .bus
            .publish(&ids, ServerEvent::Message { message })
            .await;
    }
}

/// Sends a line the server wrote about a group ("X left") to `members`: every member
/// reads it whole.
pub(super) async fn deliver_line(state: &AppState, members: &[Uuid], line: Message) {
    state
        .bus
        .publish(members, ServerEvent::Message { message: line })
        .await;
}

/// A page of history, oldest first.
#[utoipa::path(
    get, path = "/v1/conversations/{id}/messages", tag = "messages",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Conversation id"), HistoryQuery),
    responses(
        (status = 200, description = "Messages, oldest first", body = Vec<Message>),
        (status = 404, description = "conversation_not_found", body = ApiError),
    )
)]
pub async fn history(
    State(state): State<AppState>,
    user: DmUser,
    Path(id): Path<Uuid>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<Vec<Message>>> {
    let Some(membership) = state.store.membership(id, user.id).await? else {
        return Err(Error::conversation_not_found());
    };
    let messages = state.store.history(id, page(&query)).await?;
    // Each message as this reader may read it: nothing from people they blocked, no media
    // before they accept a group's invitation.
    let blocked: Vec<Uuid> = state
        .store
        .blocked_by(user.id)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect();
    let invited = membership.invited();
    Ok(Json(
        messages
            .iter()
            .map(|m| {
                let reader = policy::Reader {
                    invited,
                    blocked_sender: blocked.contains(&m.sender_id),
                };
                policy::reader_copy(reader, m)
            })
            .collect(),
    ))
}

fn page(query: &HistoryQuery) -> HistoryPage {
    let limit = query.limit.unwrap_or(PAGE_DEFAULT).min(PAGE_MAX);
    let after_seq = query.after_seq.unwrap_or(0);
    match (query.after_seq, query.before_seq) {
        (Some(_), None) => HistoryPage::After { after_seq, limit },
        (_, before) => HistoryPage::Before {
            after_seq,
            before_seq: before.unwrap_or(i64::MAX),
            limit,
        },
    }
}

/// Record that the caller has stored or seen everything up to a sequence number.
#[utoipa::path(
    post, path = "/v1/conversations/{id}/receipts", tag = "messages",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Conversation id")),
    request_body = ReceiptRequest,
    responses(
        (status = 204, description = "Recorded (or already further)"),
        (status = 404, description = "conversation_not_found", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id, conversation_id = %id))]
pub async fn post_receipt(
    State(state): State<AppState>,
    user: DmUser,
    Path(id): Path<Uuid>,
    Json(req): Json<ReceiptRequest>,
) -> Result<StatusCode> {
    let Some(membership) = state.store.membership(id, user.id).await? else {
        return Err(Error::conversation_not_found());
    };
    if membership.invited() {
        // An invitee has not joined: the members learn nothing of what they have seen, as
        // a message request sends no read receipts. Their app's receipts are dropped.
        return Ok(StatusCode::NO_CONTENT);
    }
    let members = membership.members;
    let moved = state
        .store
        .update_receipt(id, user.id, req.kind, req.up_to_seq)
        .await?;
    for (kind, up_to_seq) in moved {
        state
            .bus
            .publish(
                &members,
                ServerEvent::Receipt {
                    conversation_id: id,
                    user_id: user.id,
                    kind,
                    up_to_seq,
                },
            )
            .await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Record that the caller played a voice note; members see it as played.
#[utoipa::path(
    post, path = "/v1/conversations/{id}/messages/{message_id}/played", tag = "messages",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "Conversation id"),
        ("message_id" = Uuid, Path, description = "The voice note's message id"),
    ),
    responses(
        (status = 204, description = "Recorded (or already recorded)"),
        (status = 404, description = "conversation_not_found", body = ApiError),
        (status = 422, description = "bad_request: not a voice note of this conversation", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id, conversation_id = %id))]
pub async fn post_played(
    State(state): State<AppState>,
    user: DmUser,
    Path((id, message_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode> {
    // An invitee never had the voice note: answered as for an outsider.
    let Some(membership) = state
        .store
        .membership(id, user.id)
        .await?
        .filter(|m| !m.invited())
    else {
        return Err(Error::conversation_not_found());
    };
    let members = membership.members;
    if state
        .store
        .mark_played(id, message_id, user.id, now_ms())
        .await?
    {
        state
            .bus
            .publish(
                &members,
                ServerEvent::Played {
                    conversation_id: id,
                    message_id,
                    user_id: user.id,
                },
            )
            .await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Most played marks in one answer to `GET /v1/played`.
pub const PLAYED_PAGE: u32 = 1000;

/// Played marks since a time, for a client catching up after being away. Page by passing
/// the last `played_at` seen as `since` (marks at that same instant come again; applying a
/// mark twice changes nothing).
#[utoipa::path(
    get, path = "/v1/played", tag = "messages",
    security(("bearer" = [])),
    params(PlayedQuery),
    responses((status = 200, description = "Marks, oldest first (at most 1,000)", body = Vec<PlayedMark>))
)]
pub async fn played_since(
    State(state): State<AppState>,
    user: DmUser,
    Query(query): Query<PlayedQuery>,
) -> Result<Json<Vec<PlayedMark>>> {
    let since = query.since.unwrap_or(0);
    Ok(Json(
        state
            .store
            .played_since(user.id, since, PLAYED_PAGE)
            .await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_pages_follow_the_query() {
        let q = |after_seq, before_seq, limit| HistoryQuery {
            after_seq,
            before_seq,
            limit,
        };
        assert_eq!(
            page(&q(Some(5), None, None)),
            HistoryPage::After {
                after_seq: 5,
                limit: PAGE_DEFAULT
            }
        );
        assert_eq!(
            page(&q(None, None, Some(PAGE_MAX + 1))),
            HistoryPage::Before {
                after_seq: 0,
                before_seq: i64::MAX,
                limit: PAGE_MAX
            }
        );
        assert_eq!(
            page(&q(Some(2), Some(9), Some(3))),
            HistoryPage::Before {
                after_seq: 2,
                before_seq: 9,
                limit: 3
            }
        );
    }
}
