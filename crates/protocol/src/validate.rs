//! Pure validation rules, called by the client for instant feedback and by the server as the
//! authority.

use chrono::{Datelike, NaiveDate};

use crate::error::{ApiError, ErrorCode};
use crate::limits::*;

/// A username is 3–32 characters of `a-z`, `0-9`, `_` and `.`, starting with a letter.
/// Returns the canonical (lower-case) form: usernames are unique case-insensitively.
pub fn username(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim().to_lowercase();
    let len = name.chars().count();
    let bad = |why: &str| Err(ApiError::new(ErrorCode::InvalidUsername, why.to_string()));
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
        return bad(&format!(
            "username must be {USERNAME_MIN}–{USERNAME_MAX} characters"
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return bad("username must start with a letter");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
    {
        return bad("username may contain only letters, digits, '_' and '.'");
    }
    Ok(name)
}

/// Passwords are at least 8 characters and at most 1 KiB.
pub fn password(raw: &str) -> Result<(), ApiError> {
    if raw.chars().count() < PASSWORD_MIN {
        return Err(ApiError::new(
            ErrorCode::InvalidPassword,
            format!("password must be at least {PASSWORD_MIN} characters"),
        ));
    }
    if raw.len() > PASSWORD_MAX_BYTES {
        return Err(ApiError::new(
            ErrorCode::InvalidPassword,
            format!("password must be at most {PASSWORD_MAX_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// A date of birth must be in the past and no earlier than 1900.
pub fn birthdate(date: NaiveDate, today: NaiveDate) -> Result<(), ApiError> {
    if date > today || date.year() < BIRTH_YEAR_MIN {
        return Err(ApiError::new(
            ErrorCode::InvalidBirthdate,
            format!("date of birth must be between {BIRTH_YEAR_MIN}-01-01 and today"),
        ));
    }
    Ok(())
}

/// Age in whole years on `today` (recomputed every time: birthdays count from that day).
pub fn age_on(birthdate: NaiveDate, today: NaiveDate) -> u32 {
    let mut age = today.year() - birthdate.year();
    if (today.month(), today.day()) < (birthdate.month(), birthdate.day()) {
        age -= 1;
    }
    age.max(0) as u32
}

/// Refuses U+0000 in free text that is stored: PostgreSQL's `text` cannot hold it (SQLite's
/// can), so both stores refuse it alike, with `code`, before anything is written.
fn no_nul(raw: &str, code: ErrorCode, what: &str) -> Result<(), ApiError> {
    if raw.contains('\0') {
        return Err(ApiError::new(
            code,
            format!("{what} may not contain the NUL character (U+0000)"),
        ));
    }
    Ok(())
}

/// Message text: 1–4,000 characters, not only whitespace, no U+0000.
pub fn text(raw: &str) -> Result<(), ApiError> {
    if raw.trim().is_empty() {
        return Err(ApiError::new(ErrorCode::InvalidText, "message is empty"));
    }
    let n = raw.chars().count();
    if n > TEXT_MAX_CHARS {
        return Err(ApiError::new(
            ErrorCode::InvalidText,
            format!("message is {n} characters; the limit is {TEXT_MAX_CHARS}"),
        ));
    }
    no_nul(raw, ErrorCode::InvalidText, "a message")
}

/// What a message carries: text, or a voice note with no text and a well-formed waveform.
pub fn message_content(
    text_raw: &str,
    voice: Option<&crate::VoiceAttachment>,
    media: &[crate::MediaAttachment],
) -> Result<(), ApiError> {
    if !media.is_empty() {
        if voice.is_some() {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "a message carries either a voice note or photos and videos, not both",
            ));
        }
        return album(text_raw, media);
    }
    let Some(voice) = voice else {
        return text(text_raw);
    };
    if !text_raw.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidText,
            "a voice note carries no text; send the text as its own message",
        ));
    }
    waveform(&voice.waveform)
}

/// An album: 1 to [`ALBUM_MAX_ITEMS`] photos and videos, each with its own thumbnail and a
/// well-formed blurhash, no file used twice, and a caption of at most [`CAPTION_MAX_CHARS`]
/// characters (may be empty, no U+0000).
pub fn album(caption: &str, media: &[crate::MediaAttachment]) -> Result<(), ApiError> {
    use crate::limits::{ALBUM_MAX_ITEMS, CAPTION_MAX_CHARS};
    if media.len() > ALBUM_MAX_ITEMS {
        return Err(ApiError::new(
            ErrorCode::TooManyItems,
            format!(
                "a message can carry at most {ALBUM_MAX_ITEMS} photos and videos, not {}",
                media.len()
            ),
        ));
    }
    if caption.chars().count() > CAPTION_MAX_CHARS {
        return Err(ApiError::new(
            ErrorCode::InvalidText,
            format!("a caption can be at most {CAPTION_MAX_CHARS} characters"),
        ));
    }
    no_nul(caption, ErrorCode::InvalidText, "a caption")?;
    let mut seen = std::collections::HashSet::new();
    for item in media {
        if item.media_id == item.thumbnail_id
            || !seen.insert(item.media_id)
            || !seen.insert(item.thumbnail_id)
        {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "each photo or video and each thumbnail is a different upload",
            ));
        }
        blurhash(&item.blurhash)?;
    }
    Ok(())
}

