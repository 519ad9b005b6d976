//! The tray's local channel: how the window (and later the CLI) reaches the running tray,
//! which owns the state. One Unix socket, `tray.sock`, in a directory only the user can
//! open (0700, under `$XDG_RUNTIME_DIR/mfa-tray`, else the settings directory); the
//! socket itself is 0600 and the tray answers only peers running as the same user.
//! One request per connection, one JSON line each way. The one secret that crosses it
//! is the answer to a credential request (`credential_process`), to a peer of the same
//! user; MFA codes cross from the window to the tray.
//!
//! On platforms without Unix sockets (Windows, for now) there is no channel: the tray
//! then notices settings by watching its settings file, as it does for hand edits.
// (What only the channel uses is unused there until a named pipe carries it.)
#![cfg_attr(not(unix), allow(dead_code, unused_imports))]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::env::Environment;
use crate::settings::CONFIG_DIR_VAR;

/// The version of the request and answer shapes.
pub const VERSION: u32 = 1;
/// The largest request or answer, in bytes.
const MAX_MESSAGE: u64 = 64 * 1024;
/// How long either side waits for the other, for a whole request or answer (a request
/// that waits for a code says how long it waits: [`request_within`]).
const TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more are closed at once (one user's own programs only,
/// but none of them may wear the tray down). Tools waiting for a code hold one each, and
/// the tray lets at most [`MAX_WAITING`] wait, so the window's code always gets through.
#[cfg(unix)]
const MAX_CLIENTS: usize = 32;
/// Credential requests that may wait for a code at once.
pub const MAX_WAITING: usize = 16;

/// What a client asks the tray.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Is a tray there, and which version?
    Ping,
    /// Check, save and apply these settings (the settings file's TOML).
    SaveSettings {
        /// The settings as `settings.toml` holds them.
        toml: String,
    },
    /// Temporary credentials for a profile, for a tool (`credential_process`); the tray
    /// asks for a code if it needs one, and the request waits for it.
    Credentials {
        /// The role or MFA session profile.
        profile: String,
        /// The asking program, for people ("aws (pid 4242)").
        tool: String,
    },
    /// Which tools wait for a code (the window shows them).
    Asks,
    /// A code for the account tools wait on (from the window).
    GiveCode {
        /// The MFA session profile whose code it is.
        account: String,
        /// The code as typed (checked by the tray).
        code: String,
    },
    /// No code will come for this account's waiting tools (`None`: for any).
    Cancel {
        /// The account, or every one.
        account: Option<String>,
    },
}

/// A tool waiting for a code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ask {
    /// The MFA session profile whose code is needed.
    pub account: String,
    /// Its MFA device.
    pub mfa_serial: String,
    /// The profiles asked for.
    pub profiles: Vec<String>,
    /// The asking programs.
    pub tools: Vec<String>,
}

/// The tray's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Answer {
    /// Done; `message` says what happened, for people.
    Ok {
        /// What happened.
        message: String,
    },
    /// Credentials for a tool.
    Credentials {
        /// The access key id.
        access_key_id: String,
        /// The secret access key.
        secret_access_key: crate::secret::Secret,
        /// The session token.
        session_token: crate::secret::Secret,
        /// When they stop working (RFC 3339).
        expiration: String,
    },
    /// The tools waiting for a code.
    Asks {
        /// One per account.
        asks: Vec<Ask>,
    },
    /// Refused; `code` is stable, `message` for people.
    Error {
        /// A stable identifier.
        code: String,
        /// What is wrong and what to do.
        message: String,
        /// What sort of failure (for exit codes), when the engine said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kind: Option<crate::error::ErrorKind>,
    },
}

impl From<crate::error::Error> for Answer {
    fn from(e: crate::error::Error) -> Answer {
        Answer::Error { code: e.code.to_owned(), message: e.message, kind: Some(e.kind) }
    }
}

/// How long the tray waits for a code a tool asked for (`MFA_TRAY_ASK_TIMEOUT`, in
/// seconds; 3 minutes by default).
pub fn ask_timeout(env: &dyn Environment) -> Duration {
    let secs = env.var_str("MFA_TRAY_ASK_TIMEOUT").and_then(|s| s.parse::<u64>().ok()).filter(|s| (1..=3600).contains(s));
    Duration::from_secs(secs.unwrap_or(180))
}

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    v: u32,
    #[serde(flatten)]
    body: T,
}

