//! Video frames for the nudity filter, decoded in a separate, resource-limited process.
//!
//! A video's pictures are only reachable through a decoder, and the H.264 decoder we have
//! (OpenH264, via [`natter_media::video::sampled_frames`]) is C++: a hostile file that finds a
//! bug in it must not take the server down or read its memory. So the server never decodes a
//! video itself. It starts a **frame worker** ([`worker_main`]: the `natter-frames` binary, or
//! `natter internal-frame-worker`), writes the video to its stdin and reads back up to
//! [`MAX_FRAMES`] keyframes spread over the video, already shrunk to the classifier's
//! 224×224 input, on its stdout. The worker runs:
//!
//! - with an empty environment, `/` as its directory, and in a process group of its own; every
//!   descriptor the server opens is close-on-exec, so the worker gets stdio and only what the
//!   server itself inherited without close-on-exec ([`inherited_descriptors`], named in a
//!   warning at start), which its system-call filter keeps it from using;
//! - **confined by a system-call filter** it installs first thing ([`sandbox`]: seccomp-BPF):
//!   it can read its stdin, write its stdout and stderr, manage memory and exit; opening a
//!   file or a socket, starting a program and touching any other descriptor fail. Where no
//!   filter can be installed, it decodes nothing;
//! - under resource limits the server sets on it (Linux `prlimit`, before a byte of the video
//!   is written to it): address space ([`FrameWorker::memory_bytes`]), CPU time
//!   ([`FrameWorker::cpu_seconds`]), no core dumps, no file writes, and no descriptors beyond
//!   its stdio (so it cannot open a socket or a file);
//! - where the kernel allows, in a network namespace of its own as well;
//! - under a wall-clock timeout the server enforces ([`FrameWorker::timeout`]; its whole
//!   process group is killed), and at most [`FrameWorker::concurrency`] at once (a semaphore,
//!   one per core by default), so a burst of uploads waits instead of forking without bound.
//!
//! Any failure (a crash, a non-zero exit, a timeout, output that is not frames) is a
//! [`FrameError`]; the upload handler refuses that video (`invalid_video`) and the server goes
//! on.

use std::ffi::OsString;
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use natter_safety::{INPUT_BYTES, INPUT_SIZE};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::Semaphore;

mod sandbox;

/// Most keyframes judged per video (the app samples as many).
pub const MAX_FRAMES: usize = 8;
/// The argument that makes the `natter` binary act as the frame worker.
pub const WORKER_ARG: &str = "internal-frame-worker";
/// With it, the worker decodes nothing: it tries from inside its sandbox what a hostile
/// decoder would (open a file, a socket, write to another descriptor, start a program) and
/// prints what happened, exiting 0 only if all of it was denied.
pub const SANDBOX_CHECK_ARG: &str = "--sandbox-check";
/// Starts the worker's output, written as soon as it runs (before it reads the video); then
/// frames follow until the end of the stream.
const MAGIC: &[u8; 4] = b"NFR1";
/// A frame's header: width and height, little-endian `u32`s.
const FRAME_HEADER: usize = 8;
/// Most stdout a worker may write after the magic: [`MAX_FRAMES`] frames.
const MAX_OUTPUT: usize = MAX_FRAMES * (FRAME_HEADER + INPUT_BYTES);
/// How much of a worker's stderr is kept for the log.
const MAX_STDERR: usize = 4096;

/// How to start the frame worker, and the limits it runs under.
#[derive(Debug, Clone)]
pub struct FrameWorker {
    /// The program: a path (the server's own binary, usually).
    pub program: PathBuf,
    /// Its arguments (`[WORKER_ARG]` for the `natter` binary, none for `natter-frames`).
    pub args: Vec<OsString>,
    /// Wall-clock time one video may take; past it the worker is killed.
    pub timeout: Duration,
    /// Address space the worker may map (`RLIMIT_AS`).
    pub memory_bytes: u64,
    /// CPU time the worker may use (`RLIMIT_CPU`; SIGXCPU at this, SIGKILL a second later).
    pub cpu_seconds: u64,
    /// Workers running at once; more uploads wait their turn.
    pub concurrency: usize,
}

