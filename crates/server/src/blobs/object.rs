//! Media in an S3 bucket (AWS or any S3-compatible server), through Apache Arrow's
//! `object_store`: files under `PREFIX/media/<sha256 hex>`, and each received piece of a
//! resumable upload as its own object `PREFIX/uploads/<id>/<offset, 20 digits>`, so that
//! every instance sharing the bucket (and the database) can go on with any upload.
//!
//! Objects cannot be appended to, hence one object per piece: the upload is the pieces in
//! offset order, each counting up to where the next one starts, read up to the length the
//! database records as durable.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use async_trait::async_trait;
use axum::body::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};
use object_store::aws::AmazonS3Builder;
use object_store::list::{PaginatedListOptions, PaginatedListStore as _};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutMode, PutPayload, PutPayloadMut};

use super::{hex, BlobStore, Partials, PieceWriter};

/// How long the startup check may take before the server gives up on the bucket.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// Pieces fetched at once when an upload is read back (each at most a piece's size).
const READ_CONCURRENCY: usize = 4;

/// `s3://BUCKET[/PREFIX]`: where the media of this deployment lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    /// Keys start with it (the bucket's root when empty); lets deployments or test runs share
    /// a bucket.
    pub prefix: Path,
}

impl S3Url {
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            anyhow!(
                "unsupported media storage URL {url:?}: expected s3://BUCKET[/PREFIX] \
                 (or no URL, for the local directory)"
            )
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = !bucket.is_empty()
            && bucket
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !bucket_ok {
            bail!("media storage URL {url:?}: {bucket:?} is not a bucket name");
        }
        let prefix = Path::parse(prefix)
            .with_context(|| format!("media storage URL {url:?}: bad key prefix {prefix:?}"))?;
        Ok(Self {
            bucket: bucket.to_string(),
            prefix,
        })
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.as_ref().is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// The bucket `url` names, configured by `env` (the `AWS_*` environment in production),
/// once one listing of the prefix succeeded: a wrong bucket, endpoint, region or credential
/// fails here with the storage's own word for it.
pub async fn connect(url: &S3Url, env: AmazonS3Builder) -> anyhow::Result<Arc<dyn ObjectStore>> {
    install_tls_provider();
    let builder = env.with_bucket_name(&url.bucket);
    let build = |builder: AmazonS3Builder| {
        builder.build().with_context(|| {
            format!(
                "media storage {url}: bad S3 configuration (AWS_ENDPOINT_URL, AWS_REGION, \
                 AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ALLOW_HTTP)"
            )
        })
    };
    // The check gives up after a couple of tries, not the minutes of retries that ride out
    // a passing outage later on: at startup a failure is a misconfiguration to report.
    let probe = build(builder.clone().with_retry(object_store::RetryConfig {
        max_retries: 2,
        retry_timeout: Duration::from_secs(10),
        ..Default::default()
    }))?;
    let store = build(builder)?;
    let prefix = (!url.prefix.as_ref().is_empty()).then(|| format!("{}/", url.prefix));
    let list = probe.list_paginated(
        prefix.as_deref(),
        PaginatedListOptions {
            max_keys: Some(1),
            ..Default::default()
        },
    );
    match tokio::time::timeout(PROBE_TIMEOUT, list).await {
        Ok(Ok(_)) => Ok(Arc::new(store)),
        Ok(Err(e)) => Err(anyhow::Error::new(e).context(format!(
            "media storage {url}: cannot list bucket {:?} (check the bucket name, \
             AWS_ENDPOINT_URL, AWS_REGION and the credentials)",
            url.bucket
        ))),
        Err(_) => bail!(
            "media storage {url}: no answer from the S3 endpoint within {} s (check \
             AWS_ENDPOINT_URL and the network)",
            PROBE_TIMEOUT.as_secs()
        ),
    }
}

/// `object_store`'s HTTP client uses rustls without a bundled crypto provider (the
/// workspace's TLS is ring throughout; a second provider would make rustls' implicit choice
/// ambiguous for every other client): it takes the process's default, so install ring's
/// unless the program already chose one.
fn install_tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Fails only if another thread installed one meanwhile, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Files under `PREFIX/media/<sha256 hex>`.
pub struct ObjectBlobs {
    store: Arc<dyn ObjectStore>,
    dir: Path,
}

impl ObjectBlobs {
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &Path) -> Self {
        Self {
            store,
            dir: prefix.clone().join("media"),
        }
    }

