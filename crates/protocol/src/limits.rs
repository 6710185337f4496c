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