/// Default [`FrameWorker::timeout`]: decoding 8 keyframes of a 4K video takes about a second
/// of CPU; this leaves room for a busy machine.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// Default [`FrameWorker::memory_bytes`]: 1 GiB. The video (≤ 100 MiB), the decoder and 8 decoded
/// 4096×4096 frames (48 MiB each) fit.
pub const DEFAULT_MEMORY_BYTES: u64 = 1024 * 1024 * 1024;
/// Default [`FrameWorker::cpu_seconds`].
pub const DEFAULT_CPU_SECONDS: u64 = 15;

impl FrameWorker {
    /// `program args…` with the default limits, one worker per core.
    pub fn new(program: impl Into<PathBuf>, args: impl IntoIterator<Item = OsString>) -> Self {
        Self {
            program: program.into(),
            args: args.into_iter().collect(),
            timeout: DEFAULT_TIMEOUT,
            memory_bytes: DEFAULT_MEMORY_BYTES,
            cpu_seconds: DEFAULT_CPU_SECONDS,
            concurrency: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    /// The running program itself with [`WORKER_ARG`] (`natter server` uses this: the
    /// `natter` binary is also the worker).
    pub fn this_program() -> std::io::Result<Self> {
        Ok(Self::new(
            std::env::current_exe()?,
            [OsString::from(WORKER_ARG)],
        ))
    }
}

/// Why a video's frames could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the frame worker did not start: {0}")]
    Spawn(std::io::Error),
    #[error("the frame worker's limits could not be set: {0}")]
    Limits(std::io::Error),
    #[error("the frame worker took longer than {0:?} and was killed")]
    Timeout(Duration),
    #[error("the frame worker was killed by signal {signal}: {stderr}")]
    Signal { signal: i32, stderr: String },
    #[error("the frame worker failed ({status}): {stderr}")]
    Failed { status: String, stderr: String },
    #[error("the frame worker's output is not frames: {0}")]
    Garbled(&'static str),
}

/// Runs the frame worker, at most [`FrameWorker::concurrency`] at once.
#[derive(Debug)]
pub struct FrameDecoder {
    worker: FrameWorker,
    permits: Semaphore,
}

impl FrameDecoder {
    pub fn new(worker: FrameWorker) -> Self {
        let permits = Semaphore::new(worker.concurrency.max(1));
        Self { worker, permits }
    }

    /// Up to [`MAX_FRAMES`] keyframes of an H.264 MP4/MOV spread over it, each as 224×224 RGB
    /// ([`INPUT_BYTES`] long, what `Classifier::classify_rgb` takes).
    pub async fn frames(&self, video: &[u8]) -> Result<Vec<Vec<u8>>, FrameError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| FrameError::Garbled("the server is shutting down"))?;
        let out = self.run(video).await?;
        parse_output(&out)
    }

    async fn run(&self, video: &[u8]) -> Result<Vec<u8>, FrameError> {
        let w = &self.worker;
        let mut command = tokio::process::Command::new(&w.program);
        command
            .args(&w.args)
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        command.process_group(0);
        let mut child = command.spawn().map_err(FrameError::Spawn)?;
        let pid = child.id();
        let (Some(mut stdin), Some(mut stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(FrameError::Spawn(std::io::Error::other("no stdio pipes")));
        };
        let talk = async {
            let killer = &mut child;
            let main = async move {
                // The worker writes the magic once it runs (its dynamic loader done: a limit
                // of 3 descriptors would stop the loader); only then is it limited, and only
                // then does the video reach it.
                let mut magic = [0u8; 4];
                if stdout.read_exact(&mut magic).await.is_err() || &magic != MAGIC {
                    // Not a worker, or one that failed at once: its exit says which (within
                    // the timeout).
                    drop(stdin);
                    return Ok(None);
                }
                if let Err(e) = limit(pid, w) {
                    let _ = killer.start_kill();
                    return Err(FrameError::Limits(e));
                }
                let feed = async move {
                    // A worker that exits early closes its stdin: its exit status tells why.
                    let _ = stdin.write_all(video).await;
                    let _ = stdin.shutdown().await;
                };
                let (_, out) = tokio::join!(feed, read_capped(stdout, MAX_OUTPUT, false));
                if out.1 {
                    let _ = killer.start_kill();
                }
                Ok(Some(out))
            };
            let (out, (err, _)) = tokio::join!(main, read_capped(stderr, MAX_STDERR, true));
            (child.wait().await, out, err)
        };
        let (status, out, err) = match tokio::time::timeout(w.timeout, talk).await {
            Ok(done) => done,
            Err(_) => {
                // The leader is not reaped yet, so its pid still names its group.
                kill_group(pid);
                let _ = child.kill().await;
                return Err(FrameError::Timeout(w.timeout));
            }
        };
        let status = status.map_err(FrameError::Spawn)?;
        let out = out?;
        if !status.success() {
            let stderr = String::from_utf8_lossy(&err).trim().to_string();
            #[cfg(unix)]
            if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
                return Err(FrameError::Signal { signal, stderr });
            }
            return Err(FrameError::Failed {
                status: status.to_string(),
                stderr,
            });
        }
        match out {
            None => Err(FrameError::Garbled("no header")),
            Some((_, true)) => Err(FrameError::Garbled("more output than frames")),
            Some((frames, false)) => Ok(frames),
        }
    }
}