/// A blurhash: the size byte, then exactly the characters its component counts need, all
/// from the base-83 alphabet (<https://github.com/woltapp/blurhash/blob/master/Algorithm.md>).
pub fn blurhash(hash: &str) -> Result<(), ApiError> {
    const ALPHABET: &str =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";
    let bad = || ApiError::new(ErrorCode::BadRequest, "malformed blurhash");
    if hash.len() < 6 || hash.len() > crate::limits::BLURHASH_MAX_CHARS {
        return Err(bad());
    }
    if !hash.chars().all(|c| ALPHABET.contains(c)) {
        return Err(bad());
    }
    let size = ALPHABET.find(&hash[..1]).ok_or_else(bad)?;
    let (x, y) = (size % 9 + 1, size / 9 + 1);
    if hash.len() != 4 + 2 * x * y {
        return Err(bad());
    }
    Ok(())
}

/// A waveform has exactly [`WAVEFORM_BARS`] bars.
pub fn waveform(bars: &[u8]) -> Result<(), ApiError> {
    if bars.len() != crate::limits::WAVEFORM_BARS {
        return Err(ApiError::new(
            ErrorCode::InvalidVoice,
            format!(
                "the waveform has {} bars; it needs {}",
                bars.len(),
                crate::limits::WAVEFORM_BARS
            ),
        ));
    }
    Ok(())
}

/// Group names: 1–64 characters, not only whitespace, no U+0000. Returns the name trimmed.
pub fn group_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > GROUP_NAME_MAX {
        return Err(ApiError::new(
            ErrorCode::InvalidGroupName,
            format!("group name must be 1–{GROUP_NAME_MAX} characters"),
        ));
    }
    no_nul(name, ErrorCode::InvalidGroupName, "a group name")?;
    Ok(name.to_string())
}

/// Why someone is reported: 1–1,000 characters, not only whitespace, no U+0000. Returns the
/// reason trimmed.
pub fn report_reason(raw: &str) -> Result<String, ApiError> {
    let reason = raw.trim();
    if reason.is_empty() || reason.chars().count() > REPORT_REASON_MAX {
        return Err(ApiError::new(
            ErrorCode::InvalidReport,
            format!("say why in 1 to {REPORT_REASON_MAX} characters"),
        ));
    }
    no_nul(reason, ErrorCode::InvalidReport, "a report's reason")?;
    Ok(reason.to_string())
}

