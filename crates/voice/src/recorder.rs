//! The recorder: a worker thread that owns the input stream and the note being written, driven
//! by commands from the [`Recorder`] handle and reporting through a [`RecorderEvent`] callback.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use natter_media::{downmix, Resampler};
use natter_protocol::limits::{VOICE_MAX_MS, VOICE_SAMPLE_RATE};
use serde::Serialize;

use crate::capture::{self, Input, Shared};
use crate::note::{samples_to_ms, NoteWriter, Pushed};
use crate::{Draft, VoiceError};

/// The longest note in samples: 60.0 s at 48 kHz.
pub const MAX_SAMPLES: u64 = VOICE_MAX_MS as u64 * VOICE_SAMPLE_RATE as u64 / 1000;
/// When the "10 seconds left" warning goes out: at 50.0 s.
pub const WARN_AT_SAMPLES: u64 = MAX_SAMPLES - 10 * VOICE_SAMPLE_RATE as u64;
/// Natter's voice bitrate, the same as `natter voice encode` (see natter_media).
pub const DEFAULT_BITRATE: i32 = natter_media::DEFAULT_BITRATE;

/// How long the worker sleeps when there is nothing to do; bounds how stale a read can be.
const POLL: Duration = Duration::from_millis(10);

/// What to record and where.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    /// Directory for drafts; the note is written to `<draft_dir>/<id>.ogg`.
    pub draft_dir: PathBuf,
    /// Write to this file instead of the draft directory (the CLI's `--out`); its stem is the id.
    pub path: Option<PathBuf>,
    /// Input device (its id, e.g. `alsa:default`, or its name); `None` for the default.
    pub device: Option<String>,
    /// Stop by itself after this many samples of audio at 48 kHz (pauses do not count).
    pub max_samples: u64,
    /// Emit [`RecorderEvent::Warning`] when this many samples are recorded.
    pub warn_at_samples: u64,
    /// Opus bitrate in bits per second.
    pub bitrate: i32,
}

impl RecorderConfig {
    /// The app's settings: default microphone, 60 s, warning at 50 s, 24 kbps.
    pub fn new(draft_dir: impl Into<PathBuf>) -> Self {
        RecorderConfig {
            draft_dir: draft_dir.into(),
            path: None,
            device: None,
            max_samples: MAX_SAMPLES,
            warn_at_samples: WARN_AT_SAMPLES,
            bitrate: DEFAULT_BITRATE,
        }
    }
}

/// What the recorder reports while it runs. Sent from the recording thread.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", content = "data", rename_all = "camelCase")]
pub enum RecorderEvent {
    /// About 30 times per second of audio: the RMS level (0–1) of the last ~33 ms.
    #[serde(rename_all = "camelCase")]
    Level { level: f32, elapsed_ms: u64 },
    /// Once, when the warning point is reached (10 s before the limit by default).
    #[serde(rename_all = "camelCase")]
    Warning { remaining_ms: u64 },
    /// The limit was reached: recording stopped and the draft is finished.
    AutoStopped(Draft),
    /// The device failed; what was recorded until then is kept as the draft.
    Error(String),
}

enum Command {
    Pause,
    Resume(mpsc::SyncSender<()>),
    Stop(mpsc::SyncSender<Result<Draft, VoiceError>>),
    Cancel(mpsc::SyncSender<()>),
}

/// Where the worker's samples come from.
pub(crate) enum Source {
    /// The default or a named input device through cpal.
    Cpal { device: Option<String> },
    /// Samples pushed by a test through a [`capture::Feed`].
    #[cfg(test)]
    Test {
        consumer: rtrb::Consumer<f32>,
        channels: usize,
        rate: u32,
    },
}

impl Source {
    fn open(self, shared: Arc<Shared>) -> Result<Input, VoiceError> {
        match self {
            Source::Cpal { device } => capture::open_cpal(device.as_deref(), shared),
            #[cfg(test)]
            Source::Test {
                consumer,
                channels,
                rate,
            } => {
                drop(shared);
                Ok(Input {
                    consumer,
                    channels,
                    rate,
                    errors: None,
                    stream: None,
                })
            }
        }
    }
}

/// A recording in progress. Dropping it without [`stop`](Recorder::stop) or
/// [`cancel`](Recorder::cancel) stops it and keeps the draft.
pub struct Recorder {
    id: String,
    path: PathBuf,
    commands: mpsc::Sender<Command>,
    worker: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    progress: Arc<AtomicU64>,
}

