//! Limits shared by client and server. Changing one here changes it everywhere.

/// Shortest allowed username, in characters.
pub const USERNAME_MIN: usize = 3;
/// Longest allowed username, in characters.
pub const USERNAME_MAX: usize = 32;
/// Shortest allowed password, in characters.
pub const PASSWORD_MIN: usize = 8;
/// Longest allowed password, in bytes (bounds the hashing work a request can cause).
pub const PASSWORD_MAX_BYTES: usize = 1024;
/// Longest text message, in Unicode scalar values (what a user would call characters).
pub const TEXT_MAX_CHARS: usize = 4000;
/// Most members a group conversation can have, creator included.
pub const GROUP_MAX_MEMBERS: usize = 32;
/// Longest group name, in characters.
pub const GROUP_NAME_MAX: usize = 64;
/// Largest page of history a client may ask for.
pub const PAGE_MAX: u32 = 500;
/// Default page of history.
pub const PAGE_DEFAULT: u32 = 50;
/// Largest JSON request body the server reads, in bytes.
pub const JSON_BODY_MAX_BYTES: usize = 64 * 1024;
/// Oldest accepted year of birth.
pub const BIRTH_YEAR_MIN: i32 = 1900;
/// Longest voice note, in milliseconds of audio (measured from the audio, never metadata).
pub const VOICE_MAX_MS: u32 = 60_000;
/// Slack on [`VOICE_MAX_MS`] for encoders that end on a whole frame: one 20 ms Opus frame.
pub const VOICE_TOLERANCE_MS: u32 = 20;
/// Largest voice-note file, in bytes. 60 s at Natter's 24 kbps is ~183 KB; this leaves room
/// for other encoders' defaults (up to ~130 kbps for a full minute) and nothing more.
pub const VOICE_MAX_BYTES: usize = 1024 * 1024;
/// Bars in a voice note's waveform, each 0–255.
pub const WAVEFORM_BARS: usize = 64;
/// Sample rate Natter records and encodes voice at (Opus's native rate).
pub const VOICE_SAMPLE_RATE: u32 = 48_000;

/// Most photos and videos in one message (an album).
pub const ALBUM_MAX_ITEMS: usize = 9;
/// Longest caption under an album, in characters.
pub const CAPTION_MAX_CHARS: usize = 1000;
/// Largest photo file the server stores, in bytes. A prepared photo is at most 4096 px on the
/// long edge as JPEG q80 or lossless WebP; 25 MiB leaves room for the lossless worst case.
pub const IMAGE_MAX_BYTES: usize = 25 * 1024 * 1024;
/// Longest edge of a stored photo or video frame, in pixels (the "HD" choice).
pub const IMAGE_MAX_EDGE: u32 = 4096;
/// Longest edge of a thumbnail, in pixels (the client makes ~320 px ones).
pub const THUMB_MAX_EDGE: u32 = 640;
/// Largest thumbnail file, in bytes.
pub const THUMB_MAX_BYTES: usize = 512 * 1024;
/// Largest video file, in bytes.
pub const VIDEO_MAX_BYTES: usize = 100 * 1024 * 1024;
/// Longest video, in milliseconds, measured from the file's sample tables.
pub const VIDEO_MAX_MS: u32 = 180_000;
/// Longest blurhash string accepted (9×9 components is 4 + 2·81 = 166 characters).
pub const BLURHASH_MAX_CHARS: usize = 166;
/// Largest piece of a resumable upload the server reads in one request, in bytes.
pub const UPLOAD_CHUNK_MAX_BYTES: usize = 8 * 1024 * 1024;
/// The piece size the client sends: small enough that a lost connection costs little.
pub const UPLOAD_CHUNK_BYTES: usize = 512 * 1024;

/// Messages one account may send per minute, across all conversations; past it the server
/// answers `rate_limited` with `Retry-After`. Generous for a person, tight for a script.
pub const MESSAGES_PER_MINUTE: u32 = 60;
/// New direct conversations one account may start per day (24 hours, rolling).
pub const NEW_CONVERSATIONS_PER_DAY: u32 = 30;
/// Longest report reason, in characters.
pub const REPORT_REASON_MAX: usize = 1000;
/// Most messages one report may carry.
pub const REPORT_MAX_MESSAGES: usize = 50;
