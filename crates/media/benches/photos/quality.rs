//! Output bytes against quality, for the album's photos: our JPEG encoder against image's (the
//! one it replaced), vipsthumbnail, the 1600 px quality-70 JPEG the product issue compares with,
//! and lossy WebP (libwebp, through the `webp` crate), each at equal SSIM.
//!
//! SSIM is the standard one (Wang et al. 2004: 11×11 Gaussian window, σ 1.5, K1 0.01,
//! K2 0.03) on BT.601 luma, over every window that fits the picture, computed here in a few
//! lines rather than with image-compare: that crate's SSIM averages non-overlapping 8×8 windows,
//! which line up with JPEG's 8×8 blocks and so never see the seams between them (JPEG's main
//! artifact), which would flatter JPEG against WebP. Each candidate is compared with the source
//! resized to the candidate's size by our own resizer (Lanczos3), so for our encoders and
//! image's the score is the encoding loss alone; vipsthumbnail's own resize (shrink-on-load and
//! a different kernel) also counts against it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, RgbImage};
use natter_media::photo::JPEG_QUALITY;

/// One album photo, resized as the prepared photo (2048 px) and as the 1600 px reference.
pub struct Photo {
    /// The camera file, for vipsthumbnail.
    pub path: PathBuf,
    big: Resized,
    small: Resized,
}

/// The source resized to one size: its pixels (what an encoder is given) and their luma.
struct Resized {
    rgb: RgbImage,
    luma: Luma,
}

/// Long edges compared: the prepared photo's and the product issue's reference.
const BIG: u32 = natter_media::photo::MAX_EDGE;
const SMALL: u32 = 1600;

impl Photo {
    /// `bytes` is a camera JPEG stored sideways with EXIF orientation 6 (as the album's are).
    pub fn new(path: &Path, bytes: &[u8]) -> Photo {
        let stored = image::load_from_memory(bytes)
            .expect("decode fixture")
            .into_rgb8();
        let at = |edge: u32| {
            // As prepare does: resize the stored pixels, then turn them upright.
            let rgb = image::imageops::rotate90(&resize(&stored, edge));
            let luma = Luma::of(&rgb);
            Resized { rgb, luma }
        };
        Photo {
            path: path.to_path_buf(),
            big: at(BIG),
            small: at(SMALL),
        }
    }

    fn at(&self, edge: u32) -> &Resized {
        match edge {
            BIG => &self.big,
            SMALL => &self.small,
            _ => panic!("no {edge} px copy of the source"),
        }
    }

    /// The 2048 px pixels prepare_photo encodes (to check the replica below against it).
    pub fn prepared_pixels(&self) -> &RgbImage {
        &self.big.rgb
    }
}

fn resize(img: &RgbImage, max_edge: u32) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    let long = w.max(h);
    let (dw, dh) = (
        (w * max_edge + long / 2) / long,
        (h * max_edge + long / 2) / long,
    );
    let src = Image::from_vec_u8(w, h, img.as_raw().clone(), PixelType::U8x3).expect("image");
    let mut dst = Image::new(dw, dh, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .expect("resize");
    RgbImage::from_raw(dw, dh, dst.into_vec()).expect("resized buffer")
}

/// What is encoded, how, and at which size.
#[derive(Clone, Copy)]
pub enum Candidate {
    /// jpeg-encoder at 4:2:0, baseline with the standard Huffman tables or progressive with
    /// optimised ones. (Not baseline with optimised tables: jpeg-encoder then writes one scan per
    /// component, which zune-jpeg 0.5.15, image's decoder, decodes to wrong colours without an
    /// error: zune-image issue 422.)
    Ours { edge: u32, q: u8, tables: Tables },
    /// image's JpegEncoder (4:4:4, standard tables), what `encode_jpeg` used before.
    Image { edge: u32, q: u8 },
    /// Lossy WebP from libwebp: `method` 4 is its default, 0 its fastest.
    WebP { q: u8, method: i32 },
    /// `vipsthumbnail --size EDGE` on the camera file, `[Q=q,strip]`.
    Vips { edge: u32, q: u8 },
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tables {
    Standard,
    Progressive,
}

/// What `encode_jpeg` in src/photo/pixels.rs writes.
pub const OURS: Tables = Tables::Standard;

impl Candidate {
    fn edge(self) -> u32 {
        match self {
            Candidate::Ours { edge, .. }
            | Candidate::Image { edge, .. }
            | Candidate::Vips { edge, .. } => edge,
            Candidate::WebP { .. } => BIG,
        }
    }