/// Client message ids must be UUID v7 (time-ordered, so ids sort by creation).
pub fn message_id(id: uuid::Uuid) -> Result<(), ApiError> {
    if id.get_version_num() != 7 {
        return Err(ApiError::new(
            ErrorCode::InvalidMessageId,
            "message id must be a UUID v7",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_text_or_a_voice_note_never_both() {
        let voice = crate::VoiceAttachment {
            media_id: uuid::Uuid::nil(),
            waveform: vec![7; crate::limits::WAVEFORM_BARS],
        };
        assert!(message_content("hi", None, &[]).is_ok());
        assert!(message_content("", Some(&voice), &[]).is_ok());
        assert_eq!(
            message_content("hi", Some(&voice), &[]).unwrap_err().code,
            ErrorCode::InvalidText
        );
        assert_eq!(
            message_content("", None, &[]).unwrap_err().code,
            ErrorCode::InvalidText
        );
        let short = crate::VoiceAttachment {
            waveform: vec![7; 63],
            ..voice
        };
        assert_eq!(
            message_content("", Some(&short), &[]).unwrap_err().code,
            ErrorCode::InvalidVoice
        );
    }

    fn item(n: u128) -> crate::MediaAttachment {
        crate::MediaAttachment {
            media_id: uuid::Uuid::from_u128(n * 2),
            thumbnail_id: uuid::Uuid::from_u128(n * 2 + 1),
            // the reference implementation's example hash (4×3 components)
            blurhash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj".into(),
        }
    }

    #[test]
    fn an_album_has_one_to_nine_items_and_a_short_caption() {
        use crate::limits::{ALBUM_MAX_ITEMS, CAPTION_MAX_CHARS};
        let nine: Vec<_> = (0..ALBUM_MAX_ITEMS as u128).map(item).collect();
        assert!(message_content("", None, &nine).is_ok());
        assert!(message_content("beach day", None, &nine[..1]).is_ok());
        let ten: Vec<_> = (0..=ALBUM_MAX_ITEMS as u128).map(item).collect();
        assert_eq!(
            message_content("", None, &ten).unwrap_err().code,
            ErrorCode::TooManyItems
        );
        let caption = "é".repeat(CAPTION_MAX_CHARS);
        assert!(message_content(&caption, None, &nine).is_ok());
        assert_eq!(
            message_content(&format!("{caption}x"), None, &nine)
                .unwrap_err()
                .code,
            ErrorCode::InvalidText
        );
        let voice = crate::VoiceAttachment {
            media_id: uuid::Uuid::from_u128(99),
            waveform: vec![7; crate::limits::WAVEFORM_BARS],
        };
        assert_eq!(
            message_content("", Some(&voice), &nine[..1])
                .unwrap_err()
                .code,
            ErrorCode::BadRequest
        );
    }

    #[test]
    fn album_items_are_distinct_uploads_with_real_blurhashes() {
        let mut twice = vec![item(1), item(1)];
        assert!(album("", &twice).is_err(), "the same photo twice");
        twice[1] = crate::MediaAttachment {
            thumbnail_id: twice[1].media_id,
            ..item(2)
        };
        assert!(album("", &twice).is_err(), "a thumbnail that is the photo");
        for bad in [
            "",
            "LEHV6",
            "LEHV6nWB2yk8pyo0adR*.7kCMdn",
            "LEHV6nWB2yk8pyo0adR*.7kCMd<j",
            "<script>alert(1)</script>",
        ] {
            let it = crate::MediaAttachment {
                blurhash: bad.into(),
                ..item(3)
            };
            assert_eq!(
                album("", &[it]).unwrap_err().code,
                ErrorCode::BadRequest,
                "{bad:?}"
            );
        }
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn usernames_are_canonicalised_and_checked() {
        assert_eq!(username("  Alice_1 ").unwrap(), "alice_1");
        for bad in [
            "al",
            "1alice",
            "al ice",
            "ålice",
            "a".repeat(33).as_str(),
            "",
        ] {
            assert_eq!(
                username(bad).unwrap_err().code,
                ErrorCode::InvalidUsername,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn text_limits_count_characters_not_bytes() {
        assert!(text(&"é".repeat(TEXT_MAX_CHARS)).is_ok());
        assert_eq!(
            text(&"a".repeat(TEXT_MAX_CHARS + 1)).unwrap_err().code,
            ErrorCode::InvalidText
        );
        assert_eq!(text(" \n\t").unwrap_err().code, ErrorCode::InvalidText);
    }

    #[test]
    fn stored_free_text_refuses_nul_everywhere() {
        // PostgreSQL cannot store U+0000; SQLite could, so the rule is here, for both.
        for bad in [
            "\0",
            "hi\0",
            "\0hi",
            "a\0b",
            &format!("{}\0", "é".repeat(100)),
        ] {
            let e = text(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidText, "{bad:?}");
            assert!(e.message.contains("U+0000"), "{}", e.message);
            assert_eq!(
                message_content(bad, None, &[]).unwrap_err().code,
                ErrorCode::InvalidText,
                "{bad:?}"
            );
            assert_eq!(
                album(bad, &[item(1)]).unwrap_err().code,
                ErrorCode::InvalidText,
                "caption {bad:?}"
            );
            assert_eq!(
                group_name(bad).unwrap_err().code,
                ErrorCode::InvalidGroupName,
                "{bad:?}"
            );
            assert_eq!(
                report_reason(bad).unwrap_err().code,
                ErrorCode::InvalidReport,
                "{bad:?}"
            );
            let name = format!("alice{bad}");
            assert_eq!(
                username(&name).unwrap_err().code,
                ErrorCode::InvalidUsername,
                "{name:?}"
            );
        }
        // Other control characters are text like any other.
        assert!(text("tab\there").is_ok());
        assert!(album("a\u{1}b", &[item(1)]).is_ok());
        assert_eq!(group_name(" friends ").unwrap(), "friends");
    }

    #[test]
    fn report_reasons_are_trimmed_and_bounded() {
        assert_eq!(report_reason("  spam \n").unwrap(), "spam");
        assert!(report_reason(&"é".repeat(REPORT_REASON_MAX)).is_ok());
        for bad in [" \n ", &"a".repeat(REPORT_REASON_MAX + 1)] {
            assert_eq!(
                report_reason(bad).unwrap_err().code,
                ErrorCode::InvalidReport,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn age_counts_from_the_birthday_itself() {
        assert_eq!(age_on(d("2010-06-15"), d("2026-06-14")), 15);
        assert_eq!(age_on(d("2010-06-15"), d("2026-06-15")), 16);
        assert_eq!(age_on(d("2008-02-29"), d("2026-02-28")), 17);
        assert_eq!(age_on(d("2008-02-29"), d("2026-03-01")), 18);
    }

    #[test]
    fn birthdates_must_be_plausible() {
        let today = d("2026-11-21");
        assert!(birthdate(d("2000-01-01"), today).is_ok());
        assert!(birthdate(d("2026-11-22"), today).is_err());
        assert!(birthdate(d("1899-12-31"), today).is_err());
    }

    #[test]
    fn message_ids_must_be_v7() {
        assert!(message_id(uuid::Uuid::now_v7()).is_ok());
        assert_eq!(
            message_id(uuid::Uuid::new_v4()).unwrap_err().code,
            ErrorCode::InvalidMessageId
        );
    }

    #[test]
    fn error_codes_serialise_as_their_names() {
        use ErrorCode::*;
        let all = [
            BadRequest,
            InvalidUsername,
            InvalidPassword,
            InvalidBirthdate,
            UsernameTaken,
            InvalidCredentials,
            Unauthenticated,
            UserNotFound,
            ConversationNotFound,
            InvalidText,
            IdConflict,
            InvalidMessageId,
            GroupFull,
            InvalidGroupName,
            NotGroupCreator,
            CannotMessageSelf,
            WrongConversationKind,
            ForbiddenOrigin,
            PayloadTooLarge,
            InvalidVoice,
            VoiceTooLong,
            MediaTooLarge,
            MediaNotFound,
            Internal,
            Network,
            Microphone,
            TooYoung,
            DmUnavailableUnder16,
            MediaNotAllowedFirstMessage,
            MediaRequiresAcceptedRequest,
            NudityFilterLocked,
            InvalidImage,
            InvalidVideo,
            VideoTooLong,
            TooManyItems,
            UploadOffsetMismatch,
            Blocked,
            RateLimited,
            ExplicitImageBlocked,
            MediaWithheld,
            InvalidReport,
            CannotInvite,
            InvitationPending,
            ServerBusy,
        ];
        // A new code breaks this match until it is added to `all` above.
        for code in all {
            match code {
                BadRequest
                | InvalidUsername
                | InvalidPassword
                | InvalidBirthdate
                | UsernameTaken
                | InvalidCredentials
                | Unauthenticated
                | UserNotFound
                | ConversationNotFound
                | InvalidText
                | IdConflict
                | InvalidMessageId
                | GroupFull
                | InvalidGroupName
                | NotGroupCreator
                | CannotMessageSelf
                | WrongConversationKind
                | ForbiddenOrigin
                | PayloadTooLarge
                | InvalidVoice
                | VoiceTooLong
                | MediaTooLarge
                | MediaNotFound
                | Internal
                | Network
                | Microphone
                | TooYoung
                | DmUnavailableUnder16
                | MediaNotAllowedFirstMessage
                | MediaRequiresAcceptedRequest
                | NudityFilterLocked
                | InvalidImage
                | InvalidVideo
                | VideoTooLong
                | TooManyItems
                | UploadOffsetMismatch
                | Blocked
                | RateLimited
                | ExplicitImageBlocked
                | MediaWithheld
                | InvalidReport
                | CannotInvite
                | InvitationPending
                | ServerBusy => {}
            }
            let v = serde_json::to_value(ApiError::new(code, "x")).unwrap();
            assert_eq!(v["code"], code.as_str(), "{code:?}");
        }
        assert_eq!(IdConflict.as_str(), "id_conflict");
        assert_eq!(DmUnavailableUnder16.as_str(), "dm_unavailable_under_16");
    }
}
