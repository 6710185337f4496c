//! Where samples come from: a cpal input stream in production, or samples pushed by a test.
//!
//! Both end in the same place: a bounded lock-free ring ([`rtrb`]) of interleaved `f32`
//! samples at the device's rate and channel count, filled by [`deliver`] and drained by the
//! recorder's worker thread. [`deliver`] is all the audio callback does: no allocation, no lock,
//! no logging. Samples that do not fit are counted, not waited for.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample, SupportedBufferSize};
use natter_protocol::limits::VOICE_SAMPLE_RATE;
use rtrb::{Consumer, Producer, RingBuffer};

use crate::VoiceError;

/// Seconds of audio the ring holds: how long the worker may fall behind before samples drop.
const RING_SECONDS: usize = 4;

/// State shared between the producer (audio callback) and the recorder.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Set while paused: the producer discards what it gets.
    pub paused: AtomicBool,
    /// Input frames (one sample per channel) lost because the ring was full.
    pub dropped: AtomicU64,
}

/// The producer side: what the audio callback owns.
pub(crate) struct Feed {
    producer: Producer<f32>,
    shared: Arc<Shared>,
    channels: usize,
}

impl Feed {
    /// Copies one callback's worth of interleaved samples into the ring. Real-time safe.
    pub(crate) fn deliver<T>(&mut self, data: &[T])
    where
        T: Sample,
        f32: FromSample<T>,
    {
        if self.shared.paused.load(Ordering::Relaxed) {
            return;
        }
        let mut n = self.producer.slots().min(data.len());
        n -= n % self.channels;
        if n > 0 {
            if let Ok(chunk) = self.producer.write_chunk_uninit(n) {
                chunk.fill_from_iter(data[..n].iter().map(|s| s.to_sample::<f32>()));
            }
        }
        let lost = (data.len() - n) / self.channels;
        if lost > 0 {
            self.shared
                .dropped
                .fetch_add(lost as u64, Ordering::Relaxed);
        }
    }
}

/// The consumer side, for the worker.
pub(crate) struct Input {
    pub consumer: Consumer<f32>,
    pub channels: usize,
    pub rate: u32,
    /// Device errors reported by the backend while running.
    pub errors: Option<mpsc::Receiver<DeviceFault>>,
    /// Keeps the stream alive; `None` for a test feed. Owned by the worker thread.
    pub stream: Option<cpal::Stream>,
}

/// An error the backend reported while the stream was running.
#[derive(Debug)]
pub(crate) struct DeviceFault {
    pub message: String,
    /// The stream cannot go on (device gone, stream invalidated).
    pub fatal: bool,
}

impl Input {
    /// Stops the device where the backend can (samples arriving anyway are discarded by the
    /// paused flag, so this is a saving, not a requirement).
    pub(crate) fn pause_device(&self) {
        if let Some(stream) = &self.stream {
            if let Err(e) = stream.pause() {
                tracing::debug!(error = %e, "the input stream cannot pause; discarding instead");
            }
        }
    }

    pub(crate) fn resume_device(&self) -> Result<(), VoiceError> {
        match &self.stream {
            Some(stream) => stream.play().map_err(|e| VoiceError::from_cpal(&e)),
            None => Ok(()),
        }
    }
}

/// A ring for `channels`-channel audio at `rate`, sized to [`RING_SECONDS`].
pub(crate) fn ring(channels: usize, rate: u32, shared: Arc<Shared>) -> (Feed, Consumer<f32>) {
    let channels = channels.max(1);
    let capacity = rate.max(8_000) as usize * RING_SECONDS * channels;
    let (producer, consumer) = RingBuffer::new(capacity);
    (
        Feed {
            producer,
            shared,
            channels,
        },
        consumer,
    )
}

/// Opens the default input device (or the one named) and starts capturing into a new ring.
/// Must run on the thread that will own the stream (cpal streams are not `Send` everywhere).
pub(crate) fn open_cpal(device: Option<&str>, shared: Arc<Shared>) -> Result<Input, VoiceError> {
    let host = cpal::default_host();
    let device = match device {
        None => host
            .default_input_device()
            .ok_or(VoiceError::NoMicrophone)?,
        Some(name) => find_device(&host, name)?,
    };
    let is_default = device.id().map(|id| id.id() == "default").unwrap_or(false);
    let not_there = |e: cpal::Error| match e.kind() {
        cpal::ErrorKind::DeviceNotAvailable | cpal::ErrorKind::HostUnavailable if is_default => {
            VoiceError::NoMicrophone
        }
        _ => VoiceError::from_cpal(&e),
    };
    let chosen = choose_config(&device).map_err(not_there)?;
    let (channels, rate, format) = (
        chosen.channels(),
        chosen.sample_rate(),
        chosen.sample_format(),
    );
    let period = rate / 50; // 20 ms, one Opus frame
    let fixed = match chosen.buffer_size() {
        SupportedBufferSize::Range { min, max } => (*min..=*max).contains(&period),
        SupportedBufferSize::Unknown => true,
    };
    let mut config = cpal::StreamConfig {
        channels,
        sample_rate: rate,
        buffer_size: if fixed {
            cpal::BufferSize::Fixed(period)
        } else {
            cpal::BufferSize::Default
        },
    };
    let (faults_tx, faults_rx) = mpsc::sync_channel(16);
    let built = build(&device, config, format, shared.clone(), faults_tx.clone());
    let (stream, consumer) = match built {
        Ok(ok) => ok,
        Err(e) if fixed && e.kind() == cpal::ErrorKind::UnsupportedConfig => {
            config.buffer_size = cpal::BufferSize::Default;
            build(&device, config, format, shared, faults_tx).map_err(not_there)?
        }
        Err(e) => return Err(not_there(e)),
    };
    stream.play().map_err(not_there)?;
    tracing::debug!(
        device = %device,
        channels,
        rate,
        ?format,
        buffer = ?config.buffer_size,
        "capturing"
    );
    Ok(Input {
        consumer,
        channels: channels as usize,
        rate,
        errors: Some(faults_rx),
        stream: Some(stream),
    })
}