    pub fn name(self) -> String {
        match self {
            Candidate::Ours { q, tables, .. } => format!(
                "ours: jpeg-encoder 4:2:0 {} q{q}",
                match tables {
                    Tables::Standard => "baseline",
                    Tables::Progressive => "progressive",
                }
            ),
            Candidate::Image { q, .. } => format!("image JpegEncoder 4:4:4 q{q}"),
            Candidate::WebP { q, method } => format!("lossy WebP (libwebp) m{method} q{q}"),
            Candidate::Vips { q, .. } => format!("vipsthumbnail (libjpeg) q{q}"),
        }
    }

    /// The encoded file, and the encoder's CPU time (None for vipsthumbnail, which also
    /// decodes and resizes).
    fn encode(self, photo: &Photo, scratch: &Path) -> (Vec<u8>, Option<Duration>) {
        let img = &photo.at(self.edge()).rgb;
        match self {
            Candidate::Ours { q, tables, .. } => {
                let (bytes, cpu) = timed(|| ours(img, q, tables));
                (bytes, Some(cpu))
            }
            Candidate::Image { q, .. } => {
                let (bytes, cpu) = timed(|| {
                    let mut out = Vec::new();
                    JpegEncoder::new_with_quality(&mut out, q)
                        .encode(
                            img.as_raw(),
                            img.width(),
                            img.height(),
                            ExtendedColorType::Rgb8,
                        )
                        .expect("image JPEG");
                    out
                });
                (bytes, Some(cpu))
            }
            Candidate::WebP { q, method } => {
                let (bytes, cpu) = timed(|| {
                    let mut config = webp::WebPConfig::new().expect("WebP config");
                    config.quality = f32::from(q);
                    config.method = method;
                    webp::Encoder::from_rgb(img.as_raw(), img.width(), img.height())
                        .encode_advanced(&config)
                        .expect("WebP encoding")
                        .to_vec()
                });
                (bytes, Some(cpu))
            }
            Candidate::Vips { edge, q } => {
                let name = photo
                    .path
                    .file_stem()
                    .map_or("photo".into(), |s| s.to_string_lossy().into_owned());
                let out = scratch.join(format!("{name}-vips-{edge}-q{q}.jpg"));
                let status = Command::new("vipsthumbnail")
                    .env("VIPS_CONCURRENCY", "1")
                    .arg(&photo.path)
                    .args(["--size", &edge.to_string(), "-o"])
                    .arg(format!("{}[Q={q},strip]", out.display()))
                    .status()
                    .expect("run vipsthumbnail");
                assert!(status.success(), "vipsthumbnail failed on {:?}", photo.path);
                (std::fs::read(&out).expect("vips output"), None)
            }
        }
    }
}

/// The same encoder settings as `encode_jpeg` in src/photo/pixels.rs (checked byte for byte
/// against prepare_photo's output in the report), at any quality.
pub fn ours(img: &RgbImage, q: u8, tables: Tables) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, q);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    if tables == Tables::Progressive {
        encoder.set_progressive(true);
        encoder.set_optimized_huffman_tables(true);
    }
    let (w, h) = (img.width() as u16, img.height() as u16);
    encoder
        .encode(img.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
        .expect("jpeg-encoder");
    out
}

/// A candidate over the whole album: total bytes, mean SSIM, mean encoder CPU time per photo.
#[derive(Clone, Copy)]
pub struct Score {
    pub candidate: Candidate,
    pub bytes: usize,
    pub ssim: f64,
    pub cpu: Option<Duration>,
}

impl Score {
    pub fn row(&self, photos: usize) -> String {
        let cpu = self.cpu.map_or("-".to_string(), |d| {
            format!("{:.1}", d.as_secs_f64() * 1e3 / photos as f64)
        });
        format!(
            "{:<44} {:>5} {:>10} {:>9.1} {:>7.4} {:>9}",
            self.candidate.name(),
            self.candidate.edge(),
            self.bytes / 1024,
            self.bytes as f64 / 1024.0 / photos as f64,
            self.ssim,
            cpu
        )
    }
}

pub const HEADER: &str =
    "candidate                                     edge   KB total  KB/photo    SSIM  enc CPU ms";

/// Encodes every photo (one worker per core), decodes the result and scores it.
pub fn score(photos: &[Photo], candidate: Candidate, scratch: &Path) -> Score {
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let results: Vec<(usize, f64, Option<Duration>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    while let Some(photo) = photos.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let (bytes, cpu) = candidate.encode(photo, scratch);
                        let decoded = image::load_from_memory(&bytes)
                            .expect("decode candidate")
                            .into_rgb8();
                        let ssim = Luma::of(&decoded).ssim(&photo.at(candidate.edge()).luma);
                        done.push((bytes.len(), ssim, cpu));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("scoring thread"))
            .collect()
    });
    Score {
        candidate,
        bytes: results.iter().map(|r| r.0).sum(),
        ssim: results.iter().map(|r| r.1).sum::<f64>() / results.len() as f64,
        cpu: results.iter().map(|r| r.2).sum(),
    }
}

