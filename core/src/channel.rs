//! The tray's local channel: how the window and the CLI reach the running tray,
//! which owns the state. One Unix socket, `tray.sock`, in a directory only the user can
//! open (0700, under `$XDG_RUNTIME_DIR/mfa-tray`, else the settings directory); the
//! socket itself is 0600 and the tray answers only peers running as the same user.
//! One request per connection, one JSON line each way. The one secret that crosses it
//! is the answer to a credential request (`credential_process`), to a peer of the same
//! user; MFA codes cross from the window to the tray.
//!
//! On Windows the channel is a named pipe (`\\.\pipe\mfa-tray-SID-…`) open to the user
//! alone and to local clients only; each end checks that the other runs as the same user.

use std::io::{self, Write};
#[cfg(unix)]
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::env::Environment;
#[cfg(unix)]
use crate::settings::CONFIG_DIR_VAR;

/// The version of the request and answer shapes.
/// 2: a tool's request carries its context (a tray of version 1 would answer without it).
pub const VERSION: u32 = 2;
/// The largest request or answer, in bytes.
const MAX_MESSAGE: u64 = 64 * 1024;
/// How long either side waits for the other, for a whole request or answer (a request
/// that waits for a code says how long it waits: [`request_within`]).
const TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once, a thread each (one user's own programs only, but none
/// of them may wear the tray down). More wait to be taken, queued by the system: a
/// client is delayed, never turned away.
const MAX_CONNECTIONS: usize = 256;
/// Of those, tool requests, which may wait minutes for a code: the rest stay free for
/// the window, so its code always gets through however many tools wait. A tool request
/// beyond this many is answered "busy".
pub const MAX_TOOLS: usize = 192;

/// What a client asks the tray.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Is a tray there, and which version?
    Ping,
    /// Show the window (another launch of the tray, which then ends).
    Show,
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
        /// Everything else that decides the answer, as the asking process found it.
        context: Context,
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

/// What decides a tool's answer besides the profile's name, as the asking process
/// resolved it: the AWS files botocore would read for it, the settings file (the
/// long-term suffix), and the variables that choose regions and endpoints
/// ([`crate::aws::ENDPOINT_VARS`]). The tray answers only for its own files, and with
/// the tool's variables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    /// The config file (`AWS_CONFIG_FILE`, else `~/.aws/config`), absolute.
    pub config_file: PathBuf,
    /// The credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`).
    pub credentials_file: PathBuf,
    /// The settings file.
    pub settings_file: Option<PathBuf>,
    /// The region and endpoint variables that are set.
    pub vars: std::collections::BTreeMap<String, String>,
}

impl Context {
    /// This process's context, with the AWS files it found.
    pub fn of(env: &dyn Environment, files: &crate::file::AwsFiles) -> Context {
        let vars = crate::aws::ENDPOINT_VARS.iter().filter_map(|name| Some(((*name).to_owned(), env.var_str(name)?))).collect();
        let settings_file = crate::settings::Settings::path(env).map(|p| absolute(&p));
        Context { config_file: absolute(&files.config), credentials_file: absolute(&files.credentials), settings_file, vars }
    }

    /// The files of `other` that are not this context's (the same file reached by
    /// another path counts as the same), for people; empty when all are the same.
    pub fn other_files(&self, other: &Context) -> Vec<String> {
        let mut differ = Vec::new();
        let mut compare = |what: &str, mine: Option<&Path>, theirs: Option<&Path>| {
            if !matches!((mine, theirs), (Some(a), Some(b)) if same_file(a, b)) && mine != theirs {
                let shown = |p: Option<&Path>| p.map_or("none".to_owned(), |p| p.display().to_string());
                differ.push(format!("{what} {} (the tray reads {})", shown(theirs), shown(mine)));
            }
        };
        compare("the config file", Some(&self.config_file), Some(&other.config_file));
        compare("the credentials file", Some(&self.credentials_file), Some(&other.credentials_file));
        compare("the settings", self.settings_file.as_deref(), other.settings_file.as_deref());
        differ
    }
}

/// `path` made absolute against the working directory, as a tool started there finds it.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Whether two paths name one file: the same after symlinks are resolved (for a file
/// that does not exist yet, its directory's).
fn same_file(a: &Path, b: &Path) -> bool {
    let real = |p: &Path| {
        p.canonicalize().ok().or_else(|| Some(p.parent()?.canonicalize().ok()?.join(p.file_name()?))).unwrap_or_else(|| p.to_owned())
    };
    a == b || real(a) == real(b)
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

/// The user's private directory for what mfa-tray keeps while it runs (the tray's
/// socket, the console's forwarding pages): `$XDG_RUNTIME_DIR/mfa-tray`; without that
/// variable (cron, `su`, some IDEs and SSH sessions) `/run/user/UID/mfa-tray` when
/// `/run/user/UID` is the user's and closed to others, as the desktop session's is;
/// else the settings directory. The tray and every client of it find the same one.
#[cfg(unix)]
pub fn private_dir(env: &dyn Environment) -> Option<PathBuf> {
    env.var_path("XDG_RUNTIME_DIR")
        .or_else(|| user_runtime_dir(Path::new("/run/user"), crate::file::euid()))
        .map(|d| d.join("mfa-tray"))
        .or_else(|| env.var_path(CONFIG_DIR_VAR))
        .or_else(|| env.config_dir().map(|d| d.join("mfa-tray")))
}

/// `BASE/UID` if it is a directory (not a link) of user `uid`, closed to others.
#[cfg(unix)]
fn user_runtime_dir(base: &Path, uid: u32) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let dir = base.join(uid.to_string());
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    (meta.is_dir() && meta.uid() == uid && meta.mode() & 0o077 == 0).then_some(dir)
}