fn find_device(host: &cpal::Host, name: &str) -> Result<cpal::Device, VoiceError> {
    let matches = |d: &cpal::Device| {
        d.id()
            .is_ok_and(|id| id.id() == name || id.to_string() == name)
            || d.description().is_ok_and(|desc| desc.name() == name)
    };
    if let Ok(mut devices) = host.input_devices() {
        if let Some(found) = devices.find(matches) {
            return Ok(found);
        }
    }
    // Also accept a full id ("alsa:hw:CARD=0,DEV=0"). ALSA lists only PCMs with a `hint`.
    let id = name
        .parse::<cpal::DeviceId>()
        .ok()
        .filter(|id| id.host() == host.id())
        .unwrap_or_else(|| cpal::DeviceId::new(host.id(), name));
    if let Some(found) = host.device_by_id(&id) {
        return Ok(found);
    }
    Err(VoiceError::DeviceNotFound(name.to_owned()))
}

/// The supported input configuration closest to what we encode: 48 kHz first (no resampling),
/// then 16-bit integer (what most hardware and ALSA's file plugin deliver natively), then
/// `f32`, then fewer channels.
fn choose_config(device: &cpal::Device) -> Result<cpal::SupportedStreamConfig, cpal::Error> {
    let best = device
        .supported_input_configs()?
        .filter_map(|range| {
            let format_rank = format_rank(range.sample_format())?;
            let rate = VOICE_SAMPLE_RATE.clamp(range.min_sample_rate(), range.max_sample_rate());
            let rate_rank = if rate == VOICE_SAMPLE_RATE {
                0
            } else {
                // Prefer the nearest rate, higher over lower.
                u64::from(rate.abs_diff(VOICE_SAMPLE_RATE)) * 2
                    + u64::from(rate < VOICE_SAMPLE_RATE)
            };
            let key = (rate_rank, format_rank, range.channels());
            Some((key, range.try_with_sample_rate(rate)?))
        })
        .min_by_key(|(key, _)| *key)
        .map(|(_, config)| config);
    match best {
        Some(config) => Ok(config),
        None => {
            let fallback = device.default_input_config()?;
            match format_rank(fallback.sample_format()) {
                Some(_) => Ok(fallback),
                None => Err(cpal::Error::with_message(
                    cpal::ErrorKind::UnsupportedConfig,
                    "no supported sample format",
                )),
            }
        }
    }
}

fn format_rank(format: SampleFormat) -> Option<u8> {
    Some(match format {
        SampleFormat::I16 => 0,
        SampleFormat::F32 => 1,
        SampleFormat::I32 => 2,
        SampleFormat::U16 => 3,
        SampleFormat::F64 => 4,
        SampleFormat::I8 => 5,
        SampleFormat::U8 => 6,
        _ => return None,
    })
}

fn build(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    format: SampleFormat,
    shared: Arc<Shared>,
    faults: mpsc::SyncSender<DeviceFault>,
) -> Result<(cpal::Stream, Consumer<f32>), cpal::Error> {
    match format {
        SampleFormat::I16 => build_typed::<i16>(device, config, shared, faults),
        SampleFormat::F32 => build_typed::<f32>(device, config, shared, faults),
        SampleFormat::I32 => build_typed::<i32>(device, config, shared, faults),
        SampleFormat::U16 => build_typed::<u16>(device, config, shared, faults),
        SampleFormat::F64 => build_typed::<f64>(device, config, shared, faults),
        SampleFormat::I8 => build_typed::<i8>(device, config, shared, faults),
        SampleFormat::U8 => build_typed::<u8>(device, config, shared, faults),
        _ => Err(cpal::Error::with_message(
            cpal::ErrorKind::UnsupportedConfig,
            "unsupported sample format",
        )),
    }
}

fn build_typed<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    shared: Arc<Shared>,
    faults: mpsc::SyncSender<DeviceFault>,
) -> Result<(cpal::Stream, Consumer<f32>), cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let (mut feed, consumer) = ring(usize::from(config.channels), config.sample_rate, shared);
    let stream = device.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], _: &cpal::InputCallbackInfo| feed.deliver(data),
        move |err: cpal::Error| {
            let fatal = matches!(
                err.kind(),
                cpal::ErrorKind::DeviceNotAvailable
                    | cpal::ErrorKind::StreamInvalidated
                    | cpal::ErrorKind::HostUnavailable
            );
            // The error path is not the real-time path; a full queue just loses the report.
            let _ = faults.try_send(DeviceFault {
                message: err.to_string(),
                fatal,
            });
        },
        None,
    )?;
    Ok((stream, consumer))
}
