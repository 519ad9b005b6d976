//! Reading the AWS files and rewriting the credentials file safely, beside other writers.
//!
//! mfa-tray's writers serialise on an advisory lock on a sidecar file. Other programs
//! (the AWS CLI, aws-mfa, editors) take no lock and rewrite the file in place, so a
//! write is based only on a complete, current read:
//! - the file is read under the lock and must not change while it is read; if anyone
//!   but mfa-tray wrote it since mfa-tray's last write (the lock file records what that
//!   was), a read of a file modified in the last moments, or one that looks cut short
//!   (empty, a fresh file ending mid-line, unreadable), is trusted only once the file
//!   has been still for a while;
//! - the new version goes to a temporary file in the same directory (0600, fsync);
//! - just before the rename the file must still hold exactly what was read; on Linux
//!   the rename is an exchange, which hands back the file it displaced, and that must be
//!   the version that was read too; otherwise the write starts over from a new read;
//! - the displaced version is kept beside the file as `.NAME.mfa-tray-previous` (0600),
//!   so even an interleaving nobody foresaw can be undone; an in-place writer that still
//!   had it open writes into that copy: if that shows at once the write starts over with
//!   their version, and if it shows later (the lock file records the copy as displaced),
//!   the next write keeps that copy aside as `.NAME.mfa-tray-late-TIME` rather than
//!   replacing it, and says so;
//! - the directory is fsynced. A crash at any instant leaves the old file or the new one.
//!
//! A symlink is followed, so the file it points to is replaced and the link stays a
//! link. A rewrite keeps the file's owner and group (root rewriting a user's file, say
//! through sudo, hands the new file to that user); where it cannot, it refuses.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::env::Environment;
use crate::ini::{Document, EditError, ParseError};

mod os;
/// The effective uid of this process.
#[cfg(unix)]
pub(crate) use os::euid;

/// The lock file's lines: the version mfa-tray last wrote, and the version of the
/// backup it displaced then.
const WROTE_LABEL: &str = "mfa-tray wrote";
const BACKUP_LABEL: &str = "backup";
/// When a late write into the backup was kept aside (UTC, in the file's name).
const LATE_STAMP: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

/// Windows: how long to wait between tries on a file another program holds open (up to
/// [`MAX_BUSY`] in all).
const IN_USE_PAUSE: Duration = Duration::from_millis(50);

/// Where to look for a stuck mfa-tray.
const FIND_STUCK: &str = if cfg!(windows) { "in Task Manager (mfa-tray.exe, mfa-tray-app.exe)" } else { "with `pgrep -a mfa-tray`" };

/// How to make a read-only file writable.
const MAKE_WRITABLE: &str = if cfg!(windows) { "untick Read-only in its Properties, or `attrib -r`" } else { "chmod u+w" };

/// Larger files are refused: a credentials file of 10,000 profiles is about 2 MB.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// How long a file someone else wrote must have been still before mfa-tray bases a write
/// on it: an in-place writer truncates first and writes after.
const SETTLE: Duration = Duration::from_millis(10);
/// How long to wait before trusting a read that looks cut short.
const SUSPICIOUS_SETTLE: Duration = Duration::from_millis(250);
/// How many times a write starts over because the file changed under it...
const MAX_ATTEMPTS: u32 = 100;
/// ... and for how long at most, so the lock is never held much longer.
const MAX_BUSY: Duration = Duration::from_secs(3);

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
    /// The file is not INI that botocore can read.
    #[error("{path} cannot be read safely: {source}; fix that line and try again (the AWS CLI cannot read it either)")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Where it broke.
        source: ParseError,
    },
    /// The file has no write permission.
    #[error("{path} is read-only; make it writable ({how}) or point AWS_SHARED_CREDENTIALS_FILE elsewhere", how = MAKE_WRITABLE)]
    ReadOnly {
        /// The file.
        path: PathBuf,
    },
    /// The file belongs to someone else, and a rewrite would change that.
    #[error("{path} {problem}")]
    Owner {
        /// The file.
        path: PathBuf,
        /// Whose it is and what to do.
        problem: String,
    },
    /// Another mfa-tray held the lock for longer than the timeout.
    #[error("{path} is being written by another mfa-tray (its lock {lock} was held for over {secs}s); try again in a moment. The lock goes when that process ends: if it stays, look for a stuck one {find}", secs = waited.as_secs_f32(), find = FIND_STUCK)]
    Locked {
        /// The file.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// How long this writer waited.
        waited: Duration,
    },
    /// Another program kept rewriting the file while mfa-tray tried to write it.
    #[error("{path} kept changing while mfa-tray wrote it (another program is rewriting it); nothing was written, try again")]
    Busy {
        /// The file.
        path: PathBuf,
    },
    /// Windows: another program kept the file open without letting it be replaced.
    #[error("{path} cannot be replaced: another program keeps it open (an editor, a sync client or a virus scanner, say) or its permissions forbid it; close that program and try again. Nothing was written")]
    InUse {
        /// The file.
        path: PathBuf,
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
    /// The section no longer holds what the write was based on: a newer write (or the
    /// user) changed it meanwhile, and newer writes win.
    #[error("[{section}] in {path} changed while mfa-tray was working on it; the newer contents were kept")]
    Superseded {
        /// The file.
        path: PathBuf,
        /// The section.
        section: String,
    },
}

