//! iOS only: the app's audio session. cpal records through a RemoteIO unit but leaves the
//! session as iOS starts every app, in the playback-only `SoloAmbient` category, where there is
//! no input; so the recorder sets the category [`super::session_plan`] chose before it starts
//! and gives the session back when it stops. Not compiled on this project's machines (no
//! Xcode): see docs/mobile.md.
//!
//! The one place in the app with `unsafe`: every AVFAudio binding is `unsafe` in objc2, the
//! category and mode names are C statics, and there is no safe wrapper to use instead.
#![allow(unsafe_code)]

use objc2_avf_audio::{
    AVAudioSession, AVAudioSessionCategoryOptions, AVAudioSessionCategoryPlayAndRecord,
    AVAudioSessionModeDefault, AVAudioSessionSetActiveOptions,
};

use super::SessionPlan;

/// Applies `plan` to the shared audio session.
pub fn apply(plan: SessionPlan) -> Result<(), String> {
    // SAFETY: `sharedInstance` returns the process-wide session object, valid for the life of
    // the process; Apple documents the session as usable from any thread.
    let session = unsafe { AVAudioSession::sharedInstance() };
    match plan {
        SessionPlan::Record {
            default_to_speaker,
            allow_bluetooth_input,
        } => {
            // SAFETY: reading two framework constants (NSString statics that AVFAudio has
            // exported since iOS 3 and 5; the app's minimum is iOS 16).
            let (category, mode) = unsafe {
                (
                    AVAudioSessionCategoryPlayAndRecord,
                    AVAudioSessionModeDefault,
                )
            };
            let (Some(category), Some(mode)) = (category, mode) else {
                return Err("AVFAudio lacks the play-and-record category".to_string());
            };
            let mut options = AVAudioSessionCategoryOptions::empty();
            if default_to_speaker {
                options |= AVAudioSessionCategoryOptions::DefaultToSpeaker;
            }
            if allow_bluetooth_input {
                options |= AVAudioSessionCategoryOptions::AllowBluetoothHFP;
            }
            // SAFETY: plain Objective-C calls on the live session with valid arguments; the
            // errors come back as values.
            unsafe { session.setCategory_mode_options_error(category, mode, options) }
                .map_err(|e| format!("could not set the audio session for recording: {e:?}"))?;
            // SAFETY: as above.
            unsafe { session.setActive_error(true) }
                .map_err(|e| format!("could not activate the audio session: {e:?}"))
        }
        SessionPlan::Release { notify_others } => {
            let options = if notify_others {
                AVAudioSessionSetActiveOptions::NotifyOthersOnDeactivation
            } else {
                AVAudioSessionSetActiveOptions::empty()
            };
            // SAFETY: as above; deactivating an inactive session is harmless.
            unsafe { session.setActive_withOptions_error(false, options) }
                .map_err(|e| format!("could not release the audio session: {e:?}"))
        }
    }
}