    fn path(&self, sha256: [u8; 32]) -> Path {
        self.dir.clone().join(hex(&sha256))
    }
}

#[async_trait]
impl BlobStore for ObjectBlobs {
    async fn put(&self, sha256: [u8; 32], bytes: Bytes) -> anyhow::Result<()> {
        let path = self.path(sha256);
        // Create-only (`If-None-Match: *`): content already there stays as it is.
        let put = self
            .store
            .put_opts(
                &path,
                PutPayload::from(bytes.clone()),
                PutMode::Create.into(),
            )
            .await;
        match put {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
            // Conditional puts switched off (`AWS_CONDITIONAL_PUT=disabled`, for servers that
            // lack them): same name, same bytes, so overwriting changes nothing.
            Err(object_store::Error::NotImplemented { .. }) => self
                .store
                .put(&path, PutPayload::from(bytes))
                .await
                .map(drop)
                .with_context(|| format!("storing {path} in {}", self.store)),
            Err(e) => Err(e).with_context(|| format!("storing {path} in {}", self.store)),
        }
    }

    async fn get(&self, sha256: [u8; 32]) -> anyhow::Result<Option<Bytes>> {
        let path = self.path(sha256);
        let read = async { self.store.get(&path).await?.bytes().await };
        match read.await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {path} from {}", self.store)),
        }
    }
}

/// Resumable uploads in progress: `PREFIX/uploads/<id>/<offset>`, one object per piece.
pub struct ObjectPartials {
    store: Arc<dyn ObjectStore>,
    dir: Path,
}

/// A stored piece of an upload.
#[derive(Debug, Clone)]
pub(super) struct Piece {
    offset: u64,
    size: u64,
    path: Path,
}

impl ObjectPartials {
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &Path) -> Self {
        Self {
            store,
            dir: prefix.clone().join("uploads"),
        }
    }

    fn upload_dir(&self, id: uuid::Uuid) -> Path {
        self.dir.clone().join(id.to_string())
    }

    /// Zero-padded so that listing order is offset order too (for people browsing).
    fn piece_path(&self, id: uuid::Uuid, offset: u64) -> Path {
        self.upload_dir(id).join(format!("{offset:020}"))
    }

    /// The pieces stored for upload `id`, by offset. Objects not named like a piece are
    /// not ours and are left out.
    async fn pieces(&self, id: uuid::Uuid) -> anyhow::Result<Vec<Piece>> {
        let dir = self.upload_dir(id);
        let listed: Vec<_> = self
            .store
            .list(Some(&dir))
            .try_collect()
            .await
            .with_context(|| format!("listing {dir} in {}", self.store))?;
        let mut pieces: Vec<Piece> = listed
            .into_iter()
            .filter_map(|meta| {
                let offset = meta.location.filename()?.parse().ok()?;
                Some(Piece {
                    offset,
                    size: meta.size,
                    path: meta.location,
                })
            })
            .collect();
        pieces.sort_by_key(|p| p.offset);
        Ok(pieces)
    }
}

/// How the first `length` bytes of an upload are made of `pieces` (sorted by offset): for
/// each piece needed, its index and how many of its first bytes count. A piece counts up to
/// where the next one starts (bytes past that were never recorded as durable) and pieces
/// at or past `length` are not needed. Fails on a gap or a shortfall.
pub(super) fn layout(pieces: &[Piece], length: u64) -> anyhow::Result<Vec<(usize, u64)>> {
    let mut parts = Vec::new();
    let mut at = 0;
    for (i, piece) in pieces.iter().enumerate() {
        if at >= length || piece.offset >= length {
            break;
        }
        if piece.offset != at {
            bail!(
                "the stored pieces cover {at} bytes, then one starts at {}",
                piece.offset
            );
        }
        let end = pieces
            .get(i + 1)
            .map_or(length, |next| next.offset.min(length));
        if piece.offset + piece.size < end {
            bail!(
                "the piece at {} has {} bytes, {} short of where the next bytes start",
                piece.offset,
                piece.size,
                end - piece.offset - piece.size
            );
        }
        parts.push((i, end - piece.offset));
        at = end;
    }
    if at < length {
        bail!("{at} bytes are stored, fewer than the {length} recorded as stored");
    }
    Ok(parts)
}

