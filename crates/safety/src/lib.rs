//! natter-safety: the on-device nudity classifier (the nsfwjs MobileNetV2 model run by tract,
//! pure Rust) and the one place its scores become a [`Verdict`]: a threshold on the explicit
//! score and a veto for pixel-level colour noise ([`noise`], see [`thresholds`]). Used by the
//! client on every picked photo and sampled video frame, and by the server on every uploaded
//! image.
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
pub mod noise;
pub mod skin;
pub mod thresholds;

pub use classifier::{
    Classification, Classifier, INPUT_BYTES, INPUT_SIZE, MAX_DECODE_BYTES, MAX_PIXELS,
};
pub use error::SafetyError;
pub use noise::ColourNoise;
pub use thresholds::{
    noise_veto, verdict, Verdict, EXPLICIT_THRESHOLD, NOISE_VETO_CHROMA, NOISE_VETO_RATIO,
    SUGGESTIVE_THRESHOLD,
};

use serde::{Deserialize, Serialize};

/// The model's five class probabilities (each in [0, 1], summing to ~1), and the colour noise
/// of the picture they were computed from (the verdict's second signal).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub drawing: f32,
    pub hentai: f32,
    pub neutral: f32,
    pub porn: f32,
    pub sexy: f32,
    /// Measured by the [`Classifier`] on the 224×224 input the model saw. Not serialized (the
    /// JSON form is the five probabilities); `None` for scores built by hand or read back,
    /// which the thresholds alone judge.
    #[serde(skip)]
    pub colour_noise: Option<ColourNoise>,
}

impl Scores {
    /// The probability of explicit content: porn and hentai together.
    pub fn explicit(&self) -> f32 {
        self.porn + self.hentai
    }

    /// The verdict the [`thresholds`] give these scores (and their colour noise).
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
            colour_noise: None,
        }
    }
}