/// Where the tray's socket is: `tray.sock` in [`private_dir`].
#[cfg(unix)]
pub fn socket_path(env: &dyn Environment) -> Option<PathBuf> {
    Some(private_dir(env)?.join("tray.sock"))
}

/// Where the tray's named pipe is: `\\.\pipe\mfa-tray-SID-SESSION-HASH`, one per user,
/// per session (the same user signed in twice, over RDP say, has a tray in each) and per
/// settings directory (a tray answers for its settings).
#[cfg(windows)]
pub fn socket_path(env: &dyn Environment) -> Option<PathBuf> {
    let settings = crate::settings::Settings::path(env)?;
    let sid = crate::win::current_user().and_then(|u| u.sid_string()).ok()?;
    // FNV-1a of the settings path, case folded as Windows folds paths.
    let key = settings.to_string_lossy().to_lowercase();
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    Some(PathBuf::from(format!(r"\\.\pipe\mfa-tray-{sid}-{}-{hash:016x}", crate::win::session_id())))
}

/// Asks the running tray. `Err` with `NotFound` or `ConnectionRefused` when there is none.
pub fn request(path: &Path, request: &Request) -> io::Result<Answer> {
    request_within(path, request, TIMEOUT)
}

fn request_line(request: &Request) -> io::Result<String> {
    let mut line = serde_json::to_string(&Envelope { v: VERSION, body: request.clone() }).map_err(io::Error::other)?;
    line.push('\n');
    Ok(line)
}

fn parse_answer(line: &str) -> io::Result<Answer> {
    let envelope: Envelope<Answer> = serde_json::from_str(line).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(envelope.body)
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
    // The tray checks who asks; the client checks who answers, as the answer may be
    // credentials it hands on.
    if peer_cred(&stream)?.0 != crate::file::euid() {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("{} is answered by a program of another user, not your tray", path.display())));
    }
    stream.set_read_timeout(Some(wait.max(TIMEOUT)))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.write_all(request_line(request)?.as_bytes())?;
    let mut answer = String::new();
    BufReader::new(stream).take(MAX_MESSAGE).read_line(&mut answer)?;
    parse_answer(&answer)
}

/// Asks the running tray and waits up to `wait` for the answer (a request that may wait
/// for a code waits longer than the tray does).
#[cfg(windows)]
pub fn request_within(path: &Path, request: &Request, wait: Duration) -> io::Result<Answer> {
    // A tray serving all the connections it takes is waited for, as on Unix.
    let deadline = std::time::Instant::now() + wait.max(TIMEOUT);
    let mut pipe = pipe::connect(path, deadline)?;
    pipe.write_all(request_line(request)?.as_bytes())?;
    let line = pipe::read_line(&mut pipe, deadline)?;
    parse_answer(&String::from_utf8_lossy(&line))
}

/// The client at the other end of a request, as the tray sees it.
pub struct Peer {
    /// Its process id, where the platform says.
    pub pid: Option<u32>,
    #[cfg(unix)]
    fd: std::os::fd::RawFd,
    #[cfg(windows)]
    pipe: std::os::windows::io::RawHandle,
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
        #[cfg(windows)]
        pipe::available(self.pipe).is_err()
    }

    /// What the client was started by, for people: `aws (pid 4242)`. Found by the tray,
    /// not taken from the client's word.
    pub fn label(&self) -> Option<String> {
        parent_label(self.pid?)
    }
}

/// What started process `pid`, named for people (see [`process_label`]).
pub fn parent_label(pid: u32) -> Option<String> {
    #[cfg(unix)]
    let parent = {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status.lines().find_map(|l| l.strip_prefix("PPid:"))?.trim().parse().ok()?
    };
    #[cfg(windows)]
    let parent = crate::win::process_entry(pid)?.1;
    process_label(parent)
}

/// A process named for people: `aws (pid 4242)`; a script run by an interpreter is named
/// by its script (where the system says: Linux). Only letters, digits and plain
/// punctuation (no control or format characters that could disguise it). `None` where
/// the system does not say (not Linux or Windows).
pub fn process_label(pid: u32) -> Option<String> {
    #[cfg(unix)]
    let name = {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let args: Vec<String> = raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        let base = |a: &str| a.rsplit('/').next().unwrap_or(a).to_owned();
        let interpreted = |i: &str| ["python", "node", "ruby", "perl", "sh", "bash", "dash", "zsh"].iter().any(|p| base(i).starts_with(p));
        match args.as_slice() {
            [interp, script, ..] if interpreted(interp) && !script.starts_with('-') => base(script),
            [program, ..] => base(program),
            [] => return None,
        }
    };
    #[cfg(windows)]
    let name = crate::win::process_entry(pid)?.0;
    let name: String = name.chars().filter(|c| c.is_alphanumeric() || "._-+@:".contains(*c)).take(60).collect();
    Some(format!("{} (pid {pid})", if name.is_empty() { "a program" } else { &name }))
}

