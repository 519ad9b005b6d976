//! Reading the AWS files and rewriting the credentials file safely.
//!
//! A write takes an advisory lock on a sidecar file beside the real file, reads the
//! current contents under the lock, applies one edit, writes a temporary file in the
//! same directory (0600, fsync), renames it over the original and fsyncs the directory.
//! A crash at any instant leaves the old file or the new one. A symlink is followed, so
//! the file it points to is replaced and the link stays a link.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::env::Environment;
use crate::ini::{Document, EditError, ParseError};

/// Larger files are refused: a credentials file of 10,000 profiles is about 2 MB.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Where the AWS config and credentials files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsFiles {
    /// `AWS_CONFIG_FILE`, else `~/.aws/config`.
    pub config: PathBuf,
    /// `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
    pub credentials: PathBuf,
}

impl AwsFiles {
    /// Finds the files as the AWS tools do.
    pub fn locate(env: &dyn Environment) -> Result<AwsFiles, FileError> {
        let aws_dir = env.home_dir().map(|h| h.join(".aws"));
        let pick = |var: &str, name: &str| env.var_path(var).or_else(|| aws_dir.as_ref().map(|d| d.join(name)));
        match (pick("AWS_CONFIG_FILE", "config"), pick("AWS_SHARED_CREDENTIALS_FILE", "credentials")) {
            (Some(config), Some(credentials)) => Ok(AwsFiles { config, credentials }),
            _ => Err(FileError::NoHome),
        }
    }
}

/// A problem with a local file. Whatever it is, no file was changed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Neither HOME nor the AWS_* file variables are set.
    #[error("cannot find your AWS files: set HOME, or AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE")]
    NoHome,
    /// The file exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is larger than any credentials file should be.
    #[error("{path} is {size} bytes, more than the {max} mfa-tray will edit; is it the right file?", max = MAX_FILE_BYTES)]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// The file is not valid INI.
    #[error("{path} cannot be read safely: {source}; fix that line and try again")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Where it broke.
        source: ParseError,
    },
    /// The file has no write permission.
    #[error("{path} is read-only; make it writable (chmod u+w) or point AWS_SHARED_CREDENTIALS_FILE elsewhere")]
    ReadOnly {
        /// The file.
        path: PathBuf,
    },
    /// Another writer held the lock for longer than the timeout.
    #[error("{path} is being written by another process (lock {lock} held for over {secs}s); try again, or remove the lock file if no mfa-tray is running", secs = waited.as_secs_f32())]
    Locked {
        /// The file.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// How long this writer waited.
        waited: Duration,
    },
    /// Writing the new version failed; the old one is still in place.
    #[error("cannot write {path}: {source}; the file is unchanged")]
    Write {
        /// The file (or its directory).
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The edit itself was refused.
    #[error("will not edit {path}: {source}")]
    Edit {
        /// The file.
        path: PathBuf,
        /// Why.
        source: EditError,
    },
    /// The section to write belongs to the user, not to mfa-tray.
    #[error("will not overwrite [{section}] in {path}: {reason}")]
    NotOurs {
        /// The file.
        path: PathBuf,
        /// The section.
        section: String,
        /// What it holds and how to fix it.
        reason: String,
    },
}

