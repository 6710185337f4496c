//! Produces `tests/fixtures/explicit-by-search.png`: an **abstract pattern** of blurred colour
//! blocks, found by black-box search against the real embedded model, that the model scores as
//! explicit. It contains no nudity and no depiction of anything — it is a false positive made
//! on purpose, so the tests have a real file that takes the `Explicit` path without any
//! explicit image ever existing in this repository.
//!
//! The search is a seeded (reproducible) hill climb over a coarse grid of RGB cells, upscaled
//! bilinearly to 256×256; the grid starts at 8×8 and is refined to 16×16 and 32×32 when the
//! climb stalls. A candidate's score is the **minimum** of `scores.explicit()` (porn + hentai)
//! over four ways the picture may reach the classifier, so the result survives re-encoding:
//!
//! - (a) the 256×256 picture as PNG (the fixture's own bytes), through `classify_bytes`;
//! - (b) the same picture as JPEG quality 80, through `classify_bytes`;
//! - (c) upscaled to 1024×1024 (Lanczos3), as JPEG quality 80, through `classify_bytes`;
//! - (d) downscaled to 160×160 (Lanczos3), as PNG, through `classify_bytes`.
//!
//! It stops when that minimum reaches 0.9 or when the time budget runs out (default 40
//! minutes; pass another number of minutes as the first argument), writes the best picture
//! found (PNG, no metadata) and prints its four scores.
//!
//! Regenerate with `cargo run --release -p natter-safety --example find_explicit_fixture`.

use std::io::Cursor;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use natter_safety::{Classifier, Scores};

/// Side of the fixture in pixels.
const SIZE: u32 = 256;
/// The search stops once the minimum over the four views reaches this.
const TARGET: f32 = 0.9;
/// Grid sides the search goes through, coarse to fine.
const GRIDS: [u32; 3] = [8, 16, 32];
/// Attempts without improvement after which the grid is refined (or, at the finest grid,
/// the mutation steps shrink).
const STALL: u32 = 400;
const SEED: u64 = 0x6e61_7474_6572_2121;
const DEFAULT_MINUTES: f64 = 40.0;
const VIEW_NAMES: [&str; 4] = [
    "(a) 256x256 PNG",
    "(b) 256x256 JPEG q80",
    "(c) 1024x1024 Lanczos3 JPEG q80",
    "(d) 160x160 Lanczos3 PNG",
];

/// xorshift64*: tiny, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u32) -> u32 {
        (((self.next() >> 32) * u64::from(n)) >> 32) as u32
    }

    /// Uniform in `-r..=r`.
    fn signed(&mut self, r: i32) -> i32 {
        self.below((2 * r + 1) as u32) as i32 - r
    }
}

/// A candidate: a `side`×`side` grid of RGB cells.
#[derive(Clone)]
struct Genome {
    side: u32,
    cells: Vec<[u8; 3]>,
}

impl Genome {
    fn random(side: u32, rng: &mut Rng) -> Self {
        let cells = (0..side * side)
            .map(|_| {
                [
                    rng.below(256) as u8,
                    rng.below(256) as u8,
                    rng.below(256) as u8,
                ]
            })
            .collect();
        Genome { side, cells }
    }

    /// The same picture on a grid twice as fine (each cell becomes a 2×2 block).
    fn refined(&self) -> Self {
        let side = self.side * 2;
        let cells = (0..side * side)
            .map(|i| {
                let (x, y) = (i % side, i / side);
                self.cells[((y / 2) * self.side + x / 2) as usize]
            })
            .collect();
        Genome { side, cells }
    }

    /// The grid upscaled bilinearly to `SIZE`×`SIZE`.
    fn render(&self) -> RgbImage {
        let grid = RgbImage::from_fn(self.side, self.side, |x, y| {
            Rgb(self.cells[(y * self.side + x) as usize])
        });
        image::imageops::resize(&grid, SIZE, SIZE, FilterType::Triangle)
    }

    /// A copy with one to three random changes of up to `step` per channel.
    fn mutated(&self, rng: &mut Rng, step: i32) -> Self {
        let mut child = self.clone();
        let side = self.side;
        for _ in 0..=rng.below(3) {
            match rng.below(4) {
                // One cell nudged.
                0 | 1 => {
                    let i = rng.below(side * side) as usize;
                    for c in &mut child.cells[i] {
                        *c = (i32::from(*c) + rng.signed(step)).clamp(0, 255) as u8;
                    }
                }
                // A rectangle of cells shifted together.
                2 => {
                    let (w, h) = (1 + rng.below(side / 4), 1 + rng.below(side / 4));
                    let (x0, y0) = (rng.below(side - w + 1), rng.below(side - h + 1));
                    let shift = [rng.signed(step), rng.signed(step), rng.signed(step)];
                    for y in y0..y0 + h {
                        for x in x0..x0 + w {
                            let cell = &mut child.cells[(y * side + x) as usize];
                            for (c, s) in cell.iter_mut().zip(shift) {
                                *c = (i32::from(*c) + s).clamp(0, 255) as u8;
                            }
                        }
                    }
                }
                // One cell takes a neighbour's colour.
                _ => {
                    let (x, y) = (rng.below(side), rng.below(side));
                    let nx = (x as i32 + rng.signed(1)).clamp(0, side as i32 - 1) as u32;
                    let ny = (y as i32 + rng.signed(1)).clamp(0, side as i32 - 1) as u32;
                    child.cells[(y * side + x) as usize] = self.cells[(ny * side + nx) as usize];
                }
            }
        }
        child
    }
}

