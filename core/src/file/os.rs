//! What the safe rewrite needs from the operating system: a file's identity, owners,
//! and replacing a file while keeping the one it displaces. Linux exchanges the two
//! atomically (renameat2); elsewhere a hard link to the old file is made first. On
//! Windows a file is private by its DACL, and one another program holds open may not be
//! replaceable for a moment.

use std::fs::{self, File, Metadata};
use std::io;
use std::path::Path;

use super::{Current, FileError, Version};

#[cfg(unix)]
pub(super) fn version(meta: &Metadata) -> Version {
    use std::os::unix::fs::MetadataExt;
    let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
    Version { dev: meta.dev(), ino: meta.ino(), size: meta.len(), mtime: ns(meta.mtime(), meta.mtime_nsec()), ctime: ns(meta.ctime(), meta.ctime_nsec()) }
}

#[cfg(not(unix))]
pub(super) fn version(meta: &Metadata) -> Version {
    let ns = |t: io::Result<std::time::SystemTime>| {
        t.ok().and_then(|t| t.duration_since(std::time::SystemTime::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos() as i128)
    };
    Version { dev: 0, ino: 0, size: meta.len(), mtime: ns(meta.modified()), ctime: ns(meta.created()) }
}

#[cfg(unix)]
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The user's name for a uid, for messages.
#[cfg(unix)]
fn user_name(uid: u32) -> String {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: passwd is plain data; getpwuid_r writes only into `pwd` and `buf`, whose
    // sizes are given, and sets `result` to null or to `&pwd`.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        if libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) == 0 && !result.is_null() {
            return std::ffi::CStr::from_ptr(pwd.pw_name).to_string_lossy().into_owned();
        }
    }
    format!("uid {uid}")
}

/// The owner and group a rewritten (or new) file must be given, when they are not what
/// a file this process creates gets anyway; an error when that cannot be done.
#[cfg(unix)]
pub(super) fn owner_for(real: &Path, meta: Option<&Metadata>, dir: &Path) -> Result<Option<(u32, u32)>, FileError> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: getegid has no preconditions and cannot fail.
    let (uid, gid) = (euid(), unsafe { libc::getegid() });
    let Some(meta) = meta else {
        // A new file: root creating it in a user's directory hands it to that user.
        let dir_meta = fs::metadata(dir).ok();
        return Ok(dir_meta.filter(|d| uid == 0 && d.uid() != 0).map(|d| (d.uid(), d.gid())));
    };
    if (meta.uid(), meta.gid()) == (uid, gid) {
        return Ok(None);
    }
    if uid != 0 && meta.uid() != uid {
        let (owner, me) = (user_name(meta.uid()), user_name(uid));
        return Err(FileError::Owner {
            path: real.to_owned(),
            problem: format!(
                "belongs to {owner}, but mfa-tray runs as {me}: a rewrite would make it {me}'s. Run mfa-tray as {owner}, or give the file to {me} (sudo chown {me} {})",
                real.display()
            ),
        });
    }
    Ok(Some((meta.uid(), meta.gid())))
}

#[cfg(not(unix))]
pub(super) fn owner_for(_real: &Path, _meta: Option<&Metadata>, _dir: &Path) -> Result<Option<(u32, u32)>, FileError> {
    Ok(None)
}

/// Why a file's owner and group could not be kept (the group is not one of ours).
pub(super) fn cannot_keep_owner(owner: Option<(u32, u32)>) -> String {
    let group = owner.map_or_else(String::new, |(_, g)| format!(" (gid {g})"));
    format!("has a group{group} that mfa-tray, running as you, cannot give a new file; a rewrite would change it. Give the file your own group (chgrp), or run mfa-tray as a member of that group")
}

#[cfg(unix)]
pub(super) fn chown(file: &File, owner: Option<(u32, u32)>) -> io::Result<()> {
    match owner {
        // Only what differs: a user may give a file one of their groups, not another owner.
        Some((uid, gid)) => {
            use std::os::unix::fs::MetadataExt;
            let meta = file.metadata()?;
            let uid = (meta.uid() != uid).then_some(uid);
            std::os::unix::fs::fchown(file, uid, Some(gid))
        }
        None => Ok(()),
    }
}

#[cfg(not(unix))]
pub(super) fn chown(_file: &File, _owner: Option<(u32, u32)>) -> io::Result<()> {
    Ok(())
}

