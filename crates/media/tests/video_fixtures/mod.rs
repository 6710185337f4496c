//! Videos made at test time with Debian's ffmpeg (package `ffmpeg`: ffmpeg, ffprobe, with
//! libx264, libx265, libvpx and libopus), each built once per test binary, and helpers that
//! look at a file with ffprobe, independently of the crate under test.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Runs ffmpeg or ffprobe. A missing tool fails the test with the package to install, never
/// skips it.
pub fn run(tool: &str, args: &[&str]) -> Output {
    let output = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!(
            "this test needs `{tool}` (Debian package: ffmpeg; `apt-get install -y ffmpeg`) \
             but it cannot run: {e}"
        )
    });
    assert!(
        output.status.success(),
        "`{tool} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// Runs ffmpeg with `args` (inputs and options) writing `name`, and returns the file's bytes.
pub fn make(name: &str, args: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    make_in(dir.path(), name, args)
}

/// [`make`] in a given directory; `{dir}` in an argument is replaced by it (for fixtures made
/// in two steps).
fn make_in(dir: &Path, name: &str, args: &[&str]) -> Vec<u8> {
    let out = dir.join(name);
    let args: Vec<String> = args.iter().map(|a| a.replace("{dir}", s(dir))).collect();
    let mut all: Vec<&str> = vec!["-v", "error", "-y", "-nostdin"];
    all.extend(args.iter().map(String::as_str));
    all.push(s(&out));
    run("ffmpeg", &all);
    std::fs::read(&out).expect("read the fixture")
}

/// 320×240 test picture at 25 fps with a keyframe every second (`-g 25`) and B-frames, for
/// `seconds`.
fn picture(seconds: u32) -> Vec<String> {
    vec![
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        format!("testsrc=size=320x240:rate=25:duration={seconds}"),
    ]
}

fn tone(seconds: u32) -> Vec<String> {
    vec![
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        format!("sine=frequency=440:duration={seconds}"),
    ]
}

fn make_owned(dir: &Path, name: &str, args: Vec<String>) -> Vec<u8> {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    make_in(dir, name, &refs)
}

const X264: [&str; 10] = [
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-bf",
    "2",
    "-g",
    "25",
    "-pix_fmt",
    "yuv420p",
];

/// What a phone records: H.264 + AAC, 6 s, shot in portrait (rotation 90: the matrix
/// `0 1 -1 0` an iPhone writes, which ffmpeg 5.1's stream copy writes for `rotate=-90`; ffprobe
/// reports it as a display matrix "rotation of -90 degrees"), with the location,
/// the phone's make and model and the creation time the way an iPhone writes them (`moov/meta`
/// keys) plus the classic `udta/©xyz` location.
pub fn phone_mp4() -> &'static [u8] {
    static CELL: OnceLock<Vec<u8>> = OnceLock::new();
    CELL.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut args = picture(6);
        args.extend(tone(6));
        args.extend(X264.iter().map(|s| s.to_string()));
        args.extend(["-c:a", "aac", "-shortest"].map(String::from));
        make_owned(dir.path(), "raw.mp4", args);
        make_in(
            dir.path(),
            "phone.mp4",
            &[
                "-i",
                "{dir}/raw.mp4",
                "-c",
                "copy",
                "-metadata:s:v",
                "rotate=-90",
                "-metadata",
                "location=+48.8577+002.2950/",
                "-metadata",
                "com.apple.quicktime.location.ISO6709=+48.8577+002.2950+035.000/",
                "-metadata",
                "com.apple.quicktime.make=NatterCam",
                "-metadata",
                "com.apple.quicktime.model=NC-1",
                "-metadata",
                "creation_time=2024-05-01T10:00:00Z",
                "-movflags",
                "use_metadata_tags",
            ],
        )
    })
}

/// H.264 + AAC, 2 s, in a QuickTime file with make, model and location in `udta`.
pub fn camera_mov() -> &'static [u8] {
    static CELL: OnceLock<Vec<u8>> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut args = picture(2);
        args.extend(tone(2));
        args.extend(X264.iter().map(|s| s.to_string()));
        args.extend(
            [
                "-c:a",
                "aac",
                "-shortest",
                "-metadata",
                "make=NatterCam",
                "-metadata",
                "model=NC-1",
                "-metadata",
                "location=+48.8577+002.2950/",
                "-metadata",
                "creation_time=2024-05-01T10:00:00Z",
                "-f",
                "mov",
            ]
            .map(String::from),
        );
        make_owned(
            tempfile::tempdir().expect("temp dir").path(),
            "camera.mov",
            args,
        )
    })
}

/// HEVC (tagged `hvc1`, as Apple writes it) without sound, 2 s.
pub fn hevc_mp4() -> &'static [u8] {
    static CELL: OnceLock<Vec<u8>> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut args = picture(2);
        args.extend(
            [
                "-c:v",
                "libx265",
                "-preset",
                "ultrafast",
                "-x265-params",
                "log-level=none:keyint=25",
                "-tag:v",
                "hvc1",
                "-pix_fmt",
                "yuv420p",
            ]
            .map(String::from),
        );
        make_owned(
            tempfile::tempdir().expect("temp dir").path(),
            "hevc.mp4",
            args,
        )
    })
}

