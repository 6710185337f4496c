//! Cost and output of preparing an album of 9 camera photos of 12 MP (4000×3000 JPEGs, EXIF
//! orientation 6 and GPS), printed as plain tables before criterion's timings:
//!
//! - per photo, our CPU time against `vipsthumbnail --size 2048` on the same file (libvips,
//!   one thread via VIPS_CONCURRENCY=1, Debian package `libvips-tools`; skipped when missing)
//!   and the ratio, then wall time for all 9 on every core, ours (`prepare_many`) against
//!   vipsthumbnail run as one single-threaded process per core;
//! - bytes and SSIM (see photos/quality.rs) of our JPEG, the encoder it replaced, vipsthumbnail,
//!   the 1600 px quality-70 reference JPEG of the product issue, and lossy WebP, and the
//!   qualities at which ours (and WebP) match them.
//!
//! The photos are cut from a real one when it is installed: `Elephants_5640x3172.jpg` of
//! Debian's `mate-backgrounds` (`apt-get install mate-backgrounds`; a photograph of a painting
//! by Wyng Stancikaite, GPL-2+, read at run time and not part of this repo), or any photo of at
//! least 4000×3000 named by NATTER_BENCH_PHOTO. Nine overlapping 4000×3000 windows of it are
//! stored sideways as a phone held upright does, as quality-92 JPEGs. Without one, generated
//! scenes (gradients and noise) stand in: the timings still hold, but their SSIM figures say
//! little about photos.
//!
//! `cargo bench -p natter-media --bench photos`

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use image::{Rgb, RgbImage};
use natter_media::{prepare_many, prepare_photo, PrepareOptions};

#[path = "../tests/photo_fixtures/mod.rs"]
mod photo_fixtures;
#[path = "photos/quality.rs"]
mod quality;

use quality::{matching, score, timed, Candidate, Photo, Tables, HEADER, OURS, OUR_Q};

const PHOTOS: usize = 9;
const OPTS: PrepareOptions = PrepareOptions { hd: false };
const REAL_PHOTO: &str = "/usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg";
const CAMERA: (u32, u32) = (4000, 3000);

/// The real photo the album is cut from, if one is installed and large enough.
fn real_photo() -> Option<(PathBuf, RgbImage)> {
    let path =
        std::env::var_os("NATTER_BENCH_PHOTO").map_or(PathBuf::from(REAL_PHOTO), PathBuf::from);
    let bytes = std::fs::read(&path).ok()?;
    let img = image::load_from_memory(&bytes).ok()?.into_rgb8();
    (img.width() >= CAMERA.0 && img.height() >= CAMERA.1).then_some((path, img))
}

/// Window `i` of 9 over `real`, stored sideways (3000×4000) as a phone held upright does.
fn cut(real: &RgbImage, i: u32) -> RgbImage {
    let (w, h) = CAMERA;
    let (spare_x, spare_y) = (real.width() - w, real.height() - h);
    let x = spare_x * i / (PHOTOS as u32 - 1);
    let y = spare_y * ((i * 5) % PHOTOS as u32) / (PHOTOS as u32 - 1);
    let window = image::imageops::crop_imm(real, x, y, w, h).to_image();
    image::imageops::rotate270(&window)
}

/// A 4000×3000 scene with smooth gradients, edges and sensor-like noise, so the JPEG is about
/// as large and as slow to decode as a phone's (several MB), stored sideways.
fn generated(seed: u32) -> RgbImage {
    let (w, h) = CAMERA;
    let mut noise = seed.wrapping_mul(2_654_435_761).max(1);
    RgbImage::from_fn(h, w, |x, y| {
        noise ^= noise << 13;
        noise ^= noise >> 17;
        noise ^= noise << 5;
        let n = (noise % 24) as i32 - 12;
        let band = ((x / 150 + y / 200 + seed) % 5) as i32 * 30;
        let r = (x * 255 / h) as i32 + n;
        let g = (y * 255 / w) as i32 + band / 2 + n;
        let b = 128 + band - 60 + n;
        let c = |v: i32| v.clamp(0, 255) as u8;
        Rgb([c(r), c(g), c(b)])
    })
}

fn album(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let real = real_photo();
    match &real {
        Some((path, img)) => println!(
            "album: 9 windows of 4000×3000 cut from {} ({}×{})",
            path.display(),
            img.width(),
            img.height()
        ),
        None => println!(
            "album: generated scenes ({REAL_PHOTO} missing: apt-get install mate-backgrounds); \
             SSIM figures below say little about real photos"
        ),
    }
    (0..PHOTOS as u32)
        .map(|i| {
            let stored = real
                .as_ref()
                .map_or_else(|| generated(i + 1), |(_, img)| cut(img, i));
            let bytes = photo_fixtures::with_exif(
                &photo_fixtures::jpeg(&stored, 92),
                &photo_fixtures::exif_tiff(6),
            );
            let path = dir.join(format!("photo-{i}.jpg"));
            std::fs::write(&path, &bytes).expect("write fixture");
            (path, bytes)
        })
        .collect()
}

