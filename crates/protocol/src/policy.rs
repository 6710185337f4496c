//! Safety rules as pure functions over plain data: the app calls them to explain and disable
//! controls before anything is sent; the server calls the same functions and is the
//! authority. Nothing here reads a clock, a database or the network: callers pass the facts
//! (a birthdate and today's date from an injectable clock, what the conversation holds).
//!
//! The rules (product brief, issue 5):
//! - under 13: cannot sign up; under 16: no direct messages at all; 16–17: the nudity filter
//!   is always on; 18 and over: the filter is off by default and may be switched on;
//! - a photo, video or voice note is never the first message of a conversation;
//! - in a direct conversation the recipient has not accepted (nor replied to), the sender may
//!   send text only;
//! - before media goes out the app shows a reminder: every time under 18, and for adults
//!   until they choose not to see it again in that conversation.

use chrono::NaiveDate;

use crate::error::{ApiError, ErrorCode};
use crate::validate::age_on;

/// Youngest age at which an account may be created.
pub const MIN_SIGNUP_AGE: u32 = 13;
/// Youngest age with access to direct messages.
pub const MIN_DM_AGE: u32 = 16;
/// Age from which the nudity filter is the user's choice.
pub const ADULT_AGE: u32 = 18;

/// What the rules need to know about someone's age, recomputed on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AgeBand {
    /// Under 13: may not have an account.
    Child,
    /// 13–15: an account, but no direct messages.
    YoungTeen,
    /// 16–17: direct messages with the nudity filter always on.
    Teen,
    /// 18 and over.
    Adult,
}

impl AgeBand {
    /// The band on `today` (birthdays count from their day: the 16th birthday opens DMs).
    pub fn on(birthdate: NaiveDate, today: NaiveDate) -> Self {
        match age_on(birthdate, today) {
            a if a < MIN_SIGNUP_AGE => Self::Child,
            a if a < MIN_DM_AGE => Self::YoungTeen,
            a if a < ADULT_AGE => Self::Teen,
            _ => Self::Adult,
        }
    }

    pub fn is_adult(self) -> bool {
        self == Self::Adult
    }
}

/// What a message carries, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Text,
    /// A photo, video or voice note.
    Media,
}

/// What the sender's conversation holds, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationFacts {
    /// Whether it is a group (message requests apply to direct conversations only).
    pub group: bool,
    /// Whether the conversation already holds a message, from anyone. History lines ("X left",
    /// "renamed the group") are not messages: they do not open a conversation for media.
    pub has_prior_message: bool,
    /// Direct conversations: the recipient has accepted the request or written to the
    /// sender. Ignored for groups.
    pub accepted: bool,
    /// Direct conversations: one of the two has blocked the other. Ignored for groups.
    pub blocked: bool,
}

/// The answer to "may this be sent?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Allowed once the user has confirmed the reminder (media only).
    NeedsReminder,
    Deny(ApiError),
}

/// Signing up needs an age of at least 13 on the day.
pub fn may_sign_up(birthdate: NaiveDate, today: NaiveDate) -> Result<(), ApiError> {
    if AgeBand::on(birthdate, today) == AgeBand::Child {
        return Err(ApiError::new(
            ErrorCode::TooYoung,
            format!("you must be at least {MIN_SIGNUP_AGE} to use Natter"),
        ));
    }
    Ok(())
}

/// Direct messages (listing, reading, sending, the live connection) need an age of 16.
pub fn may_use_dms(band: AgeBand) -> Result<(), ApiError> {
    if band < AgeBand::Teen {
        return Err(ApiError::new(
            ErrorCode::DmUnavailableUnder16,
            format!("direct messages open on your {MIN_DM_AGE}th birthday"),
        ));
    }
    Ok(())
}

/// What a conversation allows, whoever sends: media never first, and in a direct
/// conversation only once the recipient has accepted or written back.
pub fn content_rule(content: Content, facts: ConversationFacts) -> Result<(), ApiError> {
    if facts.blocked && !facts.group {
        return Err(ApiError::new(
            ErrorCode::Blocked,
            "you can't message this person: one of you has blocked the other",
        ));
    }
    if content == Content::Text {
        return Ok(());
    }
    if !facts.has_prior_message {
        return Err(ApiError::new(
            ErrorCode::MediaNotAllowedFirstMessage,
            "a photo, video or voice note cannot be the first message: say hello in text first",
        ));
    }
    if !facts.group && !facts.accepted {
        return Err(ApiError::new(
            ErrorCode::MediaRequiresAcceptedRequest,
            "you can send photos, videos and voice notes once they have written back",
        ));
    }
    Ok(())
}

