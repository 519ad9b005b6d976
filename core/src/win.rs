//! What mfa-tray asks of Windows itself: who the user is, which user runs another
//! process, an access list for the user alone, and a process's name and parent. The
//! credentials file ([`crate::file`]) and the tray's named pipe ([`crate::channel`])
//! share these.

use std::io;
use std::ptr;

use windows_sys::core::BOOL;
use windows_sys::Win32::Foundation::{CloseHandle, LocalFree, HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Security::Authorization::ConvertSidToStringSidW;
use windows_sys::Win32::Security::Authorization::{GetSecurityInfo, SE_KERNEL_OBJECT};
use windows_sys::Win32::Security::{
    AddAccessAllowedAce, EqualSid, GetLengthSid, GetSidSubAuthority, GetSidSubAuthorityCount, GetTokenInformation, InitializeAcl, TokenIntegrityLevel,
    TokenIsAppContainer, TokenUser, ACCESS_ALLOWED_ACE, ACL, ACL_REVISION, OWNER_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, TOKEN_MANDATORY_LABEL,
    TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{CreateToolhelp32Snapshot, Process32FirstW, Process32NextW, PROCESSENTRY32W, TH32CS_SNAPPROCESS};
use windows_sys::Win32::System::RemoteDesktop::ProcessIdToSessionId;
use windows_sys::Win32::System::Threading::{GetCurrentProcess, GetCurrentProcessId, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION};

/// A Win32 BOOL as a result.
pub(crate) fn check(ok: BOOL) -> io::Result<()> {
    if ok != 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A user's SID, as a process's token holds it (a TOKEN_USER in an 8-byte aligned buffer).
pub(crate) struct User(Vec<u64>);

impl User {
    /// The SID, valid while `self` lives.
    pub(crate) fn sid(&self) -> PSID {
        // SAFETY: GetTokenInformation filled the buffer with a TOKEN_USER whose SID points
        // into the same buffer.
        unsafe { (*self.0.as_ptr().cast::<TOKEN_USER>()).User.Sid }
    }

    /// Whether both are one user.
    pub(crate) fn is(&self, other: &User) -> bool {
        // SAFETY: both SIDs are valid while their buffers live.
        unsafe { EqualSid(self.sid(), other.sid()) != 0 }
    }

    /// The SID as text (`S-1-5-21-…`).
    pub(crate) fn sid_string(&self) -> io::Result<String> {
        let mut text: *mut u16 = ptr::null_mut();
        // SAFETY: the SID is valid; the function allocates `text`, freed below.
        check(unsafe { ConvertSidToStringSidW(self.sid(), &mut text) })?;
        // SAFETY: `text` is NUL-terminated (the function's contract).
        let len = (0..).take_while(|&i| unsafe { *text.add(i) } != 0).count();
        // SAFETY: `len` characters were just read from `text`.
        let s = String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, len) });
        // SAFETY: allocated by ConvertSidToStringSidW with LocalAlloc.
        unsafe { LocalFree(text.cast()) };
        Ok(s)
    }
}

/// What a process's token says of it: its user, its integrity level (the last part of
/// its label's SID: 0x2000 medium, 0x3000 high, below for sandboxes) and whether it runs
/// in an AppContainer.
struct Token {
    user: User,
    integrity: u32,
    app_container: bool,
}

/// One piece of a token's information, in an 8-byte aligned buffer.
fn token_info(token: HANDLE, class: i32) -> io::Result<Vec<u64>> {
    let mut len = 0u32;
    // SAFETY: a first call with no buffer only reports the size needed.
    unsafe { GetTokenInformation(token, class, ptr::null_mut(), 0, &mut len) };
    let mut buf = vec![0u64; (len as usize).div_ceil(8).max(1)];
    // SAFETY: `buf` holds `len` bytes, aligned for any of the information structures.
    check(unsafe { GetTokenInformation(token, class, buf.as_mut_ptr().cast(), len, &mut len) })?;
    Ok(buf)
}

fn token(process: HANDLE) -> io::Result<Token> {
    let mut token: HANDLE = ptr::null_mut();
    // SAFETY: `process` is a process handle with query access; OpenProcessToken writes
    // the token handle into `token`, which is closed below.
    check(unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut token) })?;
    let read = || -> io::Result<Token> {
        let user = User(token_info(token, TokenUser)?);
        let label = token_info(token, TokenIntegrityLevel)?;
        // SAFETY: the buffer holds a TOKEN_MANDATORY_LABEL whose SID points into it; a
        // label SID has one sub-authority, the level.
        let integrity = unsafe {
            let sid = (*label.as_ptr().cast::<TOKEN_MANDATORY_LABEL>()).Label.Sid;
            *GetSidSubAuthority(sid, u32::from(*GetSidSubAuthorityCount(sid)).saturating_sub(1))
        };
        let app_container = token_info(token, TokenIsAppContainer)?[0] as u32 != 0;
        Ok(Token { user, integrity, app_container })
    };
    let got = read();
    // SAFETY: `token` is a handle this function opened.
    unsafe { CloseHandle(token) };
    got
}