/// Reads and parses a file; `None` if it does not exist. A file another program is
/// rewriting in place is read once it is still (see [`read_still`]).
pub fn read_document(path: &Path) -> Result<Option<Document>, FileError> {
    // A file rewritten without pause (a sync tool in a loop, say) is given up on rather
    // than waited for all day.
    let deadline = Instant::now() + MAX_BUSY;
    for _ in 0..MAX_ATTEMPTS {
        let Some((bytes, version)) = read_still(path, deadline, |bytes, version| bytes.is_empty() || ends_mid_line(bytes, version))? else {
            return Ok(None);
        };
        match Document::parse(&bytes) {
            Ok(doc) => return Ok(Some(doc)),
            // A write cut short parses badly: believe it only once the file is still.
            Err(source) if settled(path, Some(version), SUSPICIOUS_SETTLE) => return Err(FileError::Malformed { path: path.to_owned(), source }),
            Err(_) => continue,
        }
    }
    Err(FileError::Busy { path: path.to_owned() })
}

/// A file modified a moment ago that ends in the middle of a line: likely a write in
/// progress (a file that has always lacked its final line break is not new).
fn ends_mid_line(bytes: &[u8], version: Version) -> bool {
    !bytes.is_empty() && !bytes.ends_with(b"\n") && !bytes.ends_with(b"\r") && version.age() < Duration::from_secs(1)
}

/// Reads a file whose version stays the same while it is read, and (as an in-place
/// writer truncates first and writes after) for a while after it was last modified:
/// [`SETTLE`], or [`SUSPICIOUS_SETTLE`] when `cut_short` says the read looks like the
/// start of a write. `None`: there is no file. Busy once `deadline` has passed.
/// A whole read of a file: its bytes (wiped when dropped) and its version then.
type WholeRead = (Zeroizing<Vec<u8>>, Version);

fn read_still(path: &Path, deadline: Instant, cut_short: impl Fn(&[u8], Version) -> bool) -> Result<Option<WholeRead>, FileError> {
    for _ in 0..MAX_ATTEMPTS {
        if Instant::now() > deadline {
            break;
        }
        let (bytes, version) = match read_capped(path) {
            Ok(read) => read,
            Err(FileError::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(FileError::Read { source, .. }) if source.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let wait = if cut_short(&bytes, version) { SUSPICIOUS_SETTLE } else { SETTLE.saturating_sub(version.age()) };
        if settled(path, Some(version), wait) {
            return Ok(Some((bytes, version)));
        }
    }
    Err(FileError::Busy { path: path.to_owned() })
}

/// The file's bytes and its version, which must not change while it is read.
fn read_capped(path: &Path) -> Result<(Zeroizing<Vec<u8>>, Version), FileError> {
    let read_err = |source| FileError::Read { path: path.to_owned(), source };
    let mut file = File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge { path: path.to_owned(), size: meta.len() });
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
    // `take` guards against a file that grows while it is read.
    Read::by_ref(&mut file).take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(read_err)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(FileError::TooLarge { path: path.to_owned(), size: bytes.len() as u64 });
    }
    let after = file.metadata().map_err(read_err)?;
    let version = Version::of(&after);
    if Version::of(&meta) != version || after.len() != bytes.len() as u64 {
        return Err(FileError::Read { path: path.to_owned(), source: io::Error::new(io::ErrorKind::Interrupted, "changed while read") });
    }
    Ok((bytes, version))
}

