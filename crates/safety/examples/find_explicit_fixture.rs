//! Produces `tests/fixtures/explicit-by-search.png`: an **abstract pattern** of blurred colour
//! blocks, found by black-box search against the real embedded model, that the model scores as
//! explicit. It contains no nudity and no depiction of anything — it is a false positive made
//! on purpose, so the tests have a real file that takes the `Explicit` path without any
//! explicit image ever existing in this repository.
//!
//! The search is a seeded hill climb over a coarse grid of RGB cells, upscaled bilinearly to
//! 256×256; from scratch the grid starts at 8×8 (best of 16 random grids) and is refined to
//! 16×16 and 32×32 when the climb stalls. At the finest grid a stall halves the mutation step
//! (down to 4), and a stall at the smallest step starts the steps over. A candidate's score
//! is the **minimum** of `scores.explicit()` (porn + hentai) over four ways the picture may
//! reach the classifier, so the result survives re-encoding:
//!
//! - (a) the 256×256 picture as PNG (the fixture's own bytes), through `classify_bytes`;
//! - (b) the same picture as JPEG quality 80, through `classify_bytes`;
//! - (c) upscaled to 1024×1024 (Lanczos3), as JPEG quality 80, through `classify_bytes`;
//! - (d) downscaled to 160×160 (Lanczos3), as PNG, through `classify_bytes`.
//!
//! Only the minimum is climbed (a child replaces the incumbent when its minimum is at least
//! the incumbent's), so every view ends at or above the reported minimum.
//!
//! It stops when that minimum reaches the target (default 0.99), when the time budget runs
//! out (default 40 minutes) or after a given number of attempts, writes the best picture found
//! (PNG, no metadata), prints its four scores and, for information, the scores of a few more
//! views the tests and the app use (640×480 JPEGs, a 4:2:0 JPEG), and prints the command that
//! repeats the run attempt for attempt.
//!
//! ```text
//! cargo run --release -p natter-safety --example find_explicit_fixture -- [MINUTES]
//!     [--minutes M] [--target T] [--attempts N] [--seed S] [--start PNG] [--out PNG]
//! ```
//!
//! `--start PNG` climbs from an existing picture instead of from scratch: it is resized to
//! 256×256 if needed and sampled back onto a grid — the cells whose bilinear upscale
//! reproduces it, found by a few rounds of correcting each cell by the difference at its
//! centre — the coarsest grid that reproduces it within half a level (a picture this example
//! made comes back exactly at its own grid), else the finest; the climb starts there with a
//! smaller step (16) and refines as above. `--out` writes elsewhere than the committed
//! fixture. (The model is that sensitive: the first fixture, an 8×8 grid, sampled onto the
//! 32×32 grid instead differs by 1.5 levels on average and scores 0.56 instead of 0.90.)
//!
//! Reproducible: the random numbers come from `--seed` (default fixed), so a run with the
//! same start, seed and `--attempts N` (the count it printed) repeats the same climb, as long
//! as the model computes the same floats (the same build on the same kind of CPU). A run that
//! stopped on its time budget depends on the machine's speed; its printed command does not.
//!
//! The committed fixture came from two runs: the first from scratch (to a minimum of 0.9, the
//! target then; an 8×8 grid), then `-- --start tests/fixtures/explicit-by-search.png
//! --minutes 45` from that file (in git history), which reached the 0.99 target on the 8×8
//! grid after 795 attempts (1.4 minutes): `--start` that file `--attempts 795` repeats it
//! byte for byte. Its scores are in `src/thresholds.rs`.

use std::io::Cursor;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use natter_safety::{Classifier, Scores};