type Events = Box<dyn Fn(RecorderEvent) + Send + 'static>;

impl Recorder {
    /// Opens the microphone and starts recording into a new draft. Returns once samples flow
    /// (or with the reason they cannot: no microphone, busy, no permission, …).
    pub fn start(
        config: RecorderConfig,
        events: impl Fn(RecorderEvent) + Send + 'static,
    ) -> Result<Recorder, VoiceError> {
        let source = Source::Cpal {
            device: config.device.clone(),
        };
        Self::start_with(config, source, Arc::default(), Box::new(events))
    }

    pub(crate) fn start_with(
        config: RecorderConfig,
        source: Source,
        shared: Arc<Shared>,
        events: Events,
    ) -> Result<Recorder, VoiceError> {
        let (id, path) = match &config.path {
            Some(path) => {
                let id = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (id, path.clone())
            }
            None => {
                std::fs::create_dir_all(&config.draft_dir).map_err(|e| {
                    VoiceError::io("cannot create the draft directory", &config.draft_dir, e)
                })?;
                let id = uuid::Uuid::now_v7().to_string();
                let path = config.draft_dir.join(format!("{id}.ogg"));
                (id, path)
            }
        };
        let progress = Arc::new(AtomicU64::new(0));
        let (commands, commands_rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let worker = Worker {
            config,
            id: id.clone(),
            path: path.clone(),
            shared: shared.clone(),
            progress: progress.clone(),
            events,
            commands: commands_rx,
        };
        let handle = std::thread::Builder::new()
            .name("natter-voice".into())
            .spawn(move || worker.run(source, ready_tx))
            .map_err(|e| VoiceError::Device(format!("cannot start the recording thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Recorder {
                id,
                path,
                commands,
                worker: Some(handle),
                shared,
                progress,
            }),
            Ok(Err(e)) => {
                let _ = handle.join();
                Err(e)
            }
            Err(_) => {
                let _ = handle.join();
                Err(VoiceError::RecorderGone)
            }
        }
    }

    /// The draft's id (also its file stem).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The file being written.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Milliseconds of audio recorded so far (pauses do not count).
    pub fn elapsed_ms(&self) -> u64 {
        samples_to_ms(self.progress.load(Ordering::Relaxed))
    }

    /// Samples of audio (48 kHz) recorded so far.
    pub fn elapsed_samples(&self) -> u64 {
        self.progress.load(Ordering::Relaxed)
    }

    /// Input frames lost because the recording thread fell behind the device.
    pub fn dropped_samples(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Whether the recording is paused.
    pub fn is_paused(&self) -> bool {
        self.shared.paused.load(Ordering::Relaxed)
    }

    /// Pauses at once: audio captured from now on is discarded until [`resume`](Self::resume),
    /// and the device is stopped where the backend can.
    pub fn pause(&self) {
        self.shared.paused.store(true, Ordering::Relaxed);
        let _ = self.commands.send(Command::Pause);
    }

    /// Resumes a paused recording. Returns once capture runs again; if the device cannot
    /// restart, the note is finished as it is and [`RecorderEvent::Error`] says why.
    pub fn resume(&self) {
        let (tx, rx) = mpsc::sync_channel(1);
        if self.commands.send(Command::Resume(tx)).is_ok() {
            let _ = rx.recv();
        }
    }

    /// Stops recording and returns the finished, synced draft (the same one
    /// [`RecorderEvent::AutoStopped`] carried if the limit was reached first).
    pub fn stop(mut self) -> Result<Draft, VoiceError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.commands
            .send(Command::Stop(tx))
            .map_err(|_| VoiceError::RecorderGone)?;
        let result = rx.recv().map_err(|_| VoiceError::RecorderGone);
        self.join();
        result?
    }

    /// Stops recording and deletes the draft.
    pub fn cancel(mut self) {
        let (tx, rx) = mpsc::sync_channel(1);
        if self.commands.send(Command::Cancel(tx)).is_ok() {
            let _ = rx.recv();
        }
        self.join();
        // In case the worker died before it could.
        if let Err(e) = std::fs::remove_file(&self.path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(error = %e, path = %self.path.display(), "cannot delete the cancelled draft");
            }
        }
    }