/// Descriptors above stdio this process holds without close-on-exec, which every child
/// (the frame worker too) inherits: ones its launcher passed down (a build tool's jobserver
/// pipe, a socket). Everything the server opens itself is close-on-exec; closing inherited
/// ones in the child needs `pre_exec`/`close_range`, i.e. unsafe code, which the workspace
/// forbids, so the server names them in a warning instead; the worker's system-call filter
/// lets it read and write only its stdio. Linux only (reads `/proc`).
pub fn inherited_descriptors() -> Vec<u32> {
    const O_CLOEXEC: u32 = 0o2_000_000;
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let mut fds: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .filter(|fd| {
            std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
                .ok()
                .and_then(|info| {
                    let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?;
                    u32::from_str_radix(flags.trim(), 8).ok()
                })
                // Gone (the directory listing's own descriptor) or close-on-exec: fine.
                .is_some_and(|flags| flags & O_CLOEXEC == 0)
        })
        .collect();
    fds.sort_unstable();
    fds
}

/// Reads a pipe to its end, keeping at most `cap` bytes. Past `cap`: `drain` goes on reading
/// (and drops the rest: a chatty stderr must not block the worker), otherwise it stops and
/// reports the overflow.
async fn read_capped(mut pipe: impl AsyncRead + Unpin, cap: usize, drain: bool) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return (kept, false),
            Ok(n) => {
                let room = cap - kept.len();
                kept.extend_from_slice(&buf[..n.min(room)]);
                if n > room && !drain {
                    return (kept, true);
                }
            }
        }
    }
}

