//! Files of a `file://` store read directly: model.json alone, weight files streamed in chunks with
//! ranges, never a whole model in memory. Only regular files are opened (a FIFO or device in the
//! store is refused without waiting on it).

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use axum::body::Body;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Bytes per chunk of a streamed file.
const CHUNK: usize = 256 << 10;

/// An open regular file and its length and modification time (nanoseconds since the epoch).
pub(crate) struct Opened {
    pub file: std::fs::File,
    pub len: u64,
    pub modified_ns: u128,
}

/// Opens `path` for reading if it is a regular file; `NotFound` when it is missing, `InvalidInput`
/// when it is something else. Never blocks on a FIFO.
pub(crate) async fn open(path: PathBuf) -> std::io::Result<Opened> {
    tokio::task::spawn_blocking(move || open_sync(&path)).await.map_err(std::io::Error::other)?
}

fn open_sync(path: &Path) -> std::io::Result<Opened> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = opts.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
    }
    let modified_ns =
        meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    Ok(Opened { file, len: meta.len(), modified_ns })
}

/// The whole file at `path` if it is a regular file of at most `max` bytes (`Ok(None)` when bigger).
pub(crate) async fn read_small(path: PathBuf, max: u64) -> std::io::Result<Option<Bytes>> {
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let o = open_sync(&path)?;
        if o.len > max {
            return Ok(None);
        }
        let mut buf = Vec::with_capacity(o.len as usize);
        o.file.take(max + 1).read_to_end(&mut buf)?;
        if buf.len() as u64 > max {
            return Ok(None);
        }
        Ok(Some(Bytes::from(buf)))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// The first `len` bytes of `file` (opened by [`open`]), read whole off the async executor; an
/// error if the file is shorter now.
pub(crate) async fn read_exact(file: std::fs::File, len: u64) -> std::io::Result<Bytes> {
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let want = usize::try_from(len).map_err(std::io::Error::other)?;
        let mut buf = Vec::with_capacity(want);
        file.take(len).read_to_end(&mut buf)?;
        if buf.len() != want {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file got shorter while it was read",
            ));
        }
        Ok(Bytes::from(buf))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// The bytes `start..end` of `file` as a body, read in chunks of [`CHUNK`] bytes as the client takes them.
pub(crate) fn stream(file: std::fs::File, start: u64, end: u64) -> Body {
    let file = tokio::fs::File::from_std(file);
    let chunks = futures::stream::try_unfold((file, start, end, start == 0), |(mut f, pos, end, placed)| async move {
        if pos >= end {
            return Ok(None);
        }
        if !placed {
            f.seek(SeekFrom::Start(pos)).await?;
        }
        let n = usize::try_from(end - pos).unwrap_or(usize::MAX).min(CHUNK);
        let mut buf = vec![0u8; n];
        let got = f.read(&mut buf).await?;
        if got == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file got shorter while it was sent",
            ));
        }
        buf.truncate(got);
        Ok::<_, std::io::Error>(Some((Bytes::from(buf), (f, pos + got as u64, end, true))))
    });
    Body::from_stream(chunks)
}