/// Whether `sender` may send `content` in a conversation with these facts. `reminder_shown`
/// says the user already confirmed the reminder for this message (or, for adults, chose not
/// to see it again in this conversation); without it, media answers `NeedsReminder`.
pub fn may_send(
    sender: AgeBand,
    content: Content,
    facts: ConversationFacts,
    reminder_confirmed: bool,
) -> Verdict {
    if let Err(e) = may_use_dms(sender).and_then(|()| content_rule(content, facts)) {
        return Verdict::Deny(e);
    }
    if content == Content::Text || reminder_confirmed {
        Verdict::Allow
    } else {
        Verdict::NeedsReminder
    }
}

/// Whether the reminder shows before media goes out: always under 18; for adults unless
/// they chose not to see it again in this conversation.
pub fn reminder_needed(sender: AgeBand, dismissed_in_conversation: bool) -> bool {
    !sender.is_adult() || !dismissed_in_conversation
}

/// The nudity filter as it applies to someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterState {
    pub on: bool,
    /// Whether the user may switch it.
    pub can_change: bool,
}

/// The filter given the user's own choice (`None` = never chose): always on and locked at
/// 16–17; off by default and free for adults.
pub fn nudity_filter(band: AgeBand, choice: Option<bool>) -> FilterState {
    if band.is_adult() {
        FilterState {
            on: choice.unwrap_or(false),
            can_change: true,
        }
    } else {
        FilterState {
            on: true,
            can_change: false,
        }
    }
}

/// Whether the user may set the filter to `on`.
pub fn may_set_nudity_filter(band: AgeBand, on: bool) -> Result<(), ApiError> {
    if !on && !nudity_filter(band, None).can_change {
        return Err(ApiError::new(
            ErrorCode::NudityFilterLocked,
            "the nudity filter stays on until you are 18",
        ));
    }
    Ok(())
}

/// Whether `sender` may send an image the nudity classifier found explicit: not under 18.
pub fn may_send_explicit(sender: AgeBand, explicit: bool) -> Result<(), ApiError> {
    if explicit && !sender.is_adult() {
        return Err(ApiError::new(
            ErrorCode::ExplicitImageBlocked,
            "this photo looks like it contains nudity, which can't be sent before you are 18",
        ));
    }
    Ok(())
}

/// How an image is shown to someone, given its classification and their filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    Show,
    /// Blurred, with tap-to-view (adults with the filter on).
    Blur,
    /// Not delivered at all ("hidden by your safety settings"), with no way to reveal it.
    Hide,
}

/// The [`Display`] of an image for a viewer whose filter is `filter` (see [`nudity_filter`]).
pub fn display(viewer: AgeBand, filter: FilterState, explicit: bool) -> Display {
    match (explicit, viewer.is_adult(), filter.on) {
        (false, _, _) => Display::Show,
        (true, false, _) => Display::Hide,
        (true, true, true) => Display::Blur,
        (true, true, false) => Display::Show,
    }
}

/// Whether the server hands `viewer` the file of an image classified `explicit`: never
/// under 18 (the file is withheld, so a modified client cannot reveal it).
pub fn may_fetch(viewer: AgeBand, explicit: bool) -> Result<(), ApiError> {
    if explicit && !viewer.is_adult() {
        return Err(ApiError::new(
            ErrorCode::MediaWithheld,
            "hidden by your safety settings",
        ));
    }
    Ok(())
}

/// Where a reader stands with a conversation and a message's sender, as far as delivery
/// cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader {
    /// Invited to a group and not yet accepted.
    pub invited: bool,
    /// The reader blocked the message's sender.
    pub blocked_sender: bool,
}

/// What of a message reaches a reader: everything, or nothing but a placeholder. Whoever the
/// reader blocked reaches them with nothing, anywhere (groups included); an invitee gets a
/// group's texts (and its own history lines) but no photo, video or voice note until they
/// accept, as a stranger's message request carries text only.
pub fn withheld(reader: Reader, content: Content) -> Option<crate::api::Withheld> {
    use crate::api::Withheld;
    if reader.blocked_sender {
        Some(Withheld::Blocked)
    } else if reader.invited && content == Content::Media {
        Some(Withheld::Invitation)
    } else {
        None
    }
}

