//! Abstract art is not judged explicit under the chosen threshold (the filter that cannot be
//! turned off for 16–17 year olds blocks what is), while the committed fixture still is. The
//! pictures are made here, so the test needs no external tool: a plasma (midpoint
//! displacement, each channel on its own, like ImageMagick's `plasma:` but smoother), the
//! same blurred, and sine-colour interference patterns. Some of these plasmas score
//! 0.6–0.7, which the old threshold (0.6) called explicit.
//!
//! Known gap, measured by `examples/eval_benign.rs`: ImageMagick's own `plasma:` textures are
//! noisier and score up to 0.93, and 25 of 60 of them are still explicit at 0.8 (see
//! `src/thresholds.rs`); this test does not claim otherwise.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::OnceLock;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use natter_safety::skin::skin_share;
use natter_safety::{Classification, Classifier, Verdict, EXPLICIT_THRESHOLD, INPUT_SIZE};

fn classifier() -> &'static Classifier {
    static CLASSIFIER: OnceLock<Classifier> = OnceLock::new();
    CLASSIFIER.get_or_init(|| Classifier::load().expect("the embedded model loads"))
}

/// xorshift64*: tiny, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// One channel of midpoint displacement (diamond-square) on a 257×257 grid, in [0, 255].
fn diamond_square(rng: &mut Rng) -> Vec<f32> {
    const N: usize = 257;
    let mut g = vec![0.0f32; N * N];
    for &(x, y) in &[(0, 0), (N - 1, 0), (0, N - 1), (N - 1, N - 1)] {
        g[y * N + x] = 127.5 + 127.5 * rng.unit();
    }
    let mut step = N - 1;
    let mut amp = 128.0;
    while step > 1 {
        let half = step / 2;
        for y in (half..N).step_by(step) {
            for x in (half..N).step_by(step) {
                let avg = (g[(y - half) * N + x - half]
                    + g[(y - half) * N + x + half]
                    + g[(y + half) * N + x - half]
                    + g[(y + half) * N + x + half])
                    / 4.0;
                g[y * N + x] = avg + amp * rng.unit();
            }
        }
        for y in (0..N).step_by(half) {
            let start = if (y / half) % 2 == 0 { half } else { 0 };
            for x in (start..N).step_by(step) {
                let mut sum = 0.0;
                let mut n = 0.0;
                if y >= half {
                    sum += g[(y - half) * N + x];
                    n += 1.0;
                }
                if y + half < N {
                    sum += g[(y + half) * N + x];
                    n += 1.0;
                }
                if x >= half {
                    sum += g[y * N + x - half];
                    n += 1.0;
                }
                if x + half < N {
                    sum += g[y * N + x + half];
                    n += 1.0;
                }
                g[y * N + x] = sum / n + amp * rng.unit();
            }
        }
        step = half;
        amp *= 0.55;
    }
    g.iter().map(|v| v.clamp(0.0, 255.0)).collect()
}

/// An 800×600 colourful plasma: three independent diamond-square channels.
fn plasma(seed: u64) -> RgbImage {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let channels = [
        diamond_square(&mut rng),
        diamond_square(&mut rng),
        diamond_square(&mut rng),
    ];
    let grid = RgbImage::from_fn(257, 257, |x, y| {
        let i = (y * 257 + x) as usize;
        Rgb(channels.each_ref().map(|c| c[i] as u8))
    });
    image::imageops::resize(&grid, 800, 600, FilterType::Triangle)
}

/// Sine-colour interference: each channel a sum of two plane waves.
fn sine_colours(seed: u64) -> RgbImage {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let waves: Vec<[f32; 6]> = (0..3)
        .map(|_| std::array::from_fn(|_| rng.unit()))
        .collect();
    RgbImage::from_fn(800, 600, |x, y| {
        let (x, y) = (x as f32 / 100.0, y as f32 / 100.0);
        Rgb(std::array::from_fn(|c| {
            let w = waves[c];
            let v = (w[0] * 3.0 * x + w[1] * 3.0 * y + w[2] * 6.0).sin()
                + (w[3] * 4.0 * x - w[4] * 4.0 * y + w[5] * 6.0).sin();
            (127.5 + 63.0 * v) as u8
        }))
    })
}

fn png(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .unwrap();
    out
}

fn jpeg(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(img)
        .unwrap();
    out
}

fn model_input(img: &RgbImage) -> Vec<u8> {
    image::imageops::resize(img, INPUT_SIZE, INPUT_SIZE, FilterType::Triangle).into_raw()
}

fn describe(c: &Classification) -> String {
    format!(
        "porn + hentai {:.3}, verdict {:?}",
        c.scores.explicit(),
        c.verdict
    )
}

fn fixture() -> RgbImage {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/explicit-by-search.png");
    image::load_from_memory(&std::fs::read(path).unwrap())
        .unwrap()
        .into_rgb8()
}

/// Why the skin share is not a second signal: a colourful plasma has as many skin-coloured
/// pixels as the fixture, so no floor on it tells them apart.
#[test]
fn plasma_has_as_many_skin_coloured_pixels_as_the_fixture() {
    let fixture = skin_share(&model_input(&fixture()));
    assert!((0.1..0.2).contains(&fixture), "fixture {fixture}");
    let shares: Vec<f32> = (1..=6)
        .map(|s| skin_share(&model_input(&plasma(s))))
        .collect();
    assert!(
        shares.iter().all(|&s| s > 0.0),
        "a plasma without a skin-coloured pixel: {shares:?}"
    );
    assert!(
        shares.iter().filter(|&&s| s > fixture).count() >= 2,
        "plasma skin shares {shares:?}, fixture {fixture}"
    );
}

#[test]
fn generated_abstract_art_is_not_explicit() {
    let mut pictures: Vec<(String, RgbImage)> = Vec::new();
    for seed in 1..=8 {
        pictures.push((format!("plasma {seed}"), plasma(seed)));
    }
    for seed in 1..=3 {
        let blurred = image::imageops::blur(&plasma(100 + seed), 10.0);
        pictures.push((format!("blurred plasma {seed}"), blurred));
    }
    for seed in 1..=4 {
        pictures.push((format!("sine colours {seed}"), sine_colours(seed)));
    }
    let mut failures = Vec::new();
    let mut max_explicit: f32 = 0.0;
    for (name, img) in &pictures {
        for (format, bytes) in [("PNG", png(img)), ("JPEG", jpeg(img))] {
            let c = classifier().classify_bytes(&bytes).unwrap();
            max_explicit = max_explicit.max(c.scores.explicit());
            if c.verdict == Verdict::Explicit {
                failures.push(format!("{name} ({format}): {}", describe(&c)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "abstract art judged explicit:\n{}",
        failures.join("\n")
    );
    // The set reaches into the band the old threshold (0.6) called explicit, so it tests the
    // change and not only pictures any threshold would pass.
    assert!(
        (0.6..EXPLICIT_THRESHOLD).contains(&max_explicit),
        "highest porn + hentai {max_explicit}"
    );
}

#[test]
fn the_fixture_stays_explicit_under_the_same_rule() {
    let img = fixture();
    let resized = image::imageops::resize(&img, 640, 480, FilterType::Lanczos3);
    for (what, bytes) in [
        ("PNG", png(&img)),
        ("JPEG q80", jpeg(&img)),
        ("640×480 JPEG q80", jpeg(&resized)),
    ] {
        let c = classifier().classify_bytes(&bytes).unwrap();
        assert_eq!(c.verdict, Verdict::Explicit, "{what}: {}", describe(&c));
        assert!(c.scores.explicit() >= EXPLICIT_THRESHOLD, "{what}");
    }
}