/// Which file, in which state: what tells one write from the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version {
    /// Device and inode (0 where the platform has none).
    dev: u64,
    ino: u64,
    size: u64,
    /// Modification and status-change times, in nanoseconds.
    mtime: i128,
    ctime: i128,
}

impl Version {
    fn of(meta: &Metadata) -> Version {
        os::version(meta)
    }

    /// Whether two versions are the same inode with the same contents' size and
    /// modification time (renaming a file changes its ctime, not its contents).
    /// Writes of the same size within one clock tick cannot be told apart; the checks
    /// that compare contents cover those.
    fn same_contents(&self, other: &Version) -> bool {
        (self.dev, self.ino, self.size, self.mtime) == (other.dev, other.ino, other.size, other.mtime)
    }

    /// Whether this is the same file as `then` with other contents: someone wrote into
    /// it. (Another inode is another file, not a write into this one.)
    fn written_since(&self, then: &Version) -> bool {
        (self.dev, self.ino) == (then.dev, then.ino) && !self.same_contents(then)
    }

    fn to_record(self, label: &str) -> String {
        format!("{label} {} {} {} {} {}\n", self.dev, self.ino, self.size, self.mtime, self.ctime)
    }

    /// The version on the line of `text` that starts with `label`.
    fn from_record(text: &str, label: &str) -> Option<Version> {
        let line = text.lines().find_map(|l| l.strip_prefix(label)?.strip_prefix(' '))?;
        let mut it = line.split_whitespace();
        let mut next = || it.next()?.parse::<i128>().ok();
        Some(Version { dev: next()? as u64, ino: next()? as u64, size: next()? as u64, mtime: next()?, ctime: next()? })
    }

    fn age(&self) -> Duration {
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128);
        Duration::from_nanos((now - self.mtime).clamp(0, u64::MAX as i128) as u64)
    }
}

fn version_at(path: &Path) -> Option<Version> {
    fs::metadata(path).ok().map(|m| Version::of(&m))
}

/// The file as a write starts from.
struct Current {
    /// Its bytes, or `None` when there is no file.
    bytes: Option<Zeroizing<Vec<u8>>>,
    version: Option<Version>,
    /// Someone other than mfa-tray wrote it since mfa-tray's last write.
    foreign: bool,
}

/// Reads the file for a write. `Ok(None)` means it changed meanwhile: start over.
fn read_current(real: &Path, last_written: Option<Version>) -> Result<Option<Current>, FileError> {
    let (bytes, version) = match read_capped(real) {
        Ok(read) => read,
        Err(FileError::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            // Gone since mfa-tray wrote it: perhaps a writer that deletes, then creates.
            if last_written.is_some() {
                thread::sleep(SUSPICIOUS_SETTLE);
                if fs::symlink_metadata(real).is_ok() {
                    return Ok(None);
                }
            }
            return Ok(Some(Current { bytes: None, version: None, foreign: last_written.is_some() }));
        }
        Err(FileError::Read { source, .. }) if source.kind() == io::ErrorKind::Interrupted => return Ok(None),
        Err(e) => return Err(e),
    };
    // Exactly what mfa-tray last wrote: no one else has written since.
    let foreign = !last_written.is_some_and(|l| l.same_contents(&version));
    if foreign {
        // (Shorter than mfa-tray's last write is no sign: the other writer may have
        // written a version without mfa-tray's last section, and may keep doing so.)
        let cut_short = bytes.is_empty() || ends_mid_line(&bytes, version);
        let wait = if cut_short { SUSPICIOUS_SETTLE } else { SETTLE.saturating_sub(version.age()) };
        if !settled(real, Some(version), wait) {
            return Ok(None);
        }
    }
    Ok(Some(Current { bytes: Some(bytes), version: Some(version), foreign }))
}

