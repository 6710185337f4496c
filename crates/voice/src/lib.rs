//! Voice-note recording: microphone capture with cpal on its own thread, live Opus encoding
//! into an Ogg file page by page, levels for the UI, and drafts that survive a crash.