fn current_token() -> io::Result<Token> {
    // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no closing.
    token(unsafe { GetCurrentProcess() })
}

/// The user this process runs as.
pub(crate) fn current_user() -> io::Result<User> {
    current_token().map(|t| t.user)
}

/// Whether process `pid` runs as this process's user, at this process's integrity level
/// or above and outside any AppContainer: a sandboxed program of the user (a browser's
/// renderer, say) does not count as the user. A process whose token may not be read
/// (another user's, a higher level's) does not either.
pub(crate) fn runs_as_me(pid: u32) -> bool {
    // SAFETY: OpenProcess returns a handle to close, or null.
    let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if process.is_null() {
        return false;
    }
    let theirs = token(process);
    // SAFETY: `process` was opened above.
    unsafe { CloseHandle(process) };
    match (theirs, current_token()) {
        (Ok(theirs), Ok(mine)) => theirs.user.is(&mine.user) && theirs.integrity >= mine.integrity && !theirs.app_container,
        _ => false,
    }
}

/// Whether the kernel object behind `handle` (a pipe) is owned by this process's user:
/// who made it, whichever process serves it now. (Windows gives every pipe an owner;
/// Wine keeps none, measured: there an object without one passes.)
pub(crate) fn owned_by_me(handle: HANDLE) -> bool {
    let mut owner: PSID = ptr::null_mut();
    let mut sd: PSECURITY_DESCRIPTOR = ptr::null_mut();
    // SAFETY: `owner` points into `sd`, which the call allocates and which is freed below.
    let rc = unsafe { GetSecurityInfo(handle, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION, &mut owner, ptr::null_mut(), ptr::null_mut(), ptr::null_mut(), &mut sd) };
    if rc != 0 {
        return false;
    }
    // SAFETY: `owner` is valid while `sd` lives.
    let mine = owner.is_null() || current_user().is_ok_and(|me| unsafe { EqualSid(owner, me.sid()) } != 0);
    // SAFETY: allocated by GetSecurityInfo with LocalAlloc.
    unsafe { LocalFree(sd) };
    mine
}

/// The session this process runs in (each signed-in desktop, an RDP session, has its own).
pub(crate) fn session_id() -> u32 {
    let mut session = 0;
    // SAFETY: `session` is valid for writes; on failure it stays 0.
    unsafe { ProcessIdToSessionId(GetCurrentProcessId(), &mut session) };
    session
}

/// An access list with one entry: `access` for `user` alone (in an 8-byte aligned
/// buffer; the ACL is its start).
pub(crate) fn acl_for(user: &User, access: u32) -> io::Result<Vec<u64>> {
    // SAFETY: the SID is valid while `user` lives.
    let sid_len = unsafe { GetLengthSid(user.sid()) } as usize;
    let acl_len = std::mem::size_of::<ACL>() + std::mem::size_of::<ACCESS_ALLOWED_ACE>() + sid_len;
    let mut acl = vec![0u64; acl_len.div_ceil(8)];
    let acl_ptr = acl.as_mut_ptr().cast::<ACL>();
    // SAFETY: `acl` is `acl_len` bytes, enough for the header and one entry for the SID.
    check(unsafe { InitializeAcl(acl_ptr, acl_len as u32, ACL_REVISION) })?;
    // SAFETY: as above; the SID is copied into `acl`.
    check(unsafe { AddAccessAllowedAce(acl_ptr, ACL_REVISION, access, user.sid()) })?;
    Ok(acl)
}

/// A process's executable name (`aws.exe`) and its parent's pid.
pub(crate) fn process_entry(pid: u32) -> Option<(String, u32)> {
    // SAFETY: returns a snapshot handle to close, or INVALID_HANDLE_VALUE.
    let snapshot = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0) };
    if snapshot == INVALID_HANDLE_VALUE {
        return None;
    }
    // SAFETY: PROCESSENTRY32W is plain data; dwSize is set as the API asks.
    let mut entry: PROCESSENTRY32W = unsafe { std::mem::zeroed() };
    entry.dwSize = std::mem::size_of::<PROCESSENTRY32W>() as u32;
    let mut found = None;
    // SAFETY: `snapshot` is valid and `entry` sized as the API asks.
    let mut more = unsafe { Process32FirstW(snapshot, &mut entry) } != 0;
    while more {
        if entry.th32ProcessID == pid {
            let len = entry.szExeFile.iter().position(|c| *c == 0).unwrap_or(entry.szExeFile.len());
            found = Some((String::from_utf16_lossy(&entry.szExeFile[..len]), entry.th32ParentProcessID));
            break;
        }
        // SAFETY: as above.
        more = unsafe { Process32NextW(snapshot, &mut entry) } != 0;
    }
    // SAFETY: `snapshot` was opened above.
    unsafe { CloseHandle(snapshot) };
    found
}
