//! Natter wire types, ids, error codes, limits and pure validation rules (no I/O).
//!
//! Everything here is shared by the server (the authority) and the client core (instant
//! feedback), so a rule is written exactly once.

pub mod api;
pub mod error;
pub mod limits;
pub mod policy;
pub mod validate;

pub use api::*;
pub use error::{ApiError, ErrorCode};