#[async_trait]
impl Partials for ObjectPartials {
    async fn writer(&self, id: uuid::Uuid, offset: u64) -> anyhow::Result<Box<dyn PieceWriter>> {
        let pieces = self.pieces(id).await?;
        layout(&pieces, offset)
            .with_context(|| format!("upload {id}: the durable bytes are not all stored"))?;
        // A piece at or past `offset` was stored but never recorded as received (the server
        // stopped in between): drop it, as the local files cut such bytes away.
        for piece in pieces.iter().filter(|p| p.offset >= offset) {
            match self.store.delete(&piece.path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("removing {} from {}", piece.path, self.store))
                }
            }
        }
        Ok(Box::new(ObjectPiece {
            store: self.store.clone(),
            path: self.piece_path(id, offset),
            payload: PutPayloadMut::new(),
        }))
    }

    async fn read(&self, id: uuid::Uuid, length: u64) -> anyhow::Result<Bytes> {
        let pieces = self.pieces(id).await?;
        let parts = layout(&pieces, length).with_context(|| format!("reading upload {id}"))?;
        let mut fetched: Vec<Bytes> = futures_util::stream::iter(parts)
            .map(|(i, take)| {
                let path = pieces[i].path.clone();
                async move {
                    let read = async { self.store.get(&path).await?.bytes().await };
                    let mut bytes = read
                        .await
                        .with_context(|| format!("reading {path} from {}", self.store))?;
                    let take = usize::try_from(take)?;
                    anyhow::ensure!(
                        bytes.len() >= take,
                        "{path} shrank to {} bytes while being read",
                        bytes.len()
                    );
                    bytes.truncate(take);
                    Ok::<_, anyhow::Error>(bytes)
                }
            })
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        if fetched.len() == 1 {
            return Ok(fetched.remove(0));
        }
        let mut all = Vec::with_capacity(usize::try_from(length)?);
        for part in &fetched {
            all.extend_from_slice(part);
        }
        Ok(Bytes::from(all))
    }

    async fn remove(&self, id: uuid::Uuid) {
        let dir = self.upload_dir(id);
        let listed = self
            .store
            .list(Some(&dir))
            .map_ok(|meta| meta.location)
            .boxed();
        let mut deleted = self.store.delete_stream(listed);
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => {
                    tracing::warn!(%dir, error = %e, "could not remove a partial upload");
                }
            }
        }
    }
}

/// A piece held in memory (at most `UPLOAD_CHUNK_MAX_BYTES`, the route's bound) and stored
/// as one object once received: objects cannot be appended to.
struct ObjectPiece {
    store: Arc<dyn ObjectStore>,
    path: Path,
    payload: PutPayloadMut,
}

#[async_trait]
impl PieceWriter for ObjectPiece {
    async fn write(&mut self, bytes: Bytes) -> anyhow::Result<()> {
        self.payload.push(bytes);
        Ok(())
    }

    async fn finish(self: Box<Self>) -> anyhow::Result<()> {
        if self.payload.is_empty() {
            // Nothing arrived: nothing to store (and nothing stale is left at this offset).
            return Ok(());
        }
        self.store
            .put(&self.path, self.payload.freeze())
            .await
            .with_context(|| format!("storing {} in {}", self.path, self.store))?;
        Ok(())
    }
}

#[cfg(test)]
pub(super) mod testing {
    //! What the tests in `super::super::tests` need of this module's private parts.
    pub(in crate::blobs) use super::{layout, Piece};

    pub(in crate::blobs) fn piece(offset: u64, size: u64) -> Piece {
        Piece {
            offset,
            size,
            path: super::Path::from(format!("x/{offset:020}")),
        }
    }
}
