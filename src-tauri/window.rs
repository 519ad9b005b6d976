//! The one small window: created when needed, destroyed when closed. It opens on a view
//! (code entry, who-am-I, settings); if it is already open it switches view and comes
//! to the front.

use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

use crate::state::{lock, AppState, Pending};

const LABEL: &str = "main";

/// Which view the window shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The MFA code field with the profile chooser.
    Code,
    /// Caller identity and S3 buckets.
    WhoAmI,
    /// Settings.
    Settings,
}

impl View {
    /// The view's name in the page's URL fragment.
    pub fn name(self) -> &'static str {
        match self {
            View::Code => "code",
            View::WhoAmI => "whoami",
            View::Settings => "settings",
        }
    }

    /// The view of a name.
    pub fn parse(name: &str) -> Option<View> {
        [View::Code, View::WhoAmI, View::Settings].into_iter().find(|v| v.name() == name)
    }
}

/// Shows the window on `view`, preselecting `pending`'s profile if given.
pub fn open<R: Runtime>(app: &AppHandle<R>, view: View, pending: Option<Pending>) {
    *lock(&app.state::<AppState>().pending) = pending;
    if let Some(w) = app.get_webview_window(LABEL) {
        let _ = w.emit("navigate", view.name());
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
        return;
    }
    let url = WebviewUrl::App(format!("index.html#{}", view.name()).into());
    let built = WebviewWindowBuilder::new(app, LABEL, url)
        .title("mfa-tray")
        .inner_size(400.0, 540.0)
        .resizable(false)
        .center()
        .focused(true)
        .build();
    if let Err(e) = built {
        eprintln!("mfa-tray: cannot open the window: {e}");
    }
}
