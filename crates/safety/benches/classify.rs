//! What the classifier costs: loading the model, one 224×224 input, one 2048×1536 photo
//! from JPEG bytes to verdict (decode + resize + inference: what the server will do per
//! uploaded photo, since prepared photos are at most 2048 px), and an album of 9 such photos
//! on two threads.
//!
//! The photos are cut from a real one when it is installed (`Elephants_5640x3172.jpg` of
//! Debian's `mate-backgrounds`, or any large photo named by `NATTER_BENCH_PHOTO`; read at run
//! time, not part of this repo), else generated.
//!
//! `cargo bench -p natter-safety --bench classify`

use std::hint::black_box;
use std::io::Cursor;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, Rgb, RgbImage};
use natter_safety::{Classification, Classifier, INPUT_BYTES};

const REAL_PHOTO: &str = "/usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg";
const PHOTO: (u32, u32) = (2048, 1536);
const ALBUM: usize = 9;

fn real_photo() -> Option<RgbImage> {
    let path =
        std::env::var_os("NATTER_BENCH_PHOTO").map_or(PathBuf::from(REAL_PHOTO), PathBuf::from);
    let img = image::load_from_memory(&std::fs::read(path).ok()?).ok()?;
    (img.width() >= PHOTO.0 && img.height() >= PHOTO.1).then(|| img.into_rgb8())
}

/// Nine 2048×1536 JPEGs (quality 90), from windows of the real photo or generated scenes.
fn album() -> Vec<Vec<u8>> {
    let real = real_photo();
    println!(
        "photos: {}",
        if real.is_some() {
            "cut from the real photo"
        } else {
            "generated (no real photo installed)"
        }
    );
    (0..ALBUM as u32)
        .map(|i| {
            let img = match &real {
                Some(real) => {
                    // A 4:3 window 3/4 of the photo's height, sliding across it.
                    let h = real.height() * 3 / 4;
                    let w = (h * 4 / 3).min(real.width());
                    let x = (real.width() - w) * i / (ALBUM as u32 - 1);
                    let y = (real.height() - h) * (i % 3) / 2;
                    let window = image::imageops::crop_imm(real, x, y, w, h).to_image();
                    image::imageops::resize(&window, PHOTO.0, PHOTO.1, FilterType::Triangle)
                }
                None => generated(i),
            };
            let mut jpeg = Vec::new();
            JpegEncoder::new_with_quality(&mut Cursor::new(&mut jpeg), 90)
                .encode_image(&img)
                .expect("encode");
            jpeg
        })
        .collect()
}

fn generated(seed: u32) -> RgbImage {
    let (w, h) = PHOTO;
    let mut noise = seed.wrapping_mul(2_654_435_761).max(1);
    RgbImage::from_fn(w, h, |x, y| {
        noise ^= noise << 13;
        noise ^= noise >> 17;
        noise ^= noise << 5;
        let n = (noise % 24) as i32 - 12;
        let band = ((x / 150 + y / 200 + seed) % 5) as i32 * 30;
        let c = |v: i32| v.clamp(0, 255) as u8;
        Rgb([
            c((x * 255 / w) as i32 + n),
            c((y * 255 / h) as i32 + band / 2 + n),
            c(68 + band + n),
        ])
    })
}

fn classify_album(classifier: &Classifier, album: &[Vec<u8>]) -> Vec<Classification> {
    let threads = 2;
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    album
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i % threads == t)
                        .map(|(i, jpeg)| (i, classifier.classify_bytes(jpeg).expect("classify")))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<_> = workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect();
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, c)| c).collect()
    })
}

fn bench(c: &mut Criterion) {
    let classifier = Classifier::load().expect("load");
    let album = album();
    let kb: usize = album.iter().map(Vec::len).sum::<usize>() / album.len() / 1024;
    println!(
        "album: {ALBUM} JPEGs of {}×{}, ~{kb} KB each",
        PHOTO.0, PHOTO.1
    );
    for (i, c) in classify_album(&classifier, &album).iter().enumerate() {
        println!("photo {i}: {:?} {:?}", c.verdict, c.scores);
    }

    let mut group = c.benchmark_group("safety");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("load model", |b| {
        b.iter(|| black_box(Classifier::load().expect("load")))
    });
    let rgb = DynamicImage::ImageRgb8(generated(0))
        .resize_exact(224, 224, FilterType::Triangle)
        .into_rgb8()
        .into_raw();
    assert_eq!(rgb.len(), INPUT_BYTES);
    group.bench_function("one 224x224 input", |b| {
        b.iter(|| classifier.classify_rgb(black_box(&rgb)).expect("classify"))
    });
    group.bench_function("2048x1536 JPEG to verdict", |b| {
        b.iter(|| {
            classifier
                .classify_bytes(black_box(&album[0]))
                .expect("classify")
        })
    });
    group.bench_function("album of 9 photos, 2 threads", |b| {
        b.iter(|| classify_album(&classifier, black_box(&album)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