/// The copy of `message` a reader gets: its content emptied when [`withheld`] says so.
pub fn reader_copy(reader: Reader, message: &crate::api::Message) -> crate::api::Message {
    let content = if message.voice.is_some() || !message.media.is_empty() {
        Content::Media
    } else {
        Content::Text
    };
    // History lines about the group itself are the group's, not the sender's words.
    if message.event.is_some() {
        return message.clone();
    }
    match withheld(reader, content) {
        None => message.clone(),
        Some(why) => crate::api::Message {
            text: String::new(),
            voice: None,
            played_by: Vec::new(),
            media: Vec::new(),
            withheld: Some(why),
            ..message.clone()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_sender_reaches_nobody_and_an_invitee_gets_texts_only() {
        use crate::api::Withheld;
        let member = Reader {
            invited: false,
            blocked_sender: false,
        };
        let invitee = Reader {
            invited: true,
            blocked_sender: false,
        };
        let blocker = Reader {
            invited: false,
            blocked_sender: true,
        };
        assert_eq!(withheld(member, Content::Media), None);
        assert_eq!(withheld(invitee, Content::Text), None);
        assert_eq!(
            withheld(invitee, Content::Media),
            Some(Withheld::Invitation)
        );
        assert_eq!(withheld(blocker, Content::Text), Some(Withheld::Blocked));
        assert_eq!(
            withheld(
                Reader {
                    invited: true,
                    blocked_sender: true
                },
                Content::Text
            ),
            Some(Withheld::Blocked)
        );
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn age_bands_change_on_the_birthday_itself() {
        let born = d(2010, 6, 15);
        let cases = [
            (d(2023, 6, 14), AgeBand::Child),
            (d(2023, 6, 15), AgeBand::YoungTeen),
            (d(2026, 6, 14), AgeBand::YoungTeen),
            (d(2026, 6, 15), AgeBand::Teen),
            (d(2028, 6, 14), AgeBand::Teen),
            (d(2028, 6, 15), AgeBand::Adult),
        ];
        for (today, band) in cases {
            assert_eq!(AgeBand::on(born, today), band, "on {today}");
        }
        // born on 29 February: the birthday counts from 1 March in other years
        let leap = d(2008, 2, 29);
        assert_eq!(AgeBand::on(leap, d(2024, 2, 28)), AgeBand::YoungTeen);
        assert_eq!(AgeBand::on(leap, d(2024, 2, 29)), AgeBand::Teen);
        assert_eq!(AgeBand::on(leap, d(2026, 2, 28)), AgeBand::Teen);
        assert_eq!(AgeBand::on(leap, d(2026, 3, 1)), AgeBand::Adult);
    }

    #[test]
    fn sign_up_needs_thirteen_and_dms_need_sixteen() {
        let born = d(2010, 6, 15);
        assert_eq!(
            may_sign_up(born, d(2023, 6, 14)).unwrap_err().code,
            ErrorCode::TooYoung
        );
        assert!(may_sign_up(born, d(2023, 6, 15)).is_ok());
        for (band, ok) in [
            (AgeBand::Child, false),
            (AgeBand::YoungTeen, false),
            (AgeBand::Teen, true),
            (AgeBand::Adult, true),
        ] {
            let r = may_use_dms(band);
            assert_eq!(r.is_ok(), ok, "{band:?}");
            if let Err(e) = r {
                assert_eq!(e.code, ErrorCode::DmUnavailableUnder16);
            }
        }
    }

    #[test]
    fn media_needs_a_prior_message_an_accepted_request_and_the_reminder() {
        use Content::*;
        let new_direct = ConversationFacts {
            group: false,
            has_prior_message: false,
            accepted: false,
            blocked: false,
        };
        let pending = ConversationFacts {
            has_prior_message: true,
            ..new_direct
        };
        let accepted = ConversationFacts {
            accepted: true,
            ..pending
        };
        let new_group = ConversationFacts {
            group: true,
            ..new_direct
        };
        let busy_group = ConversationFacts {
            group: true,
            has_prior_message: true,
            accepted: false,
            blocked: false,
        };
        let blocked = ConversationFacts {
            blocked: true,
            ..accepted
        };
        let blocked_new = ConversationFacts {
            blocked: true,
            ..new_direct
        };
        let group_with_a_block = ConversationFacts {
            blocked: true,
            ..busy_group
        };
        // what a verdict comes to: allowed, allowed after the reminder, or refused with a code
        let outcome = |v: Verdict| match v {
            Verdict::Allow => Ok(false),
            Verdict::NeedsReminder => Ok(true),
            Verdict::Deny(e) => Err(e.code),
        };
        use ErrorCode::*;
        let (allow, remind) = (Ok(false), Ok(true));
        let table = [
            // sender, content, conversation, reminder confirmed → outcome
            (AgeBand::Adult, Text, new_direct, false, allow),
            (
                AgeBand::Adult,
                Media,
                new_direct,
                true,
                Err(MediaNotAllowedFirstMessage),
            ),
            (
                AgeBand::Adult,
                Media,
                new_group,
                true,
                Err(MediaNotAllowedFirstMessage),
            ),
            (
                AgeBand::Adult,
                Media,
                pending,
                true,
                Err(MediaRequiresAcceptedRequest),
            ),
            (AgeBand::Adult, Text, pending, false, allow),
            (AgeBand::Adult, Media, accepted, false, remind),
            (AgeBand::Adult, Media, accepted, true, allow),
            (AgeBand::Adult, Media, busy_group, false, remind),
            (AgeBand::Teen, Media, accepted, false, remind),
            (AgeBand::Teen, Media, accepted, true, allow),
            (AgeBand::Adult, Text, blocked, false, Err(Blocked)),
            (AgeBand::Adult, Media, blocked, true, Err(Blocked)),
            (AgeBand::Adult, Text, blocked_new, false, Err(Blocked)),
            (AgeBand::Adult, Text, group_with_a_block, false, allow),
            (
                AgeBand::YoungTeen,
                Text,
                accepted,
                false,
                Err(DmUnavailableUnder16),
            ),
            (
                AgeBand::YoungTeen,
                Media,
                accepted,
                true,
                Err(DmUnavailableUnder16),
            ),
        ];
        for (i, (band, content, facts, confirmed, expected)) in table.into_iter().enumerate() {
            assert_eq!(
                outcome(may_send(band, content, facts, confirmed)),
                expected,
                "row {i}"
            );
        }
    }

    #[test]
    fn the_reminder_always_shows_under_eighteen() {
        assert!(reminder_needed(AgeBand::Teen, true));
        assert!(reminder_needed(AgeBand::Teen, false));
        assert!(reminder_needed(AgeBand::Adult, false));
        assert!(!reminder_needed(AgeBand::Adult, true));
    }

    #[test]
    fn the_filter_is_locked_on_at_sixteen_and_seventeen_and_a_choice_for_adults() {
        assert_eq!(
            nudity_filter(AgeBand::Teen, Some(false)),
            FilterState {
                on: true,
                can_change: false
            }
        );
        assert_eq!(
            nudity_filter(AgeBand::Adult, None),
            FilterState {
                on: false,
                can_change: true
            }
        );
        assert_eq!(
            nudity_filter(AgeBand::Adult, Some(true)),
            FilterState {
                on: true,
                can_change: true
            }
        );
        assert_eq!(
            may_set_nudity_filter(AgeBand::Teen, false)
                .unwrap_err()
                .code,
            ErrorCode::NudityFilterLocked
        );
        assert!(may_set_nudity_filter(AgeBand::Teen, true).is_ok());
        assert!(may_set_nudity_filter(AgeBand::Adult, false).is_ok());
    }

    #[test]
    fn explicit_images_are_blocked_hidden_or_blurred_by_age_and_filter() {
        use AgeBand::*;
        assert_eq!(
            may_send_explicit(Teen, true).unwrap_err().code,
            ErrorCode::ExplicitImageBlocked
        );
        assert!(may_send_explicit(Teen, false).is_ok());
        assert!(may_send_explicit(Adult, true).is_ok());
        assert_eq!(
            may_fetch(Teen, true).unwrap_err().code,
            ErrorCode::MediaWithheld
        );
        assert!(may_fetch(Teen, false).is_ok());
        assert!(may_fetch(Adult, true).is_ok());
        let table = [
            // viewer, their own choice, explicit → display
            (Teen, Some(false), true, Display::Hide),
            (Teen, None, false, Display::Show),
            (Adult, Some(true), true, Display::Blur),
            (Adult, Some(true), false, Display::Show),
            (Adult, None, true, Display::Show),
            (Adult, Some(false), true, Display::Show),
        ];
        for (viewer, choice, explicit, expected) in table {
            let filter = nudity_filter(viewer, choice);
            assert_eq!(
                display(viewer, filter, explicit),
                expected,
                "{viewer:?} {choice:?} {explicit}"
            );
        }
    }
}
