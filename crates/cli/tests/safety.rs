//! `natter safety classify` end to end with the real binary: one JSON object per input in
//! order, a corrupt file reported in place without spoiling the others.

use std::io::Cursor;
use std::path::Path;
use std::process::{Command, Output};

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use serde_json::Value;

fn natter() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_natter"));
    cmd.env_remove("NATTER_SERVER").env_remove("RUST_LOG");
    cmd
}

fn classify(files: &[&Path], extra: &[&str]) -> Output {
    natter()
        .args(["safety", "classify"])
        .args(files)
        .args(extra)
        .output()
        .expect("run natter")
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 90])
    });
    let mut bytes = Vec::new();
    DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .unwrap();
    bytes
}

#[test]
fn classifies_each_file_and_reports_the_corrupt_one_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("photo.png");
    let corrupt = dir.path().join("corrupt.jpg");
    std::fs::write(&photo, png(500, 375)).unwrap();
    // A JPEG start-of-image marker, then garbage.
    let mut garbage = vec![0xff, 0xd8, 0xff, 0xe0];
    garbage.extend((0..2000u32).map(|i| (i * 37 % 251) as u8));
    std::fs::write(&corrupt, garbage).unwrap();

    let out = classify(&[&corrupt, &photo], &["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let items: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    let items = items.as_array().expect("an array");
    assert_eq!(items.len(), 2, "{items:?}");

    let bad = &items[0];
    assert_eq!(bad["path"], corrupt.to_str().unwrap());
    assert_eq!(bad["error"]["code"], "invalid_image", "{bad:?}");
    assert!(bad["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("cannot decode the image"));
    assert!(bad.get("scores").is_none());

    let good = &items[1];
    assert_eq!(good["path"], photo.to_str().unwrap());
    let scores = good["scores"].as_object().expect("scores");
    let names: Vec<&str> = scores.keys().map(String::as_str).collect();
    assert_eq!(names, ["drawing", "hentai", "neutral", "porn", "sexy"]);
    let sum: f64 = scores.values().map(|v| v.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-3, "{scores:?}");
    // A colour gradient is not nudity.
    assert_eq!(good["verdict"], "safe", "{good:?}");
}

#[test]
fn fails_when_no_file_could_be_classified() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.png");
    std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let missing = dir.path().join("missing.png");

    let out = classify(&[&corrupt, &missing], &["--json"]);
    assert!(!out.status.success());
    let items: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(items[0]["error"]["code"], "invalid_image");
    assert_eq!(items[1]["error"]["code"], "bad_request");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no file could be classified"));
}

#[test]
fn prints_a_line_per_file_without_json() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("photo.png");
    std::fs::write(&photo, png(64, 48)).unwrap();
    let out = classify(&[&photo], &[]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!("{}: safe (porn ", photo.display())),
        "{text}"
    );
}