/// What the tray does with each request.
type Handler = dyn Fn(Request, &Peer) -> Answer + Send + Sync;

/// The answer line to a request line. A tool's request takes one of the
/// [`MAX_TOOLS`] places for tools while it is answered.
fn answer_line(line: &str, peer: &Peer, handle: &Handler, slots: &Slots) -> Option<String> {
    // The version first: a request of another version may not parse as one of this.
    #[derive(Deserialize)]
    struct Version {
        v: u32,
    }
    let bad_request = || Answer::Error { code: "bad_request".into(), message: "not a request this tray understands".into(), kind: None };
    let answer = match serde_json::from_str::<Version>(line) {
        Err(_) => bad_request(),
        Ok(Version { v }) if v != VERSION => {
            let which = if v < VERSION { "the program asking is older than the tray: use the mfa-tray that came with it" } else { "the tray is older than the program asking: restart the tray" };
            Answer::Error { code: "version".into(), message: format!("this tray speaks version {VERSION} of its channel, not {v}; {which}"), kind: None }
        }
        Ok(_) => match serde_json::from_str::<Envelope<Request>>(line) {
            Err(_) => bad_request(),
            Ok(Envelope { body: body @ Request::Credentials { .. }, .. }) => match slots.tool() {
                Some(_place) => handle(body, peer),
                None => Answer::Error {
                    code: "busy".into(),
                    message: format!("{MAX_TOOLS} tools already wait for the tray; try again once a code is typed"),
                    kind: Some(crate::error::ErrorKind::LocalFile),
                },
            },
            Ok(Envelope { body, .. }) => handle(body, peer),
        },
    };
    let mut out = serde_json::to_string(&Envelope { v: VERSION, body: answer }).ok()?;
    out.push('\n');
    Some(out)
}

/// The places the tray serves in: [`MAX_CONNECTIONS`] connections, [`MAX_TOOLS`] of
/// them tools.
#[derive(Default)]
struct Slots {
    /// Connections and tools being served.
    taken: std::sync::Mutex<(usize, usize)>,
    freed: std::sync::Condvar,
}

impl Slots {
    fn taken(&self) -> std::sync::MutexGuard<'_, (usize, usize)> {
        self.taken.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a connection's place.
    fn connection(self: &std::sync::Arc<Self>) -> ConnectionPlace {
        let mut taken = self.taken();
        while taken.0 >= MAX_CONNECTIONS {
            taken = self.freed.wait(taken).unwrap_or_else(|e| e.into_inner());
        }
        taken.0 += 1;
        ConnectionPlace(self.clone())
    }

    /// A tool's place, if one is free.
    fn tool(&self) -> Option<ToolPlace<'_>> {
        let mut taken = self.taken();
        (taken.1 < MAX_TOOLS).then(|| {
            taken.1 += 1;
            ToolPlace(self)
        })
    }
}

/// A connection's place, held until dropped.
struct ConnectionPlace(std::sync::Arc<Slots>);

impl Drop for ConnectionPlace {
    fn drop(&mut self) {
        self.0.taken().0 -= 1;
        self.0.freed.notify_all();
    }
}

/// A tool's place, held until dropped.
struct ToolPlace<'a>(&'a Slots);

impl Drop for ToolPlace<'_> {
    fn drop(&mut self) {
        self.0.taken().1 -= 1;
    }
}

/// Runs `serve` on a thread of its own once a connection's place is free (until then
/// the caller waits, and new clients queue).
fn serve_in_turn(slots: &std::sync::Arc<Slots>, serve: impl FnOnce(&Slots) + Send + 'static) {
    let place = slots.connection();
    // Without a thread the place is given back at once (dropped with the closure).
    let _ = std::thread::Builder::new().name("mfa-tray-request".into()).spawn(move || {
        serve(&place.0);
        drop(place);
    });
}

/// The tray's end of the channel: listens until dropped.
pub struct Server {
    path: PathBuf,
    /// `tray.lock` beside the socket, locked while this tray listens: of two trays
    /// started at once, one listens and the other hands over.
    #[cfg(unix)]
    _lock: std::fs::File,
    /// The same on Windows: a named mutex of the pipe's name, open while this tray
    /// listens (Wine does not honour FILE_FLAG_FIRST_PIPE_INSTANCE).
    #[cfg(windows)]
    _claim: std::os::windows::io::OwnedHandle,
    #[cfg(windows)]
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

#[cfg(unix)]
impl Server {
    /// Listens at `path`, answering each request with `handle` on a thread of its own.
    /// Fails if another tray already answers there.
    pub fn start(path: &Path, handle: impl Fn(Request, &Peer) -> Answer + Send + Sync + 'static) -> io::Result<Server> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        use std::os::unix::net::UnixListener;
        let dir = path.parent().ok_or_else(|| io::Error::other("no directory for the socket"))?;
        make_private_dir(dir)?;
        let in_use = || io::Error::new(io::ErrorKind::AddrInUse, "another mfa-tray answers on this socket");
        let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(dir.join("tray.lock"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(in_use()),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(in_use());
        }
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        let handle = std::sync::Arc::new(handle);
        let slots = std::sync::Arc::new(Slots::default());
        std::thread::Builder::new().name("mfa-tray-channel".into()).spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else {
                    // Out of file descriptors, say: wait instead of spinning.
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                };
                let handle = handle.clone();
                serve_in_turn(&slots, move |slots| serve_one(stream, &*handle, slots));
            }
        })?;
        Ok(Server { path: path.to_owned(), _lock: lock })
    }
}

