//! A model folder opened once: every file of one load is read through the same folder handle, so a
//! save that swaps the folder meanwhile cannot make a load mix files of two models.

use std::io;
use std::path::{Path, PathBuf};

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

    /// Opens the file `rel` (relative to the folder) for reading and returns it with its size.
    /// Anything but a regular file (a FIFO, a device, a socket, a folder) is refused with
    /// `InvalidInput` without reading from it; the open itself does not wait for a FIFO's writer
    /// (`O_NONBLOCK`, cleared again on the regular file).
    pub(crate) fn open_regular(&self, rel: impl AsRef<Path>) -> io::Result<(std::fs::File, u64)> {
        let rel = rel.as_ref();
        #[cfg(unix)]
        let f = {
            use rustix::fs::{Mode, OFlags};
            let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
            std::fs::File::from(rustix::fs::openat(&self.fd, rel, flags, Mode::empty())?)
        };
        #[cfg(not(unix))]
        let f = std::fs::File::open(self.path.join(rel))?;
        let meta = f.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "'{}' is not a regular file (a FIFO, device, socket or folder); refusing to read it",
                    rel.display()
                ),
            ));
        }
        #[cfg(unix)]
        rustix::fs::fcntl_setfl(&f, rustix::fs::fcntl_getfl(&f)? - rustix::fs::OFlags::NONBLOCK)?;
        Ok((f, meta.len()))
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