/// Side of the fixture in pixels.
const SIZE: u32 = 256;
/// The search stops once the minimum over the four views reaches this (`--target`).
const DEFAULT_TARGET: f32 = 0.99;
/// Grid sides the search goes through, coarse to fine.
const GRIDS: [u32; 3] = [8, 16, 32];
/// Attempts without improvement after which the grid is refined (or, at the finest grid,
/// the mutation steps shrink).
const STALL: u32 = 400;
/// The first mutation step from scratch and from a `--start` picture; the smallest step.
const SCRATCH_STEP: i32 = 48;
const START_STEP: i32 = 16;
const MIN_STEP: i32 = 4;
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

    /// The `side`×`side` grid whose [`Genome::render`] best reproduces `picture` (resized to
    /// `SIZE`×`SIZE` first if it is not): each cell starts as the mean of the 2×2 pixels at
    /// its centre, then is corrected by the difference between the picture and the render
    /// there, until nothing changes (at most 32 rounds).
    fn from_picture(picture: &RgbImage, side: u32) -> Self {
        let picture = if picture.dimensions() == (SIZE, SIZE) {
            picture.clone()
        } else {
            image::imageops::resize(picture, SIZE, SIZE, FilterType::Triangle)
        };
        let cell = SIZE / side;
        let centres = |img: &RgbImage| -> Vec<[f32; 3]> {
            (0..side * side)
                .map(|i| {
                    let (cx, cy) = ((i % side) * cell + cell / 2, (i / side) * cell + cell / 2);
                    let mut mean = [0.0f32; 3];
                    for (x, y) in [(cx - 1, cy - 1), (cx, cy - 1), (cx - 1, cy), (cx, cy)] {
                        for (m, &v) in mean.iter_mut().zip(&img.get_pixel(x, y).0) {
                            *m += f32::from(v) / 4.0;
                        }
                    }
                    mean
                })
                .collect()
        };
        let want = centres(&picture);
        let mut genome = Genome {
            side,
            cells: want
                .iter()
                .map(|p| p.map(|v| v.round().clamp(0.0, 255.0) as u8))
                .collect(),
        };
        for _ in 0..32 {
            let got = centres(&genome.render());
            let mut changed = false;
            for ((cell, w), g) in genome.cells.iter_mut().zip(&want).zip(&got) {
                for c in 0..3 {
                    let v = (f32::from(cell[c]) + w[c] - g[c]).round().clamp(0.0, 255.0) as u8;
                    changed |= v != cell[c];
                    cell[c] = v;
                }
            }
            if !changed {
                break;
            }
        }
        genome
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

/// Mean absolute difference, in levels, between two pictures of the same size.
fn mean_difference(a: &RgbImage, b: &RgbImage) -> f64 {
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

/// Views reported after the search but not climbed: what the tests and the app also do to
/// the fixture.
fn extra_views(img: &RgbImage) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "(e) 640x480 Triangle JPEG q80",
            jpeg_q80(&image::imageops::resize(
                img,
                640,
                480,
                FilterType::Triangle,
            )),
        ),
        (
            "(f) 640x480 Lanczos3 JPEG q80",
            jpeg_q80(&image::imageops::resize(
                img,
                640,
                480,
                FilterType::Lanczos3,
            )),
        ),
        ("(g) 256x256 4:2:0 JPEG q80", jpeg_q80(&chroma_420(img))),
        (
            "(h) 2048x2048 Triangle JPEG q80",
            jpeg_q80(&image::imageops::resize(
                img,
                2048,
                2048,
                FilterType::Triangle,
            )),
        ),
    ]
}

/// The picture with its chroma (BT.601 Cb, Cr) averaged over 2×2 blocks, as 4:2:0 JPEG
/// encoders, cameras and H.264 video keep it (the `image` crate's JPEG encoder keeps 4:4:4).
fn chroma_420(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let ycc = |p: &Rgb<u8>| {
        let [r, g, b] = p.0.map(f32::from);
        (
            0.299 * r + 0.587 * g + 0.114 * b,
            128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b,
            128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b,
        )
    };
    RgbImage::from_fn(w, h, |x, y| {
        let (x0, y0) = (x & !1, y & !1);
        let (mut cb, mut cr, mut n) = (0.0, 0.0, 0.0);
        for (bx, by) in [(x0, y0), (x0 + 1, y0), (x0, y0 + 1), (x0 + 1, y0 + 1)] {
            if bx < w && by < h {
                let (_, b, r) = ycc(img.get_pixel(bx, by));
                (cb, cr, n) = (cb + b, cr + r, n + 1.0);
            }
        }
        let (luma, _, _) = ycc(img.get_pixel(x, y));
        let (cb, cr) = (cb / n - 128.0, cr / n - 128.0);
        Rgb([
            luma + 1.402 * cr,
            luma - 0.344_136 * cb - 0.714_136 * cr,
            luma + 1.772 * cb,
        ]
        .map(|v| v.round().clamp(0.0, 255.0) as u8))
    })
}

struct Options {
    minutes: f64,
    target: f32,
    attempts: Option<u64>,
    seed: u64,
    start: Option<PathBuf>,
    out: PathBuf,
}

fn usage() -> ! {
    eprintln!(
        "usage: find_explicit_fixture [MINUTES] [--minutes M] [--target T] [--attempts N] \
         [--seed S] [--start PNG] [--out PNG]"
    );
    std::process::exit(2)
}

fn options() -> Options {
    let mut o = Options {
        minutes: DEFAULT_MINUTES,
        target: DEFAULT_TARGET,
        attempts: None,
        seed: SEED,
        start: None,
        out: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/explicit-by-search.png"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--minutes" => o.minutes = value().parse().unwrap_or_else(|_| usage()),
            "--target" => o.target = value().parse().unwrap_or_else(|_| usage()),
            "--attempts" => o.attempts = Some(value().parse().unwrap_or_else(|_| usage())),
            "--seed" => o.seed = value().parse().unwrap_or_else(|_| usage()),
            "--start" => o.start = Some(PathBuf::from(value())),
            "--out" => o.out = PathBuf::from(value()),
            "-h" | "--help" => usage(),
            // The time budget in minutes, as the first version of this example took it.
            _ => o.minutes = a.parse().unwrap_or_else(|_| usage()),
        }
    }
    o
}