#[cfg(unix)]
impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Makes `dir` (and its parents) if need be, 0700, and checks that it is the user's and
/// closed to others, whatever made it: one of the user's (the settings directory, made
/// 0755 by an older version) is closed first; another user's is refused.
#[cfg(unix)]
pub fn make_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    if let Err(e) = check_private_dir(dir) {
        if std::fs::metadata(dir)?.uid() != crate::file::euid() {
            return Err(e);
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        check_private_dir(dir)?;
    }
    Ok(())
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
fn serve_one(stream: std::os::unix::net::UnixStream, handle: &Handler, slots: &Slots) {
    use std::os::fd::AsRawFd;
    let me = crate::file::euid();
    let peer = match peer_cred(&stream) {
        Ok((uid, pid)) if uid == me => Peer { pid, fd: stream.as_raw_fd() },
        _ => return,
    };
    let _ = stream.set_write_timeout(Some(TIMEOUT));
    let Some(line) = read_request(&stream) else { return };
    if let Some(out) = answer_line(&line, &peer, handle, slots) {
        let mut stream = stream;
        let _ = stream.write_all(out.as_bytes());
    }
}

#[cfg(windows)]
impl Server {
    /// Listens on the named pipe `path`, answering each request with `handle` on a
    /// thread of its own. Fails if another tray (or any other program) holds the name.
    pub fn start(path: &Path, handle: impl Fn(Request, &Peer) -> Answer + Send + Sync + 'static) -> io::Result<Server> {
        use std::sync::atomic::Ordering;
        let in_use = || io::Error::new(io::ErrorKind::AddrInUse, "another mfa-tray answers on this pipe");
        let claim = pipe::claim(path)?.ok_or_else(in_use)?;
        // FILE_FLAG_FIRST_PIPE_INSTANCE refuses a taken name on Windows (not on Wine):
        // asked first as well.
        if pipe::exists(path) {
            return Err(in_use());
        }
        let first = pipe::create(path, true).map_err(|e| match e.raw_os_error() {
            // ERROR_ACCESS_DENIED, ERROR_PIPE_BUSY: the name is taken.
            Some(5 | 231) => io::Error::new(io::ErrorKind::AddrInUse, "another mfa-tray answers on this pipe"),
            _ => e,
        })?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (handle, slots, at, stopped) = (std::sync::Arc::new(handle), std::sync::Arc::new(Slots::default()), path.to_owned(), stop.clone());
        std::thread::Builder::new().name("mfa-tray-channel".into()).spawn(move || {
            let mut waiting = first;
            loop {
                let accepted = pipe::accept(&waiting);
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                // The next instance exists before this one is handed on, so the name
                // is never free for another program to take.
                let next = loop {
                    match pipe::create(&at, false) {
                        Ok(next) => break next,
                        Err(_) => std::thread::sleep(Duration::from_millis(100)),
                    }
                };
                let client = std::mem::replace(&mut waiting, next);
                if accepted.is_ok() {
                    let handle = handle.clone();
                    serve_in_turn(&slots, move |slots| serve_pipe(client, &*handle, slots));
                }
            }
        })?;
        Ok(Server { path: path.to_owned(), _claim: claim, stop })
    }
}

#[cfg(windows)]
impl Drop for Server {
    fn drop(&mut self) {
        // Wakes the listening thread, which then lets its instance go.
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = pipe::connect(&self.path, std::time::Instant::now() + TIMEOUT);
    }
}

#[cfg(windows)]
fn serve_pipe(mut client: std::fs::File, handle: &Handler, slots: &Slots) {
    use std::os::windows::io::AsRawHandle;
    let pid = pipe::client_pid(&client);
    if !pid.is_some_and(crate::win::runs_as_me) {
        return;
    }
    let peer = Peer { pid, pipe: client.as_raw_handle() };
    let Ok(line) = pipe::read_line(&mut client, std::time::Instant::now() + TIMEOUT) else { return };
    let Ok(line) = String::from_utf8(line) else { return };
    if let Some(out) = answer_line(&line, &peer, handle, slots) {
        // Closed without DisconnectNamedPipe: the client still reads what was written
        // (no FlushFileBuffers, which would wait without end for a client that never
        // reads).
        let _ = client.write_all(out.as_bytes());
    }
}

/// The Windows named pipe under the channel: one instance per client, open to the user
/// alone, local clients only; each end checks that the other runs as the same user.
#[cfg(windows)]
mod pipe {
    use std::fs::File;
    use std::io::{self, Read};
    use std::os::windows::ffi::OsStrExt;
    use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
    use std::path::Path;
    use std::ptr;
    use std::time::{Duration, Instant};

    use windows_sys::Win32::Foundation::{GetLastError, ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS, GENERIC_READ, GENERIC_WRITE, INVALID_HANDLE_VALUE};
    use windows_sys::Win32::Security::{InitializeSecurityDescriptor, SetSecurityDescriptorDacl, SetSecurityDescriptorOwner, SECURITY_ATTRIBUTES, SECURITY_DESCRIPTOR};
    use windows_sys::Win32::Storage::FileSystem::{
        CreateFileW, FILE_ALL_ACCESS, FILE_FLAG_FIRST_PIPE_INSTANCE, OPEN_EXISTING, PIPE_ACCESS_DUPLEX, SECURITY_IDENTIFICATION,
        SECURITY_SQOS_PRESENT,
    };
    use windows_sys::Win32::System::Pipes::{
        ConnectNamedPipe, CreateNamedPipeW, GetNamedPipeClientProcessId, GetNamedPipeServerProcessId, PeekNamedPipe, WaitNamedPipeW,
        PIPE_READMODE_BYTE, PIPE_REJECT_REMOTE_CLIENTS, PIPE_TYPE_BYTE, PIPE_UNLIMITED_INSTANCES, PIPE_WAIT,
    };
    use windows_sys::Win32::System::Threading::CreateMutexW;

    use super::MAX_MESSAGE;
    use crate::win::check;

    const BUFFER: u32 = MAX_MESSAGE as u32;

    fn wide(path: &Path) -> Vec<u16> {
        path.as_os_str().encode_wide().chain(Some(0)).collect()
    }

    /// A new instance of the pipe, open to the user alone. `first`: the name must be
    /// free (so no other program's pipe is joined).
    pub(super) fn create(path: &Path, first: bool) -> io::Result<File> {
        let user = crate::win::current_user()?;
        let acl = crate::win::acl_for(&user, FILE_ALL_ACCESS)?;
        // SAFETY: SECURITY_DESCRIPTOR is plain data, initialised by the call below.
        let mut sd: SECURITY_DESCRIPTOR = unsafe { std::mem::zeroed() };
        let psd = (&mut sd as *mut SECURITY_DESCRIPTOR).cast();
        // SAFETY: `sd` is a SECURITY_DESCRIPTOR (revision 1).
        check(unsafe { InitializeSecurityDescriptor(psd, 1) })?;
        // SAFETY: `acl` outlives the CreateNamedPipeW call that reads it.
        check(unsafe { SetSecurityDescriptorDacl(psd, 1, acl.as_ptr().cast(), 0) })?;
        // Owned by the user, not by the Administrators group an elevated tray would
        // give it: clients check the owner.
        // SAFETY: `user` (its SID) outlives the call below too.
        check(unsafe { SetSecurityDescriptorOwner(psd, user.sid(), 0) })?;
        let sa = SECURITY_ATTRIBUTES { nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32, lpSecurityDescriptor: psd, bInheritHandle: 0 };
        let open = PIPE_ACCESS_DUPLEX | if first { FILE_FLAG_FIRST_PIPE_INSTANCE } else { 0 };
        let mode = PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS;
        // SAFETY: the name is NUL-terminated and `sa` points at a valid descriptor.
        let h = unsafe { CreateNamedPipeW(wide(path).as_ptr(), open, mode, PIPE_UNLIMITED_INSTANCES, BUFFER, BUFFER, 0, &sa) };
        if h == INVALID_HANDLE_VALUE {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `h` is a new handle that the File now owns.
        Ok(unsafe { File::from_raw_handle(h as RawHandle) })
    }

    /// Claims the pipe's name for this server: a named mutex in the session's namespace,
    /// existing while its handle is open (so until the server goes, or its process).
    /// None if another server has it (or another user made it, whom we cannot open).
    pub(super) fn claim(path: &Path) -> io::Result<Option<OwnedHandle>> {
        let name = path.file_name().ok_or_else(|| io::Error::other("no name for the pipe"))?;
        let name: Vec<u16> = std::ffi::OsStr::new("Local\\").encode_wide().chain(name.encode_wide()).chain(Some(0)).collect();
        // SAFETY: the name is NUL-terminated; default security (the user's).
        let handle = unsafe { CreateMutexW(ptr::null(), 0, name.as_ptr()) };
        // SAFETY: read at once, before any other call can change it.
        let error = unsafe { GetLastError() };
        if handle.is_null() {
            return if error == ERROR_ACCESS_DENIED { Ok(None) } else { Err(io::Error::from_raw_os_error(error as i32)) };
        }
        // SAFETY: a new handle that the OwnedHandle now owns (and closes).
        let handle = unsafe { OwnedHandle::from_raw_handle(handle as RawHandle) };
        Ok((error != ERROR_ALREADY_EXISTS).then_some(handle))
    }

    /// Whether a pipe of this name exists (with an instance free or not), asked without
    /// taking an instance from its server.
    pub(super) fn exists(path: &Path) -> bool {
        // SAFETY: the name is NUL-terminated.
        let free = unsafe { WaitNamedPipeW(wide(path).as_ptr(), 1) } != 0;
        // ERROR_FILE_NOT_FOUND: no such pipe; a timeout means all its instances are busy.
        free || io::Error::last_os_error().raw_os_error() != Some(2)
    }

    /// Waits until a client opens this instance.
    pub(super) fn accept(pipe: &File) -> io::Result<()> {
        // SAFETY: a valid pipe handle; no OVERLAPPED (the call blocks).
        if unsafe { ConnectNamedPipe(pipe.as_raw_handle(), ptr::null_mut()) } != 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        // ERROR_PIPE_CONNECTED: the client came between CreateNamedPipe and this call.
        if e.raw_os_error() == Some(535) {
            Ok(())
        } else {
            Err(e)
        }
    }

    /// The client's process id.
    pub(super) fn client_pid(pipe: &File) -> Option<u32> {
        let mut pid = 0;
        // SAFETY: a valid pipe handle; `pid` is valid for writes.
        (unsafe { GetNamedPipeClientProcessId(pipe.as_raw_handle(), &mut pid) } != 0 && pid != 0).then_some(pid)
    }

    /// Opens the tray's pipe, waiting while all its instances are busy, and checks that
    /// the program at the other end runs as this user (another user's program could have
    /// taken the name first).
    pub(super) fn connect(path: &Path, deadline: Instant) -> io::Result<File> {
        let name = wide(path);
        let pipe = loop {
            // SAFETY: the name is NUL-terminated. Identification only: a server may learn
            // who we are but not act as us.
            let h = unsafe {
                CreateFileW(name.as_ptr(), GENERIC_READ | GENERIC_WRITE, 0, ptr::null(), OPEN_EXISTING, SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, ptr::null_mut())
            };
            if h != INVALID_HANDLE_VALUE {
                // SAFETY: `h` is a new handle that the File now owns.
                break unsafe { File::from_raw_handle(h as RawHandle) };
            }
            let e = io::Error::last_os_error();
            // ERROR_PIPE_BUSY: every instance has a client; one comes free soon.
            if e.raw_os_error() != Some(231) || Instant::now() >= deadline {
                return Err(e);
            }
            // SAFETY: as above.
            unsafe { WaitNamedPipeW(name.as_ptr(), 500) };
        };
        // The pipe must be the user's own (not made by another, then served by whatever
        // process), and served by a process of the user at the user's integrity level.
        let mut pid = 0;
        // SAFETY: a valid pipe handle; `pid` is valid for writes.
        check(unsafe { GetNamedPipeServerProcessId(pipe.as_raw_handle(), &mut pid) })?;
        if !crate::win::owned_by_me(pipe.as_raw_handle()) || !crate::win::runs_as_me(pid) {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("{} is held by a program of another user, not your tray", path.display())));
        }
        Ok(pipe)
    }

    /// The bytes waiting to be read; an error once the other end has hung up.
    pub(super) fn available(pipe: RawHandle) -> io::Result<u32> {
        let mut avail = 0u32;
        // SAFETY: a valid pipe handle; nothing is read, only counted.
        check(unsafe { PeekNamedPipe(pipe, ptr::null_mut(), 0, ptr::null_mut(), &mut avail, ptr::null_mut()) })?;
        Ok(avail)
    }

    /// One line (up to its newline, or all that came before the other end hung up),
    /// by `deadline` and within [`MAX_MESSAGE`] bytes. Polled: a pipe opened for
    /// blocking reads has no timeout of its own.
    pub(super) fn read_line(pipe: &mut File, deadline: Instant) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        let mut buf = [0u8; 4096];
        while !line.contains(&b'\n') {
            // Checked on every pass: a client trickling bytes is cut off like a silent one.
            if Instant::now() >= deadline {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no whole line in time"));
            }
            match available(pipe.as_raw_handle()) {
                Ok(0) => std::thread::sleep(Duration::from_millis(10)),
                Ok(n) => {
                    let n = pipe.read(&mut buf[..(n as usize).min(4096)])?;
                    if n == 0 {
                        break;
                    }
                    line.extend_from_slice(&buf[..n]);
                    if line.len() as u64 > MAX_MESSAGE {
                        return Err(io::Error::new(io::ErrorKind::InvalidData, "message too long"));
                    }
                }
                // ERROR_BROKEN_PIPE, ERROR_NO_DATA, ERROR_PIPE_NOT_CONNECTED: hung up.
                Err(e) if matches!(e.raw_os_error(), Some(109 | 232 | 233)) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::io::BufRead;
    use std::io::Read;
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt;

    /// Where a test's tray listens: a socket in a directory of its own, or a pipe of
    /// its own name. (The directory goes when the first value does.)
    fn place() -> (Option<tempfile::TempDir>, PathBuf) {
        if cfg!(windows) {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            (None, PathBuf::from(format!(r"\\.\pipe\mfa-tray-test-{}-{n}", std::process::id())))
        } else {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("run/mfa-tray/tray.sock");
            (Some(dir), path)
        }
    }

    /// A client's end, for writing raw bytes.
    #[cfg(unix)]
    fn raw(path: &Path) -> std::os::unix::net::UnixStream {
        let stream = std::os::unix::net::UnixStream::connect(path).unwrap();
        // A server that never answers fails the test instead of hanging it.
        stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        stream
    }
    #[cfg(windows)]
    fn raw(path: &Path) -> std::fs::File {
        pipe::connect(path, std::time::Instant::now() + TIMEOUT).unwrap()
    }

    #[test]
    fn a_request_reaches_the_server_and_only_the_user_can_open_it() {
        let (_dir, path) = place();
        let server = Server::start(&path, |req, _| match req {
            Request::Ping => Answer::Ok { message: "pong".into() },
            Request::SaveSettings { toml } => Answer::Error { code: "bad_settings".into(), message: toml, kind: None },
            _ => Answer::Error { code: "unexpected".into(), message: String::new(), kind: None },
        })
        .unwrap();
        assert_eq!(request(&path, &Request::Ping).unwrap(), Answer::Ok { message: "pong".into() });
        let answer = request(&path, &Request::SaveSettings { toml: "x = 1".into() }).unwrap();
        assert_eq!(answer, Answer::Error { code: "bad_settings".into(), message: "x = 1".into(), kind: None });
        #[cfg(unix)]
        {
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        }
        // A second tray cannot take the channel over.
        let err = Server::start(&path, |_, _| Answer::Ok { message: String::new() }).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(request(&path, &Request::Ping).unwrap(), Answer::Ok { message: "pong".into() });
        // Garbage gets a plain refusal, not a hang.
        let mut raw = raw(&path);
        raw.write_all(b"{\"v\":2,\"op\":\"format_disk\"}\n").unwrap();
        let mut text = String::new();
        raw.read_to_string(&mut text).unwrap();
        assert!(text.contains("bad_request"), "{text}");
        // A tool's request of version 1 (no context) is not answered as if it had one.
        let mut raw = super::tests::raw(&path);
        raw.write_all(b"{\"v\":1,\"op\":\"credentials\",\"profile\":\"prod\",\"tool\":\"t\"}\n").unwrap();
        let mut text = String::new();
        raw.read_to_string(&mut text).unwrap();
        assert!(text.contains("this tray speaks version 2 of its channel, not 1; the program asking is older than the tray"), "{text}");
        drop(server);
        // The channel goes with the tray (on Windows once its thread has let go).
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(5) && request(&path, &Request::Ping).is_ok() {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(request(&path, &Request::Ping).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert!(!path.exists(), "the socket goes with the tray");
    }

    #[test]
    fn of_trays_started_at_once_one_listens() {
        let (_dir, path) = place();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let started: Vec<_> = (0..8)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    Server::start(&path, |_, _| Answer::Ok { message: "pong".into() })
                })
            })
            .collect();
        let started: Vec<_> = started.into_iter().map(|t| t.join().unwrap()).collect();
        let listening: Vec<_> = started.iter().filter(|s| s.is_ok()).collect();
        assert_eq!(listening.len(), 1, "{:?}", started.iter().map(|s| s.as_ref().err().map(|e| e.to_string())).collect::<Vec<_>>());
        assert!(started.iter().filter_map(|s| s.as_ref().err()).all(|e| e.kind() == io::ErrorKind::AddrInUse));
        assert_eq!(request(&path, &Request::Ping).unwrap(), Answer::Ok { message: "pong".into() });
    }

    #[test]
    fn the_tray_sees_who_asks_and_when_they_hang_up() {
        let (_dir, path) = place();
        let (tx, rx) = std::sync::mpsc::channel();
        let server = Server::start(&path, move |_, peer| {
            let label = peer.label();
            let start = std::time::Instant::now();
            while !peer.gone() && start.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = tx.send((peer.pid, label, peer.gone()));
            Answer::Ok { message: String::new() }
        })
        .unwrap();
        let mut client = raw(&path);
        client.write_all(b"{\"v\":2,\"op\":\"ping\"}\n").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        drop(client);
        let (pid, label, gone) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(gone, "a client that hung up is seen gone");
        // The peer is this process: it is named by what started it.
        if cfg!(any(target_os = "linux", windows)) {
            assert_eq!(pid, Some(std::process::id()));
            #[cfg(unix)]
            let parent = std::os::unix::process::parent_id();
            #[cfg(windows)]
            let parent = crate::win::process_entry(std::process::id()).unwrap().1;
            assert_eq!(label, process_label(parent));
            // (Under Wine a test started from Linux has no Windows parent: pid 0.)
            if parent != 0 {
                assert!(label.unwrap().ends_with(&format!(" (pid {parent})")));
            }
        }
        drop(server);
    }

    fn tool_request() -> Request {
        let context = Context { config_file: "/c".into(), credentials_file: "/k".into(), settings_file: None, vars: Default::default() };
        Request::Credentials { profile: "prod".into(), tool: "test".into(), context }
    }

    #[test]
    fn clients_beyond_the_caps_wait_their_turn_and_tools_never_shut_out_the_window() {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::Arc;
        let (_dir, path) = place();
        let (waiting, release) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let (w, r) = (waiting.clone(), release.clone());
        // Tools wait (as for a code) until released; everything else is answered at once.
        let server = Server::start(&path, move |req, _| {
            if let Request::Credentials { .. } = req {
                w.fetch_add(1, Ordering::SeqCst);
                let start = std::time::Instant::now();
                while !r.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(60) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                return Answer::Ok { message: "creds".into() };
            }
            Answer::Ok { message: "pong".into() }
        })
        .unwrap();
        let tools: Vec<_> = (0..MAX_TOOLS)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || request_within(&path, &tool_request(), Duration::from_secs(90)))
            })
            .collect();
        let start = std::time::Instant::now();
        while waiting.load(Ordering::SeqCst) < MAX_TOOLS {
            assert!(start.elapsed() < Duration::from_secs(30), "{} of {MAX_TOOLS} tools reached the tray", waiting.load(Ordering::SeqCst));
            std::thread::sleep(Duration::from_millis(20));
        }
        // One tool more is told the tray is busy, and the window still gets through.
        match request(&path, &tool_request()).unwrap() {
            Answer::Error { code, .. } => assert_eq!(code, "busy"),
            other => panic!("{other:?}"),
        }
        assert_eq!(request(&path, &Request::Ping).unwrap(), Answer::Ok { message: "pong".into() });
        // Clients that connect and say nothing fill the remaining places...
        let idle: Vec<_> = (0..MAX_CONNECTIONS - MAX_TOOLS).map(|_| raw(&path)).collect();
        std::thread::sleep(Duration::from_millis(300));
        // ... so a request beyond the cap waits its turn instead of being closed unanswered,
        let queued = {
            let path = path.clone();
            std::thread::spawn(move || request(&path, &Request::Ping))
        };
        std::thread::sleep(Duration::from_millis(500));
        assert!(!queued.is_finished(), "served beyond the cap");
        // ... and is answered once a place is free.
        drop(idle);
        assert_eq!(queued.join().unwrap().unwrap(), Answer::Ok { message: "pong".into() });
        release.store(true, Ordering::SeqCst);
        for tool in tools {
            assert_eq!(tool.join().unwrap().unwrap(), Answer::Ok { message: "creds".into() });
        }
        drop(server);
    }

    #[cfg(unix)]
    #[test]
    fn the_runtime_directory_is_found_without_xdg_runtime_dir_only_when_it_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let me = crate::file::euid();
        assert_eq!(user_runtime_dir(base.path(), me), None, "none there");
        let dir = base.path().join(me.to_string());
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(user_runtime_dir(base.path(), me), None, "open to others");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(user_runtime_dir(base.path(), me), Some(dir.clone()));
        assert_eq!(user_runtime_dir(base.path(), me + 1), None, "another user's number");
        // A link is not the directory systemd makes.
        let other = base.path().join("x");
        std::fs::rename(&dir, &other).unwrap();
        std::os::unix::fs::symlink(&other, &dir).unwrap();
        assert_eq!(user_runtime_dir(base.path(), me), None);
        // With the variable, the variable.
        let env = crate::env::FakeEnvironment { vars: [("XDG_RUNTIME_DIR".to_owned(), "/r".to_owned())].into(), home: None };
        assert_eq!(socket_path(&env), Some(PathBuf::from("/r/mfa-tray/tray.sock")));
    }

    /// As root: a socket in the user's own directory, listened on by a program of
    /// another user (root bound it, then handed it on), is not talked to.
    #[cfg(unix)]
    #[test]
    fn the_client_refuses_a_tray_of_another_user() {
        if crate::file::euid() != 0 {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let sock = dir.path().join("tray.sock");
        let script = "import os, socket, sys\n\
s = socket.socket(socket.AF_UNIX)\n\
s.bind(sys.argv[1])\n\
os.setgid(65534); os.setuid(65534)\n\
s.listen()\n\
print('ready', flush=True)\n\
c, _ = s.accept()\n\
c.recv(4096)\n\
c.sendall(b'{\"v\":2,\"result\":\"ok\",\"message\":\"pong\"}\\n')\n";
        let mut server = std::process::Command::new("python3").arg("-c").arg(script).arg(&sock).stdout(std::process::Stdio::piped()).spawn().unwrap();
        let mut ready = String::new();
        std::io::BufReader::new(server.stdout.take().unwrap()).read_line(&mut ready).unwrap();
        assert_eq!(ready.trim(), "ready");
        let err = request(&sock, &Request::Ping).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
        assert!(err.to_string().contains("another user"), "{err}");
        let _ = server.kill();
        let _ = server.wait();
    }

    #[cfg(windows)]
    #[test]
    fn each_user_session_and_settings_directory_has_a_pipe_of_its_own() {
        let env = |dir: &str| crate::env::FakeEnvironment { vars: [(crate::settings::CONFIG_DIR_VAR.to_owned(), dir.to_owned())].into(), home: None };
        let sid = crate::win::current_user().unwrap().sid_string().unwrap();
        let one = socket_path(&env(r"C:\Users\a\AppData\Roaming\mfa-tray")).unwrap();
        let session = crate::win::session_id();
        assert!(one.to_str().unwrap().starts_with(&format!(r"\\.\pipe\mfa-tray-{sid}-{session}-")), "{}", one.display());
        assert!(sid.starts_with("S-1-"), "{sid}");
        // Windows folds case in paths: one directory, one pipe.
        assert_eq!(socket_path(&env(r"c:\users\A\appdata\roaming\MFA-TRAY")).unwrap(), one);
        assert_ne!(socket_path(&env(r"C:\Users\a\elsewhere")).unwrap(), one);
    }

    #[cfg(unix)]
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