/// The lowest quality in `lo..=hi` whose mean SSIM reaches `target` (SSIM rises with quality),
/// or `hi` if none does.
pub fn matching(
    photos: &[Photo],
    target: f64,
    (lo, hi): (u8, u8),
    at: impl Fn(u8) -> Candidate,
    scratch: &Path,
) -> Score {
    let (mut lo, mut hi) = (lo, hi);
    let mut best = score(photos, at(hi), scratch);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let s = score(photos, at(mid), scratch);
        if s.ssim >= target {
            best = s;
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    best
}

/// Thread CPU time (Linux: /proc/thread-self/schedstat, in ns), or wall time where unreadable.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let (cpu, wall) = (thread_cpu(), Instant::now());
    let out = f();
    let spent = match (cpu, thread_cpu()) {
        (Some(start), Some(end)) => end.saturating_sub(start),
        _ => wall.elapsed(),
    };
    (out, spent)
}

fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// BT.601 luma as floats, as JPEG and WebP code it.
struct Luma {
    width: usize,
    height: usize,
    y: Vec<f32>,
}

/// 11 taps of a Gaussian with σ 1.5, summing to 1.
fn gaussian() -> [f32; 11] {
    let mut taps = [0f32; 11];
    for (i, t) in taps.iter_mut().enumerate() {
        let d = i as f32 - 5.0;
        *t = (-d * d / (2.0 * 1.5 * 1.5)).exp();
    }
    let sum: f32 = taps.iter().sum();
    taps.map(|t| t / sum)
}

impl Luma {
    fn of(img: &RgbImage) -> Luma {
        let y = img
            .pixels()
            .map(|p| {
                let [r, g, b] = p.0.map(f32::from);
                0.299 * r + 0.587 * g + 0.114 * b
            })
            .collect();
        Luma {
            width: img.width() as usize,
            height: img.height() as usize,
            y,
        }
    }

    /// Mean SSIM over every 11×11 window inside both pictures.
    fn ssim(&self, other: &Luma) -> f64 {
        assert_eq!(
            (self.width, self.height),
            (other.width, other.height),
            "compared pictures differ in size"
        );
        let (w, h) = (self.width, self.height);
        let blur = |values: Vec<f32>| blur_valid(&values, w, h);
        let (a, b) = (&self.y, &other.y);
        let mu_a = blur(a.clone());
        let mu_b = blur(b.clone());
        let aa = blur(a.iter().map(|v| v * v).collect());
        let bb = blur(b.iter().map(|v| v * v).collect());
        let ab = blur(a.iter().zip(b).map(|(x, y)| x * y).collect());
        let (c1, c2) = ((0.01f32 * 255.0).powi(2), (0.03f32 * 255.0).powi(2));
        let sum: f64 = (0..mu_a.len())
            .map(|i| {
                let (ma, mb) = (mu_a[i], mu_b[i]);
                let var_a = aa[i] - ma * ma;
                let var_b = bb[i] - mb * mb;
                let cov = ab[i] - ma * mb;
                let s = ((2.0 * ma * mb + c1) * (2.0 * cov + c2))
                    / ((ma * ma + mb * mb + c1) * (var_a + var_b + c2));
                f64::from(s)
            })
            .sum();
        sum / mu_a.len() as f64
    }
}

/// Gaussian blur keeping only the windows that fit: (w − 10) × (h − 10) values. Written as
/// whole-row multiply-adds so the compiler vectorises both passes.
fn blur_valid(values: &[f32], w: usize, h: usize) -> Vec<f32> {
    let taps = gaussian();
    let ow = w - 10;
    let mut across = vec![0f32; ow * h];
    for (out, row) in across.chunks_exact_mut(ow).zip(values.chunks_exact(w)) {
        for (k, &t) in taps.iter().enumerate() {
            for (o, v) in out.iter_mut().zip(&row[k..k + ow]) {
                *o += t * v;
            }
        }
    }
    let oh = h - 10;
    let mut down = vec![0f32; ow * oh];
    for (y, out) in down.chunks_exact_mut(ow).enumerate() {
        for (k, &t) in taps.iter().enumerate() {
            let row = &across[(y + k) * ow..(y + k + 1) * ow];
            for (o, v) in out.iter_mut().zip(row) {
                *o += t * v;
            }
        }
    }
    down
}

/// `JPEG_QUALITY`, for the report's candidates.
pub const OUR_Q: u8 = JPEG_QUALITY;
