//! The thresholds that turn [`Scores`] into a [`Verdict`]: the only place they live.
//!
//! **The rule.** Explicit when porn + hentai ≥ [`EXPLICIT_THRESHOLD`] (0.97) **and** the
//! colour-noise veto ([`noise_veto`]) does not apply: the veto applies when the 224×224 input's
//! chroma noise ([`ColourNoise`]: mean absolute Cb/Cr step between neighbouring pixels) is at
//! least [`NOISE_VETO_CHROMA`] (1.4 levels) and at least [`NOISE_VETO_RATIO`] (0.65) × its luma
//! noise. Else suggestive when sexy ≥ [`SUGGESTIVE_THRESHOLD`], else safe. Both comparisons of
//! scores are inclusive: a score exactly at a threshold gets the stricter verdict.
//!
//! **Evaluated for false positives only.** `examples/eval_benign.rs` classified 2,367 benign
//! pictures built by `eval/gather.sh` (Debian packages and ImageMagick): photos, GIMP-filtered
//! photos, wallpapers, screenshots, figures, textures, generated abstract art and screenshots,
//! and 650 raw ImageMagick `plasma:` / `plasma:fractal` textures (four sizes, 640×640 to
//! 2048×1536), each also as the app sends it: JPEG q80 with 4:2:0 chroma (libjpeg's tables,
//! as natter-media) and its 320-px thumbnail (which the server also classifies). Commands:
//! `bash crates/safety/eval/gather.sh` then `cargo run --release -p natter-safety --example
//! eval_benign -- --manifest ~/.cache/natter/safety-eval/manifest.tsv`. Share judged
//! explicit (porn + hentai ≥ t), by the threshold alone, and the highest score:
//!
//! | category (n)                       | 0.8   | 0.9   | 0.93 | 0.95 | **0.97** | max   |
//! |------------------------------------|-------|-------|------|------|----------|-------|
//! | plasma, raw (650)                  | 40.0% | 11.4% | 5.2% | 2.3% | 0.3%     | 0.992 |
//! | plasma, JPEG as sent (650)         | 48.6% | 14.8% | 6.3% | 2.9% | 0.9%     | 0.994 |
//! | plasma, 320-px thumbnail (650)     | 14.8% | 3.1%  | 1.2% | 0.2% | 0%       | 0.961 |
//! | abstract, other generated (78)     | 0%    | 0%    | 0%   | 0%   | 0%       | 0.763 |
//! | photo (57)                         | 1.8%  | 0%    | 0%   | 0%   | 0%       | 0.837 |
//! | photo, GIMP-filtered (37)          | 2.7%  | 2.7%  | 2.7% | 0%   | 0%       | 0.940 |
//! | texture (20)                       | 5.0%  | 0%    | 0%   | 0%   | 0%       | 0.861 |
//! | wallpaper (91)                     | 0%    | 0%    | 0%   | 0%   | 0%       | 0.702 |
//! | screenshot, figure, generated (134) | 0%   | 0%    | 0%   | 0%   | 0%       | 0.032 |
//! | **all (2,367)**                    | 28.5% | 8.1%  | 3.5% | 1.5% | 0.3%     |       |
//!
//! **No threshold alone keeps abstract art out.** Raw and JPEG plasma reach 0.994, above the
//! committed fixture (`tests/fixtures/explicit-by-search.png`, the stand-in for an explicit
//! picture), which scores 0.9895–0.9905 on the views `examples/find_explicit_fixture.rs`
//! climbs and the eval checks (PNG, JPEG q80, 1024 px JPEG, 160 px PNG, 640×480 JPEG), 0.985
//! as a 4:2:0 JPEG (the app's encoding) and 0.990 as an H.264 keyframe. (A first run with
//! only the first 320 plasmas peaked at 0.963 and suggested 0.97 alone; the 330 seeds added
//! as a held-out check found 0.992.)
//!
//! **The second signal: pixel-level colour noise** ([`crate::noise`]). ImageMagick's plasma
//! adds independent noise to R, G and B down to single pixels, so its chroma changes between
//! neighbours about as much as its luma; a camera photo's chroma is smooth (demosaicing, 4:2:0)
//! and the fixture is smooth throughout. Chroma noise (min–max) and chroma / luma:
//!
//! | category                  | chroma      | chroma / luma | vetoed        |
//! |---------------------------|-------------|---------------|---------------|
//! | plasma, raw               | 2.29–2.50   | 0.89–1.00     | 650 of 650    |
//! | plasma, JPEG as sent      | 1.74–2.38   | 0.67–0.96     | 650 of 650    |
//! | plasma, thumbnail         | 1.14–1.46   | 0.47–0.59     | 0 of 650      |
//! | the fixture, every view   | 1.02–1.04   | 0.67–0.68     | never         |
//! | photo / GIMP-filtered     | 0–3.65 / 0–5.76 | ≤ 0.63 / ≤ 0.79 | 0 of 57 / 0 of 37 |
//! | wallpaper                 | 0–4.82      | ≤ 1.00        | 4 of 91 (digital art) |
//! | texture / screenshot / figure | 0–5.06  | ≤ 1.12        | 0 of 20 / 1 of 58 / 1 of 40 |
//!
//! The veto only ever takes `Explicit` away, so it makes no benign verdict worse. With it, no
//! benign picture is explicit at 0.97 (at 0.95 one thumbnail is, at 0.93 eight thumbnails and
//! a GIMP-filtered photo). The thumbnails, whose chroma the 160-px 4:2:0 planes have already
//! smoothed, are what the veto cannot see (their chroma overlaps the fixture's), hence the
//! threshold: 0.97 is the lowest of the sweep at which nothing benign is explicit, with 0.009
//! to the highest thumbnail and 0.02 to the fixture (0.015 as a 4:2:0 JPEG). The photos
//! closest to the veto are at chroma / luma 0.626–0.627 (`Dune.jpg`, a chromatic-aberration
//! demo), 0.023 under its ratio bound; plasma as sent is 0.024 over it.
//!
//! **Warning: the veto is a way around the filter.** Anyone who adds colour noise to a
//! picture — independent per-pixel changes of R, G and B of a few levels at the model's
//! 224×224 scale (coarse enough to survive the resize and 4:2:0 JPEG), with chroma noise at
//! least 1.4 and 0.65 × the luma noise — turns off `Explicit` for it whatever it shows; it
//! needs no access to the model, and the picture looks grainy but intact. It is accepted here
//! because the product requires the 16–17 block not to fire on abstract art and no threshold
//! does that alone, because ordinary photos never trigger it (0 of 94 camera and edited
//! photos; it needs chroma as noisy as brightness, which cameras do not produce), and because
//! a sender set on evading the filter already can (the threshold passes everything below
//! 0.97, and crops, overlays and adversarial edits are untested). Each veto of an explicit
//! score is logged (`explicit score vetoed as colour noise`) so that its use can be counted;
//! if it is used to evade, the remedy is to drop the veto and accept blocked plasma.
//!
//! **Unknown:** false negatives. No labelled explicit picture may be used, so how many
//! explicit pictures score below 0.97, or carry the noise the veto looks for, is not
//! measured. Raising the threshold from 0.8 to 0.97 lets through every explicit picture the
//! model scores in between, which may be many.
//!
//! A signal measured and rejected: the share of skin-coloured pixels ([`crate::skin`]).
//! ImageMagick plasma has as many (median 0.16) as photos (0.16) and more than the fixture
//! (0.11), so no floor removes the plasma false positives without also failing the fixture, and any
//! floor would miss black-and-white pictures (no grey pixel is skin-coloured). Also tried and
//! rejected: asking for the score to hold after a blur (σ 0.5–2 px at 224): plasma still
//! scores up to 0.99 (σ 0.5) to 0.94 (σ 2) both before and after, the fixture drops to 0.89
//! at σ 2, and blur moves photos' scores a lot (up by 0.1 on average at σ 1.5).
//!
//! The suggestive threshold was not moved: no benign picture reached sexy ≥ 0.5.

