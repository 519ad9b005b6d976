//! An adapter: launches the one small window, a process of its own (`mfa-tray-window
//! --window VIEW`, the Tauri app), when the tray needs it, and notices when it is gone;
//! the tray itself never holds WebKit. Opening it again replaces the open one.

use std::process::{Child, Command};
use std::sync::Mutex;

use crate::state::lock;

/// The window's program, installed beside the tray's.
pub const PROGRAM: &str = "mfa-tray-window";
/// The environment variable that gives the window its tray's process id: the window
/// ends when its parent is no longer that tray.
pub const TRAY_PID: &str = "MFA_TRAY_PID";
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

/// What the window should open with: a role to preselect, and why it needs a code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pending {
    /// The profile to preselect.
    pub profile: String,
    /// Why a code is asked for.
    pub reason: Option<String>,
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

    /// The arguments that give these.
    pub fn to_args(&self) -> Vec<String> {
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

/// The window process, while one is open, and its view.
#[derive(Default)]
pub struct Launcher {
    current: Mutex<Option<(Child, View)>>,
}

impl Launcher {
    /// Shows the window on `view`, in a new window process (an open one is closed).
    pub fn open(&self, view: View, pending: Option<Pending>) {
        let mut current = lock(&self.current);
        if let Some((mut old, _)) = current.take() {
            let _ = old.kill();
            let _ = old.wait();
        }
        let args = WindowArgs { view, pending }.to_args();
        crate::trace::step("spawn");
        let program = std::env::current_exe().map(|exe| exe.with_file_name(format!("{PROGRAM}{}", std::env::consts::EXE_SUFFIX)));
        match program.and_then(|program| Command::new(program).args(&args).env(TRAY_PID, std::process::id().to_string()).spawn()) {
            Ok(child) => *current = Some((child, view)),
            Err(e) => eprintln!("mfa-tray: cannot open the window ({PROGRAM}, installed beside the tray): {e}"),
        }
    }

    /// Shows the tools waiting for a code. A window already open (on any view) shows
    /// them itself, so nothing typed in it is lost.
    pub fn open_for_asks(&self) {
        let showing = match lock(&self.current).as_mut() {
            Some((child, _)) => matches!(child.try_wait(), Ok(None)),
            None => false,
        };
        if !showing {
            self.open(View::Ask, None);
        }
    }

    /// Forgets a window process that has ended (so it is not a zombie), and says which
    /// view it showed.
    pub fn reap(&self) -> Option<View> {
        let mut current = lock(&self.current);
        let ended = match current.as_mut() {
            Some((child, view)) => matches!(child.try_wait(), Ok(Some(_))).then_some(*view),
            None => None,
        };
        if ended.is_some() {
            *current = None;
        }
        ended
    }

    /// Closes the window, if one is open (the tray quits).
    pub fn close(&self) {
        if let Some((mut child, _)) = lock(&self.current).take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
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