/// When root creates a file in a user's directory, hands it to that user.
#[cfg(unix)]
pub(super) fn chown_like_dir(file: &File, dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let (meta, dir_meta) = (file.metadata()?, fs::metadata(dir)?);
    if euid() == 0 && (meta.uid(), meta.gid()) != (dir_meta.uid(), dir_meta.gid()) {
        std::os::unix::fs::fchown(file, Some(dir_meta.uid()), Some(dir_meta.gid()))?;
    }
    Ok(())
}

#[cfg(not(unix))]
pub(super) fn chown_like_dir(_file: &File, _dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Creates `dir` (and missing parents) as 0700; as root, each belongs to the owner of
/// the directory it is made in, so `sudo` with a user's HOME leaves a usable `~/.aws`.
pub(super) fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let missing: Vec<&Path> = dir.ancestors().take_while(|a| !a.as_os_str().is_empty() && !a.is_dir()).collect();
    for level in missing.into_iter().rev() {
        #[cfg_attr(not(unix), allow(unused_mut))]
        let mut builder = fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        match builder.create(level) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && level.is_dir() => continue,
            Err(e) => return Err(e),
        }
        #[cfg(unix)]
        if let Some(parent) = level.parent().filter(|p| !p.as_os_str().is_empty()) {
            chown_like_dir(&File::open(level)?, parent)?;
        }
    }
    Ok(())
}

/// Puts `tmp` in place of `real` if `real` is still `current`, keeping what it displaces
/// at `previous` (0600). `Ok(false)`: `real` changed meanwhile and nothing was replaced.
pub(super) fn swap(tmp: tempfile::NamedTempFile, real: &Path, current: &Current, previous: &Path) -> io::Result<bool> {
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    match exchange::swap(&tmp, real, current, previous) {
        Err(e) if exchange::unsupported(&e) => {} // no atomic exchange on this file system
        other => {
            // The temporary name now holds the displaced file, or nothing: never delete it.
            let _ = tmp.into_temp_path().keep();
            return other;
        }
    }
    link_swap(tmp, real, current, previous)
}

/// Without an atomic exchange: a hard link keeps the old file, then a rename replaces it.
fn link_swap(tmp: tempfile::NamedTempFile, real: &Path, current: &Current, previous: &Path) -> io::Result<bool> {
    let kept = previous.with_extension("linking");
    let _ = fs::remove_file(&kept);
    // Windows: a file another program holds open without sharing delete cannot be
    // replaced, nor a link to it removed; find that out before linking.
    if current.bytes.is_some() {
        match replaceable(real) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            other => other?,
        }
    }
    let linked = current.bytes.is_some() && fs::hard_link(real, &kept).is_ok();
    if linked && !fs::metadata(&kept).is_ok_and(|m| current.version.is_some_and(|v| v.same_contents(&Version::of(&m)))) {
        let _ = fs::remove_file(&kept);
        return Ok(false);
    }
    if let Err(e) = tmp.persist(real) {
        if linked {
            let _ = fs::remove_file(&kept);
        }
        return Err(e.error);
    }
    if linked {
        make_private(&kept);
        // As on Linux: the new version is in place whatever becomes of the backup.
        if fs::rename(&kept, previous).is_err() {
            let _ = fs::remove_file(&kept);
        }
    }
    Ok(true)
}

/// Puts a displaced version back in place of the file (the caller then writes again).
pub(super) fn restore(previous: &Path, real: &Path) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    if exchange::restore(previous, real).is_ok() {
        return Ok(());
    }
    fs::rename(previous, real)
}

/// Only the user may read or write `path`: mode 0600, or on Windows a protected DACL
/// granting the user alone (what 0600 means there; the file would otherwise inherit its
/// directory's entries). Best effort: a file system without permissions keeps its own.
pub(super) fn make_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o600));
    }
    #[cfg(windows)]
    let _ = windows::restrict_to_user(path);
}

/// Windows: an error if `real` cannot be replaced now, because another program holds it
/// open without sharing delete (see [`is_in_use`]). Elsewhere a rename always can.
pub(super) fn replaceable(real: &Path) -> io::Result<()> {
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        const DELETE: u32 = 0x0001_0000;
        fs::OpenOptions::new().access_mode(DELETE).open(real).map(drop)
    }
    #[cfg(not(windows))]
    {
        let _ = real;
        Ok(())
    }
}

/// Whether a failed replace was refused because another program has the file open
/// without letting it be replaced (Windows only: elsewhere a rename always can).
pub(super) fn is_in_use(e: &io::Error) -> bool {
    // ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION
    cfg!(windows) && matches!(e.raw_os_error(), Some(5 | 32 | 33))
}

