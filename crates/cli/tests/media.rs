//! `natter media prepare` end to end with the real binary: one JSON object per input in order,
//! files written, a bad item reported without spoiling the others, formats told by content.

#[path = "../../media/tests/photo_fixtures/mod.rs"]
mod photo_fixtures;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn natter() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_natter"));
    cmd.env_remove("NATTER_SERVER").env_remove("RUST_LOG");
    cmd
}

fn prepare(files: &[&Path], out: &Path, extra: &[&str]) -> Output {
    natter()
        .args(["media", "prepare"])
        .args(files)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("run natter")
}

fn json(out: &Output) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    v.as_array().expect("an array").clone()
}

#[test]
fn prepares_an_album_and_reports_the_bad_item_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jpg");
    let bad = dir.path().join("bad.bin");
    let b = dir.path().join("b.png");
    std::fs::write(&a, photo_fixtures::camera_jpeg(6, 3000, 2000)).unwrap();
    std::fs::write(&bad, photo_fixtures::random_bytes(3000)).unwrap();
    std::fs::write(&b, photo_fixtures::opaque_png(400, 300)).unwrap();
    let out_dir = dir.path().join("out");

    let out = prepare(&[&a, &bad, &b], &out_dir, &["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let items = json(&out);
    assert_eq!(items.len(), 3, "{items:?}");

    let first = &items[0];
    assert_eq!(first["width"], 2048);
    assert_eq!(first["height"], 1365);
    assert_eq!(first["mime"], "image/jpeg");
    assert_eq!(first["blurhash"].as_str().unwrap().len(), 28);
    let path = Path::new(first["path"].as_str().unwrap());
    assert!(path.starts_with(&out_dir), "{path:?}");
    let written = std::fs::read(path).unwrap();
    assert_eq!(first["bytes"], written.len());
    let img = image::load_from_memory(&written).unwrap();
    assert_eq!((img.width(), img.height()), (2048, 1365));
    let thumb = std::fs::read(first["thumbnail"].as_str().unwrap()).unwrap();
    let thumb = image::load_from_memory(&thumb).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 213));

    assert_eq!(items[1]["error"]["code"], "invalid_image", "{:?}", items[1]);
    assert!(items[1]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not an image"));
    assert!(items[1].get("path").is_none());

    assert_eq!(items[2]["width"], 400);
    assert!(Path::new(items[2]["path"].as_str().unwrap()).exists());
    assert!(Path::new(items[2]["thumbnail"].as_str().unwrap()).exists());

    // Human output: one line per item.
    let out = prepare(&[&a, &bad, &b], &dir.path().join("out2"), &[]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.lines().nth(1).unwrap().contains("refused"), "{text}");
}

#[test]
fn a_png_named_jpg_is_prepared_as_a_png() {
    let dir = tempfile::tempdir().unwrap();
    let liar = dir.path().join("sticker.jpg");
    std::fs::write(&liar, photo_fixtures::transparent_png(200, 100)).unwrap();
    let out = prepare(&[&liar], &dir.path().join("out"), &["--json"]);
    assert!(out.status.success());
    let items = json(&out);
    // Transparency survived, which only the PNG decoder could have given.
    assert_eq!(items[0]["mime"], "image/webp", "{items:?}");
    assert!(items[0]["path"].as_str().unwrap().ends_with("sticker.webp"));
}

