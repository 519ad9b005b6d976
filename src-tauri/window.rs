//! The one small window. It runs in a process of its own (`mfa-tray-app --window
//! VIEW`), started by the tray when needed and gone when the window closes, so the
//! tray never holds WebKit's memory. Opening it again replaces the open one.

use std::process::Command;

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

use crate::state::{lock, AppState, Pending};

/// Which view the window shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The MFA code field with the profile chooser.
    Code,
    /// Caller identity and S3 buckets.
    WhoAmI,
    /// Settings.
    Settings,
    /// Accounts and roles: add an account, move keys to the keychain, add a role.
    Account,
    /// The code tools wait for (`credential_process`).
    Ask,
    /// IAM Identity Center: sessions, sign-in, roles.
    Sso,
}

impl View {
    /// The view's name on the command line and in the page's URL fragment.
    pub fn name(self) -> &'static str {
        match self {
            View::Code => "code",
            View::WhoAmI => "whoami",
            View::Settings => "settings",
            View::Account => "account",
            View::Ask => "ask",
            View::Sso => "sso",
        }
    }

    /// The view of a name.
    pub fn parse(name: &str) -> Option<View> {
        [View::Code, View::WhoAmI, View::Settings, View::Account, View::Ask, View::Sso].into_iter().find(|v| v.name() == name)
    }
}

/// The window process's arguments: `--window VIEW [--profile P] [--reason TEXT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowArgs {
    /// The view to open on.
    pub view: View,
    /// A role to preselect, and why it needs a code.
    pub pending: Option<Pending>,
}

impl WindowArgs {
    /// Parses the arguments after the program name.
    pub fn parse(args: &[String]) -> Option<WindowArgs> {
        let mut view = None;
        let (mut profile, mut reason) = (None, None);
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it.next()?;
            match flag.as_str() {
                "--window" => view = Some(View::parse(value)?),
                "--profile" => profile = Some(value.clone()),
                "--reason" => reason = Some(value.clone()),
                _ => return None,
            }
        }
        Some(WindowArgs { view: view?, pending: profile.map(|profile| Pending { profile, reason }) })
    }

    fn to_args(&self) -> Vec<String> {
        let mut args = vec!["--window".to_owned(), self.view.name().to_owned()];
        if let Some(p) = &self.pending {
            args.extend(["--profile".to_owned(), p.profile.clone()]);
            if let Some(r) = &p.reason {
                args.extend(["--reason".to_owned(), r.clone()]);
            }
        }
        args
    }
}

/// From the tray: shows the window on `view` (in a new window process).
pub fn open<R: Runtime>(app: &AppHandle<R>, view: View, pending: Option<Pending>) {
    let state = app.state::<AppState>();
    let mut current = lock(&state.window);
    if let Some((mut old, _)) = current.take() {
        let _ = old.kill();
        let _ = old.wait();
    }
    let args = WindowArgs { view, pending }.to_args();
    match std::env::current_exe().and_then(|exe| Command::new(exe).args(&args).spawn()) {
        Ok(child) => *current = Some((child, view)),
        Err(e) => eprintln!("mfa-tray: cannot open the window: {e}"),
    }
}

/// From the tray: shows the tools waiting for a code. A window already open (on any
/// view) shows them itself, so nothing typed in it is lost.
pub fn open_for_asks<R: Runtime>(app: &AppHandle<R>) {
    let showing = match lock(&app.state::<AppState>().window).as_mut() {
        Some((child, _)) => matches!(child.try_wait(), Ok(None)),
        None => false,
    };
    if !showing {
        open(app, View::Ask, None);
    }
}

/// From the tray's loop: forgets a window process that has ended (so it is not a
/// zombie), and says which view it showed.
pub fn reap(state: &AppState) -> Option<View> {
    let mut current = lock(&state.window);
    let ended = match current.as_mut() {
        Some((child, view)) => matches!(child.try_wait(), Ok(Some(_))).then_some(*view),
        None => None,
    };
    if ended.is_some() {
        *current = None;
    }
    ended
}

/// In the window process: creates the window.
pub fn create<R: Runtime>(app: &AppHandle<R>, view: View) -> tauri::Result<()> {
    let url = WebviewUrl::App(format!("index.html#{}", view.name()).into());
    WebviewWindowBuilder::new(app, "main", url)
        .title("mfa-tray")
        .inner_size(400.0, 600.0)
        .resizable(false)
        .center()
        .focused(true)
        .build()
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_args_round_trip() {
        let a = WindowArgs { view: View::Code, pending: Some(Pending { profile: "admin".into(), reason: Some("because".into()) }) };
        assert_eq!(WindowArgs::parse(&a.to_args()), Some(a));
        let b = WindowArgs { view: View::Settings, pending: None };
        assert_eq!(WindowArgs::parse(&b.to_args()), Some(b));
        assert_eq!(WindowArgs::parse(&["--window".into(), "nope".into()]), None);
        assert_eq!(WindowArgs::parse(&["--window".into()]), None);
        assert_eq!(WindowArgs::parse(&["--profile".into(), "x".into()]), None);
    }
}
