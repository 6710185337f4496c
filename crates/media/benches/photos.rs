//! Cost of preparing an album: 9 generated 12 MP camera JPEGs (photo-like noise and gradients,
//! EXIF orientation 6 and GPS). Prints, per file, our single-threaded CPU time against
//! `vipsthumbnail --size 2048` (libvips, single-threaded via VIPS_CONCURRENCY=1, Debian package
//! `libvips-tools`; skipped when missing) and the ratio, then criterion measures one photo and
//! the whole album through `prepare_many` on every core.
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

const PHOTOS: usize = 9;
const OPTS: PrepareOptions = PrepareOptions { hd: false };

/// A 4000×3000 scene with smooth gradients, edges and sensor-like noise, so the JPEG is about
/// as large and as slow to decode as a phone's (several MB), stored sideways with orientation 6.
fn camera_photo(seed: u32) -> Vec<u8> {
    let (w, h) = (4000u32, 3000u32);
    let mut noise = seed.wrapping_mul(2_654_435_761).max(1);
    // Stored sideways (3000×4000) as a phone held upright does.
    let img = RgbImage::from_fn(h, w, |x, y| {
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
    });
    photo_fixtures::with_exif(
        &photo_fixtures::jpeg(&img, 92),
        &photo_fixtures::exif_tiff(6),
    )
}

fn album(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    (0..PHOTOS)
        .map(|i| {
            let bytes = camera_photo(i as u32 + 1);
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

/// Wall time of one single-threaded `vipsthumbnail` run (≈ its CPU time), process start included.
fn vips_once(input: &Path, out: &Path) -> Duration {
    let started = Instant::now();
    let status = Command::new("vipsthumbnail")
        .env("VIPS_CONCURRENCY", "1")
        .arg(input)
        .args(["--size", "2048", "-o"])
        .arg(format!("{}[Q=80,strip]", out.display()))
        .status()
        .expect("run vipsthumbnail");
    assert!(status.success(), "vipsthumbnail failed on {input:?}");
    started.elapsed()
}

fn compare_with_vips(album: &[(PathBuf, Vec<u8>)], dir: &Path) {
    let have_vips = vips_available();
    if !have_vips {
        println!("vipsthumbnail not found (apt-get install libvips-tools): comparison skipped");
    }
    let (mut ours_total, mut vips_total) = (Duration::ZERO, Duration::ZERO);
    for (i, (path, bytes)) in album.iter().enumerate() {
        // Best of 3 for both, one thread each.
        let ours = (0..3)
            .map(|_| {
                let started = Instant::now();
                let photo = prepare_photo(bytes, &OPTS).expect("prepare");
                black_box(photo);
                started.elapsed()
            })
            .min()
            .unwrap_or_default();
        ours_total += ours;
        let size = prepare_photo(bytes, &OPTS).map_or(0, |p| p.bytes.len());
        if have_vips {
            let out = dir.join(format!("vips-{i}.jpg"));
            let vips = (0..3)
                .map(|_| vips_once(path, &out))
                .min()
                .unwrap_or_default();
            vips_total += vips;
            let vips_size = std::fs::metadata(&out).map_or(0, |m| m.len());
            println!(
                "photo {i} ({} KB in): natter {:>6.1} ms ({} KB out), vipsthumbnail {:>6.1} ms ({} KB out), ratio {:.2}×",
                bytes.len() / 1024,
                ours.as_secs_f64() * 1e3,
                size / 1024,
                vips.as_secs_f64() * 1e3,
                vips_size / 1024,
                ours.as_secs_f64() / vips.as_secs_f64()
            );
        } else {
            println!("photo {i}: natter {:.1} ms", ours.as_secs_f64() * 1e3);
        }
    }
    let per_photo = ours_total.as_secs_f64() * 1e3 / PHOTOS as f64;
    if have_vips {
        println!(
            "per photo, one core: natter {per_photo:.1} ms, vipsthumbnail {:.1} ms, ratio {:.2}×",
            vips_total.as_secs_f64() * 1e3 / PHOTOS as f64,
            ours_total.as_secs_f64() / vips_total.as_secs_f64()
        );
    }
    let inputs: Vec<Vec<u8>> = album.iter().map(|(_, b)| b.clone()).collect();
    let started = Instant::now();
    let results = prepare_many(&inputs, &OPTS);
    let wall = started.elapsed();
    assert!(results.iter().all(Result::is_ok));
    println!(
        "album of {PHOTOS} with prepare_many on {} cores: {:.0} ms wall ({:.2}× the single-thread sum)",
        std::thread::available_parallelism().map_or(1, usize::from),
        wall.as_secs_f64() * 1e3,
        wall.as_secs_f64() / ours_total.as_secs_f64()
    );
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let album = album(dir.path());
    compare_with_vips(&album, dir.path());

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