/// Where the tray's socket is.
pub fn socket_path(env: &dyn Environment) -> Option<PathBuf> {
    let dir = env
        .var_path("XDG_RUNTIME_DIR")
        .map(|d| d.join("mfa-tray"))
        .or_else(|| env.var_path(CONFIG_DIR_VAR))
        .or_else(|| env.config_dir().map(|d| d.join("mfa-tray")))?;
    Some(dir.join("tray.sock"))
}

/// Asks the running tray. `Err` with `NotFound` or `ConnectionRefused` when there is none.
pub fn request(path: &Path, request: &Request) -> io::Result<Answer> {
    request_within(path, request, TIMEOUT)
}

/// Asks the running tray and waits up to `wait` for the answer (a request that may wait
/// for a code waits longer than the tray does).
#[cfg(unix)]
pub fn request_within(path: &Path, request: &Request, wait: Duration) -> io::Result<Answer> {
    // Only a socket in a directory that is ours and closed to others can be our tray's.
    match path.parent().map(check_private_dir) {
        Some(Err(e)) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut stream = std::os::unix::net::UnixStream::connect(path)?;
    stream.set_read_timeout(Some(wait.max(TIMEOUT)))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let mut line = serde_json::to_string(&Envelope { v: VERSION, body: request.clone() }).map_err(io::Error::other)?;
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    let mut answer = String::new();
    BufReader::new(stream).take(MAX_MESSAGE).read_line(&mut answer)?;
    let envelope: Envelope<Answer> = serde_json::from_str(&answer).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(envelope.body)
}

/// No channel on this platform: as if no tray were running.
#[cfg(not(unix))]
pub fn request_within(_path: &Path, _request: &Request, _wait: Duration) -> io::Result<Answer> {
    Err(io::Error::new(io::ErrorKind::NotFound, "no tray channel on this platform"))
}

/// The client at the other end of a request, as the tray sees it.
pub struct Peer {
    /// Its process id, where the platform says.
    pub pid: Option<u32>,
    #[cfg(unix)]
    fd: std::os::fd::RawFd,
}

impl Peer {
    /// Whether the client has hung up (a tool killed while it waited for a code).
    pub fn gone(&self) -> bool {
        #[cfg(unix)]
        {
            let mut byte = 0u8;
            // SAFETY: the stream behind `fd` outlives the handler that holds this Peer;
            // the buffer is one valid byte.
            let n = unsafe { libc::recv(self.fd, (&mut byte as *mut u8).cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT) };
            n == 0 || (n < 0 && !matches!(io::Error::last_os_error().kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted))
        }
        #[cfg(not(unix))]
        false
    }

    /// What the client was started by, for people: `aws (pid 4242)`. Found by the tray,
    /// not taken from the client's word.
    pub fn label(&self) -> Option<String> {
        let pid = self.pid?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let ppid = status.lines().find_map(|l| l.strip_prefix("PPid:"))?.trim().parse().ok()?;
        process_label(ppid)
    }
}

/// A process named for people: `aws (pid 4242)`; a script run by an interpreter is named
/// by its script. Only letters, digits and plain punctuation (no control or format
/// characters that could disguise it). `None` where the system does not say (not Linux).
pub fn process_label(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    let base = |a: &str| a.rsplit('/').next().unwrap_or(a).to_owned();
    let interpreted = |i: &str| ["python", "node", "ruby", "perl", "sh", "bash", "dash", "zsh"].iter().any(|p| base(i).starts_with(p));
    let name = match args.as_slice() {
        [interp, script, ..] if interpreted(interp) && !script.starts_with('-') => base(script),
        [program, ..] => base(program),
        [] => return None,
    };
    let name: String = name.chars().filter(|c| c.is_alphanumeric() || "._-+@:".contains(*c)).take(60).collect();
    Some(format!("{} (pid {pid})", if name.is_empty() { "a program" } else { &name }))
}

/// The tray's end of the channel: listens until dropped.
#[cfg(unix)]
pub struct Server {
    path: PathBuf,
}

#[cfg(unix)]
impl Server {
    /// Listens at `path`, answering each request with `handle` on a thread of its own.
    /// Fails if another tray already answers there.
    pub fn start(path: &Path, handle: impl Fn(Request, &Peer) -> Answer + Send + Sync + 'static) -> io::Result<Server> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        use std::os::unix::net::UnixListener;
        let dir = path.parent().ok_or_else(|| io::Error::other("no directory for the socket"))?;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        // The directory must be ours and closed to others, whatever made it: one of ours
        // (the settings directory, made 0755 by an older version) is closed first.
        if let Err(e) = check_private_dir(dir) {
            use std::os::unix::fs::MetadataExt;
            if std::fs::metadata(dir)?.uid() != crate::file::euid() {
                return Err(e);
            }
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            check_private_dir(dir)?;
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(io::ErrorKind::AddrInUse, "another mfa-tray answers on this socket"));
        }
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        let handle = std::sync::Arc::new(handle);
        let busy = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        std::thread::Builder::new().name("mfa-tray-channel".into()).spawn(move || {
            use std::sync::atomic::Ordering;
            for stream in listener.incoming() {
                let Ok(stream) = stream else {
                    // Out of file descriptors, say: wait instead of spinning.
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                };
                if busy.fetch_add(1, Ordering::SeqCst) >= MAX_CLIENTS {
                    busy.fetch_sub(1, Ordering::SeqCst);
                    continue;
                }
                let (handle, done) = (handle.clone(), busy.clone());
                let spawned = std::thread::Builder::new().name("mfa-tray-request".into()).spawn(move || {
                    serve_one(stream, &*handle);
                    done.fetch_sub(1, Ordering::SeqCst);
                });
                if spawned.is_err() {
                    busy.fetch_sub(1, Ordering::SeqCst);
                }
            }
        })?;
        Ok(Server { path: path.to_owned() })
    }
}

