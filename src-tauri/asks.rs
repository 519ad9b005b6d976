//! Tools that ask the tray for credentials (`credential_process`): the credentials the
//! tray keeps for them in memory (never in a file), and the tools waiting for a code.
//! A request that needs a code waits here until the window gives one, an MFA session
//! appears in the file (a login meanwhile), the window that showed the ask is closed or
//! its Cancel pressed, the tool hangs up, or the time is up. Tools waiting on one
//! account share one code.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use mfa_tray_core::channel::{self, Answer, Ask, Context, Peer};
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
    /// One `mfa_process` run per account at a time (AWS takes each code once), and one
    /// engine call per profile and context (one AssumeRole however many tools ask).
    gates: Mutex<HashMap<String, Arc<Mutex<Flight>>>>,
}

/// What went through a gate last: a failure is shared with those who waited for it
/// (forty tools behind an unreachable STS or a YubiKey nobody touches fail together,
/// not one after another).
#[derive(Default)]
struct Flight {
    failed: Option<(Instant, Error)>,
}

impl Flight {
    /// The failure of a call that ended after `since` (while the caller waited).
    fn failed_since(&self, since: Instant) -> Option<Error> {
        self.failed.as_ref().filter(|(at, _)| *at > since).map(|(_, e)| e.clone())
    }

    /// Records how a call ended.
    fn ended<T>(&mut self, result: &Result<T, Error>) {
        self.failed = result.as_ref().err().map(|e| (Instant::now(), e.clone()));
    }
}

#[derive(Default)]
struct Inner {
    /// Credentials kept for tools, by what defines them.
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
    /// The region and endpoint variables of the tool that asked first: the code's MFA
    /// session is made with them.
    vars: Vars,
    /// The key of the MFA session the code makes ([`CodeNeeded::session_key`]): tools
    /// whose session would work elsewhere (another partition, another STS endpoint) wait
    /// on an ask of their own.
    session_key: String,
}