/// VP9 + Opus WebM, 2 s, with a title and a location tag.
pub fn vp9_webm() -> &'static [u8] {
    static CELL: OnceLock<Vec<u8>> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut args = picture(2);
        args.extend(tone(2));
        args.extend(
            [
                "-c:v",
                "libvpx-vp9",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
                "-g",
                "25",
                "-c:a",
                "libopus",
                "-shortest",
                "-metadata",
                "title=Holiday at NatterCam",
                "-metadata",
                "location=+48.8577+002.2950/",
                "-metadata:s:v",
                "title=NatterCam back camera",
            ]
            .map(String::from),
        );
        make_owned(
            tempfile::tempdir().expect("temp dir").path(),
            "clip.webm",
            args,
        )
    })
}

/// VP9 + Opus WebM, 8 s at 30 fps with a keyframe every second (`-g 30`), carrying a title,
/// a location, a stream title and a free tag: the clip the cutting tests cut.
pub fn long_webm() -> &'static [u8] {
    static CELL: OnceLock<Vec<u8>> = OnceLock::new();
    CELL.get_or_init(|| {
        make(
            "long.webm",
            &[
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=320x240:rate=30:duration=8",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:duration=8",
                "-c:v",
                "libvpx-vp9",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
                "-g",
                "30",
                "-c:a",
                "libopus",
                "-shortest",
                "-metadata",
                "title=SECRET",
                "-metadata",
                "location=+48.8577+002.2950/",
                "-metadata",
                "comment=NatterCam diary",
                "-metadata:s:v",
                "title=NatterCam back camera",
            ],
        )
    })
}

/// VP9 + Opus, 3 s, written as a live stream (what a browser's MediaRecorder makes): segment
/// and clusters of unknown size, no duration, no index; a keyframe every second (`-g 25`).
pub fn live_webm() -> &'static [u8] {
    static CELL: OnceLock<Vec<u8>> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut args = picture(3);
        args.extend(tone(3));
        args.extend(
            [
                "-c:v",
                "libvpx-vp9",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
                "-g",
                "25",
                "-c:a",
                "libopus",
                "-shortest",
                "-live",
                "1",
                "-f",
                "webm",
            ]
            .map(String::from),
        );
        make_owned(
            tempfile::tempdir().expect("temp dir").path(),
            "live.webm",
            args,
        )
    })
}

/// The fields of `ffprobe -show_format -show_streams` as JSON.
pub fn ffprobe(bytes: &[u8]) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("probe.bin");
    std::fs::write(&path, bytes).expect("write");
    let out = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_format",
            "-show_streams",
            "-of",
            "json",
            s(&path),
        ],
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe JSON")
}

/// Every tag ffprobe sees, on the file and on its streams, as "key=value".
pub fn tags(probe: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |v: &serde_json::Value| {
        if let Some(tags) = v.get("tags").and_then(|t| t.as_object()) {
            for (k, v) in tags {
                out.push(format!("{k}={}", v.as_str().unwrap_or_default()));
            }
        }
    };
    add(&probe["format"]);
    for stream in probe["streams"].as_array().into_iter().flatten() {
        add(stream);
    }
    out
}

/// Decodes every frame with ffmpeg; returns what it complained about (empty when clean).
pub fn decode_errors(bytes: &[u8], ext: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(format!("out.{ext}"));
    std::fs::write(&path, bytes).expect("write");
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i", s(&path), "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let mut errors = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        errors.push_str(&format!(" (exit {})", out.status));
    }
    errors
}

/// Stream codec types ffprobe reports, in order ("video", "audio").
pub fn stream_types(probe: &serde_json::Value) -> Vec<String> {
    probe["streams"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["codec_type"].as_str().map(String::from))
        .collect()
}

/// How many pictures ffprobe decodes from the video stream (`-count_frames`).
pub fn video_frames(bytes: &[u8]) -> u32 {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("count.bin");
    std::fs::write(&path, bytes).expect("write");
    let out = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
            s(&path),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("ffprobe counted no frames: {text:?}"))
}

/// When ffprobe says the file starts, in ms (the format's `start_time`).
pub fn start_ms(probe: &serde_json::Value) -> i64 {
    let seconds: f64 = probe["format"]["start_time"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("a start time");
    (seconds * 1000.0).round() as i64
}

/// The container duration ffprobe reports, in ms.
pub fn duration_ms(probe: &serde_json::Value) -> u32 {
    let seconds: f64 = probe["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("a duration");
    (seconds * 1000.0).round() as u32
}

/// The picture (as grey pixels, before rotation) that ffmpeg shows at `seconds` into a file.
pub fn frame_at(bytes: &[u8], ext: &str, seconds: f64) -> Vec<u8> {
    frame(bytes, ext, seconds, false)
}

/// The first picture as a player shows it (rotated), as grey pixels.
pub fn shown_first_frame(bytes: &[u8], ext: &str) -> Vec<u8> {
    frame(bytes, ext, 0.0, true)
}

fn frame(bytes: &[u8], ext: &str, seconds: f64, rotate: bool) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(format!("in.{ext}"));
    std::fs::write(&path, bytes).expect("write");
    let at = format!("{seconds}");
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-nostdin",
            // `-autorotate 0|1` (on by default) applies the display matrix like a player.
            "-autorotate",
            if rotate { "1" } else { "0" },
            "-ss",
            &at,
            "-i",
            s(&path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ],
    )
    .stdout
}
