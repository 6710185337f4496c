//! Where uploaded files' bytes live, behind a trait so object storage can replace the local
//! directory. Files are content-addressed by SHA-256: a name is written once and never
//! changes, so readers never see a half-written or replaced file.

use std::path::PathBuf;

use anyhow::Context as _;
use async_trait::async_trait;
use axum::body::Bytes;

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `bytes` under their SHA-256 (`sha256`, computed by the caller). Durable when it
    /// returns. Storing the same content twice is a no-op.
    async fn put(&self, sha256: [u8; 32], bytes: Bytes) -> anyhow::Result<()>;
    async fn get(&self, sha256: [u8; 32]) -> anyhow::Result<Option<Bytes>>;
}

/// A directory on the server's disk (`DATA_DIR/media`), the default.
pub struct LocalBlobs {
    dir: PathBuf,
}

impl LocalBlobs {
    pub async fn open(dir: PathBuf) -> anyhow::Result<Self> {
        tokio::fs::create_dir_all(&dir)
            .await
            .with_context(|| format!("creating media directory {}", dir.display()))?;
        Ok(Self { dir })
    }

    fn path(&self, sha256: [u8; 32]) -> PathBuf {
        self.dir.join(hex(&sha256))
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn put(&self, sha256: [u8; 32], bytes: Bytes) -> anyhow::Result<()> {
        let path = self.path(sha256);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(());
        }
        let tmp = self.dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
        let write = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            tokio::io::AsyncWriteExt::write_all(&mut file, &bytes).await?;
            file.sync_all().await?;
            tokio::fs::rename(&tmp, &path).await?;
            // The rename is durable only once the directory entry is.
            tokio::fs::File::open(&self.dir).await?.sync_all().await
        };
        if let Err(e) = write.await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e).with_context(|| format!("writing {}", path.display()));
        }
        Ok(())
    }

    async fn get(&self, sha256: [u8; 32]) -> anyhow::Result<Option<Bytes>> {
        let path = self.path(sha256);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(Bytes::from(bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
}

/// Resumable uploads in progress (`DATA_DIR/uploads/ID.part`): bytes appended piece by piece,
/// moved to the [`BlobStore`] once complete and checked. Kept on this server's disk; the
/// database row of the upload records how many bytes are durable, and anything past that
/// (a piece cut off mid-write) is cut away before the next piece is appended.
pub struct Partials {
    dir: PathBuf,
}

impl Partials {
    pub async fn open(dir: PathBuf) -> anyhow::Result<Self> {
        tokio::fs::create_dir_all(&dir)
            .await
            .with_context(|| format!("creating uploads directory {}", dir.display()))?;
        Ok(Self { dir })
    }

    fn path(&self, id: uuid::Uuid) -> PathBuf {
        self.dir.join(format!("{id}.part"))
    }

    /// The file to append the piece starting at `offset` to: created if missing, cut to
    /// `offset` bytes, positioned at its end.
    pub async fn writer(&self, id: uuid::Uuid, offset: u64) -> anyhow::Result<tokio::fs::File> {
        let path = self.path(id);
        let open = async {
            let mut file = tokio::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .await?;
            if file.metadata().await?.len() < offset {
                return Err(std::io::Error::other(
                    "the partial file is shorter than the bytes recorded as stored",
                ));
            }
            file.set_len(offset).await?;
            tokio::io::AsyncSeekExt::seek(&mut file, std::io::SeekFrom::Start(offset)).await?;
            Ok(file)
        };
        open.await
            .with_context(|| format!("opening {}", path.display()))
    }

    /// Everything received, for checking once the upload is complete.
    pub async fn read(&self, id: uuid::Uuid) -> anyhow::Result<Bytes> {
        let path = self.path(id);
        let bytes = tokio::fs::read(&path)
            .await
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(Bytes::from(bytes))
    }

    pub async fn remove(&self, id: uuid::Uuid) {
        let path = self.path(id);
        if let Err(e) = tokio::fs::remove_file(&path).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "could not remove a partial upload");
            }
        }
    }
}
