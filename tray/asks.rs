//! An adapter over the state: what the tray holds for tools that ask it for credentials
//! (`credential_process`): the credentials it keeps for them in memory (never in a
//! file), and the tools waiting for a code. (The channel's handlers, in `answers`, use
//! it.)
//! A request that needs a code waits here until the window gives one, an MFA session
//! appears in the file (a login meanwhile), the window that showed the ask is closed or
//! its Cancel pressed, the tool hangs up, or the time is up. Tools waiting on one
//! account share one code.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use mfa_tray_core::channel::Ask;
use mfa_tray_core::credentials::TempCredentials;
use mfa_tray_core::engine::{CodeNeeded, Memory};
use mfa_tray_core::Error;

use crate::state::lock;

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
pub struct Flight {
    failed: Option<(Instant, Error)>,
}

impl Flight {
    /// The failure of a call that ended after `since` (while the caller waited).
    pub fn failed_since(&self, since: Instant) -> Option<Error> {
        self.failed.as_ref().filter(|(at, _)| *at > since).map(|(_, e)| e.clone())
    }

    /// Records how a call ended.
    pub fn ended<T>(&mut self, result: &Result<T, Error>) {
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

pub type Vars = std::collections::BTreeMap<String, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A code was given, or a session appeared: ask the engine again.
    Given,
    /// The window's Cancel.
    Cancelled,
    /// The window that showed it was closed.
    Closed,
}

/// How a wait for a code ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    Settled(Outcome),
    TimedOut,
    ToolGone,
}

/// What a waiting request finds when it looks around.
pub enum Check {
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
    pub fn given(&self, account: &str) {
        self.settle(|o| o.ask.account == account, Outcome::Given);
    }

    /// The code of the ask whose session is kept under `session_key` arrived: its
    /// tools go on.
    pub fn given_for(&self, session_key: &str) {
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
    pub fn first_ask(&self, account: &str) -> Option<(Vars, String)> {
        lock(&self.inner).open.iter().find(|o| o.outcome.is_none() && o.ask.account == account).map(|o| (o.vars.clone(), o.session_key.clone()))
    }

    pub fn memory(&self) -> Memory {
        lock(&self.inner).memory.clone()
    }

    pub fn remember(&self, key: &str, creds: &TempCredentials) {
        let mut inner = lock(&self.inner);
        let now = time::OffsetDateTime::now_utc();
        inner.memory.retain(|_, c| c.expiration > now);
        inner.memory.insert(key.to_owned(), creds.clone());
    }

    pub fn gate(&self, key: &str) -> Arc<Mutex<Flight>> {
        let mut gates = lock(&self.gates);
        // Gates nobody holds or waits for go (the map holds the only reference).
        gates.retain(|_, g| Arc::strong_count(g) > 1);
        gates.entry(key.to_owned()).or_default().clone()
    }

    /// Waits for a code for `need`, asked by `tool`; `raise` shows the window when this
    /// is a new ask; `check` is asked every [`RECHECK`] (without the lock).
    pub fn wait(&self, need: &CodeNeeded, vars: &Vars, tool: &str, timeout: Duration, raise: impl FnOnce(), check: impl Fn() -> Check) -> Waited {
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