    fn join(&mut self) {
        if let Some(worker) = self.worker.take() {
            if worker.join().is_err() {
                tracing::error!("the recording thread panicked");
            }
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if self.worker.is_some() {
            let (tx, rx) = mpsc::sync_channel(1);
            if self.commands.send(Command::Stop(tx)).is_ok() {
                if let Ok(Err(e)) = rx.recv() {
                    tracing::warn!(error = %e, "the dropped recording could not be finished");
                }
            }
            self.join();
        }
    }
}

struct Worker {
    config: RecorderConfig,
    id: String,
    path: PathBuf,
    shared: Arc<Shared>,
    progress: Arc<AtomicU64>,
    events: Events,
    commands: mpsc::Receiver<Command>,
}

/// Where the recording is.
enum State {
    Recording(Box<NoteWriter>),
    /// Finished (limit, device failure or a failed write); waiting for stop or cancel.
    Done(Result<Draft, VoiceError>),
}

impl Worker {
    fn run(self, source: Source, ready: mpsc::SyncSender<Result<(), VoiceError>>) {
        let mut input = match source.open(self.shared.clone()) {
            Ok(input) => input,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let note = match NoteWriter::create(
            self.id.clone(),
            self.path.clone(),
            self.config.bitrate,
            self.config.max_samples,
            self.config.warn_at_samples,
        ) {
            Ok(note) => note,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let mut convert = match Convert::new(input.channels, input.rate) {
            Ok(convert) => convert,
            Err(e) => {
                let _ = ready.send(Err(e));
                remove(note.path());
                return;
            }
        };
        let _ = ready.send(Ok(()));
        let mut state = State::Recording(Box::new(note));
        let cancelled = loop {
            let command = match self.commands.recv_timeout(POLL) {
                Ok(command) => Some(command),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                // The handle is gone without a word: keep the draft.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.finish(&mut state, &mut input, &mut convert);
                    break false;
                }
            };
            match command {
                None => {}
                Some(Command::Pause) => input.pause_device(),
                Some(Command::Resume(reply)) => {
                    if let State::Recording(_) = state {
                        match input.resume_device() {
                            Ok(()) => self.shared.paused.store(false, Ordering::Relaxed),
                            Err(e) => {
                                tracing::warn!(error = %e, "the microphone cannot restart");
                                self.close(&mut state, &mut input);
                                (self.events)(RecorderEvent::Error(format!(
                                    "the microphone cannot restart: {e}"
                                )));
                            }
                        }
                    }
                    let _ = reply.send(());
                }
                Some(Command::Stop(reply)) => {
                    self.finish(&mut state, &mut input, &mut convert);
                    if let State::Done(result) =
                        std::mem::replace(&mut state, State::Done(Err(VoiceError::RecorderGone)))
                    {
                        let _ = reply.send(result);
                    }
                    break false;
                }
                Some(Command::Cancel(reply)) => {
                    drop(input.stream.take());
                    let _ = reply.send(());
                    break true;
                }
            }
            if let State::Recording(_) = state {
                self.pump(&mut state, &mut input, &mut convert);
            }
        };
        drop(input.stream.take());
        // Close the file before deleting it (Windows cannot delete an open file).
        drop(state);
        if cancelled {
            remove(&self.path);
        }
    }

    /// Moves whatever the ring holds into the note; finishes the note at the limit or on a
    /// device failure.
    fn pump(&self, state: &mut State, input: &mut Input, convert: &mut Convert) {
        let State::Recording(note) = state else {
            return;
        };
        let result = drain(input, convert, note, &*self.events);
        self.progress.store(note.samples(), Ordering::Relaxed);
        let fault = input.errors.as_ref().and_then(|errors| {
            let mut fatal = None;
            while let Ok(fault) = errors.try_recv() {
                if fault.fatal {
                    fatal = Some(fault.message);
                } else {
                    tracing::warn!(message = %fault.message, "audio device reported a problem");
                }
            }
            fatal
        });
        match (result, fault) {
            (Ok(Pushed::Room), None) => {}
            (Ok(Pushed::Full), None) => {
                self.close(state, input);
                match state {
                    State::Done(Ok(draft)) => {
                        (self.events)(RecorderEvent::AutoStopped(draft.clone()))
                    }
                    State::Done(Err(e)) => (self.events)(RecorderEvent::Error(e.to_string())),
                    State::Recording(_) => {}
                }
            }
            (Ok(_), Some(message)) => {
                tracing::warn!(%message, "the microphone failed; keeping what was recorded");
                self.close(state, input);
                (self.events)(RecorderEvent::Error(format!(
                    "the microphone failed: {message}"
                )));
            }
            (Err(e), _) => {
                tracing::warn!(error = %e, "recording failed");
                (self.events)(RecorderEvent::Error(e.to_string()));
                self.shared.paused.store(true, Ordering::Relaxed);
                drop(input.stream.take());
                *state = State::Done(Err(e));
            }
        }
    }

    /// Takes what was captured before the stop, then finishes the note.
    fn finish(&self, state: &mut State, input: &mut Input, convert: &mut Convert) {
        if let State::Recording(note) = state {
            self.shared.paused.store(true, Ordering::Relaxed);
            let drained = drain(input, convert, note, &*self.events).and_then(|pushed| {
                if pushed == Pushed::Room {
                    note.push(convert.flush()?, &*self.events)?;
                }
                Ok(())
            });
            if let Err(e) = drained {
                *state = State::Done(Err(e));
                return;
            }
            self.progress.store(note.samples(), Ordering::Relaxed);
            self.close(state, input);
        }
    }

    /// Stops capture (releasing the device) and finishes the file.
    fn close(&self, state: &mut State, input: &mut Input) {
        self.shared.paused.store(true, Ordering::Relaxed);
        drop(input.stream.take());
        let old = std::mem::replace(state, State::Done(Err(VoiceError::RecorderGone)));
        if let State::Recording(note) = old {
            *state = State::Done(note.finish());
        } else {
            *state = old;
        }
    }
}

fn remove(path: &std::path::Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(error = %e, path = %path.display(), "cannot delete the draft");
        }
    }
}

