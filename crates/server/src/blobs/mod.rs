//! Where uploaded files' bytes live, behind traits so object storage can replace the local
//! directories. Files are content-addressed by SHA-256: a name is written once and never
//! changes, so readers never see a half-written or replaced file.
//!
//! Two backends, chosen by [`open`]: directories on this server's disk (the default, for a
//! single instance) and an S3 bucket (`s3://BUCKET[/PREFIX]`), which several instances
//! sharing one database also share: a file uploaded through one is served by all, and a
//! resumable upload begun on one can go on through another after a reconnect.

mod local;
mod object;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;

pub use local::{LocalBlobs, LocalPartials};
pub use object::{ObjectBlobs, ObjectPartials, S3Url};

/// Opens the media storage `media` names: `None`, the directories `data_dir/media` and
/// `data_dir/uploads`; `s3://BUCKET[/PREFIX]`, keys under `PREFIX/media/` and
/// `PREFIX/uploads/` in that bucket, with the endpoint, region and credentials from the
/// standard `AWS_*` environment. Anything else is refused. A bucket that cannot be listed
/// (wrong name, endpoint or credentials) fails here, at startup, rather than on the first
/// upload.
pub async fn open(
    media: Option<&str>,
    data_dir: &std::path::Path,
) -> anyhow::Result<(Arc<dyn BlobStore>, Arc<dyn Partials>)> {
    let Some(url) = media else {
        let blobs = LocalBlobs::open(data_dir.join("media")).await?;
        let partials = LocalPartials::open(data_dir.join("uploads")).await?;
        return Ok((Arc::new(blobs), Arc::new(partials)));
    };
    let url = S3Url::parse(url)?;
    let store = object::connect(&url, object_store::aws::AmazonS3Builder::from_env()).await?;
    let blobs = ObjectBlobs::new(store.clone(), &url.prefix);
    let partials = ObjectPartials::new(store, &url.prefix);
    tracing::info!(%url, "media stored in object storage");
    Ok((Arc::new(blobs), Arc::new(partials)))
}

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `bytes` under their SHA-256 (`sha256`, computed by the caller). Durable when it
    /// returns. Storing the same content twice is a no-op.
    async fn put(&self, sha256: [u8; 32], bytes: Bytes) -> anyhow::Result<()>;
    /// The bytes stored under `sha256`, `None` if there are none.
    async fn get(&self, sha256: [u8; 32]) -> anyhow::Result<Option<Bytes>>;
}

/// Resumable uploads in progress: bytes appended piece by piece, moved to the [`BlobStore`]
/// once complete and checked. The database row of an upload records how many bytes are
/// durable; anything stored past that (a piece cut off mid-write, or written but never
/// recorded) is dropped before the next piece is appended, and never read.
#[async_trait]
pub trait Partials: Send + Sync {
    /// Starts the piece of upload `id` that begins at `offset`, the bytes the database
    /// records as durable: whatever is stored past `offset` is dropped first. Fails if fewer
    /// than `offset` bytes are stored (the storage lost what the database says it has).
    async fn writer(&self, id: uuid::Uuid, offset: u64) -> anyhow::Result<Box<dyn PieceWriter>>;
    /// The first `length` bytes of upload `id` (all the durable ones, once it is complete),
    /// for checking.
    async fn read(&self, id: uuid::Uuid, length: u64) -> anyhow::Result<Bytes>;
    /// Forgets upload `id` (complete, refused or abandoned). Failures are only logged: what
    /// is left behind is never read again, as the upload's row goes too.
    async fn remove(&self, id: uuid::Uuid);
}

/// One piece of a resumable upload being received.
#[async_trait]
pub trait PieceWriter: Send {
    /// Appends `bytes` to the piece. Not durable until [`PieceWriter::finish`].
    async fn write(&mut self, bytes: Bytes) -> anyhow::Result<()>;
    /// Makes everything written durable, before the database records it as received.
    async fn finish(self: Box<Self>) -> anyhow::Result<()>;
}

/// Lower-case hex, the form content addresses take in file and key names.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