/// Waits `wait`, then tells whether the file is still at `version` (looking every few
/// milliseconds, so a change ends the wait at once).
fn settled(real: &Path, version: Option<Version>, wait: Duration) -> bool {
    let start = Instant::now();
    loop {
        if version_at(real) != version {
            return false;
        }
        let left = wait.saturating_sub(start.elapsed());
        if left.is_zero() {
            return true;
        }
        thread::sleep(left.min(Duration::from_millis(2)));
    }
}

/// Whether the file at `real` is still exactly `current`.
fn still(real: &Path, current: &Current) -> bool {
    match (&current.bytes, current.version) {
        (None, _) => fs::symlink_metadata(real).is_err_and(|e| e.kind() == io::ErrorKind::NotFound),
        (Some(bytes), Some(version)) => matches!(read_capped(real), Ok((now, v)) if v == version && now == *bytes),
        (Some(_), None) => false,
    }
}

/// Applies `edit` to the file under the lock and replaces it atomically.
///
/// `edit` sees the contents as they are once the lock is held (an empty document for a
/// missing file); it runs again if the file changes before the new version is in place.
/// If it returns an error, or leaves the bytes as they were, nothing is written. `path`
/// may be a symlink; the file it points to is the one replaced.
pub fn update<R>(path: &Path, lock_timeout: Duration, mut edit: impl FnMut(&mut Document) -> Result<R, FileError>) -> Result<R, FileError> {
    let real = follow_symlinks(path).map_err(|source| FileError::Write { path: path.to_owned(), source })?;
    let dir = parent_dir(&real);
    os::create_private_dir(&dir).map_err(|source| FileError::Write { path: dir.clone(), source })?;
    let mut lock = Lock::acquire(&real, &dir, lock_timeout)?;
    remove_stale_temporaries(&real, &dir);
    let previous = backup_path(&real);
    // The record changes only when this writer records, at the end: read it once.
    let record = lock.record();
    keep_late_backup(&real, &previous, Version::from_record(&record, BACKUP_LABEL));
    let last_written = Version::from_record(&record, WROTE_LABEL);
    let mut pause = Pause(0x9E37_79B9_7F4A_7C15 ^ u64::from(std::process::id()));
    let start = Instant::now();
    let mut in_use = false;
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            if start.elapsed() > MAX_BUSY {
                break;
            }
            pause.sleep(attempt);
        }
        let Some(current) = read_current(&real, last_written)? else { continue };
        let meta = fs::metadata(&real).ok().filter(|_| current.bytes.is_some());
        if meta.is_some() && is_read_only(&real) {
            return Err(FileError::ReadOnly { path: real });
        }
        let owner = os::owner_for(&real, meta.as_ref(), &dir)?;
        let mut doc = match &current.bytes {
            Some(bytes) => match Document::parse(bytes) {
                Ok(doc) => doc,
                // Someone else's write may be cut short: look again once it is still.
                Err(_) if current.foreign && !settled(&real, current.version, SUSPICIOUS_SETTLE) => continue,
                Err(source) => return Err(FileError::Malformed { path: real.clone(), source }),
            },
            None => Document::default(),
        };
        let result = edit(&mut doc)?;
        let after = Zeroizing::new(doc.to_bytes());
        if current.bytes.as_deref() == Some(&*after) {
            return Ok(result);
        }
        let tmp = write_temp(&real, &dir, &after, owner).map_err(|source| FileError::Write { path: real.clone(), source })?;
        // What this write puts in place, as the next writer will find it unless someone
        // else writes meanwhile (taken now: after the rename it could be anyone's).
        let ours = tmp.as_file().metadata().map(|m| Version::of(&m)).ok();
        if !still(&real, &current) {
            continue;
        }
        in_use = false;
        let swapped = match os::swap(tmp, &real, &current, &previous) {
            // Windows: another program has it open; it may be writing it, so read again.
            Err(e) if os::is_in_use(&e) => {
                in_use = true;
                // Give it time to let go: a reader, a virus scan, a sync client.
                thread::sleep(IN_USE_PAUSE);
                continue;
            }
            swapped => swapped.map_err(|source| FileError::Write { path: real.clone(), source })?,
        };
        if !swapped {
            continue;
        }
        sync_dir(&dir).map_err(|source| FileError::Write { path: dir.clone(), source })?;
        if current.foreign && displaced_changed(&real, &previous, &current) {
            // An in-place writer wrote into the version just displaced: theirs is newer.
            continue;
        }
        lock.write_record(ours, version_at(&previous).filter(|_| current.bytes.is_some()));
        return Ok(result);
    }
    Err(if in_use { FileError::InUse { path: real } } else { FileError::Busy { path: real } })
}