#[cfg(unix)]
impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(unix)]
fn check_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir)?;
    let me = crate::file::euid();
    if meta.uid() != me || meta.mode() & 0o077 != 0 {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("{} must be yours and closed to others (chmod 700)", dir.display())));
    }
    Ok(())
}

/// The uid of the process at the other end of a Unix socket, and its pid where the
/// platform says.
#[cfg(unix)]
fn peer_cred(stream: &std::os::unix::net::UnixStream) -> io::Result<(u32, Option<u32>)> {
    use std::os::fd::AsRawFd;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: `cred` and `len` are valid for writes of the sizes given.
        let rc = unsafe { libc::getsockopt(stream.as_raw_fd(), libc::SOL_SOCKET, libc::SO_PEERCRED, (&mut cred as *mut libc::ucred).cast(), &mut len) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((cred.uid, u32::try_from(cred.pid).ok().filter(|p| *p > 0)))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let (mut uid, mut gid) = (0, 0);
        // SAFETY: both are valid for writes.
        if unsafe { libc::getpeereid(stream.as_raw_fd(), &mut uid, &mut gid) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((uid, None))
    }
}

/// One line from the client, within [`TIMEOUT`] in all (a client trickling bytes is
/// cut off like a silent one) and [`MAX_MESSAGE`] bytes.
#[cfg(unix)]
fn read_request(mut stream: &std::os::unix::net::UnixStream) -> Option<String> {
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut line = Vec::new();
    let mut buf = [0u8; 4096];
    while !line.contains(&b'\n') {
        let left = deadline.checked_duration_since(std::time::Instant::now()).filter(|d| !d.is_zero())?;
        stream.set_read_timeout(Some(left)).ok()?;
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        line.extend_from_slice(&buf[..n]);
        if line.len() as u64 > MAX_MESSAGE {
            return None;
        }
    }
    String::from_utf8(line).ok()
}

#[cfg(unix)]
fn serve_one(stream: std::os::unix::net::UnixStream, handle: &(dyn Fn(Request, &Peer) -> Answer + Send + Sync)) {
    use std::os::fd::AsRawFd;
    let me = crate::file::euid();
    let peer = match peer_cred(&stream) {
        Ok((uid, pid)) if uid == me => Peer { pid, fd: stream.as_raw_fd() },
        _ => return,
    };
    let _ = stream.set_write_timeout(Some(TIMEOUT));
    let Some(line) = read_request(&stream) else { return };
    let answer = match serde_json::from_str::<Envelope<Request>>(&line) {
        Ok(Envelope { v: VERSION, body }) => handle(body, &peer),
        Ok(Envelope { v, .. }) => Answer::Error { code: "version".into(), message: format!("this tray speaks version {VERSION} of its channel, not {v}; restart the tray"), kind: None },
        Err(_) => Answer::Error { code: "bad_request".into(), message: "not a request this tray understands".into(), kind: None },
    };
    if let Ok(mut out) = serde_json::to_string(&Envelope { v: VERSION, body: answer }) {
        out.push('\n');
        let mut stream = stream;
        let _ = stream.write_all(out.as_bytes());
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_request_reaches_the_server_and_only_the_user_can_open_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/mfa-tray/tray.sock");
        let server = Server::start(&path, |req, _| match req {
            Request::Ping => Answer::Ok { message: "pong".into() },
            Request::SaveSettings { toml } => Answer::Error { code: "bad_settings".into(), message: toml, kind: None },
            _ => Answer::Error { code: "unexpected".into(), message: String::new(), kind: None },
        })
        .unwrap();
        assert_eq!(request(&path, &Request::Ping).unwrap(), Answer::Ok { message: "pong".into() });
        let answer = request(&path, &Request::SaveSettings { toml: "x = 1".into() }).unwrap();
        assert_eq!(answer, Answer::Error { code: "bad_settings".into(), message: "x = 1".into(), kind: None });
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        // A second tray cannot take the socket over.
        let err = Server::start(&path, |_, _| Answer::Ok { message: String::new() }).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        // Garbage gets a plain refusal, not a hang.
        let mut raw = std::os::unix::net::UnixStream::connect(&path).unwrap();
        raw.write_all(b"{\"v\":1,\"op\":\"format_disk\"}\n").unwrap();
        let mut text = String::new();
        BufReader::new(raw).read_line(&mut text).unwrap();
        assert!(text.contains("bad_request"), "{text}");
        drop(server);
        assert!(!path.exists(), "the socket goes with the tray");
        assert_eq!(request(&path, &Request::Ping).unwrap_err().kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn the_tray_sees_who_asks_and_when_they_hang_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/tray.sock");
        let (tx, rx) = std::sync::mpsc::channel();
        let server = Server::start(&path, move |_, peer| {
            let label = peer.label();
            let start = std::time::Instant::now();
            while !peer.gone() && start.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = tx.send((label, peer.gone()));
            Answer::Ok { message: String::new() }
        })
        .unwrap();
        let mut client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        client.write_all(b"{\"v\":1,\"op\":\"ping\"}\n").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        drop(client);
        let (label, gone) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(gone, "a client that hung up is seen gone");
        // The peer is this process: it is named by what started it.
        let parent = std::os::unix::process::parent_id();
        if cfg!(target_os = "linux") {
            assert_eq!(label, process_label(parent));
            assert!(label.unwrap().ends_with(&format!(" (pid {parent})")));
        }
        drop(server);
    }

    #[test]
    fn idle_clients_cannot_take_more_than_their_share() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/tray.sock");
        let server = Server::start(&path, |_, _| Answer::Ok { message: "pong".into() }).unwrap();
        // Clients that connect and say nothing hold a slot each, up to the cap...
        let idle: Vec<_> = (0..MAX_CLIENTS).map(|_| std::os::unix::net::UnixStream::connect(&path).unwrap()).collect();
        std::thread::sleep(Duration::from_millis(200));
        // ... beyond it, a connection is closed at once rather than served.
        let mut extra = std::os::unix::net::UnixStream::connect(&path).unwrap();
        extra.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut byte = [0u8; 1];
        assert_eq!(extra.read(&mut byte).unwrap(), 0, "closed without an answer");
        // When they go, the slots come back.
        drop(idle);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(request(&path, &Request::Ping).unwrap(), Answer::Ok { message: "pong".into() });
        drop(server);
    }

    #[test]
    fn a_directory_open_to_others_is_closed_or_refused() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("shared");
        std::fs::create_dir(&run).unwrap();
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o777)).unwrap();
        // A client does not talk to a socket someone could have put there...
        let planted = std::os::unix::net::UnixListener::bind(run.join("tray.sock")).unwrap();
        assert_eq!(request(&run.join("tray.sock"), &Request::Ping).unwrap_err().kind(), io::ErrorKind::PermissionDenied);
        drop(planted);
        // ... and the tray closes a directory of its own user before it listens there.
        let server = Server::start(&run.join("tray.sock"), |_, _| Answer::Ok { message: "pong".into() }).unwrap();
        assert_eq!(std::fs::metadata(&run).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(request(&run.join("tray.sock"), &Request::Ping).unwrap(), Answer::Ok { message: "pong".into() });
        drop(server);
        // A directory of another user is refused (tested where the test can make one).
        if crate::file::euid() == 0 {
            let theirs = dir.path().join("theirs");
            std::fs::create_dir(&theirs).unwrap();
            std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
            let err = Server::start(&theirs.join("tray.sock"), |_, _| Answer::Ok { message: String::new() }).err().unwrap();
            assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        }
    }
}
