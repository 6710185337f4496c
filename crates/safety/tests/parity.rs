//! The classifier against nsfwjs itself (parity fixtures), on generated and corrupt files,
//! and the verdict thresholds and the colour-noise veto at their boundaries.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::OnceLock;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use natter_safety::{
    noise_veto, verdict, Classifier, ColourNoise, SafetyError, Scores, Verdict, EXPLICIT_THRESHOLD,
    INPUT_BYTES, INPUT_SIZE, NOISE_VETO_CHROMA, NOISE_VETO_RATIO, SUGGESTIVE_THRESHOLD,
};
use serde::Deserialize;

fn classifier() -> &'static Classifier {
    static CLASSIFIER: OnceLock<Classifier> = OnceLock::new();
    CLASSIFIER.get_or_init(|| Classifier::load().expect("the embedded model loads"))
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity")
}

/// `reference.json`: what nsfwjs 4.4.0 (Node, tfjs CPU backend) gives for each `*.u8` input.
#[derive(Deserialize)]
struct Reference {
    classes: Vec<String>,
    outputs: BTreeMap<String, [f32; 5]>,
}

#[test]
fn matches_nsfwjs_on_every_parity_input() {
    let text = std::fs::read_to_string(fixtures().join("reference.json")).unwrap();
    let reference: Reference = serde_json::from_str(&text).unwrap();
    assert_eq!(
        reference.classes,
        ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"],
        "the reference's class order is the model's output order"
    );
    let mut inputs: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".u8"))
        .collect();
    inputs.sort();
    assert_eq!(
        inputs,
        reference.outputs.keys().cloned().collect::<Vec<_>>(),
        "every input has a reference and every reference an input"
    );
    for name in &inputs {
        let rgb = std::fs::read(fixtures().join(name)).unwrap();
        let got = classifier().classify_rgb(&rgb).unwrap().scores.as_array();
        let want = reference.outputs[name];
        for (class, (g, w)) in reference.classes.iter().zip(got.iter().zip(want)) {
            assert!(
                (g - w).abs() <= 1e-4,
                "{name} {class}: got {g}, nsfwjs gives {w}"
            );
        }
    }
}

/// A picture with colour, edges and a gradient, as PNG bytes.
fn generated_png(width: u32, height: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(width, height, |x, y| {
        let ring = ((x as f32 - 200.0).hypot(y as f32 - 150.0) / 12.0) as u32 % 2;
        Rgb([
            (x * 255 / width) as u8,
            (y * 255 / height) as u8,
            if ring == 0 { 40 } else { 220 },
        ])
    });
    let mut png = Vec::new();
    DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .unwrap();
    png
}

fn assert_probabilities(scores: &Scores) {
    let p = scores.as_array();
    assert!(p.iter().all(|v| (0.0..=1.0).contains(v)), "{scores:?}");
    let sum: f32 = p.iter().sum();
    assert!((sum - 1.0).abs() < 1e-3, "sum {sum} for {scores:?}");
}

#[test]
fn a_decoded_png_of_any_size_gives_probabilities() {
    let png = generated_png(640, 480);
    let img = image::load_from_memory(&png).unwrap();
    let from_image = classifier().classify_image(&img).unwrap();
    assert_probabilities(&from_image.scores);
    assert_eq!(from_image.verdict, from_image.scores.verdict());
    // The encoded bytes take the same path.
    assert_eq!(classifier().classify_bytes(&png).unwrap(), from_image);
}

#[test]
fn clones_share_the_model_across_threads() {
    let png = generated_png(300, 200);
    let expected = classifier().classify_bytes(&png).unwrap();
    let shared = classifier().clone();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let c = shared.clone();
                let png = &png;
                s.spawn(move || c.classify_bytes(png).unwrap())
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), expected);
        }
    });
}

#[test]
fn corrupt_files_are_errors_not_panics() {
    let png = generated_png(64, 64);
    let cut_off = &png[..png.len() / 2];
    let mut scrambled = png.clone();
    for b in scrambled.iter_mut().skip(40) {
        *b ^= 0x5a;
    }
    let cases: [(&str, &[u8]); 4] = [
        ("empty", b""),
        ("text", b"this is not a picture at all"),
        ("cut-off PNG", cut_off),
        ("scrambled PNG", &scrambled),
    ];
    for (what, bytes) in cases {
        match classifier().classify_bytes(bytes) {
            Err(e @ SafetyError::Decode(_)) => {
                assert_eq!(e.code().as_str(), "invalid_image", "{what}");
                assert!(
                    e.to_string().starts_with("cannot decode the image"),
                    "{what}: {e}"
                );
            }
            other => panic!("{what}: expected a decode error, got {other:?}"),
        }
    }
}

