//! The `Explicit` path on a real file: `fixtures/explicit-by-search.png` is an abstract pattern
//! of blurred colour blocks, found by black-box search against the embedded model, that the
//! model scores as explicit. It contains no nudity. Regenerate it with
//! `cargo run --release -p natter-safety --example find_explicit_fixture` (see that example).
//!
//! The four views the search climbed (as committed, JPEG, enlarged, shrunk) must each be
//! `Explicit` under the rule in force, the colour-noise veto included: the pattern is smooth,
//! so the veto must never apply to it.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::OnceLock;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, RgbImage};
use natter_safety::{noise_veto, Classifier, Verdict, EXPLICIT_THRESHOLD, INPUT_SIZE};

fn classifier() -> &'static Classifier {
    static CLASSIFIER: OnceLock<Classifier> = OnceLock::new();
    CLASSIFIER.get_or_init(|| Classifier::load().expect("the embedded model loads"))
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn explicit_fixture() -> Vec<u8> {
    std::fs::read(fixtures().join("explicit-by-search.png")).expect("the committed fixture")
}

fn assert_explicit(result: &natter_safety::Classification) {
    assert_eq!(
        result.verdict,
        Verdict::Explicit,
        "scores {:?} (explicit {})",
        result.scores,
        result.scores.explicit()
    );
    assert!(result.scores.explicit() >= EXPLICIT_THRESHOLD);
    let noise = result
        .scores
        .colour_noise
        .expect("measured by the classifier");
    assert!(!noise_veto(&noise), "{noise:?}");
}

fn jpeg_q80(img: &RgbImage) -> Vec<u8> {
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 80)
        .encode_image(img)
        .unwrap();
    jpeg
}

#[test]
fn the_searched_pattern_is_explicit() {
    let bytes = explicit_fixture();
    let img = image::load_from_memory_with_format(&bytes, ImageFormat::Png).unwrap();
    assert_eq!((img.width(), img.height()), (256, 256));
    let result = classifier().classify_bytes(&bytes).unwrap();
    assert_explicit(&result);
}

#[test]
fn the_searched_pattern_stays_explicit_as_jpeg() {
    let img = image::load_from_memory(&explicit_fixture())
        .unwrap()
        .into_rgb8();
    let result = classifier().classify_bytes(&jpeg_q80(&img)).unwrap();
    assert_explicit(&result);
}

#[test]
fn the_searched_pattern_stays_explicit_enlarged_and_shrunk() {
    let img = image::load_from_memory(&explicit_fixture())
        .unwrap()
        .into_rgb8();
    let large = image::imageops::resize(&img, 1024, 1024, FilterType::Lanczos3);
    assert_explicit(&classifier().classify_bytes(&jpeg_q80(&large)).unwrap());
    let small = image::imageops::resize(&img, 160, 160, FilterType::Lanczos3);
    let mut png = Vec::new();
    DynamicImage::ImageRgb8(small)
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .unwrap();
    assert_explicit(&classifier().classify_bytes(&png).unwrap());
}

#[test]
fn a_landscape_is_not_explicit() {
    let rgb = std::fs::read(fixtures().join("parity/landscape.png.u8")).unwrap();
    let img = RgbImage::from_raw(INPUT_SIZE, INPUT_SIZE, rgb).expect("224×224×3 raw RGB");
    let mut png = Vec::new();
    DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .unwrap();
    let result = classifier().classify_bytes(&png).unwrap();
    assert_ne!(
        result.verdict,
        Verdict::Explicit,
        "scores {:?} (explicit {})",
        result.scores,
        result.scores.explicit()
    );
    assert!(result.scores.explicit() < 0.1, "{:?}", result.scores);
}
