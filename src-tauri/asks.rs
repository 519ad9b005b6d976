//! Tools that ask the tray for credentials (`credential_process`): the credentials the
//! tray keeps for them in memory (never in a file), and the tools waiting for a code.
//! A request that needs a code waits here until the window gives one, the window is
//! closed or cancelled, or the time is up; tools waiting on one account share one code.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use mfa_tray_core::channel::{self, Answer, Ask, MAX_WAITING};
use mfa_tray_core::credentials::{format_time, TempCredentials};
use mfa_tray_core::engine::{CodeNeeded, ForTool, Memory};
use mfa_tray_core::env::OsEnvironment;
use mfa_tray_core::types::MfaCode;
use mfa_tray_core::{Error, ErrorKind};
use tauri::{AppHandle, Manager, Runtime};

use crate::state::{lock, AppState};
use crate::window;

/// The tools waiting, and the credentials kept for tools.
#[derive(Default)]
pub struct Asks {
    inner: Mutex<Inner>,
    changed: Condvar,
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
    /// When the first tool asked.
    since: Instant,
    ask: Ask,
    /// Set when the code arrives or no code will come; waiters watch it.
    outcome: Option<Outcome>,
    /// The requests waiting on it, with their tools (as in `ask.tools`).
    waiters: Vec<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Given,
    Cancelled,
}

/// How a wait for a code ended.
#[derive(Debug, PartialEq, Eq)]
enum Waited {
    Given,
    Cancelled,
    TimedOut,
    TooMany,
}

impl Asks {
    /// What tools wait for, for the window.
    pub fn list(&self) -> Vec<Ask> {
        lock(&self.inner).open.iter().filter(|o| o.outcome.is_none()).map(|o| o.ask.clone()).collect()
    }

    /// No code will come for `account` (for any with `None`): its tools are told.
    pub fn cancel(&self, account: Option<&str>) -> usize {
        self.settle(account, Outcome::Cancelled, Duration::ZERO)
    }

    /// The code window closed: no code will come for what it showed. An ask younger
    /// than `age` may have come after its last look (it closes by itself once nothing
    /// waits) and stays open; `true` if any does.
    pub fn window_closed(&self, age: Duration) -> bool {
        self.settle(None, Outcome::Cancelled, age);
        !self.list().is_empty()
    }

    /// The code for `account` arrived (its session is in memory): its tools go on.
    fn given(&self, account: &str) {
        self.settle(Some(account), Outcome::Given, Duration::ZERO);
    }

    fn settle(&self, account: Option<&str>, outcome: Outcome, min_age: Duration) -> usize {
        let mut inner = lock(&self.inner);
        let mut n = 0;
        let settles = |o: &Open| o.outcome.is_none() && account.is_none_or(|a| a == o.ask.account) && o.since.elapsed() >= min_age;
        for o in inner.open.iter_mut().filter(|o| settles(o)) {
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

    /// Waits for a code for `need`, asked by `tool`; `raise` shows the window when this
    /// is a new ask.
    fn wait(&self, need: &CodeNeeded, tool: &str, timeout: Duration, raise: impl FnOnce()) -> Waited {
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
                inner.open.push(Open { id: me + 1, since: Instant::now(), ask, outcome: None, waiters: vec![] });
                (me + 1, true)
            }
        };
        let open = inner.open.iter_mut().find(|o| o.id == open_id).expect("just found or made");
        open.waiters.push(me);
        open.ask.tools.push(tool.to_owned());
        if !open.ask.profiles.contains(&need.profile) {
            open.ask.profiles.push(need.profile.clone());
        }
        if new {
            drop(inner);
            raise();
            inner = lock(&self.inner);
        }
        let deadline = Instant::now() + timeout;
        let result = loop {
            let Some(open) = inner.open.iter().find(|o| o.id == open_id) else { break Waited::Cancelled };
            match open.outcome {
                Some(Outcome::Given) => break Waited::Given,
                Some(Outcome::Cancelled) => break Waited::Cancelled,
                None => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Waited::TimedOut;
            }
            inner = self.changed.wait_timeout(inner, left).unwrap_or_else(|e| e.into_inner()).0;
        };
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
/// wait for a code).
pub fn credentials<R: Runtime>(app: &AppHandle<R>, profile: &str, tool: &str) -> Answer {
    let state = app.state::<AppState>();
    let tool: String = tool.chars().filter(|c| !c.is_control()).take(80).collect();
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
            // The profile's command gives the code: nobody is asked.
            match mfa_tray_core::mfa_process::code(&need.account, command).and_then(|code| session(app, &need.account, &code)) {
                Ok(()) => continue,
                Err(e) => return e.into(),
            }
        }
        let failed = |code: &'static str, message: String| Answer::from(Error::new(ErrorKind::AwsRefused, code, message));
        match state.asks.wait(&need, &tool, timeout, || window::open_for_asks(app)) {
            Waited::Given => continue,
            Waited::Cancelled => return failed("cancelled", format!("{tool} asked for {profile}, and the MFA code window was closed without a code")),
            Waited::TimedOut => {
                return failed("ask_timeout", format!("{tool} asked for {profile}, and no MFA code for {} was typed within {} s (MFA_TRAY_ASK_TIMEOUT)", need.account, timeout.as_secs()))
            }
            Waited::TooMany => return failed("busy", format!("more than {MAX_WAITING} tools already wait for an MFA code; try again once one is typed")),
        }
    }
    Error::new(ErrorKind::AwsRefused, "code_required", format!("{profile} still needs an MFA code after one was given; try again")).into()
}

/// A code for `account` from the window: its MFA session goes to memory (never to a
/// file) and the tools waiting on it go on. A wrong code leaves them waiting.
pub fn give_code<R: Runtime>(app: &AppHandle<R>, account: &str, code: &str) -> Answer {
    let state = app.state::<AppState>();
    if !state.asks.list().iter().any(|a| a.account == account) {
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
