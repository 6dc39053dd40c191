//! A model folder opened once: every file of one load is read through the same folder handle, so a
//! save that swaps the folder meanwhile cannot make a load mix files of two models.

use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use io_core::buffer::ShardMemory;

/// An open folder. On Unix it holds a directory file descriptor and reads with `openat`;
/// elsewhere it falls back to joining paths (no protection against a concurrent swap).
pub(crate) struct ModelDir {
    path: PathBuf,
    #[cfg(unix)]
    fd: rustix::fd::OwnedFd,
}

impl ModelDir {
    /// Opens the folder at `path`.
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        #[cfg(unix)]
        {
            use rustix::fs::{Mode, OFlags};
            let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
            Ok(ModelDir { path: path.to_path_buf(), fd })
        }
        #[cfg(not(unix))]
        {
            if !std::fs::metadata(path)?.is_dir() {
                return Err(io::Error::new(io::ErrorKind::NotADirectory, "not a folder"));
            }
            Ok(ModelDir { path: path.to_path_buf() })
        }
    }

    /// The path of `rel` inside the folder, for messages.
    pub(crate) fn display(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// Reads the file `rel` (relative to the folder) completely, into the next bytes of `memory`.
    pub(crate) fn read(&self, rel: impl AsRef<Path>, memory: &ShardMemory) -> io::Result<Bytes> {
        let rel = rel.as_ref();
        #[cfg(unix)]
        let mut f = {
            use rustix::fs::{Mode, OFlags};
            std::fs::File::from(rustix::fs::openat(&self.fd, rel, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?)
        };
        #[cfg(not(unix))]
        let mut f = std::fs::File::open(self.path.join(rel))?;
        let size = f.metadata().map(|m| m.len() as usize).unwrap_or(0);
        memory.read_to_end(&mut f, size)
    }

    /// Whether the path still names the folder that was opened (a save may have swapped it since).
    pub(crate) fn is_current(&self) -> bool {
        #[cfg(unix)]
        {
            match (rustix::fs::fstat(&self.fd), rustix::fs::stat(&self.path)) {
                (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
                _ => false,
            }
        }
        #[cfg(not(unix))]
        true
    }
}
