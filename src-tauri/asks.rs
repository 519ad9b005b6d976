//! Tools that ask the tray for credentials (`credential_process`): the credentials the
//! tray keeps for them in memory (never in a file), and the tools waiting for a code.
//! A request that needs a code waits here until the window gives one, an MFA session
//! appears in the file (a login meanwhile), the window that showed the ask is closed or
//! its Cancel pressed, the tool hangs up, or the time is up. Tools waiting on one
//! account share one code.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use mfa_tray_core::channel::{self, Answer, Ask, Peer, MAX_WAITING};
use mfa_tray_core::credentials::{format_time, TempCredentials};
use mfa_tray_core::engine::{CodeNeeded, ForTool, Memory, TOOL_MARGIN};
use mfa_tray_core::env::OsEnvironment;
use mfa_tray_core::types::MfaCode;
use mfa_tray_core::{Error, ErrorKind};
use tauri::{AppHandle, Manager, Runtime};

use crate::state::{lock, AppState};
use crate::window;

/// How often a waiting request looks whether its tool is still there and whether an
/// MFA session appeared some other way.
const RECHECK: Duration = Duration::from_secs(1);

/// The tools waiting, and the credentials kept for tools.
#[derive(Default)]
pub struct Asks {
    inner: Mutex<Inner>,
    changed: Condvar,
    /// One `mfa_process` run per account at a time (AWS takes each code once).
    gates: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

#[derive(Default)]
struct Inner {
    /// Credentials kept for tools, by profile.
    memory: Memory,
    /// Accounts whose code is awaited, in the order asked.
    open: Vec<Open>,
    /// Numbers asks and waiters.
    next: u64,
}

struct Open {
    id: u64,
    ask: Ask,
    /// Whether a window has shown it (a window closed after that is a "no").
    shown: bool,
    /// Set when the code arrives or no code will come; waiters watch it.
    outcome: Option<Outcome>,
    /// The requests waiting on it, with their tools (as in `ask.tools`).
    waiters: Vec<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// A code was given, or a session appeared: ask the engine again.
    Given,
    /// The window's Cancel.
    Cancelled,
    /// The window that showed it was closed.
    Closed,
}

/// How a wait for a code ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waited {
    Settled(Outcome),
    TimedOut,
    ToolGone,
    TooMany,
}

/// What a waiting request finds when it looks around.
enum Check {
    Wait,
    /// An MFA session appeared some other way.
    Ready,
    /// The tool hung up.
    Gone,
}

impl Asks {
    /// What tools wait for; `shown` marks them as shown by a window.
    pub fn list(&self, shown: bool) -> Vec<Ask> {
        let mut inner = lock(&self.inner);
        let open = inner.open.iter_mut().filter(|o| o.outcome.is_none());
        open.map(|o| {
            o.shown |= shown;
            o.ask.clone()
        })
        .collect()
    }

    /// No code will come for `account` (for any with `None`): its tools are told.
    pub fn cancel(&self, account: Option<&str>) -> usize {
        self.settle(|o| account.is_none_or(|a| a == o.ask.account), Outcome::Cancelled)
    }

    /// The window closed: no code will come for what it showed. Returns whether asks
    /// it never showed (come after its last look) still wait, for a window of their own.
    pub fn window_closed(&self) -> bool {
        self.settle(|o| o.shown, Outcome::Closed);
        !self.list(false).is_empty()
    }

    /// The code for `account` arrived (its session is in memory): its tools go on.
    fn given(&self, account: &str) {
        self.settle(|o| o.ask.account == account, Outcome::Given);
    }

    fn settle(&self, which: impl Fn(&Open) -> bool, outcome: Outcome) -> usize {
        let mut inner = lock(&self.inner);
        let mut n = 0;
        for o in inner.open.iter_mut().filter(|o| o.outcome.is_none() && which(o)) {
            o.outcome = Some(outcome);
            n += 1;
        }
        self.changed.notify_all();
        n
    }

    fn memory(&self) -> Memory {
        lock(&self.inner).memory.clone()
    }

    fn remember(&self, profile: &str, creds: &TempCredentials) {
        let mut inner = lock(&self.inner);
        let now = time::OffsetDateTime::now_utc();
        inner.memory.retain(|_, c| c.expiration > now);
        inner.memory.insert(profile.to_owned(), creds.clone());
    }

    fn gate(&self, account: &str) -> Arc<Mutex<()>> {
        lock(&self.gates).entry(account.to_owned()).or_default().clone()
    }

    /// Waits for a code for `need`, asked by `tool`; `raise` shows the window when this
    /// is a new ask; `check` is asked every [`RECHECK`] (without the lock).
    fn wait(&self, need: &CodeNeeded, tool: &str, timeout: Duration, raise: impl FnOnce(), check: impl Fn() -> Check) -> Waited {
        let mut inner = lock(&self.inner);
        if inner.open.iter().map(|o| o.waiters.len()).sum::<usize>() >= MAX_WAITING {
            return Waited::TooMany;
        }
        inner.next += 2;
        let me = inner.next;
        let (open_id, new) = match inner.open.iter_mut().find(|o| o.outcome.is_none() && o.ask.account == need.account) {
            Some(o) => (o.id, false),
            None => {
                let ask = Ask { account: need.account.clone(), mfa_serial: need.mfa_serial.clone(), profiles: vec![], tools: vec![] };
                inner.open.push(Open { id: me + 1, ask, shown: false, outcome: None, waiters: vec![] });
                (me + 1, true)
            }
        };
        let open = inner.open.iter_mut().find(|o| o.id == open_id).expect("just found or made");
        open.waiters.push(me);
        open.ask.tools.push(tool.to_owned());
        if !open.ask.profiles.contains(&need.profile) {
            open.ask.profiles.push(need.profile.clone());
        }
        drop(inner);
        if new {
            raise();
        }
        let deadline = Instant::now() + timeout;
        let result = loop {
            let inner = lock(&self.inner);
            match inner.open.iter().find(|o| o.id == open_id).map(|o| o.outcome) {
                None => break Waited::Settled(Outcome::Cancelled),
                Some(Some(outcome)) => break Waited::Settled(outcome),
                Some(None) => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Waited::TimedOut;
            }
            drop(self.changed.wait_timeout(inner, left.min(RECHECK)).unwrap_or_else(|e| e.into_inner()));
            match check() {
                Check::Wait => {}
                Check::Gone => break Waited::ToolGone,
                Check::Ready => {
                    self.given(&need.account);
                    break Waited::Settled(Outcome::Given);
                }
            }
        };
        let mut inner = lock(&self.inner);
        if let Some(open) = inner.open.iter_mut().find(|o| o.id == open_id) {
            if let Some(i) = open.waiters.iter().position(|w| *w == me) {
                open.waiters.remove(i);
                open.ask.tools.remove(i);
            }
        }
        // An ask nobody waits for any more goes (the window then closes).
        inner.open.retain(|o| !o.waiters.is_empty());
        self.changed.notify_all();
        result
    }
}

