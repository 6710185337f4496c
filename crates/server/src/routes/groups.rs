//! Groups: creating one, inviting, leaving, removing members and renaming (the creator is
//! the admin). Being added to a group is an invitation, as a stranger's first direct
//! message is a request: the invitee gets the group's texts, none of its photos, videos or
//! voice notes, until they accept (`POST …/accept`) or decline (`POST …/delete`); inviting
//! a stranger counts against the daily limit of new conversations; nobody can invite
//! someone they blocked or who blocked them, nor anyone under 16 (who does not exist for
//! anyone else).

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use natter_protocol::limits::GROUP_MAX_MEMBERS;
use natter_protocol::{
    validate, AddMemberRequest, ApiError, Conversation, ConversationKind, CreateGroupRequest,
    ErrorCode, GroupEvent, RenameGroupRequest,
};
use uuid::Uuid;

use super::accounts::find_user;
use super::conversations::announce;
use super::messages::deliver_line;
use super::safety::{check_invitation_rate, check_may_invite};
use crate::auth::DmUser;
use crate::error::{Error, Result};
use crate::extract::{Json, Path};
use crate::state::{now_ms, AppState};
use crate::store::{Membership, NewGroup};

fn group_full() -> Error {
    Error::api(
        ErrorCode::GroupFull,
        format!("a group has at most {GROUP_MAX_MEMBERS} members"),
    )
}

fn admin_only(what: &str) -> Error {
    Error::api(
        ErrorCode::NotGroupCreator,
        format!("only the group's admin (its creator) may {what}"),
    )
}

/// The caller's group: `conversation_not_found` for non-members, `wrong_conversation_kind`
/// for a direct conversation.
async fn group_of(state: &AppState, id: Uuid, user: Uuid) -> Result<Membership> {
    let membership = state
        .store
        .membership(id, user)
        .await?
        .ok_or_else(Error::conversation_not_found)?;
    if membership.kind != ConversationKind::Group {
        return Err(Error::api(
            ErrorCode::WrongConversationKind,
            "only a group has members to invite, remove or leave, and a name to change",
        ));
    }
    Ok(membership)
}