#[test]
fn an_animated_gif_stays_an_animated_gif() {
    use image::AnimationDecoder;
    let dir = tempfile::tempdir().unwrap();
    // Named .png: the content decides.
    let party = dir.path().join("party.png");
    let colours = [
        photo_fixtures::RED,
        photo_fixtures::GREEN,
        photo_fixtures::BLUE,
    ];
    std::fs::write(&party, photo_fixtures::animated_gif(120, 80, &colours)).unwrap();
    let out = prepare(&[&party], &dir.path().join("out"), &["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let items = json(&out);
    assert_eq!(items[0]["mime"], "image/gif", "{items:?}");
    assert_eq!(items[0]["animated"], true);
    let path = items[0]["path"].as_str().unwrap();
    assert!(path.ends_with("party.gif"), "{path}");
    let gif = std::fs::read(path).unwrap();
    let frames = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(gif))
        .unwrap()
        .into_frames()
        .count();
    assert_eq!(frames, 3);
    let thumb = std::fs::read(items[0]["thumbnail"].as_str().unwrap()).unwrap();
    assert_eq!(
        image::guess_format(&thumb).unwrap(),
        image::ImageFormat::Jpeg
    );

    let out = prepare(&[&party], &dir.path().join("out2"), &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("120×80") && text.contains("animated"),
        "{text}"
    );
}

#[test]
fn only_bad_inputs_fail_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.bin");
    std::fs::write(&bad, photo_fixtures::random_bytes(100)).unwrap();
    let bomb = dir.path().join("bomb.png");
    std::fs::write(&bomb, photo_fixtures::png_bomb(100_000, 100_000)).unwrap();
    let missing = dir.path().join("missing.jpg");
    let out = prepare(
        &[&bad, &bomb, &missing],
        &dir.path().join("out"),
        &["--json"],
    );
    assert!(!out.status.success());
    let items = json(&out);
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["error"]["code"], "invalid_image");
    assert_eq!(items[1]["error"]["code"], "media_too_large");
    assert_eq!(items[2]["error"]["code"], "bad_request");
}

/// A `natter server` process on a free port, stopped when dropped.
struct Server {
    child: std::process::Child,
    url: String,
    _data: tempfile::TempDir,
}

impl Server {
    fn start() -> Self {
        use std::io::BufRead as _;
        let data = tempfile::tempdir().unwrap();
        let mut child = natter()
            .args(["server", "--listen", "127.0.0.1:0", "--data"])
            .arg(data.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut url = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut url)
            .unwrap();
        Self {
            child,
            url: url.trim().to_string(),
            _data: data,
        }
    }

    fn as_user(&self, profile: &Path, args: &[&str]) -> Output {
        natter()
            .arg("--server")
            .arg(&self.url)
            .arg("--profile")
            .arg(profile)
            .args(args)
            .output()
            .expect("run natter")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn send_media_sends_an_album_and_refuses_a_tenth_file_before_sending_anything() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let (ann, ben) = (dir.path().join("ann"), dir.path().join("ben"));
    for (profile, name) in [(&ann, "ann"), (&ben, "ben")] {
        let out = server.as_user(
            profile,
            &[
                "signup",
                "--username",
                name,
                "--password",
                "hunter2hunter2",
                "--birthdate",
                "1994-04-04",
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = server.as_user(&ben, &["send", "--to", "ann", "--text", "photos please"]);
    assert!(out.status.success());

    // Ten camera photos, stored sideways (orientation 6) with a GPS position.
    let files: Vec<_> = (0..10)
        .map(|i| {
            let path = dir.path().join(format!("cam{i}.jpg"));
            std::fs::write(&path, photo_fixtures::camera_jpeg(6, 800, 600)).unwrap();
            path.display().to_string()
        })
        .collect();
    let mut ten = vec!["send", "--to", "ben", "--media"];
    ten.extend(files.iter().map(String::as_str));
    let out = server.as_user(&ann, &ten);
    assert!(!out.status.success(), "ten files must be refused");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("too_many_items") && err.contains("at most 9"),
        "{err}"
    );

    let mut two = vec!["send", "--to", "ben", "--caption", "the view 🌄", "--media"];
    two.extend(files[..2].iter().map(String::as_str));
    let out = server.as_user(&ann, &two);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = server.as_user(&ben, &["messages", "--with", "ann", "--json"]);
    let msgs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        msgs.len(),
        2,
        "the refused album left nothing behind: {msgs:?}"
    );
    let album = &msgs[1];
    assert_eq!(album["text"], "the view 🌄");
    let media = album["media"].as_array().unwrap();
    assert_eq!(media.len(), 2);
    for item in media {
        // upright: the 800×600 scene stored sideways (600×800 pixels) shows as 800×600
        assert_eq!(
            (item["width"].as_u64(), item["height"].as_u64()),
            (Some(800), Some(600))
        );
        assert_eq!(item["mime"], "image/jpeg");
        assert_eq!(item["kind"], "image");
    }
}