use serde::{Deserialize, Serialize};

use crate::{ColourNoise, Scores};

/// [`Verdict::Explicit`] when `porn + hentai` is at least this and the colour-noise veto does
/// not apply. Chosen from the measured false-positive rates and the committed fixture's
/// scores (see the module documentation); false negatives are unmeasured.
pub const EXPLICIT_THRESHOLD: f32 = 0.97;

/// The colour-noise veto applies when the picture's chroma noise is at least this many levels
/// ([`ColourNoise::chroma`])...
pub const NOISE_VETO_CHROMA: f32 = 1.4;

/// ...and at least this share of its luma noise ([`ColourNoise::luma`]).
pub const NOISE_VETO_RATIO: f32 = 0.65;

/// [`Verdict::Suggestive`] when not explicit and `sexy` is at least this. No benign picture
/// of the evaluation reached 0.5; the value is not otherwise evaluated.
pub const SUGGESTIVE_THRESHOLD: f32 = 0.7;

/// Whether a picture with this colour noise is kept from [`Verdict::Explicit`] whatever its
/// scores: pixel-level colour noise as strong as ImageMagick plasma's, which camera photos
/// and the committed fixture do not have (see the module documentation, and its warning).
pub fn noise_veto(noise: &ColourNoise) -> bool {
    noise.chroma >= NOISE_VETO_CHROMA && noise.chroma >= NOISE_VETO_RATIO * noise.luma
}

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

/// Explicit wins over suggestive: an image that is both is explicit. Scores that carry no
/// colour-noise measurement ([`Scores::colour_noise`] `None`: built by hand or read back from
/// JSON) are judged by the thresholds alone.
pub fn verdict(scores: &Scores) -> Verdict {
    let vetoed = scores.colour_noise.as_ref().is_some_and(noise_veto);
    if scores.explicit() >= EXPLICIT_THRESHOLD && !vetoed {
        Verdict::Explicit
    } else if scores.sexy >= SUGGESTIVE_THRESHOLD {
        Verdict::Suggestive
    } else {
        Verdict::Safe
    }
}