/// Reads and parses a file; `None` if it does not exist.
pub fn read_document(path: &Path) -> Result<Option<Document>, FileError> {
    let bytes = match read_capped(path) {
        Ok(b) => b,
        Err(FileError::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Document::parse(&bytes).map(Some).map_err(|source| FileError::Malformed { path: path.to_owned(), source })
}

fn read_capped(path: &Path) -> Result<Vec<u8>, FileError> {
    let read_err = |source| FileError::Read { path: path.to_owned(), source };
    let mut file = File::open(path).map_err(read_err)?;
    let size = file.metadata().map_err(read_err)?.len();
    if size > MAX_FILE_BYTES {
        return Err(FileError::TooLarge { path: path.to_owned(), size });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // `take` guards against a file that grows while it is read.
    Read::by_ref(&mut file).take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(read_err)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(FileError::TooLarge { path: path.to_owned(), size: bytes.len() as u64 });
    }
    Ok(bytes)
}

/// Applies `edit` to the file under the lock and replaces it atomically.
///
/// `edit` sees the contents as they are once the lock is held (an empty document for a
/// missing file). If it returns an error, or leaves the bytes as they were, nothing is
/// written. `path` may be a symlink; the file it points to is the one replaced.
pub fn update<R>(
    path: &Path,
    lock_timeout: Duration,
    edit: impl FnOnce(&mut Document) -> Result<R, FileError>,
) -> Result<R, FileError> {
    let real = follow_symlinks(path).map_err(|source| FileError::Write { path: path.to_owned(), source })?;
    let dir = match real.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    create_private_dir(&dir).map_err(|source| FileError::Write { path: dir.clone(), source })?;
    let _lock = Lock::acquire(&real, &dir, lock_timeout)?;
    remove_stale_temporaries(&real, &dir);

    let before = match read_capped(&real) {
        Ok(bytes) => {
            if is_read_only(&real) {
                return Err(FileError::ReadOnly { path: real });
            }
            Some(bytes)
        }
        Err(FileError::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let mut doc = match &before {
        Some(bytes) => Document::parse(bytes).map_err(|source| FileError::Malformed { path: real.clone(), source })?,
        None => Document::default(),
    };
    let result = edit(&mut doc)?;
    let after = doc.to_bytes();
    if before.as_deref() != Some(after.as_slice()) {
        replace(&real, &dir, &after).map_err(|source| FileError::Write { path: real.clone(), source })?;
    }
    Ok(result)
}

/// Checks, before anything irreversible (like spending an MFA code), that [`update`]
/// could write the file now: not read-only, and the lock obtainable within `lock_timeout`.
pub fn preflight(path: &Path, lock_timeout: Duration) -> Result<(), FileError> {
    let real = follow_symlinks(path).map_err(|source| FileError::Write { path: path.to_owned(), source })?;
    if is_read_only(&real) {
        return Err(FileError::ReadOnly { path: real });
    }
    match real.parent() {
        Some(dir) if dir.is_dir() => Lock::acquire(&real, dir, lock_timeout).map(drop),
        // No directory yet: no one else can be writing; `update` creates it.
        _ => Ok(()),
    }
}

/// The file a chain of symlinks ends at, even if that file does not exist yet.
fn follow_symlinks(path: &Path) -> io::Result<PathBuf> {
    let mut cur = path.to_owned();
    for _ in 0..40 {
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&cur)?;
                cur = match cur.parent() {
                    Some(parent) if target.is_relative() => parent.join(target),
                    _ => target,
                };
            }
            _ => return Ok(cur),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Whether the owner may not write the file. Checked from the mode bits rather than
/// with access(2), which always says yes to root.
fn is_read_only(path: &Path) -> bool {
    let Ok(meta) = fs::metadata(path) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o200 == 0
    }
    #[cfg(not(unix))]
    {
        meta.permissions().readonly()
    }
}

const TEMP_SUFFIX: &str = ".mfa-tray-tmp";

fn temp_prefix(real: &Path) -> String {
    format!(".{}.", real.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
}

/// Removes temporary files a writer killed mid-write left behind. Called under the
/// lock: no live writer can own one then.
fn remove_stale_temporaries(real: &Path, dir: &Path) {
    let prefix = temp_prefix(real);
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(TEMP_SUFFIX) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Writes `bytes` to a new 0600 file beside `real` and renames it over `real`.
fn replace(real: &Path, dir: &Path, bytes: &[u8]) -> io::Result<()> {
    // tempfile creates the file with O_EXCL and mode 0600.
    let mut tmp = tempfile::Builder::new().prefix(&temp_prefix(real)).suffix(TEMP_SUFFIX).tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(real).map_err(|e| e.error)?;
    sync_dir(dir)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Windows cannot open a directory for fsync; MoveFileEx with WRITE_THROUGH (which
    // tempfile's persist uses) is the durable rename there.
    Ok(())
}

/// An exclusive advisory lock on `.<name>.mfa-tray.lock` beside the file, released on drop.
struct Lock(#[allow(dead_code)] File);

impl Lock {
    fn acquire(real: &Path, dir: &Path, timeout: Duration) -> Result<Lock, FileError> {
        let lock_path = dir.join(format!("{}mfa-tray.lock", temp_prefix(real)));
        let mut opts = OpenOptions::new();
        opts.create(true).truncate(false).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let file = opts.open(&lock_path).map_err(|source| FileError::Write { path: lock_path.clone(), source })?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Lock(file)),
                Err(fs::TryLockError::WouldBlock) if start.elapsed() < timeout => thread::sleep(Duration::from_millis(20)),
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(FileError::Locked { path: real.to_owned(), lock: lock_path, waited: start.elapsed() })
                }
                Err(fs::TryLockError::Error(source)) => return Err(FileError::Write { path: lock_path, source }),
            }
        }
    }
}

#[cfg(test)]
mod tests;