/// Create a group with the caller as its admin; everyone named is invited.
#[utoipa::path(
    post, path = "/v1/conversations/group", tag = "conversations",
    security(("bearer" = [])),
    request_body = CreateGroupRequest,
    responses(
        (status = 201, description = "The new group; the others are invited (accepted = false)", body = Conversation),
        (status = 403, description = "cannot_invite: one of them cannot be added (the same answer whatever the reason)", body = ApiError),
        (status = 404, description = "user_not_found", body = ApiError),
        (status = 422, description = "invalid_group_name, group_full", body = ApiError),
        (status = 429, description = "rate_limited: inviting that many strangers passes the daily limit of new conversations; nobody is added", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn create_group(
    State(state): State<AppState>,
    user: DmUser,
    Json(req): Json<CreateGroupRequest>,
) -> Result<(StatusCode, Json<Conversation>)> {
    let name = validate::group_name(&req.name)?;
    // Dedupe by canonical name first, so a long list of repeats costs nothing.
    let mut names = BTreeSet::new();
    for raw in &req.members {
        names.insert(validate::username(raw).map_err(|_| Error::user_not_found(raw))?);
    }
    // Even if the creator named themself, more names than the limit cannot fit.
    if names.len() > GROUP_MAX_MEMBERS {
        return Err(group_full());
    }
    let mut member_ids = Vec::with_capacity(names.len());
    for name in &names {
        let member = find_user(&state, name).await?;
        if member.id != user.id && !member_ids.contains(&member.id) {
            member_ids.push(member.id);
        }
    }
    if member_ids.len() + 1 > GROUP_MAX_MEMBERS {
        return Err(group_full());
    }
    check_may_invite(&state, user.id, &member_ids).await?;
    let counted = state.store.strangers(user.id, &member_ids).await?;
    check_invitation_rate(&state, user.id, counted.len()).await?;
    let conversation = state
        .store
        .create_group(NewGroup {
            id: Uuid::now_v7(),
            name,
            creator_id: user.id,
            member_ids,
            counted,
            created_at: now_ms(),
        })
        .await?;
    tracing::info!(conversation_id = %conversation.id, "group created");
    announce(&state, &conversation).await;
    Ok((StatusCode::CREATED, Json(conversation)))
}

/// Invite someone to a group (its admin only).
#[utoipa::path(
    post, path = "/v1/conversations/{id}/members", tag = "conversations",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Conversation id")),
    request_body = AddMemberRequest,
    responses(
        (status = 200, description = "The group with the invitee (accepted = false)", body = Conversation),
        (status = 403, description = "not_group_creator, cannot_invite", body = ApiError),
        (status = 404, description = "conversation_not_found, user_not_found", body = ApiError),
        (status = 422, description = "wrong_conversation_kind, group_full", body = ApiError),
        (status = 429, description = "rate_limited (a stranger counts as a new conversation)", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id, conversation_id = %id))]
pub async fn add_member(
    State(state): State<AppState>,
    user: DmUser,
    Path(id): Path<Uuid>,
    Json(req): Json<AddMemberRequest>,
) -> Result<Json<Conversation>> {
    // Non-members learn nothing, not even whether the user they named exists.
    let group = group_of(&state, id, user.id).await?;
    if group.creator_id != user.id {
        return Err(admin_only("add members"));
    }
    let member = find_user(&state, &req.username).await?;
    let new = !group.members.contains(&member.id);
    let counted = if new {
        check_may_invite(&state, user.id, &[member.id]).await?;
        let counted = !state
            .store
            .strangers(user.id, &[member.id])
            .await?
            .is_empty();
        check_invitation_rate(&state, user.id, usize::from(counted)).await?;
        counted
    } else {
        false
    };
    let outcome = state
        .store
        .add_member(id, user.id, member.id, now_ms(), counted)
        .await?;
    let created = outcome.is_created();
    let conversation = outcome.into_inner();
    if created {
        tracing::info!(member_id = %member.id, "member invited");
        announce(&state, &conversation).await;
    }
    Ok(Json(conversation))
}

/// Takes `user_id` out and tells everyone concerned: the members left see the line, the
/// one who went gets the group without them (their app drops it).
async fn take_out(
    state: &AppState,
    id: Uuid,
    user_id: Uuid,
    actor_id: Uuid,
    event: Option<GroupEvent>,
) -> Result<Conversation> {
    let (conversation, line) = state
        .store
        .remove_member(id, user_id, actor_id, event, now_ms())
        .await?
        .ok_or_else(Error::conversation_not_found)?;
    let mut told: Vec<Uuid> = conversation.members.iter().map(|m| m.user_id).collect();
    if let Some(line) = line {
        deliver_line(state, &told, line).await;
    }
    told.push(user_id);
    state
        .bus
        .publish(
            &told,
            natter_protocol::ServerEvent::Conversation {
                conversation: conversation.clone(),
            },
        )
        .await;
    Ok(conversation)
}

/// Leave a group: nothing more reaches the caller, and the others see "X left". Whoever is
/// only invited declines this way too (or with `POST …/delete`), and nobody sees a line.
#[utoipa::path(
    post, path = "/v1/conversations/{id}/leave", tag = "conversations",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Conversation id")),
    responses(
        (status = 204, description = "Out of the group"),
        (status = 404, description = "conversation_not_found", body = ApiError),
        (status = 422, description = "wrong_conversation_kind", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id, conversation_id = %id))]
