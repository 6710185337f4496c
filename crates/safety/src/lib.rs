//! natter-safety: the on-device nudity classifier (the nsfwjs MobileNetV2 model run by tract,
//! pure Rust) and the one place its scores become a [`Verdict`]. Used by the client on every
//! picked photo and sampled video frame, and by the server on every uploaded image.
//!
//! ```no_run
//! let classifier = natter_safety::Classifier::load()?;
//! let photo = std::fs::read("photo.jpg").expect("a photo");
//! let result = classifier.classify_bytes(&photo)?;
//! println!("{}: porn {:.3}", result.verdict.as_str(), result.scores.porn);
//! # Ok::<(), natter_safety::SafetyError>(())
//! ```

mod classifier;
mod error;
pub mod skin;
pub mod thresholds;

pub use classifier::{
    Classification, Classifier, INPUT_BYTES, INPUT_SIZE, MAX_DECODE_BYTES, MAX_PIXELS,
};
pub use error::SafetyError;
pub use thresholds::{verdict, Verdict, EXPLICIT_THRESHOLD, SUGGESTIVE_THRESHOLD};

use serde::{Deserialize, Serialize};

/// The model's five class probabilities (each in [0, 1], summing to ~1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub drawing: f32,
    pub hentai: f32,
    pub neutral: f32,
    pub porn: f32,
    pub sexy: f32,
}

impl Scores {
    /// The probability of explicit content: porn and hentai together.
    pub fn explicit(&self) -> f32 {
        self.porn + self.hentai
    }

    /// The verdict the [`thresholds`] give these scores.
    pub fn verdict(&self) -> Verdict {
        verdict(self)
    }

    /// In the model's output order: drawing, hentai, neutral, porn, sexy.
    pub fn as_array(&self) -> [f32; 5] {
        [
            self.drawing,
            self.hentai,
            self.neutral,
            self.porn,
            self.sexy,
        ]
    }

    pub(crate) fn from_array(p: [f32; 5]) -> Self {
        let [drawing, hentai, neutral, porn, sexy] = p;
        Scores {
            drawing,
            hentai,
            neutral,
            porn,
            sexy,
        }
    }
}