fn png(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .expect("PNG encoding into memory");
    out
}

fn jpeg_q80(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(img)
        .expect("JPEG encoding into memory");
    out
}

/// The encoded file of view `v` (0..4 for (a)..(d)) of a `SIZE`×`SIZE` picture.
fn view(img: &RgbImage, v: usize) -> Vec<u8> {
    match v {
        0 => png(img),
        1 => jpeg_q80(img),
        2 => jpeg_q80(&image::imageops::resize(
            img,
            1024,
            1024,
            FilterType::Lanczos3,
        )),
        _ => png(&image::imageops::resize(
            img,
            160,
            160,
            FilterType::Lanczos3,
        )),
    }
}

fn scores_of(classifier: &Classifier, img: &RgbImage, v: usize) -> Scores {
    classifier
        .classify_bytes(&view(img, v))
        .expect("the model classifies a generated picture")
        .scores
}

/// The explicit score of every view, or `None` as soon as one is below `floor` (the candidate
/// cannot beat the incumbent then). Views are tried in `order`, likeliest-to-reject first.
fn evaluate(
    classifier: &Classifier,
    img: &RgbImage,
    order: &[usize; 4],
    floor: f32,
) -> Option<[f32; 4]> {
    let mut explicit = [0.0; 4];
    for &v in order {
        explicit[v] = scores_of(classifier, img, v).explicit();
        if explicit[v] < floor {
            return None;
        }
    }
    Some(explicit)
}

fn min4(s: &[f32; 4]) -> f32 {
    s.iter().copied().fold(f32::INFINITY, f32::min)
}

/// View indices sorted by score, lowest first.
fn order_by(scores: &[f32; 4]) -> [usize; 4] {
    let mut order = [0, 1, 2, 3];
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    order
}

fn main() {
    let minutes: f64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("the time budget in minutes, a number"))
        .unwrap_or(DEFAULT_MINUTES);
    let budget = Duration::from_secs_f64(minutes * 60.0);
    let out =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/explicit-by-search.png");

    let classifier = Classifier::load().expect("the embedded model loads");
    let started = Instant::now();
    let mut rng = Rng(SEED);

    // A few random starts on the coarsest grid; climb from the best.
    let mut best = Genome::random(GRIDS[0], &mut rng);
    let mut best_scores = evaluate(&classifier, &best.render(), &[0, 1, 2, 3], 0.0).unwrap();
    for _ in 1..16 {
        let g = Genome::random(GRIDS[0], &mut rng);
        let s = evaluate(&classifier, &g.render(), &[0, 1, 2, 3], 0.0).unwrap();
        if min4(&s) > min4(&best_scores) {
            (best, best_scores) = (g, s);
        }
    }
    println!(
        "start: grid {0}x{0}, min explicit {1:.4}",
        best.side,
        min4(&best_scores)
    );

    let mut grid = 0;
    let mut step = 48;
    let mut stalled = 0;
    let mut attempts: u64 = 0;
    while min4(&best_scores) < TARGET && started.elapsed() < budget {
        attempts += 1;
        let child = best.mutated(&mut rng, step);
        let floor = min4(&best_scores);
        // Ties are accepted (a random walk across plateaus), hence `floor` and not above it.
        match evaluate(&classifier, &child.render(), &order_by(&best_scores), floor) {
            Some(s) if min4(&s) >= floor => {
                if min4(&s) > floor {
                    stalled = 0;
                    let side = child.side;
                    println!(
                        "{:>6.0}s attempt {attempts}: grid {side}x{side} step {step}: min {:.4} [{:.3} {:.3} {:.3} {:.3}]",
                        started.elapsed().as_secs_f64(),
                        min4(&s),
                        s[0],
                        s[1],
                        s[2],
                        s[3],
                    );
                } else {
                    stalled += 1;
                }
                (best, best_scores) = (child, s);
            }
            _ => stalled += 1,
        }
        if stalled >= STALL {
            stalled = 0;
            if grid + 1 < GRIDS.len() {
                grid += 1;
                best = best.refined();
                best_scores = evaluate(&classifier, &best.render(), &[0, 1, 2, 3], 0.0).unwrap();
                println!(
                    "refined to grid {0}x{0}: min {1:.4}",
                    best.side,
                    min4(&best_scores)
                );
            } else if step > 8 {
                step /= 2;
                println!("step now {step}");
            }
        }
    }
    let elapsed = started.elapsed();

    let img = best.render();
    let file = png(&img);
    std::fs::write(&out, &file).expect("writing the fixture");

    // Scores of the file as written, read back from disk.
    let written = image::load_from_memory(&std::fs::read(&out).expect("reading it back"))
        .expect("the fixture decodes")
        .into_rgb8();
    println!(
        "\n{} after {attempts} attempts in {:.1} min (grid {2}x{2})",
        if min4(&best_scores) >= TARGET {
            "target reached"
        } else {
            "time budget spent"
        },
        elapsed.as_secs_f64() / 60.0,
        best.side,
    );
    println!("wrote {} ({} bytes)", out.display(), file.len());
    for (v, name) in VIEW_NAMES.iter().enumerate() {
        let s = scores_of(&classifier, &written, v);
        println!(
            "{name:<32} explicit {:.4} (porn {:.4}, hentai {:.4}, sexy {:.4}, neutral {:.4}, drawing {:.4}) -> {}",
            s.explicit(),
            s.porn,
            s.hentai,
            s.sexy,
            s.neutral,
            s.drawing,
            s.verdict().as_str(),
        );
    }
}