pub async fn leave(
    State(state): State<AppState>,
    user: DmUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode> {
    let group = group_of(&state, id, user.id).await?;
    decline_or_leave(&state, id, user.id, &group).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An invitee declines (no line: they never joined); a member leaves ("X left").
pub(super) async fn decline_or_leave(
    state: &AppState,
    id: Uuid,
    user_id: Uuid,
    group: &Membership,
) -> Result<()> {
    let event = if group.invited() {
        None
    } else {
        let me = state
            .store
            .account(user_id)
            .await?
            .ok_or_else(Error::unauthenticated)?;
        Some(GroupEvent::Left {
            user_id,
            username: me.username,
        })
    };
    take_out(state, id, user_id, user_id, event).await?;
    tracing::info!(declined = group.invited(), "out of the group");
    Ok(())
}

/// Remove a member or invitee (the admin only); the others see "admin removed X".
#[utoipa::path(
    delete, path = "/v1/conversations/{id}/members/{username}", tag = "conversations",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "Conversation id"),
        ("username" = String, Path, description = "Username, any case"),
    ),
    responses(
        (status = 200, description = "The group without them", body = Conversation),
        (status = 403, description = "not_group_creator", body = ApiError),
        (status = 404, description = "conversation_not_found, user_not_found (also when they are not in the group)", body = ApiError),
        (status = 422, description = "wrong_conversation_kind, cannot_message_self (leave instead)", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id, conversation_id = %id))]
pub async fn remove_member(
    State(state): State<AppState>,
    user: DmUser,
    Path((id, username)): Path<(Uuid, String)>,
) -> Result<Json<Conversation>> {
    let group = group_of(&state, id, user.id).await?;
    if group.creator_id != user.id {
        return Err(admin_only("remove members"));
    }
    let Ok(canonical) = validate::username(&username) else {
        return Err(Error::user_not_found(&username));
    };
    let member = state
        .store
        .user_by_username(&canonical)
        .await?
        .filter(|u| group.members.contains(&u.id))
        .ok_or_else(|| Error::user_not_found(&canonical))?;
    if member.id == user.id {
        return Err(Error::api(
            ErrorCode::CannotMessageSelf,
            "you cannot remove yourself: leave the group instead",
        ));
    }
    let event = GroupEvent::Removed {
        user_id: member.id,
        username: member.username.clone(),
    };
    let conversation = take_out(&state, id, member.id, user.id, Some(event)).await?;
    tracing::info!(member_id = %member.id, "member removed");
    Ok(Json(conversation))
}

/// Rename a group (the admin only); the members see the line.
#[utoipa::path(
    patch, path = "/v1/conversations/{id}", tag = "conversations",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Conversation id")),
    request_body = RenameGroupRequest,
    responses(
        (status = 200, description = "The renamed group", body = Conversation),
        (status = 403, description = "not_group_creator", body = ApiError),
        (status = 404, description = "conversation_not_found", body = ApiError),
        (status = 422, description = "wrong_conversation_kind, invalid_group_name", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id, conversation_id = %id))]
pub async fn rename(
    State(state): State<AppState>,
    user: DmUser,
    Path(id): Path<Uuid>,
    Json(req): Json<RenameGroupRequest>,
) -> Result<Json<Conversation>> {
    let group = group_of(&state, id, user.id).await?;
    if group.creator_id != user.id {
        return Err(admin_only("rename the group"));
    }
    let name = validate::group_name(&req.name)?;
    let (conversation, line) = state
        .store
        .rename_group(id, user.id, &name, now_ms())
        .await?;
    let members: Vec<Uuid> = conversation.members.iter().map(|m| m.user_id).collect();
    deliver_line(&state, &members, line).await;
    announce(&state, &conversation).await;
    tracing::info!("group renamed");
    Ok(Json(conversation))
}

/// An invitee accepts: a full member from now on, and the members see them as one.
pub(super) async fn join(state: &AppState, id: Uuid, user_id: Uuid) -> Result<Conversation> {
    let conversation = state
        .store
        .join_group(id, user_id)
        .await?
        .ok_or_else(Error::conversation_not_found)?;
    announce(state, &conversation).await;
    tracing::info!("invitation accepted");
    Ok(conversation)
}