fn main() {
    let o = options();
    let budget = Duration::from_secs_f64(o.minutes * 60.0);
    let classifier = Classifier::load().expect("the embedded model loads");
    let started = Instant::now();
    let mut rng = Rng(o.seed | 1);
    let all = [0, 1, 2, 3];

    let (mut best, mut grid, mut step) = match &o.start {
        Some(path) => {
            let picture = image::load_from_memory(
                &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            )
            .expect("the start picture decodes")
            .into_rgb8();
            let start_scores = evaluate(&classifier, &picture, &all, 0.0).unwrap();
            println!(
                "start picture {}: min explicit {:.4} {:.4?}",
                path.display(),
                min4(&start_scores),
                start_scores,
            );
            let target = if picture.dimensions() == (SIZE, SIZE) {
                picture
            } else {
                image::imageops::resize(&picture, SIZE, SIZE, FilterType::Triangle)
            };
            // The coarsest grid that reproduces the picture (one this example made comes back
            // at its own grid), else the finest.
            let mut chosen = None;
            for (g, &side) in GRIDS.iter().enumerate() {
                let genome = Genome::from_picture(&target, side);
                let off = mean_difference(&target, &genome.render());
                println!("  sampled onto the {side}x{side} grid: mean absolute difference {off:.3} levels");
                if off < 0.5 || g + 1 == GRIDS.len() {
                    chosen = Some((genome, g));
                    break;
                }
            }
            let (genome, g) = chosen.expect("the finest grid is always taken");
            (genome, g, START_STEP)
        }
        None => {
            // A few random starts on the coarsest grid; climb from the best.
            let mut best = Genome::random(GRIDS[0], &mut rng);
            let mut best_min = min4(&evaluate(&classifier, &best.render(), &all, 0.0).unwrap());
            for _ in 1..16 {
                let g = Genome::random(GRIDS[0], &mut rng);
                let m = min4(&evaluate(&classifier, &g.render(), &all, 0.0).unwrap());
                if m > best_min {
                    (best, best_min) = (g, m);
                }
            }
            (best, 0, SCRATCH_STEP)
        }
    };
    let first_step = step;
    let mut best_scores = evaluate(&classifier, &best.render(), &all, 0.0).unwrap();
    println!(
        "start: grid {0}x{0}, min explicit {1:.4} {2:.4?}",
        best.side,
        min4(&best_scores),
        best_scores,
    );

    let mut stalled = 0;
    let mut attempts: u64 = 0;
    while min4(&best_scores) < o.target
        && started.elapsed() < budget
        && o.attempts.is_none_or(|n| attempts < n)
    {
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
                        "{:>6.0}s attempt {attempts}: grid {side}x{side} step {step}: min {:.4} [{:.4} {:.4} {:.4} {:.4}]",
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
                best_scores = evaluate(&classifier, &best.render(), &all, 0.0).unwrap();
                println!(
                    "refined to grid {0}x{0}: min {1:.4}",
                    best.side,
                    min4(&best_scores)
                );
            } else if step > MIN_STEP {
                step = (step / 2).max(MIN_STEP);
                println!("step now {step}");
            } else {
                step = first_step;
                println!("step back to {step}");
            }
        }
    }
    let elapsed = started.elapsed();

    let img = best.render();
    let file = png(&img);
    std::fs::write(&o.out, &file).expect("writing the fixture");

    // Scores of the file as written, read back from disk.
    let written = image::load_from_memory(&std::fs::read(&o.out).expect("reading it back"))
        .expect("the fixture decodes")
        .into_rgb8();
    println!(
        "\n{} after {attempts} attempts in {:.1} min (grid {2}x{2})",
        if min4(&best_scores) >= o.target {
            "target reached"
        } else if o.attempts == Some(attempts) {
            "attempts spent"
        } else {
            "time budget spent"
        },
        elapsed.as_secs_f64() / 60.0,
        best.side,
    );
    println!("wrote {} ({} bytes)", o.out.display(), file.len());
    let report = |name: &str, s: Scores| {
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
    };
    for (v, name) in VIEW_NAMES.iter().enumerate() {
        report(name, scores_of(&classifier, &written, v));
    }
    println!("not climbed:");
    for (name, bytes) in extra_views(&written) {
        report(
            name,
            classifier
                .classify_bytes(&bytes)
                .expect("classifies")
                .scores,
        );
    }
    println!(
        "\nrepeat this run with: cargo run --release -p natter-safety --example \
         find_explicit_fixture -- --seed {} --target {} --attempts {attempts} --minutes 1e9{}",
        o.seed,
        o.target,
        o.start.as_ref().map_or(String::new(), |p| format!(
            " --start {} (as it was then)",
            p.display()
        )),
    );
}