fn vips_available() -> bool {
    Command::new("vipsthumbnail")
        .arg("--vips-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// CPU time (user + system) of one single-threaded `vipsthumbnail --size 2048` run, process
/// start included: the shell that waited for it reads its children's times from /proc, in
/// clock ticks (10 ms).
fn vips_cpu(input: &Path, out: &Path) -> Duration {
    let output = Command::new("sh")
        .arg("-c")
        .arg(r#"vipsthumbnail "$@" && cat /proc/$$/stat"#)
        .arg("sh")
        .arg(input)
        .args(["--size", "2048", "-o"])
        .arg(format!("{}[Q={OUR_Q},strip]", out.display()))
        .env("VIPS_CONCURRENCY", "1")
        .output()
        .expect("run vipsthumbnail");
    assert!(output.status.success(), "vipsthumbnail failed on {input:?}");
    let stat = String::from_utf8_lossy(&output.stdout);
    // Fields after the command name: state is field 3, cutime and cstime are 16 and 17.
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(1)
                .filter_map(|f| f.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let ticks = fields.get(12).copied().unwrap_or(0) + fields.get(13).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn compare_speed(album: &[(PathBuf, Vec<u8>)], dir: &Path, have_vips: bool) {
    println!("\n== Speed: CPU time per photo, mean of 3 runs, one thread each");
    const RUNS: u32 = 3;
    let (mut ours_total, mut vips_total) = (Duration::ZERO, Duration::ZERO);
    for (i, (path, bytes)) in album.iter().enumerate() {
        let mut size = 0;
        let ours = (0..RUNS)
            .map(|_| {
                let (photo, cpu) = timed(|| prepare_photo(bytes, &OPTS).expect("prepare"));
                size = photo.bytes.len();
                cpu
            })
            .sum::<Duration>()
            / RUNS;
        ours_total += ours;
        if have_vips {
            let out = dir.join(format!("vips-{i}.jpg"));
            let vips = (0..RUNS).map(|_| vips_cpu(path, &out)).sum::<Duration>() / RUNS;
            vips_total += vips;
            let vips_size = std::fs::metadata(&out).map_or(0, |m| m.len());
            println!(
                "photo {i} ({:>5} KB in): natter {:>6.1} ms ({:>4} KB out), vipsthumbnail {:>6.1} ms ({:>4} KB out), ratio {:.2}×",
                bytes.len() / 1024,
                ours.as_secs_f64() * 1e3,
                size / 1024,
                vips.as_secs_f64() * 1e3,
                vips_size / 1024,
                ours.as_secs_f64() / vips.as_secs_f64()
            );
        } else {
            println!(
                "photo {i}: natter {:.1} ms ({} KB out)",
                ours.as_secs_f64() * 1e3,
                size / 1024
            );
        }
    }
    let per = |total: Duration| total.as_secs_f64() * 1e3 / PHOTOS as f64;
    if have_vips {
        println!(
            "per photo: natter {:.1} ms CPU, vipsthumbnail {:.1} ms CPU, ratio {:.2}× (goal: ≤ 1)",
            per(ours_total),
            per(vips_total),
            ours_total.as_secs_f64() / vips_total.as_secs_f64()
        );
    } else {
        println!("per photo: natter {:.1} ms CPU", per(ours_total));
    }

    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let inputs: Vec<Vec<u8>> = album.iter().map(|(_, b)| b.clone()).collect();
    // Best of 3: wall time suffers most from anything else running.
    let ours_wall = best_of_3(|| {
        let results = prepare_many(&inputs, &OPTS);
        assert!(results.iter().all(Result::is_ok));
    });
    print!(
        "all {PHOTOS} on {cores} cores, best of 3: natter prepare_many {:.0} ms wall",
        ours_wall.as_secs_f64() * 1e3
    );
    if have_vips {
        // One single-threaded vipsthumbnail per core, the files dealt out between them.
        let vips_wall = best_of_3(|| {
            let children: Vec<_> = (0..cores)
                .map(|core| {
                    Command::new("vipsthumbnail")
                        .env("VIPS_CONCURRENCY", "1")
                        .args(album.iter().skip(core).step_by(cores).map(|(p, _)| p))
                        .args(["--size", "2048", "-o"])
                        .arg(format!(
                            "{}/vips-all-%s.jpg[Q={OUR_Q},strip]",
                            dir.display()
                        ))
                        .spawn()
                        .expect("run vipsthumbnail")
                })
                .collect();
            for mut child in children {
                assert!(
                    child.wait().is_ok_and(|s| s.success()),
                    "vipsthumbnail failed"
                );
            }
        });
        print!(
            ", vipsthumbnail ({cores} processes) {:.0} ms wall, ratio {:.2}×",
            vips_wall.as_secs_f64() * 1e3,
            ours_wall.as_secs_f64() / vips_wall.as_secs_f64()
        );
    }
    println!();
}

fn best_of_3(mut run: impl FnMut()) -> Duration {
    (0..3)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn compare_quality(album: &[(PathBuf, Vec<u8>)], dir: &Path, have_vips: bool) {
    println!(
        "\n== Bytes and SSIM over the {PHOTOS} photos (luma SSIM against the source resized to the same size)"
    );
    let photos: Vec<Photo> = album
        .iter()
        .map(|(path, bytes)| Photo::new(path, bytes))
        .collect();
    let prepared = prepare_photo(&album[0].1, &OPTS).expect("prepare");
    let replica = quality::ours(photos[0].prepared_pixels(), OUR_Q, OURS);
    println!(
        "(the bench's copy of encode_jpeg gives prepare_photo's bytes exactly: {})",
        if replica == prepared.bytes {
            "yes"
        } else {
            "NO, figures below may not be ours"
        }
    );
    let n = photos.len();
    let ours_at = |q| Candidate::Ours {
        edge: 2048,
        q,
        tables: OURS,
    };
    let row = |c| {
        let s = score(&photos, c, dir);
        println!("{}", s.row(n));
        s
    };
    println!("{HEADER}");
    let old = row(Candidate::Image { edge: 2048, q: 80 });
    let ours = row(ours_at(OUR_Q));
    // The other JPEG layout jpeg-encoder can write correctly for image's decoder.
    let other = match OURS {
        Tables::Standard => Tables::Progressive,
        Tables::Progressive => Tables::Standard,
    };
    row(Candidate::Ours {
        edge: 2048,
        q: OUR_Q,
        tables: other,
    });
    let mut references = vec![row(Candidate::Image { edge: 1600, q: 70 })];
    if have_vips {
        row(Candidate::Vips {
            edge: 2048,
            q: OUR_Q,
        });
        references.push(row(Candidate::Vips { edge: 1600, q: 70 }));
    }

    println!("\n== Equal SSIM (lowest quality whose mean SSIM reaches the target)");
    let ratio = |a: &quality::Score, b: &quality::Score| a.bytes as f64 / b.bytes as f64;
    let m = matching(&photos, old.ssim, (50, 95), ours_at, dir);
    println!("{}", m.row(n));
    println!(
        "  ours matching image's q80 at 2048 px (SSIM {:.4}): {:.2}× its bytes; ours at q{OUR_Q}: {:.2}× its bytes at SSIM {:.4}, encoding {:.2}× its CPU time",
        old.ssim,
        ratio(&m, &old),
        ratio(&ours, &old),
        ours.ssim,
        cpu_ratio(&ours, &old)
    );
    for reference in &references {
        let m = matching(&photos, reference.ssim, (20, 95), ours_at, dir);
        println!("{}", m.row(n));
        println!(
            "  ours at 2048 px matching {} at 1600 px (SSIM {:.4}): {:.2}× its bytes; ours at q{OUR_Q}: {:.2}× its bytes",
            reference.candidate.name(),
            reference.ssim,
            ratio(&m, reference),
            ratio(&ours, reference)
        );
    }
    for method in [4, 0] {
        let webp = matching(
            &photos,
            ours.ssim,
            (50, 100),
            |q| Candidate::WebP { q, method },
            dir,
        );
        println!("{}", webp.row(n));
        println!(
            "  lossy WebP (method {method}) matching ours at q{OUR_Q} (SSIM {:.4}): {:.2}× our bytes, encoding {:.2}× our CPU time",
            ours.ssim,
            ratio(&webp, &ours),
            cpu_ratio(&webp, &ours)
        );
    }
}

fn cpu_ratio(a: &quality::Score, b: &quality::Score) -> f64 {
    match (a.cpu, b.cpu) {
        (Some(a), Some(b)) => a.as_secs_f64() / b.as_secs_f64(),
        _ => f64::NAN,
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let album = album(dir.path());
    let have_vips = vips_available();
    if !have_vips {
        println!(
            "vipsthumbnail not found (apt-get install libvips-tools): its columns are skipped"
        );
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average before: {}", load.trim());
    }
    compare_speed(&album, dir.path(), have_vips);
    compare_quality(&album, dir.path(), have_vips);

    let mut group = c.benchmark_group("photos");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    let one = &album[0].1;
    group.bench_function("prepare_photo 12 MP", |b| {
        b.iter(|| prepare_photo(black_box(one), &OPTS))
    });
    let inputs: Vec<Vec<u8>> = album.iter().map(|(_, b)| b.clone()).collect();
    group.bench_function("prepare_many 9 × 12 MP", |b| {
        b.iter(|| prepare_many(black_box(&inputs), &OPTS))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
