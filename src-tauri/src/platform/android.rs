//! Android only: opening a `content://` document the system picker returned. Only the
//! content resolver can, which the file-system plugin reaches for us (its Kotlin side asks the
//! resolver for a file descriptor), so [`super::with_plugins`] registers that plugin here.
//! Not compiled on this project's machines (no Android NDK): see docs/mobile.md.

use std::io;

use tauri::{AppHandle, Runtime, Url};
use tauri_plugin_fs::{FilePath, FsExt, OpenOptions};

/// Opens a picked document for reading.
pub fn open<R: Runtime>(app: &AppHandle<R>, uri: &Url) -> io::Result<std::fs::File> {
    let mut options = OpenOptions::new();
    options.read(true);
    app.fs().open(FilePath::Url(uri.clone()), options)
}
