//! The thresholds that turn [`Scores`] into a [`Verdict`]: the only place they live.
//!
//! **Not evaluated.** The values below are reasonable starting points, not measured ones: no
//! labelled explicit images are available on the machines this was built on, so neither the
//! false-negative nor the false-positive rate at these values is known. They need an
//! evaluation on a labelled set (per class, per skin tone, drawings included) before anyone
//! relies on them — in particular before the filter that cannot be turned off for 16–17 year
//! olds is trusted to block.
//!
//! Both comparisons are inclusive: a score exactly at a threshold gets the stricter verdict.

use serde::{Deserialize, Serialize};

use crate::Scores;

/// [`Verdict::Explicit`] when `porn + hentai` is at least this. Unevaluated (see the module
/// documentation): a starting point, not a measured operating point.
pub const EXPLICIT_THRESHOLD: f32 = 0.6;

/// [`Verdict::Suggestive`] when not explicit and `sexy` is at least this. Unevaluated (see the
/// module documentation).
pub const SUGGESTIVE_THRESHOLD: f32 = 0.7;

/// What the filter does with an image, from strictest to most lenient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nudity or sex (photo or drawn): blocked for 16–17, blurred when the filter is on.
    Explicit,
    /// Revealing but not explicit.
    Suggestive,
    /// Neither.
    Safe,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Explicit => "explicit",
            Verdict::Suggestive => "suggestive",
            Verdict::Safe => "safe",
        }
    }
}

/// Explicit wins over suggestive: an image that is both is explicit.
pub fn verdict(scores: &Scores) -> Verdict {
    if scores.explicit() >= EXPLICIT_THRESHOLD {
        Verdict::Explicit
    } else if scores.sexy >= SUGGESTIVE_THRESHOLD {
        Verdict::Suggestive
    } else {
        Verdict::Safe
    }
}
