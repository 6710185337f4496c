//! What the front ends show: conversations and messages as seen from this account, and the
//! events that tell a front end something changed.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use natter_protocol::ConversationKind;

/// Delivery state of a message, as the ticks in a chat show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Written locally, waiting in the outbox.
    Sending,
    /// Accepted by the server.
    Sent,
    /// Stored on every other member's device.
    Delivered,
    /// Seen by every other member.
    Read,
    /// Refused by the server for good; `error` says why.
    Failed,
    /// Someone else's message.
    Received,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MessageView {
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// Server sequence number; `None` while sending.
    pub seq: Option<i64>,
    /// Order within the conversation (the seq, or above every seq while sending); pass the
    /// smallest one seen as `before` to page back.
    pub sort_key: i64,
    pub sender_id: Uuid,
    pub sender: String,
    pub text: String,
    /// Milliseconds since the Unix epoch: when the server accepted it (local time while sending).
    pub sent_at: i64,
    pub mine: bool,
    pub status: MessageStatus,
    /// Why sending failed, when `status` is `failed`.
    pub error: Option<String>,
    /// Still sending because the server asked to slow down (`rate_limited`): when it goes
    /// out by itself, in ms since the epoch. `None` otherwise.
    pub held_until: Option<i64>,
    /// The voice note, when the message is one.
    pub voice: Option<VoiceView>,
    /// An album's photos and videos in order (`text` is then the caption); empty otherwise.
    pub media: Vec<MediaItemView>,
    /// From someone this account blocked: shown as a quiet placeholder, with no content.
    pub blocked_sender: bool,
    /// A line about the group itself ("X left"), not something anyone wrote.
    pub event: Option<natter_protocol::GroupEvent>,
}

/// A photo or video of an album as a chat shows it. Its files are fetched by id (the
/// thumbnail first); the blurhash stands in until the thumbnail is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MediaItemView {
    pub media_id: Uuid,
    pub thumbnail_id: Uuid,
    pub kind: natter_protocol::MediaKind,
    pub mime: String,
    /// Pixels as displayed.
    pub width: u32,
    pub height: u32,
    /// File size in bytes.
    pub size: u32,
    /// Length of a video in ms (0 for a photo).
    pub duration_ms: u32,
    pub blurhash: String,
    /// Own item still going out: bytes of the file the server has so far (of `size`).
    /// `None` once it is on the server, and for others' items.
    pub uploaded_bytes: Option<u32>,
    /// Own item the server refused: why. Retry the message, or remove the item.
    pub error: Option<String>,
    /// How to show it: the nudity filter may blur it (tap to view) or hide it for good.
    pub display: MediaDisplay,
}

/// How a photo or video is shown, by the nudity classifier's verdict and the viewer's age
/// and filter (`natter_protocol::policy::display`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum MediaDisplay {
    Show,
    /// Blurred until the viewer taps to see it (adults with the filter on).
    Blur,
    /// "Hidden by your safety settings", with no way to reveal it (under 18: the server
    /// withholds the file).
    Hide,
}

impl From<natter_protocol::policy::Display> for MediaDisplay {
    fn from(d: natter_protocol::policy::Display) -> Self {
        use natter_protocol::policy::Display;
        match d {
            Display::Show => Self::Show,
            Display::Blur => Self::Blur,
            Display::Hide => Self::Hide,
        }
    }
}

/// A voice note as a chat shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct VoiceView {
    pub media_id: Uuid,
    /// Length of the audio as the server measured it (the recorder's, while sending).
    pub duration_ms: u32,
    /// File size in bytes.
    pub size: u32,
    /// 64 bars, 0–255.
    pub waveform: Vec<u8>,
    /// Someone else's note: this account has played it. Own note: another member has.
    pub played: bool,
    /// Where playback was left, in ms (0 = from the start).
    pub position_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ConversationView {
    pub id: Uuid,
    pub kind: ConversationKind,
    /// The other person's username, or the group's name.
    pub title: String,
    /// Usernames of every member, this account included.
    pub members: Vec<String>,
    /// Groups: the members only invited so far (they get texts only until they accept).
    pub invited: Vec<String>,
    /// A group this account is invited to: who invited it (`request` is then true).
    pub invited_by: Option<String>,
    /// Whether this account created it (may add group members).
    pub is_creator: bool,
    /// Groups: the admin's (creator's) username, while they are still a member.
    pub admin: Option<String>,
    pub last_message: Option<MessageView>,
    /// Messages from others not yet read here.
    pub unread: i64,
    /// Milliseconds since the Unix epoch of the newest activity.
    pub updated_at: i64,
    /// Why photos, videos and voice notes cannot be sent here yet (the server's rule and
    /// words: nothing written yet, or the other person has not written back); `None` when
    /// they can.
    pub media_blocked: Option<natter_protocol::ApiError>,
    /// The reminder shown before media goes out here (who can see it, that it can be saved).
    pub media_reminder: MediaReminder,
    /// A message request: someone this account has never written to started it, or a group
    /// it was invited to and has not joined. It sits in the Requests list (no unread badge)
    /// until accepted, replied to, deleted (declined) or blocked.
    pub request: bool,
    /// This account blocked the other person: nothing can be sent either way.
    pub blocked: bool,
}

/// Whether the app reminds the user before sending a photo, video or voice note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MediaReminder {
    /// Show it before the next media message here.
    pub show: bool,
    /// The user may choose not to see it again in this conversation (adults only).
    pub can_turn_off: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    Connecting,
    Online,
    Offline,
}

/// Something changed; front ends re-read what they show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
// A conversation's view is the largest event. Events live briefly in a broadcast channel of a
// bounded capacity; boxing it would only add an allocation to every emit.
#[allow(clippy::large_enum_variant)]
pub enum CoreEvent {
    /// A message appeared or changed (sent, failed, arrived).
    Message { message: MessageView },
    /// An unsent message was deleted on this device.
    MessageRemoved { conversation_id: Uuid, id: Uuid },
    /// Delivery or read positions moved: the status of own messages may have changed.
    Receipts { conversation_id: Uuid },
    /// Someone is typing in a conversation (show it for about 5 seconds).
    Typing {
        conversation_id: Uuid,
        username: String,
    },
    /// A conversation appeared or its members changed.
    Conversation { conversation: ConversationView },
    /// A conversation left this device's lists (a deleted or blocked request).
    ConversationRemoved { conversation: Uuid },
    /// The live connection to the server changed state.
    Connection { state: ConnectionState },
    /// The server no longer accepts this session (revoked or expired): log in again.
    SignedOut,
    /// A queued message's file is going out: `sent` of `total` bytes of the voice note, or
    /// of the album item `media_id`.
    Upload {
        conversation_id: Uuid,
        id: Uuid,
        media_id: Option<Uuid>,
        sent: u32,
        total: u32,
    },
    /// An item picked for sending was prepared (or refused): `done` of `total` so far.
    Staged {
        conversation_id: Uuid,
        done: u32,
        total: u32,
    },
}
