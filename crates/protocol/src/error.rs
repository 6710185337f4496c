//! Error codes carried over the wire as `{ "code": ..., "message": ... }`.

use serde::{Deserialize, Serialize};

/// A machine-readable error code. A code exists only where a caller acts differently on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request body or a parameter is malformed (bad JSON, wrong type, bad UUID).
    BadRequest,
    /// The username does not meet the rules (length, characters).
    InvalidUsername,
    /// The password is too short or too long.
    InvalidPassword,
    /// The date of birth is not a plausible past date.
    InvalidBirthdate,
    /// The username is taken (compared case-insensitively).
    UsernameTaken,
    /// Wrong username or password (deliberately not saying which).
    InvalidCredentials,
    /// Missing, forged, revoked or expired bearer token.
    Unauthenticated,
    /// No such user.
    UserNotFound,
    /// No such conversation, or the caller is not a member (indistinguishable on purpose).
    ConversationNotFound,
    /// Message text is empty or too long.
    InvalidText,
    /// The client id was already used for a different message.
    IdConflict,
    /// The client id is not a UUID v7.
    InvalidMessageId,
    /// The group would exceed its member limit.
    GroupFull,
    /// The group name is empty or too long.
    InvalidGroupName,
    /// Only the creator of a group may add members.
    NotGroupCreator,
    /// Direct conversations cannot be created with oneself.
    CannotMessageSelf,
    /// Operation not allowed on this kind of conversation (adding members to a direct chat).
    WrongConversationKind,
    /// The WebSocket handshake came from an origin that is not allowed.
    ForbiddenOrigin,
    /// The request body is larger than the server accepts.
    PayloadTooLarge,
    /// The file is not a well-formed Ogg Opus voice note (not Ogg, not Opus, or its headers
    /// and timing disagree with the audio), or its waveform is malformed.
    InvalidVoice,
    /// The voice note is longer than the limit (measured from the audio).
    VoiceTooLong,
    /// The media file is larger than the limit for its kind.
    MediaTooLarge,
    /// No such media, or the caller may not see it (indistinguishable on purpose).
    MediaNotFound,
    /// Something went wrong on the server; nothing was changed.
    Internal,
    /// The server could not be reached (client-side only).
    Network,
    /// No microphone could be opened, or recording failed (client-side only).
    Microphone,
    /// Under 13 on the day of sign-up.
    TooYoung,
    /// Direct messages are closed to accounts under 16.
    #[serde(rename = "dm_unavailable_under_16")]
    DmUnavailableUnder16,
    /// A photo, video or voice note cannot start a conversation.
    MediaNotAllowedFirstMessage,
    /// Only text until the recipient accepts the message request (or replies).
    MediaRequiresAcceptedRequest,
    /// The nudity filter cannot be switched off before 18.
    NudityFilterLocked,
    /// The file is not a photo Natter accepts (not JPEG, PNG, GIF or WebP by its content,
    /// cut off, or over the pixel limits).
    InvalidImage,
    /// The file is not a video Natter accepts (not MP4, MOV or WebM by its content, an
    /// unsupported codec, cut off, or over the size limits).
    InvalidVideo,
    /// The video is longer than the limit (measured from the file's sample tables).
    VideoTooLong,
    /// More photos and videos in one message than the limit (9).
    TooManyItems,
    /// A resumable upload's piece does not start where the server's copy ends; the answer
    /// carries the server's offset in `Upload-Offset`.
    UploadOffsetMismatch,
    /// One of the two people has blocked the other: nothing can be sent between them.
    Blocked,
    /// Too many messages or new conversations in a short time; the answer carries
    /// `Retry-After` (seconds) and `retry_after_s`.
    RateLimited,
    /// An account under 18 cannot send an image the nudity filter classifies as explicit.
    ExplicitImageBlocked,
    /// The file is withheld from this account by its safety settings (explicit, under 18).
    MediaWithheld,
    /// The report's reason is empty or too long, or it names messages of another
    /// conversation.
    InvalidReport,
    /// This person cannot be invited to the group. One code for every reason (a block
    /// either way, or anything else that keeps them out), so the answer reveals nothing.
    CannotInvite,
    /// Invited to a group and not yet accepted: accept the invitation to write there.
    InvitationPending,
    /// The server has more of this kind of work (checking uploaded media) waiting than it
    /// queues; nothing was stored. The answer carries `Retry-After` (seconds) and
    /// `retry_after_s`: the same request then may succeed.
    ServerBusy,
}

