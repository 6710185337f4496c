//! Loading the embedded model and running it on pictures.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Instant;

use image::imageops::FilterType;
use image::{DynamicImage, ImageReader, Limits};
use serde::{Deserialize, Serialize};
use tract_onnx::prelude::*;

use crate::{ColourNoise, SafetyError, Scores, Verdict};

/// nsfwjs 4.4.0's MobileNetV2 as ONNX (see `model/README.md` for provenance and licence).
static MODEL: &[u8] = include_bytes!("../model/nsfwjs_mobilenet_v2.onnx");

/// The model's input is `INPUT_SIZE`×`INPUT_SIZE` RGB.
pub const INPUT_SIZE: u32 = 224;
/// Length of the buffer [`Classifier::classify_rgb`] takes: 224 × 224 × 3.
pub const INPUT_BYTES: usize = (INPUT_SIZE * INPUT_SIZE * 3) as usize;
/// Most pixels an encoded image may declare (width × height), checked from its header before
/// decoding: 100 megapixels, the same as natter-media's photo limit.
pub const MAX_PIXELS: u64 = 100_000_000;
/// Most memory one decode may allocate (100 MP as 8-bit RGBA is 400 MB).
pub const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

type Plan = TypedRunnableModel<TypedModel>;

/// The loaded, optimised model. Load it once ([`Classifier::load`] takes ~0.1 s) and share
/// it: clones are cheap (one `Arc`), and it is `Send + Sync`, so several threads may
/// classify at once (each call runs on the calling thread).
#[derive(Clone)]
pub struct Classifier {
    plan: Arc<Plan>,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier").finish_non_exhaustive()
    }
}

/// Scores and the verdict the thresholds give them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub scores: Scores,
    pub verdict: Verdict,
}

impl Classifier {
    /// Parses, optimises and plans the model embedded in the binary (no file is read).
    pub fn load() -> Result<Self, SafetyError> {
        let started = Instant::now();
        let size = INPUT_SIZE as usize;
        let plan = tract_onnx::onnx()
            .model_for_read(&mut Cursor::new(MODEL))
            .and_then(|m| m.with_input_fact(0, f32::fact([1, size, size, 3]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| SafetyError::Model(format!("{e:#}")))?;
        tracing::debug!(ms = started.elapsed().as_millis(), "nudity model loaded");
        Ok(Classifier {
            plan: Arc::new(plan),
        })
    }

    /// The process's one classifier, loaded on first use; later calls return a clone (one
    /// `Arc`). The app and the server both use this, so a process never loads it twice.
    pub fn shared() -> Result<Self, SafetyError> {
        static MODEL: std::sync::OnceLock<Result<Classifier, String>> = std::sync::OnceLock::new();
        MODEL
            .get_or_init(|| Self::load().map_err(|e| e.to_string()))
            .clone()
            .map_err(SafetyError::Model)
    }

    /// Classifies a picture already at the model's size: 224×224 RGB, 8 bits a channel,
    /// row-major with no padding ([`INPUT_BYTES`] long). The scores carry the picture's
    /// [`ColourNoise`], which the verdict also uses.
    pub fn classify_rgb(&self, rgb: &[u8]) -> Result<Classification, SafetyError> {
        if rgb.len() != INPUT_BYTES {
            return Err(SafetyError::InputSize {
                expected: INPUT_BYTES,
                got: rgb.len(),
            });
        }
        let size = INPUT_SIZE as usize;
        let pixels: Vec<f32> = rgb.iter().map(|&b| f32::from(b) / 255.0).collect();
        let input = Tensor::from_shape(&[1, size, size, 3], &pixels)
            .map_err(|e| SafetyError::Model(format!("{e:#}")))?;
        let outputs = self
            .plan
            .run(tvec!(input.into()))
            .map_err(|e| SafetyError::Model(format!("{e:#}")))?;
        let probs = outputs
            .first()
            .ok_or_else(|| SafetyError::Model("the model gave no output".into()))?
            .as_slice::<f32>()
            .map_err(|e| SafetyError::Model(format!("{e:#}")))?;
        let probs: [f32; 5] = probs.try_into().map_err(|_| {
            SafetyError::Model(format!("expected 5 probabilities, got {}", probs.len()))
        })?;
        let noise = ColourNoise::measure(rgb, size);
        let scores = Scores {
            colour_noise: Some(noise),
            ..Scores::from_array(probs)
        };
        if scores.explicit() >= crate::EXPLICIT_THRESHOLD && crate::noise_veto(&noise) {
            // Rare on real pictures (see `thresholds`), and the way to dodge the filter by
            // adding colour noise: logged so that it can be counted.
            tracing::info!(
                explicit = scores.explicit(),
                chroma = noise.chroma,
                luma = noise.luma,
                "explicit score vetoed as colour noise"
            );
        }
        Ok(Classification {
            scores,
            verdict: scores.verdict(),
        })
    }

    /// Classifies a decoded picture of any size: resized (bilinear, `image`'s `Triangle`
    /// filter, which also averages when shrinking) to 224×224, ignoring the aspect ratio as
    /// nsfwjs does; alpha is dropped. The caller applies EXIF orientation if it matters.
    pub fn classify_image(&self, img: &DynamicImage) -> Result<Classification, SafetyError> {
        let small = img
            .resize_exact(INPUT_SIZE, INPUT_SIZE, FilterType::Triangle)
            .into_rgb8();
        self.classify_rgb(small.as_raw())
    }

    /// Decodes an encoded photo (JPEG, PNG, GIF — its first frame — or WebP, recognised by
    /// content) within [`MAX_PIXELS`] and [`MAX_DECODE_BYTES`], then classifies it.
    pub fn classify_bytes(&self, bytes: &[u8]) -> Result<Classification, SafetyError> {
        self.classify_image(&decode(bytes)?)
    }
}

fn decode(bytes: &[u8]) -> Result<DynamicImage, SafetyError> {
    let format = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()
        .and_then(|r| r.format())
        .ok_or_else(|| SafetyError::Decode("not a JPEG, PNG, GIF or WebP file".into()))?;
    let mut header = ImageReader::with_format(Cursor::new(bytes), format);
    header.no_limits();
    let (width, height) = header.into_dimensions().map_err(decode_error)?;
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(SafetyError::TooLarge(format!(
            "{width}×{height} pixels is more than {} megapixels",
            MAX_PIXELS / 1_000_000
        )));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    reader.decode().map_err(decode_error)
}

fn decode_error(e: image::ImageError) -> SafetyError {
    match e {
        image::ImageError::Limits(e) => SafetyError::TooLarge(e.to_string()),
        e => SafetyError::Decode(e.to_string()),
    }
}
