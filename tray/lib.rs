//! The mfa-tray tray app: a thin shell over `mfa-tray-core`, built on the crates Tauri's
//! own tray is made of (tray-icon, muda, tao) and linking no WebKit. The window is a
//! program of its own (`mfa-tray-window`, the Tauri app), and so is the command line
//! (`mfa-tray`, in `cli/`).
//!
//! The modules form layers, each importing only from those below it:
//! - **state** (and **desktop**, **trace**), at the bottom: the engine, what the loop remembers,
//!   the [`state::Action`]s a user asks for and the [`state::Event`]s the loop takes;
//! - the adapters, one thing each onto the state: **menu** (icon and menu),
//!   **notifier** (notifications), **window** (launches the window process),
//!   **autostart** (start at login), **asks** (what the tray holds for tools);
//! - **app**: the tray as one value, and what each action does;
//! - on top, the **background** loop, the channel's **answers**, and [`run_tray`] here,
//!   the event loop that owns the icon and menu.

pub mod app;
pub mod answers;
pub mod asks;
pub mod autostart;
pub mod background;
pub mod desktop;
pub mod menu;
pub mod notifier;
pub mod state;
pub mod trace;
pub mod window;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use mfa_tray_core::channel::{self, Request, Server};
use mfa_tray_core::env::OsEnvironment;
use tao::event::{Event as LoopEvent, StartCause};
use tao::event_loop::{ControlFlow, EventLoopBuilder};

use crate::app::App;
use crate::state::{lock, Action, AppState, Event, Sink};
use crate::window::View;

/// Runs the tray app until "Quit". It never shows a webview itself.
pub fn run_tray() -> ExitCode {
    // GTK sets up GL at start even though the tray draws nothing with it: about 50 MB
    // of a tray app's resident memory.
    if std::env::var_os("GDK_GL").is_none() {
        std::env::set_var("GDK_GL", "disable");
    }
    let state = match AppState::load() {
        Ok(state) => state,
        Err(e) => {
            eprintln!("mfa-tray: cannot start the tray app: {}", e.message);
            return ExitCode::from(1);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("mfa-tray-engine").enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("mfa-tray: cannot start the tray app: {e}");
            return ExitCode::from(1);
        }
    };
    let event_loop = EventLoopBuilder::<Event>::with_user_event().build();
    let proxy = Mutex::new(event_loop.create_proxy());
    let sink: Sink = Arc::new(move |event| {
        let _ = lock(&proxy).send_event(event);
    });
    let app = App::new(state, sink, runtime.handle().clone());
    // The channel, which also makes this the one tray: another that listens already is
    // asked to show its window, and this one ends.
    let mut server = match channel::socket_path(&OsEnvironment) {
        Some(path) => {
            let answering = app.clone();
            match listen_or_hand_over(&path, move |request, peer| answers::answer(&answering, request, peer)) {
                Ok(server) => server,
                Err(code) => return code,
            }
        }
        None => None,
    };
    let mut tray = None;
    event_loop.run(move |event, _, control_flow| {
        // The engine's threads live as long as the loop.
        let _ = &runtime;
        *control_flow = ControlFlow::Wait;
        match event {
            LoopEvent::NewEvents(StartCause::Init) => {
                match menu::Tray::create(&app.sink) {
                    Ok(created) => tray = Some(created),
                    Err(e) => eprintln!("mfa-tray: cannot show the tray icon: {e}"),
                }
                app.refresh_menu();
                autostart::sync(&app.state);
                background::spawn(app.clone());
                // A first run (no account, and no file to read one from): the window
                // opens on adding one, so no README is needed to start.
                let engine = app.state.engine();
                let first_run = engine.status().is_ok_and(|s| s.sessions.is_empty() && s.sso_sessions.is_empty() && s.problems.is_empty());
                if first_run && !engine.files.config.exists() {
                    app.window.open(View::Account, None);
                }
            }
            LoopEvent::UserEvent(Event::Refresh | Event::Rebuild) => {
                if let Some(tray) = tray.as_mut() {
                    let force = matches!(event, LoopEvent::UserEvent(Event::Rebuild));
                    tray.show(menu::model(app.state.engine().status()), force);
                }
            }
            LoopEvent::UserEvent(Event::Do(Action::Quit)) => {
                // The socket goes before the process does (run never returns).
                drop(server.take());
                app.window.close();
                *control_flow = ControlFlow::ExitWithCode(0);
            }
            LoopEvent::UserEvent(Event::Do(action)) => app.act(action),
            _ => {}
        }
    })
}

/// Listens on the channel as the one tray; or, if another tray has it, asks that one to
/// show its window and gives the exit code to end with. A tray still starting holds the
/// lock before it listens, and one quitting removes its socket before its lock goes: a
/// few seconds of retries, each trying to become the tray again, see both through.
fn listen_or_hand_over(path: &std::path::Path, handle: impl Fn(Request, &channel::Peer) -> channel::Answer + Clone + Send + Sync + 'static) -> Result<Option<Server>, ExitCode> {
    use std::io::ErrorKind::{AddrInUse, ConnectionRefused, NotFound};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let other = match Server::start(path, handle.clone()) {
            Ok(server) => return Ok(Some(server)),
            Err(e) if e.kind() == AddrInUse => channel::request(path, &Request::Show),
            Err(e) => {
                eprintln!("mfa-tray: no local channel at {} ({e}); settings reach the tray through the file", path.display());
                return Ok(None);
            }
        };
        let why = match other {
            Ok(channel::Answer::Ok { .. }) => return Err(ExitCode::SUCCESS),
            Ok(channel::Answer::Error { message, .. }) => message,
            Ok(_) => "an answer that is not to showing its window".to_owned(),
            Err(e) if matches!(e.kind(), NotFound | ConnectionRefused) && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(100));
                continue;
            }
            Err(e) => e.to_string(),
        };
        eprintln!("mfa-tray: another tray runs but does not answer at {} ({why}); if it hangs, end it and start mfa-tray again", path.display());
        return Err(ExitCode::from(1));
    }
}