/// After a swap based on a file someone else wrote: whether that writer has written
/// into the displaced version (now the backup) since it was read. If so, it is put back
/// in place. (A write into it that comes later still is caught by [`keep_late_backup`]
/// at the next write.)
fn displaced_changed(real: &Path, previous: &Path, current: &Current) -> bool {
    let (Some(was), Some(kept)) = (current.version, version_at(previous)) else { return false };
    // Something else under the backup's name (the displaced file could not be moved
    // there) is not the displaced file, and is never put in place.
    kept.written_since(&was) && os::restore(previous, real).is_ok()
}

/// Before a write replaces the backup: if someone wrote into the backup after mfa-tray
/// displaced it (`displaced` is its version then, from the lock file), that write may
/// be the only copy of their change, so the backup is kept aside under a name of its
/// own instead of being replaced, and the user is told where.
fn keep_late_backup(real: &Path, previous: &Path, displaced: Option<Version>) {
    let (Some(then), Some(now)) = (displaced, version_at(previous)) else { return };
    // Another inode is a later backup (from a write killed before it could record it).
    if !now.written_since(&then) {
        return;
    }
    let stamp = OffsetDateTime::now_utc().format(&LATE_STAMP).unwrap_or_default();
    let aside = parent_dir(real).join(format!("{}mfa-tray-late-{stamp}", temp_prefix(real)));
    if fs::rename(previous, &aside).is_ok() {
        eprintln!(
            "mfa-tray: another program wrote into the previous version of {} after mfa-tray had replaced it; its write is kept in {}: compare the two and copy back what you need",
            real.display(),
            aside.display()
        );
    }
}

/// Small, growing, jittered pauses between attempts, so two writers do not keep meeting.
struct Pause(u64);

impl Pause {
    fn sleep(&mut self, attempt: u32) {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let ms = 1 + self.0 % (2 * u64::from(attempt.min(10)));
        thread::sleep(Duration::from_millis(ms));
    }
}

/// Checks, before anything irreversible (like spending an MFA code), that [`update`]
/// could write the file now: its directory can take a new file, the file is not
/// read-only, its owner and group can be kept, no other program keeps it open where
/// that stops a replace (Windows), and the lock is obtainable within
/// `lock_timeout`.
pub fn preflight(path: &Path, lock_timeout: Duration) -> Result<(), FileError> {
    let real = follow_symlinks(path).map_err(|source| FileError::Write { path: path.to_owned(), source })?;
    let dir = parent_dir(&real);
    let meta = fs::metadata(&real).ok();
    if meta.is_some() && is_read_only(&real) {
        return Err(FileError::ReadOnly { path: real });
    }
    if !dir.is_dir() {
        // `update` creates it: the nearest thing that exists must be a directory that
        // can take a new directory.
        let ancestor = dir.ancestors().find(|a| a.as_os_str().is_empty() || fs::metadata(a).is_ok()).unwrap_or(Path::new("."));
        let ancestor = if ancestor.as_os_str().is_empty() { Path::new(".") } else { ancestor };
        if !ancestor.is_dir() {
            let source = io::Error::new(io::ErrorKind::NotADirectory, "it is not a directory");
            return Err(FileError::Write { path: ancestor.to_owned(), source });
        }
        return tempfile::Builder::new()
            .prefix(".mfa-tray-probe")
            .tempdir_in(ancestor)
            .map(drop)
            .map_err(|source| FileError::Write { path: ancestor.to_owned(), source });
    }
    let owner = os::owner_for(&real, meta.as_ref(), &dir)?;
    // The real write creates a file here and gives it the owner: try both.
    let probe = tempfile::Builder::new()
        .prefix(&temp_prefix(&real))
        .suffix(TEMP_SUFFIX)
        .tempfile_in(&dir)
        .map_err(|source| FileError::Write { path: dir.clone(), source })?;
    os::chown(probe.as_file(), owner).map_err(|_| FileError::Owner { path: real.clone(), problem: os::cannot_keep_owner(owner) })?;
    drop(probe);
    let _lock = Lock::acquire(&real, &dir, lock_timeout)?;
    // Windows: a file another program keeps open cannot be replaced; wait a little (under
    // the lock, as `update` would) before spending a code on a write that would be refused.
    let start = Instant::now();
    while meta.is_some() {
        match os::replaceable(&real) {
            Err(e) if os::is_in_use(&e) && start.elapsed() < MAX_BUSY => thread::sleep(IN_USE_PAUSE),
            Err(e) if os::is_in_use(&e) => return Err(FileError::InUse { path: real }),
            _ => break,
        }
    }
    Ok(())
}