/// Answers a tool's request for `profile`'s credentials (on a channel thread; it may
/// wait for a code). The tool is named by what started the asking process, as the tray
/// finds it; the client's own word only where the system does not say.
pub fn credentials<R: Runtime>(app: &AppHandle<R>, profile: &str, tool: &str, peer: &Peer) -> Answer {
    let state = app.state::<AppState>();
    let tool = peer.label().unwrap_or_else(|| tool.chars().filter(|c| c.is_alphanumeric() || " ._-+@:()".contains(*c)).take(80).collect());
    let timeout = channel::ask_timeout(&OsEnvironment);
    // Ready at once, or after one code.
    for _ in 0..2 {
        let engine = state.engine();
        let need = match tauri::async_runtime::block_on(engine.for_tool(profile, &state.asks.memory())) {
            Ok(ForTool::Ready(creds)) => {
                state.asks.remember(profile, &creds);
                return Answer::Credentials {
                    access_key_id: creds.access_key_id.clone(),
                    secret_access_key: creds.secret_access_key.clone(),
                    session_token: creds.session_token.clone(),
                    expiration: format_time(creds.expiration),
                };
            }
            Ok(ForTool::NeedCode(need)) => need,
            Err(e) => return e.into(),
        };
        if let Some(command) = &need.mfa_process {
            // The profile's command gives the code: nobody is asked. One run per account
            // at a time; a request that waited for another's finds its session.
            let gate = state.asks.gate(&need.account);
            let _one = lock(&gate);
            let now = time::OffsetDateTime::now_utc();
            if !state.asks.memory().get(&need.account).is_some_and(|c| c.expiration - now > TOOL_MARGIN) {
                let got = mfa_tray_core::mfa_process::code(&need.account, command).and_then(|code| session(app, &need.account, &code));
                if let Err(e) = got {
                    return e.into();
                }
            }
            continue;
        }
        let account = need.account.clone();
        let check = || {
            if peer.gone() {
                Check::Gone
            } else if engine.snapshot().is_ok_and(|s| s.valid_session(&account, TOOL_MARGIN).is_some()) {
                Check::Ready
            } else {
                Check::Wait
            }
        };
        let no = |code: &'static str, message: String| Answer::from(Error::new(ErrorKind::BadInput, code, message));
        match state.asks.wait(&need, &tool, timeout, || window::open_for_asks(app), check) {
            Waited::Settled(Outcome::Given) => continue,
            Waited::Settled(Outcome::Cancelled) => return no("cancelled", format!("{tool} asked for {profile}, and the MFA code was cancelled in mfa-tray's window")),
            Waited::Settled(Outcome::Closed) => return no("cancelled", format!("{tool} asked for {profile}, and mfa-tray's window was closed without a code")),
            Waited::TimedOut => {
                return no("ask_timeout", format!("{tool} asked for {profile}, and no MFA code for {} was typed within {} s (MFA_TRAY_ASK_TIMEOUT)", need.account, timeout.as_secs()))
            }
            Waited::ToolGone => return no("gone", "the tool stopped waiting".to_owned()),
            Waited::TooMany => return no("busy", format!("{MAX_WAITING} tools already wait for an MFA code; try again once one is typed")),
        }
    }
    Error::new(ErrorKind::AwsRefused, "code_required", format!("{profile} still needs an MFA code after one was given; try again")).into()
}

/// A code for `account` from the window: its MFA session goes to memory (never to a
/// file) and the tools waiting on it go on. A wrong code leaves them waiting.
pub fn give_code<R: Runtime>(app: &AppHandle<R>, account: &str, code: &str) -> Answer {
    let state = app.state::<AppState>();
    if !state.asks.list(false).iter().any(|a| a.account == account) {
        return Error::bad_input("no_ask", format!("no tool waits for a code for {account} any more")).into();
    }
    let code: MfaCode = match code.parse() {
        Ok(code) => code,
        Err(e) => return Error::bad_input("bad_code", format!("{e}")).into(),
    };
    match session(app, account, &code) {
        Ok(()) => {
            state.asks.given(account);
            Answer::Ok { message: format!("Code accepted for {account}: the tools that asked have their credentials.") }
        }
        Err(e) => e.into(),
    }
}

fn session<R: Runtime>(app: &AppHandle<R>, account: &str, code: &MfaCode) -> Result<(), Error> {
    let state = app.state::<AppState>();
    let creds = tauri::async_runtime::block_on(state.engine().session_for_tools(account, code))?;
    state.asks.remember(account, &creds);
    Ok(())
}
