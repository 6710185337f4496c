//! Fixtures made at test time with Debian tools (espeak-ng, sox, opus-tools), and helpers to
//! look inside Ogg files independently of the crate under test.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Text long enough for ~10 s of espeak-ng speech.
const TEXT: &str = "Hello, this is a voice note from Natter. I am testing how well speech \
    survives the encoder. The quick brown fox jumps over the lazy dog, and then it runs \
    back home before the rain starts. Numbers too: one, two, three, forty two.";

/// Run a tool; a missing tool fails the test with the package to install, never skips it.
pub fn run(tool: &str, args: &[&str]) -> Output {
    let package = match tool {
        "opusenc" | "opusdec" | "opusinfo" => "opus-tools",
        "sox" => "sox (and libsox-fmt-all for Ogg Vorbis)",
        "espeak-ng" => "espeak-ng",
        _ => tool,
    };
    let output = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("this test needs `{tool}` (Debian package: {package}) but it cannot run: {e}")
    });
    assert!(
        output.status.success(),
        "`{tool} {}` failed: {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// espeak-ng's own output: mono 22,050 Hz, 16-bit, about 13 s.
pub fn espeak_wav(dir: &Path) -> PathBuf {
    let out = dir.join("espeak.wav");
    if !out.exists() {
        run("espeak-ng", &["-w", s(&out), TEXT]);
    }
    out
}

/// Speech as a mono 48 kHz 16-bit WAV of exactly `seconds` (the espeak clip looped).
pub fn speech_wav(dir: &Path, seconds: u32) -> PathBuf {
    let src = espeak_wav(dir);
    let out = dir.join(format!("speech_{seconds}s.wav"));
    let repeats = (seconds / 5).to_string();
    let secs = seconds.to_string();
    run(
        "sox",
        &[
            "-D", // no dither: the same fixture on every run
            s(&src),
            "-r",
            "48000",
            "-c",
            "1",
            "-b",
            "16",
            s(&out),
            "repeat",
            &repeats,
            "trim",
            "0",
            &secs,
        ],
    );
    out
}

/// Speech as mono 48 kHz f32 samples of exactly `seconds`.
pub fn speech_pcm(dir: &Path, seconds: u32) -> Vec<f32> {
    let wav = speech_wav(dir, seconds);
    let mut reader = hound::WavReader::open(wav).unwrap();
    reader
        .samples::<i16>()
        .map(|x| f32::from(x.unwrap()) / 32768.0)
        .collect()
}

/// Frames in a WAV file.
pub fn wav_frames(path: &Path) -> u64 {
    u64::from(hound::WavReader::open(path).unwrap().duration())
}

/// `opusinfo` must accept the file without a warning; returns its playback length in ms.
pub fn opusinfo_ms(path: &Path) -> f64 {
    let out = run("opusinfo", &[s(path)]);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !text.contains("WARNING") && !text.contains("ERROR"),
        "opusinfo complains about {}:\n{text}",
        path.display()
    );
    // "Playback length: 0m:05.531s"
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Playback length: "))
        .unwrap_or_else(|| panic!("no playback length in opusinfo output:\n{text}"));
    let (min, sec) = line.trim_end_matches('s').split_once("m:").unwrap();
    (min.parse::<f64>().unwrap() * 60.0 + sec.parse::<f64>().unwrap()) * 1000.0
}

/// Samples `opusdec` outputs at 48 kHz.
pub fn opusdec_samples(path: &Path) -> u64 {
    let out = path.with_extension("decoded.wav");
    run("opusdec", &["--quiet", "--rate", "48000", s(path), s(&out)]);
    wav_frames(&out)
}

/// One Ogg page as seen by the tests' own minimal parser.
#[derive(Debug, Clone)]
pub struct RawPage {
    pub offset: usize,
    pub len: usize,
    pub flags: u8,
    pub granule: u64,
    pub packets_ending: usize,
}

/// Walk the pages of a well-formed file (panics on anything else).
pub fn pages(bytes: &[u8]) -> Vec<RawPage> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset + 27 <= bytes.len() {
        assert_eq!(&bytes[offset..offset + 4], b"OggS", "page at {offset}");
        let segments = bytes[offset + 26] as usize;
        if offset + 27 + segments > bytes.len() {
            break;
        }
        let lacing = &bytes[offset + 27..offset + 27 + segments];
        let body: usize = lacing.iter().map(|&l| l as usize).sum();
        let len = 27 + segments + body;
        if offset + len > bytes.len() {
            break;
        }
        out.push(RawPage {
            offset,
            len,
            flags: bytes[offset + 5],
            granule: u64::from_le_bytes(bytes[offset + 6..offset + 14].try_into().unwrap()),
            packets_ending: lacing.iter().filter(|&&l| l < 255).count(),
        });
        offset += len;
    }
    out
}

/// Recompute the CRC of the page at `offset` after editing it.
pub fn fix_crc(bytes: &mut [u8], offset: usize, len: usize) {
    bytes[offset + 22..offset + 26].fill(0);
    let mut crc = 0u32;
    for &b in &bytes[offset..offset + len] {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    bytes[offset + 22..offset + 26].copy_from_slice(&crc.to_le_bytes());
}

/// Pre-skip from the OpusHead packet on the first page.
pub fn pre_skip(bytes: &[u8]) -> u64 {
    let body = 27 + bytes[26] as usize;
    u64::from(u16::from_le_bytes([bytes[body + 10], bytes[body + 11]]))
}
