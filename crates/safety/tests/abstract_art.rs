//! Abstract art is not judged explicit under the rule in force (the filter that cannot be
//! turned off for 16–17 year olds blocks what is), while the committed fixture still is. The
//! pictures are made here, so the test needs no external tool:
//!
//! - a smooth plasma (midpoint displacement, each channel on its own), the same blurred, and
//!   sine-colour interference patterns: some score 0.6–0.7, which the first threshold (0.6)
//!   called explicit;
//! - ImageMagick's own `plasma:` redone in Rust (the same recursion, noise and starting
//!   gradient as its `PlasmaImage`), which has the noisy, streaked character of the textures
//!   that score up to 0.99 (see `src/thresholds.rs`): several of the seeds used here score
//!   above 0.9, which the previous threshold (0.8) called explicit, and every one is kept from
//!   `Explicit` by the colour-noise veto as well as by the threshold.
//!
//! Not covered here: ImageMagick's plasma as the app sends it (JPEG with 4:2:0 chroma and its
//! 320-px thumbnail), measured by `examples/eval_benign.rs` on `eval/gather.sh`'s set; the
//! `image` crate's JPEG encoder keeps full chroma, so it cannot make those here.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::OnceLock;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use natter_safety::skin::skin_share;
use natter_safety::{
    noise_veto, Classification, Classifier, Verdict, EXPLICIT_THRESHOLD, INPUT_SIZE,
};

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

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
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

/// ImageMagick's `plasma:` (its `ReadPlasmaImage` and `PlasmaImageProxy`, ImageMagick 6/7)
/// in 8-bit levels: the picture starts as a white-to-black vertical gradient; pass `depth`
/// (1, 2, ...) splits it into 4^depth segments and sets each segment's edge midpoints and
/// centre to the mean of two of its corners plus uniform noise of width 255 / (2 × depth), in
/// R, G and B independently; passes continue until every segment is under 3 pixels. The noise
/// shrinks only as 1/depth, so the finest passes still add several levels to single pixels:
/// the pixel-level colour noise the veto looks for.
struct ImPlasma {
    width: usize,
    pixels: Vec<[f32; 3]>,
    rng: Rng,
}

impl ImPlasma {
    fn index(&self, x: f32, y: f32) -> usize {
        (y - 0.5).ceil() as usize * self.width + (x - 0.5).ceil() as usize
    }

    /// Sets the pixel at (x, y) to the mean of the pixels at `a` and `b` plus noise.
    fn set(&mut self, (x, y): (f32, f32), a: (f32, f32), b: (f32, f32), noise: f32) {
        let (a, b) = (
            self.pixels[self.index(a.0, a.1)],
            self.pixels[self.index(b.0, b.1)],
        );
        let mut value = [0.0; 3];
        for (c, v) in value.iter_mut().enumerate() {
            *v = ((a[c] + b[c]) / 2.0 + noise * (self.rng.uniform() - 0.5)).clamp(0.0, 255.0);
        }
        let i = self.index(x, y);
        self.pixels[i] = value;
    }

    /// One pass over the segment (x1, y1)–(x2, y2); true when all its segments are done.
    fn pass(&mut self, (x1, y1, x2, y2): (f32, f32, f32, f32), depth: u32, level: u32) -> bool {
        if x1 == x2 && y1 == y2 {
            return true;
        }
        let xm = ((x1 + x2) / 2.0 - 0.5).ceil();
        let ym = ((y1 + y2) / 2.0 - 0.5).ceil();
        if depth > 0 {
            let mut done = self.pass((x1, y1, xm, ym), depth - 1, level + 1);
            done &= self.pass((x1, ym, xm, y2), depth - 1, level + 1);
            done &= self.pass((xm, y1, x2, ym), depth - 1, level + 1);
            done &= self.pass((xm, ym, x2, y2), depth - 1, level + 1);
            return done;
        }
        let noise = 255.0 / (2.0 * level as f32);
        if x1 != xm || x2 != xm {
            self.set((x1, ym), (x1, y1), (x1, y2), noise);
            if x1 != x2 {
                self.set((x2, ym), (x2, y1), (x2, y2), noise);
            }
        }
        if y1 != ym || y2 != ym {
            if x1 != xm || y2 != ym {
                self.set((xm, y2), (x1, y2), (x2, y2), noise);
            }
            if y1 != y2 {
                self.set((xm, y1), (x1, y1), (x2, y1), noise);
            }
        }
        self.set((xm, ym), (x1, y1), (x2, y2), noise);
        x2 - x1 < 3.0 && y2 - y1 < 3.0
    }
}

fn imagemagick_plasma(width: u32, height: u32, seed: u64) -> RgbImage {
    let (w, h) = (width as usize, height as usize);
    let mut plasma = ImPlasma {
        width: w,
        pixels: (0..h)
            .flat_map(|y| std::iter::repeat_n([255.0 * (1.0 - y as f32 / (h - 1) as f32); 3], w))
            .collect(),
        rng: Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
    };
    let whole = (0.0, 0.0, (w - 1) as f32, (h - 1) as f32);
    let mut depth = 1;
    while !plasma.pass(whole, depth, 0) {
        depth += 1;
    }
    RgbImage::from_fn(width, height, |x, y| {
        Rgb(plasma.pixels[y as usize * w + x as usize].map(|v| v.round() as u8))
    })
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
    // The set reaches into the band the first threshold (0.6) called explicit, so it tests
    // the change and not only pictures any threshold would pass.
    assert!(
        (0.6..EXPLICIT_THRESHOLD).contains(&max_explicit),
        "highest porn + hentai {max_explicit}"
    );
}

/// Seeds of [`imagemagick_plasma`] at 800×600 with some of the highest scores of the first 120
/// (0.91–0.95 in release builds; the median seed scores about 0.75).
const NOISY_PLASMA_SEEDS: [u64; 4] = [33, 111, 113, 119];

#[test]
fn imagemagick_style_plasma_is_not_explicit() {
    let mut failures = Vec::new();
    let mut max_explicit: f32 = 0.0;
    for seed in NOISY_PLASMA_SEEDS {
        let img = imagemagick_plasma(800, 600, seed);
        let c = classifier().classify_bytes(&png(&img)).unwrap();
        max_explicit = max_explicit.max(c.scores.explicit());
        let noise = c.scores.colour_noise.expect("measured by the classifier");
        if c.verdict == Verdict::Explicit || !noise_veto(&noise) {
            failures.push(format!("seed {seed}: {}, {noise:?}", describe(&c)));
        }
    }
    assert!(
        failures.is_empty(),
        "plasma judged explicit or not recognised as colour noise:\n{}",
        failures.join("\n")
    );
    // These score where the previous threshold (0.8) called them explicit: without the new
    // rule this test fails.
    assert!(max_explicit >= 0.9, "highest porn + hentai {max_explicit}");
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
        let noise = c.scores.colour_noise.expect("measured");
        assert!(!noise_veto(&noise), "{what}: {noise:?}");
    }
}
