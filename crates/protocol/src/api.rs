//! Request, response and event types of the HTTP + WebSocket API.
//!
//! Times are milliseconds since the Unix epoch (UTC); sequence numbers start at 1 in each
//! conversation and have no gaps.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! wire {
    ($(#[$m:meta])* $vis:vis struct $($rest:tt)*) => {
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        $(#[$m])* $vis struct $($rest)*
    };
    ($(#[$m:meta])* $vis:vis enum $($rest:tt)*) => {
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        $(#[$m])* $vis enum $($rest)*
    };
}

wire! {
    /// `POST /v1/signup`
    pub struct SignupRequest {
        pub username: String,
        pub password: String,
        /// ISO date, `YYYY-MM-DD`.
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
        pub birthdate: NaiveDate,
    }
}

wire! {
    /// `POST /v1/login`
    pub struct LoginRequest {
        pub username: String,
        pub password: String,
    }
}

wire! {
    /// The signed-in account, as only its owner sees it.
    pub struct Account {
        pub id: Uuid,
        pub username: String,
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
        pub birthdate: NaiveDate,
        /// Whether the nudity filter is on: always under 18, the user's choice from 18 (off
        /// until chosen). Recomputed from the birthdate on every request.
        #[serde(default)]
        pub nudity_filter: bool,
        /// Whether the user may switch the filter (only from 18).
        #[serde(default)]
        pub nudity_filter_locked: bool,
    }
}

wire! {
    /// `PUT /v1/me/settings`
    pub struct SettingsRequest {
        /// Switch the nudity filter on or off (off is refused under 18).
        pub nudity_filter: bool,
    }
}

wire! {
    /// `POST /v1/blocks`
    pub struct BlockRequest {
        pub username: String,
    }
}

wire! {
    /// `POST /v1/reports`: a conversation, the messages the reporter chose, and why. The
    /// server copies the messages as they are now into the moderation queue.
    pub struct ReportRequest {
        /// The person reported.
        pub username: String,
        /// The conversation the report is about (one the reporter belongs to); without it,
        /// the direct conversation with that person, if any.
        #[serde(default)]
        pub conversation_id: Option<Uuid>,
        /// Messages of that conversation the reporter chose (at most 50); none sends the
        /// person's latest messages there.
        #[serde(default)]
        pub message_ids: Vec<Uuid>,
        pub reason: String,
    }
}

wire! {
    /// A report as it sits in the moderation queue (`natter admin reports --json`).
    pub struct Report {
        pub id: Uuid,
        pub reporter: String,
        pub reported: String,
        pub conversation_id: Option<Uuid>,
        /// Whether that conversation is a direct chat or a group.
        #[serde(default)]
        pub conversation_kind: Option<ConversationKind>,
        /// The group's name when the report was made.
        #[serde(default)]
        pub conversation_name: Option<String>,
        pub reason: String,
        /// The reported messages as they were when the report was made.
        pub messages: Vec<Message>,
        pub created_at: i64,
    }
}

wire! {
    /// Answer to a successful log-in. The token is opaque; send it as `Authorization: Bearer`.
    pub struct LoginResponse {
        pub token: String,
        pub account: Account,
    }
}

wire! {
    /// Another user, as anyone may see them.
    pub struct UserSummary {
        pub id: Uuid,
        pub username: String,
    }
}

wire! {
    #[serde(rename_all = "snake_case")]
    #[derive(Copy, Hash)]
    pub enum ConversationKind {
        Direct,
        Group,
    }
}

wire! {
    /// A member of a conversation and how far they have received and read it.
    pub struct Member {
        pub user_id: Uuid,
        pub username: String,
        /// Highest sequence number this member's device has stored (0 = none).
        pub delivered_seq: i64,
        /// Highest sequence number this member has seen on screen (0 = none).
        pub read_seq: i64,
        /// Direct conversations: this member started it, accepted the message request or
        /// wrote in it. Until the other side has, it sits in their Requests list and only
        /// text may be sent to them. Groups: false while the member is only invited (they
        /// get texts only, until they accept or decline).
        #[serde(default = "yes")]
        pub accepted: bool,
        /// Groups: who invited this member (`None` for the creator and for members from
        /// before invitations).
        #[serde(default)]
        pub invited_by: Option<Uuid>,
    }
}

wire! {
    pub struct Conversation {
        pub id: Uuid,
        pub kind: ConversationKind,
        /// Group name; `None` for direct conversations.
        pub name: Option<String>,
        /// Who created it (the only one who may add group members).
        pub creator_id: Uuid,
        pub members: Vec<Member>,
        /// Sequence number of the newest message (0 when empty).
        pub last_seq: i64,
        pub created_at: i64,
    }
}

wire! {
    /// `POST /v1/conversations/direct`: get or create the one conversation with a user.
    pub struct CreateDirectRequest {
        pub username: String,
    }
}

wire! {
    /// `POST /v1/conversations/group`
    pub struct CreateGroupRequest {
        pub name: String,
        /// Usernames to add besides the creator.
        pub members: Vec<String>,
    }
}

wire! {
    /// `POST /v1/conversations/{id}/members`
    pub struct AddMemberRequest {
        pub username: String,
    }
}

wire! {
    /// `PATCH /v1/conversations/{id}`: rename a group (its admin only).
    pub struct RenameGroupRequest {
        pub name: String,
    }
}

wire! {
    /// `POST /v1/conversations/{id}/messages`. The id is generated by the client (UUID v7):
    /// sending the same id again returns the stored message instead of a duplicate.
    pub struct SendMessageRequest {
        pub id: Uuid,
        /// The text; empty for a voice note.
        #[serde(default)]
        pub text: String,
        /// A voice note uploaded beforehand with `PUT /v1/media/{id}`.
        #[serde(default)]
        pub voice: Option<VoiceAttachment>,
        /// An album: 1 to 9 photos and videos, each uploaded beforehand with its thumbnail;
        /// `text` is then the caption (may be empty).
        #[serde(default)]
        pub media: Vec<MediaAttachment>,
    }
}

wire! {
    /// What kind of file an upload turned out to be, judged by its content.
    #[serde(rename_all = "snake_case")]
    #[derive(Copy, Hash)]
    pub enum MediaKind {
        Voice,
        Image,
        Video,
    }
}

wire! {
    /// One photo or video of an album, as the sender attaches it.
    pub struct MediaAttachment {
        /// The photo or video, uploaded by the sender.
        pub media_id: Uuid,
        /// Its thumbnail (a photo of at most 640 px), uploaded by the sender. Recipients
        /// fetch it first.
        pub thumbnail_id: Uuid,
        /// A blurhash placeholder shown before the thumbnail arrives.
        pub blurhash: String,
    }
}

wire! {
    /// A photo or video of an album, as stored: sizes and duration are what the server
    /// measured from the files.
    pub struct MediaItem {
        pub media_id: Uuid,
        pub thumbnail_id: Uuid,
        pub kind: MediaKind,
        /// Served with this `Content-Type`.
        pub content_type: String,
        pub width: u32,
        pub height: u32,
        /// File size in bytes.
        pub size: u32,
        /// Length of a video in ms; 0 for a photo.
        pub duration_ms: u32,
        pub blurhash: String,
        /// The server's nudity classifier found the photo, the video (its worst keyframe) or
        /// the video's poster explicit, or the video could not be checked (a codec the server
        /// does not decode): withheld from accounts under 18, blurred with tap-to-view for
        /// adults with the filter on.
        #[serde(default)]
        pub explicit: bool,
    }
}

wire! {
    /// The voice note a message carries, as the sender attaches it.
    pub struct VoiceAttachment {
        /// Id of the uploaded file (`PUT /v1/media/{id}`), uploaded by the sender.
        pub media_id: Uuid,
        /// [`WAVEFORM_BARS`](crate::limits::WAVEFORM_BARS) bars, 0–255, computed by the
        /// recorder from the audio.
        pub waveform: Vec<u8>,
    }
}

wire! {
    /// A voice note as stored. The duration is what the server measured from the audio.
    pub struct VoiceNote {
        pub media_id: Uuid,
        pub duration_ms: u32,
        /// File size in bytes.
        pub size: u32,
        pub waveform: Vec<u8>,
    }
}

wire! {
    /// Answer to a finished upload: the file as the server measured it.
    pub struct MediaInfo {
        pub id: Uuid,
        /// What the content turned out to be.
        #[serde(default = "MediaKind::voice")]
        pub kind: MediaKind,
        /// Served with this `Content-Type` (`audio/ogg` for voice notes).
        pub content_type: String,
        pub size: u32,
        /// Length of the audio or video, measured from the file (not from metadata); 0 for
        /// a photo.
        pub duration_ms: u32,
        /// Pixels of a photo or video frame as displayed (0 for a voice note).
        #[serde(default)]
        pub width: u32,
        #[serde(default)]
        pub height: u32,
    }
}

wire! {
    /// A message as stored by the server.
    pub struct Message {
        pub id: Uuid,
        pub conversation_id: Uuid,
        pub seq: i64,
        pub sender_id: Uuid,
        pub sender: String,
        pub text: String,
        /// When the server accepted it.
        pub sent_at: i64,
        /// The voice note, when this message is one.
        #[serde(default)]
        pub voice: Option<VoiceNote>,
        /// Members other than the sender who have played the voice note.
        #[serde(default)]
        pub played_by: Vec<Uuid>,
        /// The album's photos and videos, in the sender's order (`text` is the caption).
        #[serde(default)]
        pub media: Vec<MediaItem>,
        /// Set when this copy is withheld from the reader: its text, voice note and album are
        /// empty, and the app shows a placeholder (or nothing) in its place.
        #[serde(default)]
        pub withheld: Option<Withheld>,
        /// A line the server wrote about the group itself ("X left"), not a message anyone
        /// typed; `sender_id` is who did it.
        #[serde(default)]
        pub event: Option<GroupEvent>,
    }
}

wire! {
    /// Why a reader gets a message without its content.
    #[serde(rename_all = "snake_case")]
    #[derive(Copy, Hash)]
    pub enum Withheld {
        /// A photo, video or voice note in a group the reader was invited to but has not
        /// joined: it arrives once they accept.
        Invitation,
        /// The sender is someone the reader blocked.
        Blocked,
    }
}

wire! {
    /// What happened to a group, as a line in its history.
    #[serde(tag = "type", rename_all = "snake_case")]
    pub enum GroupEvent {
        /// `username` left the group.
        Left { user_id: Uuid, username: String },
        /// The admin (the message's sender) removed `username`.
        Removed { user_id: Uuid, username: String },
        /// The admin renamed the group to `name`.
        Renamed { name: String },
    }
}

wire! {
    #[serde(rename_all = "snake_case")]
    #[derive(Copy, Hash)]
    pub enum ReceiptKind {
        Delivered,
        Read,
    }
}

wire! {
    /// `POST /v1/conversations/{id}/receipts`: "I have stored / seen everything up to here".
    /// Receipts only move forward; a lower value than already recorded changes nothing.
    pub struct ReceiptRequest {
        pub kind: ReceiptKind,
        pub up_to_seq: i64,
    }
}

wire! {
    /// Pushed by the server over the WebSocket (`GET /v1/ws`), one JSON object per frame.
    #[serde(tag = "type", rename_all = "snake_case")]
    pub enum ServerEvent {
        /// A new message in a conversation the user belongs to.
        Message { message: Message },
        /// A member's delivery or read position moved forward.
        Receipt {
            conversation_id: Uuid,
            user_id: Uuid,
            kind: ReceiptKind,
            up_to_seq: i64,
        },
        /// A member is typing (lasts a few seconds unless repeated).
        Typing {
            conversation_id: Uuid,
            user_id: Uuid,
            username: String,
        },
        /// A conversation was created or its membership changed.
        Conversation { conversation: Conversation },
        /// A member played a voice note for the first time.
        Played {
            conversation_id: Uuid,
            message_id: Uuid,
            user_id: Uuid,
        },
    }
}

wire! {
    /// Sent by the client over the WebSocket.
    #[serde(tag = "type", rename_all = "snake_case")]
    pub enum ClientFrame {
        Typing { conversation_id: Uuid },
    }
}

wire! {
    /// A member's first play of a voice note (`GET /v1/played`): how a client that was away
    /// learns its notes were played.
    pub struct PlayedMark {
        pub conversation_id: Uuid,
        pub message_id: Uuid,
        pub user_id: Uuid,
        /// When the server recorded it (ms since the epoch).
        pub played_at: i64,
    }
}

fn yes() -> bool {
    true
}

impl MediaKind {
    /// What older servers meant when they did not say: every upload was a voice note.
    pub fn voice() -> Self {
        MediaKind::Voice
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Voice => "voice",
            MediaKind::Image => "image",
            MediaKind::Video => "video",
        }
    }
}

/// Query of `GET /v1/played`: marks recorded at or after `since` (ms), oldest first, in
/// conversations the caller belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct PlayedQuery {
    pub since: Option<i64>,
}

/// Query of `GET /v1/conversations/{id}/messages`: messages with `after_seq < seq <
/// before_seq`, oldest first when only `after_seq` is given, otherwise the newest `limit`
/// below `before_seq`, still returned oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct HistoryQuery {
    pub after_seq: Option<i64>,
    pub before_seq: Option<i64>,
    pub limit: Option<u32>,
}
