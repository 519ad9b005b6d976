//! The top layer: the tray's answers on the local channel (a Unix socket, a named pipe
//! on Windows). The window hands settings and codes to the tray there, a second launch
//! asks it to show the window, and tools ask it for credentials. Each request is
//! answered on a thread of its own, and may wait (for a code, a sign-in).

use std::sync::Arc;
use std::time::Instant;

use mfa_tray_core::channel::{self, Answer, Context, Peer, Request};
use mfa_tray_core::credentials::format_time;
use mfa_tray_core::engine::{ForTool, TOOL_MARGIN};
use mfa_tray_core::env::OsEnvironment;
use mfa_tray_core::types::MfaCode;
use mfa_tray_core::{Error, ErrorKind};

use crate::app::App;
use crate::asks::{Check, Outcome, Waited};
use crate::state::{lock, Action, Event};

/// Answers one request.
pub fn answer(app: &Arc<App>, request: Request, peer: &Peer) -> Answer {
    match request {
        Request::Ping => Answer::Ok { message: format!("mfa-tray {}", env!("CARGO_PKG_VERSION")) },
        // Another launch of the tray: it shows the window and ends.
        Request::Show => {
            (app.sink)(Event::Do(Action::Launched));
            Answer::Ok { message: "The tray shows its window.".into() }
        }
        // Applying wakes the background loop, which updates the menu if what it shows
        // changed (the target profile's role, say).
        Request::SaveSettings { toml } => match app.state.apply(&toml) {
            Ok(_) => Answer::Ok { message: "Saved. The tray uses them now.".into() },
            Err(e) => Answer::from(e),
        },
        Request::Credentials { profile, tool, context } => credentials(app, &profile, &tool, &context, peer),
        Request::Asks => Answer::Asks { asks: app.asks.list(true) },
        Request::GiveCode { account, code } => give_code(app, &account, &code),
        Request::Cancel { account } => {
            let n = app.asks.cancel(account.as_deref());
            Answer::Ok { message: format!("{n} cancelled") }
        }
    }
}

/// Answers a tool's request for `profile`'s credentials (on a channel thread; it may
/// wait for a code), for the files and variables the tool resolved (`context`): only for
/// the tray's own files (else the tool answers on its own), with the tool's region and
/// endpoints. The tool is named by what started the asking process, as the tray finds
/// it; the client's own word only where the system does not say.
fn credentials(app: &App, profile: &str, tool: &str, context: &Context, peer: &Peer) -> Answer {
    let tool = peer.label().unwrap_or_else(|| tool.chars().filter(|c| c.is_alphanumeric() || " ._-+@:()".contains(*c)).take(80).collect());
    let timeout = channel::ask_timeout(&OsEnvironment);
    let differ = Context::of(&OsEnvironment, &app.state.engine().files).other_files(context);
    if !differ.is_empty() {
        let message = format!("the tray answers for other files than {tool} reads: {}", differ.join("; "));
        return Error::new(ErrorKind::BadInput, "other_files", message).into();
    }
    // One engine call at a time per profile and context: tools asking at once for a role
    // not in memory make one AssumeRole, and the others find its result.
    let gate_key = format!("tool\0{profile}\0{}", serde_json::to_string(&context.vars).unwrap_or_default());
    // Ready at once, or after one code.
    for _ in 0..2 {
        let engine = app.state.engine().with_endpoint_vars(context.vars.clone());
        let ready = {
            let (gate, since) = (app.asks.gate(&gate_key), Instant::now());
            let mut flight = lock(&gate);
            if let Some(e) = flight.failed_since(since) {
                return e.into();
            }
            let result = app.runtime.block_on(engine.for_tool(profile, &app.asks.memory()));
            flight.ended(&result);
            match result {
                Ok(ForTool::Ready { creds, key }) => {
                    app.asks.remember(&key, &creds);
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
            let (gate, since) = (app.asks.gate(&format!("code\0{}", need.session_key)), Instant::now());
            let mut flight = lock(&gate);
            if let Some(e) = flight.failed_since(since) {
                return e.into();
            }
            let now = time::OffsetDateTime::now_utc();
            if app.asks.memory().get(&need.session_key).is_none_or(|c| c.expiration - now <= TOOL_MARGIN) {
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
        match app.asks.wait(&need, &context.vars, &tool, timeout, || app.window.open_for_asks(), check) {
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
fn give_code(app: &App, account: &str, code: &str) -> Answer {
    if !app.asks.list(false).iter().any(|a| a.account == account) {
        return Error::bad_input("no_ask", format!("no tool waits for a code for {account} any more")).into();
    }
    let code: MfaCode = match code.parse() {
        Ok(code) => code,
        Err(e) => return Error::bad_input("bad_code", format!("{e}")).into(),
    };
    // The session is made with the endpoint variables of the tools that asked first.
    let Some((vars, session_key)) = app.asks.first_ask(account) else {
        return Error::bad_input("no_ask", format!("no tool waits for a code for {account} any more")).into();
    };
    match session(app, &app.state.engine().with_endpoint_vars(vars), account, &code) {
        Ok(()) => {
            app.asks.given_for(&session_key);
            Answer::Ok { message: format!("Code accepted for {account}: the tools that asked have their credentials.") }
        }
        Err(e) => e.into(),
    }
}

/// Signs in to Identity Center session `session` in the browser, for the tools that wait
/// on it: one sign-in at a time per session, and none if the session's token is good
/// again by the time it is this request's turn (another's sign-in, or `mfa-tray sso
/// login`). A failed sign-in is every waiting tool's answer.
fn sign_in(app: &App, engine: &mfa_tray_core::Engine, session: &str) -> Result<(), Error> {
    let (gate, since) = (app.asks.gate(&format!("signin\0{session}")), Instant::now());
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
    let result = app.runtime.block_on(engine.sso_login(session, mfa_tray_core::sso::Flow::Pkce, &|_| {})).map(drop);
    flight.ended(&result);
    result
}

fn session(app: &App, engine: &mfa_tray_core::Engine, account: &str, code: &MfaCode) -> Result<(), Error> {
    let (creds, key) = app.runtime.block_on(engine.session_for_tools(account, code))?;
    app.asks.remember(&key, &creds);
    Ok(())
}