impl ErrorCode {
    /// HTTP status the server answers with for this code.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            BadRequest
            | InvalidUsername
            | InvalidPassword
            | InvalidBirthdate
            | InvalidText
            | InvalidMessageId
            | InvalidGroupName
            | InvalidVoice
            | VoiceTooLong
            | InvalidImage
            | InvalidVideo
            | VideoTooLong
            | TooManyItems
            | TooYoung
            | GroupFull
            | CannotMessageSelf
            | InvalidReport
            | WrongConversationKind => 422,
            UsernameTaken | IdConflict | UploadOffsetMismatch => 409,
            InvalidCredentials | Unauthenticated => 401,
            UserNotFound | ConversationNotFound | MediaNotFound => 404,
            NotGroupCreator
            | ForbiddenOrigin
            | DmUnavailableUnder16
            | MediaNotAllowedFirstMessage
            | MediaRequiresAcceptedRequest
            | NudityFilterLocked
            | Blocked
            | ExplicitImageBlocked
            | MediaWithheld
            | CannotInvite
            | InvitationPending => 403,
            RateLimited => 429,
            PayloadTooLarge | MediaTooLarge => 413,
            Internal => 500,
            Network | Microphone | ServerBusy => 503,
        }
    }

    /// The snake_case name, as on the wire.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BadRequest => "bad_request",
            InvalidUsername => "invalid_username",
            InvalidPassword => "invalid_password",
            InvalidBirthdate => "invalid_birthdate",
            UsernameTaken => "username_taken",
            InvalidCredentials => "invalid_credentials",
            Unauthenticated => "unauthenticated",
            UserNotFound => "user_not_found",
            ConversationNotFound => "conversation_not_found",
            InvalidText => "invalid_text",
            IdConflict => "id_conflict",
            InvalidMessageId => "invalid_message_id",
            GroupFull => "group_full",
            InvalidGroupName => "invalid_group_name",
            NotGroupCreator => "not_group_creator",
            CannotMessageSelf => "cannot_message_self",
            WrongConversationKind => "wrong_conversation_kind",
            ForbiddenOrigin => "forbidden_origin",
            PayloadTooLarge => "payload_too_large",
            InvalidVoice => "invalid_voice",
            VoiceTooLong => "voice_too_long",
            MediaTooLarge => "media_too_large",
            MediaNotFound => "media_not_found",
            Internal => "internal",
            Network => "network",
            Microphone => "microphone",
            TooYoung => "too_young",
            DmUnavailableUnder16 => "dm_unavailable_under_16",
            MediaNotAllowedFirstMessage => "media_not_allowed_first_message",
            MediaRequiresAcceptedRequest => "media_requires_accepted_request",
            NudityFilterLocked => "nudity_filter_locked",
            InvalidImage => "invalid_image",
            InvalidVideo => "invalid_video",
            VideoTooLong => "video_too_long",
            TooManyItems => "too_many_items",
            UploadOffsetMismatch => "upload_offset_mismatch",
            Blocked => "blocked",
            RateLimited => "rate_limited",
            ExplicitImageBlocked => "explicit_image_blocked",
            MediaWithheld => "media_withheld",
            InvalidReport => "invalid_report",
            CannotInvite => "cannot_invite",
            InvitationPending => "invitation_pending",
            ServerBusy => "server_busy",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error response, and the shape errors take across the UI boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[error("{message} ({code})")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// `rate_limited` and `server_busy` only: seconds until the action is allowed again (also
    /// sent as the `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }

    /// A `server_busy` answer: try the same request again in `retry_after_s` seconds.
    pub fn server_busy(what: &str, retry_after_s: u64) -> Self {
        let retry_after_s = retry_after_s.max(1);
        Self {
            code: ErrorCode::ServerBusy,
            message: format!("{what}: try again in {}", human_wait(retry_after_s)),
            retry_after_s: Some(retry_after_s),
        }
    }

    /// A `rate_limited` answer: `what` is allowed again in `retry_after_s` seconds.
    pub fn rate_limited(what: &str, retry_after_s: u64) -> Self {
        let retry_after_s = retry_after_s.max(1);
        Self {
            code: ErrorCode::RateLimited,
            message: format!("{what}: try again in {}", human_wait(retry_after_s)),
            retry_after_s: Some(retry_after_s),
        }
    }
}

/// "45 seconds", "3 minutes", "2 hours": how long to wait, as a person says it.
pub fn human_wait(seconds: u64) -> String {
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match seconds {
        0..=59 => plural(seconds.max(1), "second"),
        60..=3599 => plural(seconds.div_ceil(60), "minute"),
        _ => plural(seconds.div_ceil(3600), "hour"),
    }
}
