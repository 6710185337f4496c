//! The note being written: mono 48 kHz samples in, Opus packets out into an Ogg file that is
//! flushed and synced once per second of audio, with levels, the waveform and the time limits.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use natter_media::{OggOpusWriter, VoiceEncoder, WaveformBuilder, FRAME_SAMPLES};
use natter_protocol::limits::VOICE_SAMPLE_RATE;

use crate::{Draft, RecorderEvent, VoiceError};

/// Samples per level event: ~33 ms, so about 30 events a second of audio.
pub(crate) const LEVEL_SAMPLES: u64 = VOICE_SAMPLE_RATE as u64 / 30;
/// Opus frames per page flush + fsync: half a second, so a crash loses well under a second
/// (what was synced, minus the one packet the writer holds back for the end).
const FRAMES_PER_SYNC: u64 = VOICE_SAMPLE_RATE as u64 / FRAME_SAMPLES as u64 / 2;

/// Milliseconds of audio in `samples` at 48 kHz.
pub(crate) fn samples_to_ms(samples: u64) -> u64 {
    samples * 1000 / u64::from(VOICE_SAMPLE_RATE)
}

pub(crate) struct NoteWriter {
    id: String,
    path: PathBuf,
    ogg: OggOpusWriter<File>,
    encoder: VoiceEncoder,
    waveform: WaveformBuilder,
    frame: Vec<f32>,
    samples: u64,
    /// Frames encoded since the last flush + fsync.
    unsynced: u64,
    max_samples: u64,
    warn_at: u64,
    level_sum: f64,
    level_n: u64,
}

/// What [`NoteWriter::push`] did with the samples it was given.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// All taken; there is room for more.
    Room,
    /// The note reached its length limit; samples beyond it were not taken.
    Full,
}

impl NoteWriter {
    /// Creates (or truncates) the file and writes the Opus headers, synced.
    pub(crate) fn create(
        id: String,
        path: PathBuf,
        bitrate: i32,
        max_samples: u64,
        warn_at: u64,
    ) -> Result<Self, VoiceError> {
        let encoder = VoiceEncoder::new(bitrate)?;
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| VoiceError::io("cannot create", &path, e))?;
        let ogg = OggOpusWriter::new(file, serial_from(&id), encoder.pre_skip())?;
        ogg.get_ref()
            .sync_data()
            .map_err(|e| VoiceError::io("cannot sync", &path, e))?;
        sync_parent(&path);
        Ok(NoteWriter {
            id,
            path,
            ogg,
            encoder,
            waveform: WaveformBuilder::new(),
            frame: Vec::with_capacity(FRAME_SAMPLES),
            samples: 0,
            unsynced: 0,
            max_samples,
            warn_at,
            level_sum: 0.0,
            level_n: 0,
        })
    }

    /// Samples of audio taken so far.
    pub(crate) fn samples(&self) -> u64 {
        self.samples
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Takes mono 48 kHz samples up to the length limit, encoding every full frame.
    pub(crate) fn push(
        &mut self,
        mono: &[f32],
        events: &dyn Fn(RecorderEvent),
    ) -> Result<Pushed, VoiceError> {
        for &sample in mono {
            if self.samples >= self.max_samples {
                return Ok(Pushed::Full);
            }
            self.frame.push(sample);
            self.samples += 1;
            self.level_sum += f64::from(sample) * f64::from(sample);
            self.level_n += 1;
            if self.level_n == LEVEL_SAMPLES {
                let rms = (self.level_sum / self.level_n as f64).sqrt();
                events(RecorderEvent::Level {
                    level: rms.min(1.0) as f32,
                    elapsed_ms: samples_to_ms(self.samples),
                });
                self.level_sum = 0.0;
                self.level_n = 0;
            }
            if self.samples == self.warn_at && self.warn_at < self.max_samples {
                events(RecorderEvent::Warning {
                    remaining_ms: samples_to_ms(self.max_samples - self.samples),
                });
            }
            if self.frame.len() == FRAME_SAMPLES {
                self.write_frame()?;
            }
        }
        Ok(if self.samples >= self.max_samples {
            Pushed::Full
        } else {
            Pushed::Room
        })
    }

    fn write_frame(&mut self) -> Result<(), VoiceError> {
        self.waveform.push(&self.frame);
        self.encode_frame()
    }

    fn encode_frame(&mut self) -> Result<(), VoiceError> {
        let packet = self.encoder.encode(&self.frame)?;
        self.ogg.write_packet(packet, FRAME_SAMPLES as u64)?;
        self.frame.clear();
        self.unsynced += 1;
        if self.unsynced == FRAMES_PER_SYNC {
            self.unsynced = 0;
            self.ogg.flush_page()?;
            self.ogg
                .get_ref()
                .sync_data()
                .map_err(|e| VoiceError::io("cannot sync", &self.path, e))?;
        }
        Ok(())
    }

    /// Ends the note: the last samples plus the encoder's lookahead in silence (so the
    /// decoder gets every real sample out), the end-of-stream page whose granule trims the
    /// padding off, and an fsync. A note with no audio is deleted instead.
    pub(crate) fn finish(mut self) -> Result<Draft, VoiceError> {
        if self.samples == 0 {
            drop(self.ogg);
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::warn!(error = %e, path = %self.path.display(), "cannot delete an empty draft");
            }
            return Err(VoiceError::NothingRecorded);
        }
        self.waveform.push(&self.frame);
        let mut padding = usize::from(self.encoder.pre_skip());
        loop {
            let room = FRAME_SAMPLES - self.frame.len();
            let take = room.min(padding);
            self.frame.resize(self.frame.len() + take, 0.0);
            padding -= take;
            if padding == 0 {
                break;
            }
            self.encode_frame()?;
        }
        if !self.frame.is_empty() {
            self.frame.resize(FRAME_SAMPLES, 0.0);
            self.encode_frame()?;
        }
        let file = self.ogg.finish(self.samples)?;
        file.sync_data()
            .map_err(|e| VoiceError::io("cannot sync", &self.path, e))?;
        let bytes = file
            .metadata()
            .map_err(|e| VoiceError::io("cannot read", &self.path, e))?
            .len();
        Ok(Draft {
            id: self.id,
            path: self.path,
            duration_ms: samples_to_ms(self.samples),
            samples: self.samples,
            waveform: self.waveform.finish(),
            bytes,
        })
    }
}

/// The Ogg stream serial: any value works; derive it from the id so it differs per note.
fn serial_from(id: &str) -> u32 {
    id.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Makes the new file's directory entry durable too (best effort; not all systems allow it).
fn sync_parent(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
            tracing::debug!(error = %e, dir = %dir.display(), "cannot sync the draft directory");
        }
    }
}