#[cfg(windows)]
mod windows {
    use std::io;
    use std::os::windows::ffi::OsStrExt;
    use std::path::Path;
    use std::ptr;

    use windows_sys::Win32::Foundation::ERROR_SUCCESS;
    use windows_sys::Win32::Security::Authorization::{SetNamedSecurityInfoW, SE_FILE_OBJECT};
    use windows_sys::Win32::Security::{ACL, DACL_SECURITY_INFORMATION, PROTECTED_DACL_SECURITY_INFORMATION};
    use windows_sys::Win32::Storage::FileSystem::FILE_ALL_ACCESS;

    pub(super) fn restrict_to_user(path: &Path) -> io::Result<()> {
        let mut acl = crate::win::acl_for(&crate::win::current_user()?, FILE_ALL_ACCESS)?;
        let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
        // SAFETY: `wide` is a NUL-terminated path and `acl` a valid ACL; owner, group
        // and SACL are left as they are.
        let rc = unsafe {
            SetNamedSecurityInfoW(
                wide.as_ptr(),
                SE_FILE_OBJECT,
                DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                ptr::null_mut(),
                ptr::null_mut(),
                acl.as_mut_ptr().cast::<ACL>(),
                ptr::null(),
            )
        };
        if rc == ERROR_SUCCESS {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(rc as i32))
        }
    }
}

/// Renames that exchange two files atomically, or create one only where none is:
/// `renameat2` on Linux, `renamex_np` on macOS.
#[cfg(any(target_os = "linux", target_os = "macos"))]
mod exchange {
    use std::ffi::CString;
    use std::fs;
    use std::io;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    use super::{make_private, Current, Version};

    /// What a rename does besides renaming.
    #[derive(Clone, Copy)]
    enum How {
        /// Swap the two files (both must exist).
        Exchange,
        /// Fail if the target exists.
        NoReplace,
    }

    fn rename(from: &Path, to: &Path, how: How) -> io::Result<()> {
        let (from, to) = (CString::new(from.as_os_str().as_bytes())?, CString::new(to.as_os_str().as_bytes())?);
        #[cfg(target_os = "linux")]
        // SAFETY: both are valid NUL-terminated paths; AT_FDCWD resolves them as given.
        let rc = unsafe {
            let flags = match how {
                How::Exchange => libc::RENAME_EXCHANGE,
                How::NoReplace => libc::RENAME_NOREPLACE,
            };
            libc::renameat2(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), flags)
        };
        #[cfg(target_os = "macos")]
        // SAFETY: both are valid NUL-terminated paths.
        let rc = unsafe {
            let flags = match how {
                How::Exchange => libc::RENAME_SWAP,
                How::NoReplace => libc::RENAME_EXCL,
            };
            libc::renamex_np(from.as_ptr(), to.as_ptr(), flags)
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Whether the file system (or the kernel) has no such rename.
    pub(super) fn unsupported(e: &io::Error) -> bool {
        #[cfg(target_os = "linux")]
        let codes = [libc::EINVAL, libc::ENOSYS, libc::EOPNOTSUPP];
        #[cfg(target_os = "macos")]
        let codes = [libc::EINVAL, libc::ENOTSUP, libc::EOPNOTSUPP];
        e.raw_os_error().is_some_and(|c| codes.contains(&c))
    }

    pub(super) fn swap(tmp: &tempfile::NamedTempFile, real: &Path, current: &Current, previous: &Path) -> io::Result<bool> {
        let at = tmp.path();
        let Some(version) = current.version else {
            // No file was there: create it only if no one else did meanwhile.
            return match rename(at, real, How::NoReplace) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let _ = fs::remove_file(at);
                    Ok(false)
                }
                Err(e) => Err(e),
            };
        };
        rename(at, real, How::Exchange)?;
        // `at` now holds the file that was in place: it must be the one that was read.
        let displaced = fs::metadata(at).map(|m| Version::of(&m));
        if !displaced.is_ok_and(|d| d.same_contents(&version)) {
            rename(at, real, How::Exchange)?;
            let _ = fs::remove_file(at);
            return Ok(false);
        }
        make_private(at);
        // The new version is in place: a backup that cannot be kept (its name taken by a
        // directory, say) must not turn that into a reported failure. The displaced file
        // is then swept with the temporaries at the next write.
        let _ = fs::rename(at, previous);
        Ok(true)
    }

    /// Swaps the displaced version back in (an exchange, so neither is ever missing).
    pub(super) fn restore(previous: &Path, real: &Path) -> io::Result<()> {
        rename(previous, real, How::Exchange)
    }
}
