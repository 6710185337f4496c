//! Media in directories on this server's disk: `DATA_DIR/media` for files, one
//! `DATA_DIR/uploads/ID.part` file per resumable upload in progress. The default; fit for a
//! single instance (another instance cannot read these).

use std::path::PathBuf;

use anyhow::Context as _;
use async_trait::async_trait;
use axum::body::Bytes;

use super::{hex, BlobStore, Partials, PieceWriter};

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

/// Resumable uploads in progress as files on this server's disk (`DATA_DIR/uploads/ID.part`),
/// appended to piece by piece.
pub struct LocalPartials {
    dir: PathBuf,
}

impl LocalPartials {
    pub async fn open(dir: PathBuf) -> anyhow::Result<Self> {
        tokio::fs::create_dir_all(&dir)
            .await
            .with_context(|| format!("creating uploads directory {}", dir.display()))?;
        Ok(Self { dir })
    }

    fn path(&self, id: uuid::Uuid) -> PathBuf {
        self.dir.join(format!("{id}.part"))
    }
}

#[async_trait]
impl Partials for LocalPartials {
    /// The file to append the piece starting at `offset` to: created if missing, cut to
    /// `offset` bytes, positioned at its end.
    async fn writer(&self, id: uuid::Uuid, offset: u64) -> anyhow::Result<Box<dyn PieceWriter>> {
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
        let file = open
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(Box::new(LocalPiece { file, path }))
    }

    async fn read(&self, id: uuid::Uuid, length: u64) -> anyhow::Result<Bytes> {
        let path = self.path(id);
        let bytes = tokio::fs::read(&path)
            .await
            .with_context(|| format!("reading {}", path.display()))?;
        let mut bytes = Bytes::from(bytes);
        let stored = bytes.len() as u64;
        anyhow::ensure!(
            stored >= length,
            "{} has {stored} bytes, fewer than the {length} recorded as stored",
            path.display()
        );
        // Past `length` nothing is durable (`writer` cuts it away); never checked nor kept.
        bytes.truncate(usize::try_from(length)?);
        Ok(bytes)
    }

    async fn remove(&self, id: uuid::Uuid) {
        let path = self.path(id);
        if let Err(e) = tokio::fs::remove_file(&path).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "could not remove a partial upload");
            }
        }
    }
}

/// A piece streamed straight into the upload's file.
struct LocalPiece {
    file: tokio::fs::File,
    path: PathBuf,
}

#[async_trait]
impl PieceWriter for LocalPiece {
    async fn write(&mut self, bytes: Bytes) -> anyhow::Result<()> {
        tokio::io::AsyncWriteExt::write_all(&mut self.file, &bytes)
            .await
            .with_context(|| format!("writing {}", self.path.display()))
    }

    async fn finish(self: Box<Self>) -> anyhow::Result<()> {
        self.file
            .sync_all()
            .await
            .with_context(|| format!("syncing {}", self.path.display()))
    }
}