/// Pops everything the ring holds (whole input frames) through the converter into the note.
fn drain(
    input: &mut Input,
    convert: &mut Convert,
    note: &mut NoteWriter,
    events: &dyn Fn(RecorderEvent),
) -> Result<Pushed, VoiceError> {
    let available = input.consumer.slots();
    let n = available - available % input.channels;
    if n == 0 {
        return Ok(Pushed::Room);
    }
    let Ok(chunk) = input.consumer.read_chunk(n) else {
        return Ok(Pushed::Room);
    };
    let (first, second) = chunk.as_slices();
    let mut pushed = Pushed::Room;
    for part in [first, second] {
        if part.is_empty() || pushed == Pushed::Full {
            continue;
        }
        let mono = convert.process(part)?;
        pushed = note.push(mono, events)?;
    }
    chunk.commit_all();
    Ok(pushed)
}

/// Device audio (any channels, any rate) to mono 48 kHz.
struct Convert {
    channels: usize,
    resampler: Option<Resampler>,
    mono: Vec<f32>,
    resampled: Vec<f32>,
}

impl Convert {
    fn new(channels: usize, rate: u32) -> Result<Self, VoiceError> {
        let resampler = if rate == VOICE_SAMPLE_RATE {
            None
        } else {
            Some(Resampler::new(rate)?)
        };
        Ok(Convert {
            channels: channels.max(1),
            resampler,
            mono: Vec::with_capacity(VOICE_SAMPLE_RATE as usize),
            resampled: Vec::with_capacity(VOICE_SAMPLE_RATE as usize),
        })
    }

    fn process(&mut self, interleaved: &[f32]) -> Result<&[f32], VoiceError> {
        self.mono.clear();
        if self.channels == 1 {
            self.mono.extend_from_slice(interleaved);
        } else {
            downmix(interleaved, self.channels, &mut self.mono);
        }
        match &mut self.resampler {
            None => Ok(&self.mono),
            Some(resampler) => {
                self.resampled.clear();
                resampler.process(&self.mono, &mut self.resampled)?;
                Ok(&self.resampled)
            }
        }
    }

    /// What the resampler still holds at the end of the recording.
    fn flush(&mut self) -> Result<&[f32], VoiceError> {
        self.resampled.clear();
        if let Some(resampler) = &mut self.resampler {
            resampler.flush(&mut self.resampled)?;
        }
        Ok(&self.resampled)
    }
}

/// Test-only entry: a recorder fed by pushing samples instead of a device.
#[cfg(test)]
pub(crate) fn start_test(
    config: RecorderConfig,
    channels: usize,
    rate: u32,
    events: impl Fn(RecorderEvent) + Send + 'static,
) -> Result<(Recorder, capture::Feed), VoiceError> {
    let shared = Arc::new(Shared::default());
    let (feed, consumer) = capture::ring(channels, rate, shared.clone());
    let recorder = Recorder::start_with(
        config,
        Source::Test {
            consumer,
            channels,
            rate,
        },
        shared,
        Box::new(events),
    )?;
    Ok((recorder, feed))
}