#[test]
fn an_image_declaring_too_many_pixels_is_refused_before_decoding() {
    // A valid PNG header claiming 20000×20000 (400 MP), and nothing after it.
    let mut png = generated_png(1, 1);
    png[16..20].copy_from_slice(&20_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&20_000u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    match classifier().classify_bytes(&png) {
        Err(e @ SafetyError::TooLarge(_)) => assert_eq!(e.code().as_str(), "invalid_image"),
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn wrong_rgb_length_is_an_error() {
    for len in [0, INPUT_BYTES - 1, INPUT_BYTES + 3] {
        match classifier().classify_rgb(&vec![0; len]) {
            Err(SafetyError::InputSize { expected, got }) => {
                assert_eq!((expected, got), (INPUT_BYTES, len));
            }
            other => panic!("{len} bytes: expected InputSize, got {other:?}"),
        }
    }
}

fn scores(porn: f32, hentai: f32, sexy: f32) -> Scores {
    Scores {
        drawing: 0.0,
        hentai,
        neutral: (1.0 - porn - hentai - sexy).max(0.0),
        porn,
        sexy,
        colour_noise: None,
    }
}

#[test]
fn thresholds_at_their_boundaries() {
    let below = 1e-6;
    let table = [
        // (porn, hentai, sexy) → verdict
        ((EXPLICIT_THRESHOLD, 0.0, 0.0), Verdict::Explicit),
        ((0.0, EXPLICIT_THRESHOLD, 0.0), Verdict::Explicit),
        (
            (EXPLICIT_THRESHOLD / 2.0, EXPLICIT_THRESHOLD / 2.0, 0.0),
            Verdict::Explicit,
        ),
        ((EXPLICIT_THRESHOLD - below, 0.0, 0.0), Verdict::Safe),
        (
            (
                EXPLICIT_THRESHOLD / 2.0,
                EXPLICIT_THRESHOLD / 2.0 - below,
                0.0,
            ),
            Verdict::Safe,
        ),
        ((0.0, 0.0, SUGGESTIVE_THRESHOLD), Verdict::Suggestive),
        ((0.0, 0.0, SUGGESTIVE_THRESHOLD - below), Verdict::Safe),
        // Mostly suggestive with some explicit below its threshold: suggestive.
        ((0.2, 0.05, SUGGESTIVE_THRESHOLD), Verdict::Suggestive),
        (
            (EXPLICIT_THRESHOLD, 0.0, 1.0 - EXPLICIT_THRESHOLD),
            Verdict::Explicit,
        ),
        ((0.0, 0.0, 0.0), Verdict::Safe),
    ];
    for ((porn, hentai, sexy), want) in table {
        let s = scores(porn, hentai, sexy);
        assert_eq!(
            verdict(&s),
            want,
            "porn {porn}, hentai {hentai}, sexy {sexy}"
        );
        assert_eq!(s.verdict(), want);
    }
    let drawn = Scores {
        drawing: 1.0,
        ..scores(0.0, 0.0, 0.0)
    };
    assert_eq!(verdict(&drawn), Verdict::Safe);
}

#[test]
fn the_colour_noise_veto_at_its_boundaries() {
    let below = 1e-4;
    let noise = |chroma: f32, luma: f32| ColourNoise { chroma, luma };
    // Chroma at the ratio of luma (a hair inside it, against rounding).
    let at_ratio = |chroma: f32| noise(chroma, chroma / NOISE_VETO_RATIO - below);
    let table = [
        // Noisy enough, and chroma at the ratio of luma: vetoed.
        (at_ratio(NOISE_VETO_CHROMA), true),
        (at_ratio(NOISE_VETO_CHROMA * 2.0), true),
        // Plasma-like: chroma about as noisy as luma.
        (noise(2.4, 2.55), true),
        // Too little chroma noise, whatever the ratio (the smooth fixture, flat pictures).
        (at_ratio(NOISE_VETO_CHROMA - below), false),
        (noise(1.0, 1.5), false),
        (noise(0.0, 0.0), false),
        // Chroma noisy but much less than luma (a detailed camera photo).
        (noise(3.0, 3.0 / NOISE_VETO_RATIO + 0.01), false),
        (noise(2.1, 10.0), false),
    ];
    for (n, vetoed) in table {
        assert_eq!(noise_veto(&n), vetoed, "{n:?}");
        let s = Scores {
            colour_noise: Some(n),
            ..scores(1.0, 0.0, 0.0)
        };
        let want = if vetoed {
            Verdict::Safe
        } else {
            Verdict::Explicit
        };
        assert_eq!(verdict(&s), want, "{n:?}");
    }
    // A vetoed picture may still be suggestive.
    let s = Scores {
        colour_noise: Some(noise(2.4, 2.55)),
        ..scores(0.9, 0.0, SUGGESTIVE_THRESHOLD)
    };
    assert_eq!(verdict(&s), Verdict::Suggestive);
    // Without a measurement (scores built by hand or read back from JSON) there is no veto,
    // and the JSON form is the five probabilities only.
    let json = serde_json::to_value(Scores {
        colour_noise: Some(noise(2.4, 2.55)),
        ..scores(1.0, 0.0, 0.0)
    })
    .unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["drawing", "hentai", "neutral", "porn", "sexy"]);
    let back: Scores = serde_json::from_value(json).unwrap();
    assert_eq!(back.colour_noise, None);
    assert_eq!(verdict(&back), Verdict::Explicit);
}

#[test]
fn the_classifier_measures_the_colour_noise_of_its_input() {
    let png = generated_png(300, 200);
    let c = classifier().classify_bytes(&png).unwrap();
    let small = image::load_from_memory(&png)
        .unwrap()
        .resize_exact(
            INPUT_SIZE,
            INPUT_SIZE,
            image::imageops::FilterType::Triangle,
        )
        .into_rgb8();
    assert_eq!(
        c.scores.colour_noise,
        Some(ColourNoise::measure(small.as_raw(), INPUT_SIZE as usize))
    );
    assert_eq!(c.verdict, c.scores.verdict());
}

#[test]
fn verdicts_serialize_as_snake_case() {
    let json =
        serde_json::to_string(&[Verdict::Explicit, Verdict::Suggestive, Verdict::Safe]).unwrap();
    assert_eq!(json, r#"["explicit","suggestive","safe"]"#);
    for v in [Verdict::Explicit, Verdict::Suggestive, Verdict::Safe] {
        assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
    }
}

#[test]
fn classifier_is_send_and_sync() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Classifier>();
}