fn parent_dir(real: &Path) -> PathBuf {
    match real.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
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

/// Writes `bytes` to a new file in `dir` named `PREFIX…SUFFIX`, for the user alone (0600;
/// on Windows a DACL for the user alone, set before anything is written), and returns
/// its path. The caller removes it.
pub fn write_private_in(dir: &Path, prefix: &str, suffix: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    // tempfile creates the file with O_EXCL and mode 0600.
    let mut tmp = tempfile::Builder::new().prefix(prefix).suffix(suffix).tempfile_in(dir)?;
    #[cfg(windows)]
    os::make_private(tmp.path());
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    let (_, path) = tmp.keep().map_err(|e| e.error)?;
    Ok(path)
}

/// Replaces `path` with `bytes`, for the user alone (0600; its directory made 0700 if
/// missing), atomically: a temporary file beside it, fsynced, renamed over it, the
/// directory fsynced. For whole files mfa-tray owns (the Identity Center token cache),
/// not for the AWS files, which [`update`] edits in place.
pub fn replace_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent_dir(path);
    os::create_private_dir(&dir)?;
    let tmp = write_temp(path, &dir, bytes, None)?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(&dir)
}

/// Holds mfa-tray's lock on `path` (the same `.NAME.mfa-tray.lock` its writers take)
/// until dropped, waiting up to `timeout`: for whole files mfa-tray rewrites after
/// reading them (a token that renews with a refresh token used once).
pub fn hold_lock(path: &Path, timeout: Duration) -> Result<impl Drop, FileError> {
    let real = follow_symlinks(path).unwrap_or_else(|_| path.to_owned());
    let dir = parent_dir(&real);
    os::create_private_dir(&dir).map_err(|source| FileError::Write { path: dir.clone(), source })?;
    Lock::acquire(&real, &dir, timeout)
}

/// Opens (creating it, 0600, and its directory 0700 if need be) the lock file where
/// mfa-tray processes running `mfa_process` without a tray take turns:
/// `.NAME.mfa-tray-codes.lock` beside the (real) credentials file `path`, beside its
/// writers' lock.
pub fn open_codes_lock(path: &Path) -> io::Result<File> {
    let real = follow_symlinks(path).unwrap_or_else(|_| path.to_owned());
    let dir = parent_dir(&real);
    os::create_private_dir(&dir)?;
    open_lock_file(&dir.join(format!("{}mfa-tray-codes.lock", temp_prefix(&real))), &dir)
}

/// Opens (creating it, 0600) a lock file in `dir`: never through a symlink, and only a
/// plain file with no other name, so that root running with a user's HOME cannot be
/// led to write, or hand the user, a file elsewhere. Root hands a lock file it made to
/// the directory's owner.
fn open_lock_file(path: &Path, dir: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.create(true).truncate(false).read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let file = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = file.metadata()?;
        if !meta.is_file() || meta.nlink() != 1 {
            return Err(io::Error::other(format!("{} is not a plain file of its own; remove it", path.display())));
        }
    }
    let _ = os::chown_like_dir(&file, dir);
    Ok(file)
}