type Vars = std::collections::BTreeMap<String, String>;

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

    /// An MFA session for `account` appeared in the file: its tools look again.
    fn given(&self, account: &str) {
        self.settle(|o| o.ask.account == account, Outcome::Given);
    }

    /// The code of the ask whose session is kept under `session_key` arrived: its
    /// tools go on.
    fn given_for(&self, session_key: &str) {
        self.settle(|o| o.session_key == session_key, Outcome::Given);
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

    /// The endpoint variables and session key of the first open ask for `account`: a
    /// code typed for the account answers that one.
    fn first_ask(&self, account: &str) -> Option<(Vars, String)> {
        lock(&self.inner).open.iter().find(|o| o.outcome.is_none() && o.ask.account == account).map(|o| (o.vars.clone(), o.session_key.clone()))
    }

    fn memory(&self) -> Memory {
        lock(&self.inner).memory.clone()
    }

    fn remember(&self, key: &str, creds: &TempCredentials) {
        let mut inner = lock(&self.inner);
        let now = time::OffsetDateTime::now_utc();
        inner.memory.retain(|_, c| c.expiration > now);
        inner.memory.insert(key.to_owned(), creds.clone());
    }

    fn gate(&self, key: &str) -> Arc<Mutex<Flight>> {
        let mut gates = lock(&self.gates);
        // Gates nobody holds or waits for go (the map holds the only reference).
        gates.retain(|_, g| Arc::strong_count(g) > 1);
        gates.entry(key.to_owned()).or_default().clone()
    }

    /// Waits for a code for `need`, asked by `tool`; `raise` shows the window when this
    /// is a new ask; `check` is asked every [`RECHECK`] (without the lock).
    fn wait(&self, need: &CodeNeeded, vars: &Vars, tool: &str, timeout: Duration, raise: impl FnOnce(), check: impl Fn() -> Check) -> Waited {
        let mut inner = lock(&self.inner);
        inner.next += 2;
        let me = inner.next;
        let (open_id, new) = match inner.open.iter_mut().find(|o| o.outcome.is_none() && o.session_key == need.session_key) {
            Some(o) => (o.id, false),
            None => {
                let ask = Ask { account: need.account.clone(), mfa_serial: need.mfa_serial.clone(), profiles: vec![], tools: vec![] };
                inner.open.push(Open { id: me + 1, ask, shown: false, outcome: None, waiters: vec![], vars: vars.clone(), session_key: need.session_key.clone() });
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
/// wait for a code), for the files and variables the tool resolved (`context`): only for
/// the tray's own files (else the tool answers on its own), with the tool's region and
/// endpoints. The tool is named by what started the asking process, as the tray finds
/// it; the client's own word only where the system does not say.
pub fn credentials<R: Runtime>(app: &AppHandle<R>, profile: &str, tool: &str, context: &Context, peer: &Peer) -> Answer {
    let state = app.state::<AppState>();
    let tool = peer.label().unwrap_or_else(|| tool.chars().filter(|c| c.is_alphanumeric() || " ._-+@:()".contains(*c)).take(80).collect());
    let timeout = channel::ask_timeout(&OsEnvironment);
    let differ = Context::of(&OsEnvironment, &state.engine().files).other_files(context);
    if !differ.is_empty() {
        let message = format!("the tray answers for other files than {tool} reads: {}", differ.join("; "));
        return Error::new(ErrorKind::BadInput, "other_files", message).into();
    }
    // One engine call at a time per profile and context: tools asking at once for a role
    // not in memory make one AssumeRole, and the others find its result.
    let gate_key = format!("tool\0{profile}\0{}", serde_json::to_string(&context.vars).unwrap_or_default());
    // Ready at once, or after one code.
    for _ in 0..2 {
        let engine = state.engine().with_endpoint_vars(context.vars.clone());
        let ready = {
            let (gate, since) = (state.asks.gate(&gate_key), Instant::now());
            let mut flight = lock(&gate);
            if let Some(e) = flight.failed_since(since) {
                return e.into();
            }
            let result = tauri::async_runtime::block_on(engine.for_tool(profile, &state.asks.memory()));
            flight.ended(&result);
            match result {
                Ok(ForTool::Ready { creds, key }) => {
                    state.asks.remember(&key, &creds);
                    Ok(creds)
                }
                Ok(ForTool::NeedCode(need)) => Err(need),
                Ok(ForTool::NeedSignIn(need)) => {
                    drop(flight);
                    // One browser sign-in however many tools wait on the session; a tool
                    // that waited for another's finds the token it got.
                    if let Err(e) = sign_in(app, &engine, &need.session) {
                        return e.into();
                    }
                    continue;
                }
                Err(e) => return e.into(),
            }
        };
        let need = match ready {
            Ok(creds) => {
                return Answer::Credentials {
                    access_key_id: creds.access_key_id.clone(),
                    secret_access_key: creds.secret_access_key.clone(),
                    session_token: creds.session_token.clone(),
                    expiration: format_time(creds.expiration),
                }
            }
            Err(need) => need,
        };
        if let Some(command) = &need.mfa_process {
            // The profile's command gives the code: nobody is asked. One run per account
            // at a time; a request that waited for another's finds its session.
            let (gate, since) = (state.asks.gate(&format!("code\0{}", need.session_key)), Instant::now());
            let mut flight = lock(&gate);
            if let Some(e) = flight.failed_since(since) {
                return e.into();
            }
            let now = time::OffsetDateTime::now_utc();
            if state.asks.memory().get(&need.session_key).is_none_or(|c| c.expiration - now <= TOOL_MARGIN) {
                let got = mfa_tray_core::mfa_process::code(&need.account, command, &need.mfa_serial, &engine.files.credentials).and_then(|code| session(app, &engine, &need.account, &code));
                flight.ended(&got);
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
        match state.asks.wait(&need, &context.vars, &tool, timeout, || window::open_for_asks(app), check) {
            Waited::Settled(Outcome::Given) => continue,
            Waited::Settled(Outcome::Cancelled) => return no("cancelled", format!("{tool} asked for {profile}, and the MFA code was cancelled in mfa-tray's window")),
            Waited::Settled(Outcome::Closed) => return no("cancelled", format!("{tool} asked for {profile}, and mfa-tray's window was closed without a code")),
            Waited::TimedOut => {
                return no("ask_timeout", format!("{tool} asked for {profile}, and no MFA code for {} was typed within {} s (MFA_TRAY_ASK_TIMEOUT)", need.account, timeout.as_secs()))
            }
            Waited::ToolGone => return no("gone", "the tool stopped waiting".to_owned()),
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
    // The session is made with the endpoint variables of the tools that asked first.
    let Some((vars, session_key)) = state.asks.first_ask(account) else {
        return Error::bad_input("no_ask", format!("no tool waits for a code for {account} any more")).into();
    };
    match session(app, &state.engine().with_endpoint_vars(vars), account, &code) {
        Ok(()) => {
            state.asks.given_for(&session_key);
            Answer::Ok { message: format!("Code accepted for {account}: the tools that asked have their credentials.") }
        }
        Err(e) => e.into(),
    }
}

/// Signs in to Identity Center session `session` in the browser, for the tools that wait
/// on it: one sign-in at a time per session, and none if the session's token is good
/// again by the time it is this request's turn (another's sign-in, or `mfa-tray sso
/// login`). A failed sign-in is every waiting tool's answer.
fn sign_in<R: Runtime>(app: &AppHandle<R>, engine: &mfa_tray_core::Engine, session: &str) -> Result<(), Error> {
    let state = app.state::<AppState>();
    let (gate, since) = (state.asks.gate(&format!("signin\0{session}")), Instant::now());
    let mut flight = lock(&gate);
    if let Some(e) = flight.failed_since(since) {
        return Err(e);
    }
    let signed_in = engine.snapshot().ok().is_some_and(|snap| {
        engine.sso_states(&snap).iter().any(|s| s.session.name == session && s.expires.is_some_and(|e| e - snap.now > TOOL_MARGIN))
    });
    if signed_in {
        return Ok(());
    }
    let result = tauri::async_runtime::block_on(engine.sso_login(session, mfa_tray_core::sso::Flow::Pkce, &|_| {})).map(drop);
    flight.ended(&result);
    result
}

fn session<R: Runtime>(app: &AppHandle<R>, engine: &mfa_tray_core::Engine, account: &str, code: &MfaCode) -> Result<(), Error> {
    let state = app.state::<AppState>();
    let (creds, key) = tauri::async_runtime::block_on(engine.session_for_tools(account, code))?;
    state.asks.remember(&key, &creds);
    Ok(())
}