fn parse_output(out: &[u8]) -> Result<Vec<Vec<u8>>, FrameError> {
    let mut rest = out;
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let (header, body) = rest
            .split_at_checked(FRAME_HEADER)
            .ok_or(FrameError::Garbled("a frame header is cut off"))?;
        let w = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let h = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if (w, h) != (INPUT_SIZE, INPUT_SIZE) {
            return Err(FrameError::Garbled("a frame of the wrong size"));
        }
        let (rgb, next) = body
            .split_at_checked(INPUT_BYTES)
            .ok_or(FrameError::Garbled("a frame is cut off"))?;
        if frames.len() == MAX_FRAMES {
            return Err(FrameError::Garbled("too many frames"));
        }
        frames.push(rgb.to_vec());
        rest = next;
    }
    Ok(frames)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn limit(pid: Option<u32>, w: &FrameWorker) -> std::io::Result<()> {
    use rustix::process::{prlimit, Pid, Resource, Rlimit};
    let pid = pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(Pid::from_raw)
        .ok_or_else(|| std::io::Error::other("the worker has no pid"))?;
    let both = |n: u64| Rlimit {
        current: Some(n),
        maximum: Some(n),
    };
    for (resource, value) in [
        (Resource::As, both(w.memory_bytes)),
        (
            Resource::Cpu,
            Rlimit {
                current: Some(w.cpu_seconds),
                maximum: Some(w.cpu_seconds.saturating_add(1)),
            },
        ),
        (Resource::Core, both(0)),
        (Resource::Fsize, both(0)),
        // stdin, stdout, stderr: nothing more can be opened (no socket, no file).
        (Resource::Nofile, both(3)),
    ] {
        prlimit(Some(pid), resource, value)?;
    }
    Ok(())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn limit(_pid: Option<u32>, _w: &FrameWorker) -> std::io::Result<()> {
    // prlimit is Linux's; elsewhere the worker limits itself (see `worker_main`).
    Ok(())
}

fn kill_group(pid: Option<u32>) {
    #[cfg(unix)]
    if let Some(pid) = pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    #[cfg(not(unix))]
    let _ = pid;
}

/// The frame worker: reads a video on stdin, writes up to [`MAX_FRAMES`] keyframes spread
/// over it on stdout (`NFR1`, then per frame its width and height as little-endian `u32`s
/// and 224×224 RGB, the classifier's input, resized exactly as `Classifier::classify_image`
/// does), and exits 0; on any error it writes the reason on stderr and exits 1. Call it first
/// thing in `main`, before any thread starts (it may enter a new user and network namespace,
/// and its system-call filter covers only the thread that installs it).
pub fn worker_main() -> ExitCode {
    if std::env::args_os().any(|a| a == SANDBOX_CHECK_ARG) {
        return sandbox::report();
    }
    if let Err(e) = sandbox::isolate() {
        let _ = writeln!(std::io::stderr(), "natter frame worker: {e}");
        return ExitCode::FAILURE;
    }
    match work() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "natter frame worker: {e}");
            ExitCode::FAILURE
        }
    }
}

fn work() -> Result<(), String> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let write = |out: &mut std::io::BufWriter<_>, bytes: &[u8]| {
        out.write_all(bytes)
            .map_err(|e| format!("writing the frames: {e}"))
    };
    write(&mut out, MAGIC)?;
    out.flush()
        .map_err(|e| format!("writing the frames: {e}"))?;
    let max = natter_protocol::limits::VIDEO_MAX_BYTES;
    let mut video = Vec::new();
    std::io::stdin()
        .lock()
        .take(max as u64 + 1)
        .read_to_end(&mut video)
        .map_err(|e| format!("reading the video: {e}"))?;
    if video.len() > max {
        return Err(format!("the video is larger than {max} bytes"));
    }
    let frames =
        natter_media::video::sampled_frames(&video, MAX_FRAMES).map_err(|e| e.to_string())?;
    drop(video);
    for frame in frames {
        let small = image::DynamicImage::ImageRgb8(frame)
            .resize_exact(
                INPUT_SIZE,
                INPUT_SIZE,
                image::imageops::FilterType::Triangle,
            )
            .into_rgb8();
        write(&mut out, &INPUT_SIZE.to_le_bytes())?;
        write(&mut out, &INPUT_SIZE.to_le_bytes())?;
        write(&mut out, small.as_raw())?;
    }
    out.flush().map_err(|e| format!("writing the frames: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_parsed_strictly() {
        let frame = |w: u32, h: u32, n: usize| {
            let mut f = Vec::new();
            f.extend_from_slice(&w.to_le_bytes());
            f.extend_from_slice(&h.to_le_bytes());
            f.extend(std::iter::repeat_n(7u8, n));
            f
        };
        let mut ok = frame(224, 224, INPUT_BYTES);
        ok.extend(frame(224, 224, INPUT_BYTES));
        assert_eq!(parse_output(&ok).unwrap().len(), 2);
        assert_eq!(parse_output(b"").unwrap().len(), 0);
        assert!(parse_output(&ok[..ok.len() - 1]).is_err());
        assert!(parse_output(&ok[..5]).is_err());
        let wrong = frame(100, 224, 100 * 224 * 3);
        assert!(parse_output(&wrong).is_err());
        let mut many = Vec::new();
        for _ in 0..=MAX_FRAMES {
            many.extend(frame(224, 224, INPUT_BYTES));
        }
        assert!(parse_output(&many).is_err());
    }
}