/// Replaces the kept previous version of `path` (see [`backup_path`]) with `bytes`, if
/// there is one: after a write taken back, the previous version must not keep what was
/// taken out (keys, say). Atomic, 0600.
pub fn replace_backup(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let real = follow_symlinks(path)?;
    let backup = backup_path(&real);
    if !backup.exists() {
        return Ok(());
    }
    let dir = parent_dir(&real);
    // The backup's owner stays (root taking a write back for a user hands it back).
    #[cfg(unix)]
    let owner = fs::metadata(&backup).ok().map(|m| (std::os::unix::fs::MetadataExt::uid(&m), std::os::unix::fs::MetadataExt::gid(&m)));
    #[cfg(not(unix))]
    let owner = None;
    let tmp = write_temp(&real, &dir, bytes, owner)?;
    tmp.persist(&backup).map_err(|e| e.error)?;
    sync_dir(&dir)
}

/// Where the version a write displaced is kept: `.NAME.mfa-tray-previous` beside it.
pub fn backup_path(real: &Path) -> PathBuf {
    parent_dir(real).join(format!("{}mfa-tray-previous", temp_prefix(real)))
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

/// Writes `bytes` to a new 0600 file beside `real` (owned by `owner` where given), fsynced.
fn write_temp(real: &Path, dir: &Path, bytes: &[u8], owner: Option<(u32, u32)>) -> io::Result<tempfile::NamedTempFile> {
    // tempfile creates the file with O_EXCL and mode 0600.
    let mut tmp = tempfile::Builder::new().prefix(&temp_prefix(real)).suffix(TEMP_SUFFIX).tempfile_in(dir)?;
    // Windows: the user alone, before a secret is written (it inherits the directory's).
    #[cfg(windows)]
    os::make_private(tmp.path());
    os::chown(tmp.as_file(), owner)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    Ok(tmp)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Windows cannot open a directory for fsync (and tempfile's persist, MoveFileEx with
    // REPLACE_EXISTING, does not ask for WRITE_THROUGH): the rename is as durable as
    // NTFS's journal makes it.
    Ok(())
}

/// An exclusive advisory lock on `.<name>.mfa-tray.lock` beside the file, released on
/// drop (or when the process ends, however it ends). The lock file also records the
/// version of the file mfa-tray last wrote, so the next writer can tell whether anyone
/// else wrote it since.
struct Lock(File);

impl Drop for Lock {
    fn drop(&mut self) {
        // Closing the file lets the lock go; said here so the lock is a Drop to callers.
        let _ = self.0.unlock();
    }
}

impl Lock {
    fn acquire(real: &Path, dir: &Path, timeout: Duration) -> Result<Lock, FileError> {
        let lock_path = dir.join(format!("{}mfa-tray.lock", temp_prefix(real)));
        // A lock file root creates in a user's directory must stay usable by that user.
        let file = open_lock_file(&lock_path, dir).map_err(|source| FileError::Write { path: lock_path.clone(), source })?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Lock(file)),
                // Short naps: a writer that waits must not lose every race to one that
                // writes again and again (a refresh of many sections).
                Err(fs::TryLockError::WouldBlock) if start.elapsed() < timeout => thread::sleep(Duration::from_millis(2)),
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(FileError::Locked { path: real.to_owned(), lock: lock_path, waited: start.elapsed() })
                }
                Err(fs::TryLockError::Error(source)) => return Err(FileError::Write { path: lock_path, source }),
            }
        }
    }

    /// What the lock file records: the version mfa-tray last wrote and the backup then.
    fn record(&mut self) -> String {
        let mut text = String::new();
        if self.0.rewind().is_ok() && Read::by_ref(&mut self.0).take(512).read_to_string(&mut text).is_err() {
            text.clear();
        }
        text
    }

    /// Records the version just written and the backup it displaced (best effort:
    /// without them the next writer is only more careful).
    fn write_record(&mut self, wrote: Option<Version>, backup: Option<Version>) {
        let mut text = wrote.map(|v| v.to_record(WROTE_LABEL)).unwrap_or_default();
        text.extend(backup.map(|v| v.to_record(BACKUP_LABEL)));
        let _ = self.0.set_len(0).and_then(|()| self.0.rewind()).and_then(|()| self.0.write_all(text.as_bytes()));
    }
}

// Unix modes, owners and symlinks (the Windows build runs its channel tests alone).
#[cfg(all(test, unix))]
mod tests;
