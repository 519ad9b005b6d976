//! Desktop notifications (org.freedesktop.Notifications on Linux, via notify-rust).
//! The texts are plain functions of the core's [`Alert`], tested without a desktop.

use std::time::Duration;

use mfa_tray_core::schedule::Alert;
use mfa_tray_core::types::human_duration;
use tauri::{AppHandle, Runtime};

/// Summary and body of the notification for an alert.
pub fn text(alert: &Alert) -> (String, String) {
    match alert {
        Alert::Expiring { profile, left } => (
            format!("MFA session {profile} ends in {}", human_duration(round_minutes(*left))),
            "Enter a new MFA code from the mfa-tray menu to keep your roles working.".to_owned(),
        ),
        Alert::Expired { profile } => (
            format!("MFA session {profile} has expired"),
            "Roles from it stop refreshing. Enter a new MFA code from the mfa-tray menu.".to_owned(),
        ),
        Alert::RefreshFailed { role, message } => (format!("Could not refresh {role}"), message.clone()),
    }
}

/// A lead time seen a few seconds late still reads "15m", not "14m".
fn round_minutes(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs().div_ceil(60) * 60)
}

/// Raises the notification for `alert`; its "Enter MFA code" action opens the window.
pub fn alert<R: Runtime>(app: &AppHandle<R>, alert: &Alert) {
    let (summary, body) = text(alert);
    let urgent = !matches!(alert, Alert::Expiring { left, .. } if *left > Duration::from_secs(300));
    show(app, summary, body, urgent, !matches!(alert, Alert::RefreshFailed { .. }));
}

/// Raises a notification about Identity Center session `session` with a "Sign in" action,
/// which signs in in the browser from the tray.
pub fn sign_in<R: Runtime>(app: &AppHandle<R>, summary: &str, body: &str, session: &str) {
    let (app, summary, body, session) = (app.clone(), summary.to_owned(), body.to_owned(), session.to_owned());
    std::thread::spawn(move || {
        let mut n = notify_rust::Notification::new();
        n.appname("mfa-tray").summary(&summary).body(&body).icon("dialog-password");
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            n.urgency(notify_rust::Urgency::Critical);
            n.action("sign-in", "Sign in");
        }
        match n.show() {
            #[cfg(all(unix, not(target_os = "macos")))]
            Ok(handle) => handle.wait_for_action(|action| {
                if action == "sign-in" {
                    crate::tray::sso_sign_in(&app, &session);
                }
            }),
            #[cfg(not(all(unix, not(target_os = "macos"))))]
            Ok(_) => {
                let _ = (&app, &session);
            }
            Err(e) => eprintln!("mfa-tray: cannot show a notification ({e}): {summary}"),
        }
    });
}

/// Raises an error notification (a menu action that failed with no window open).
pub fn error<R: Runtime>(app: &AppHandle<R>, summary: &str, body: &str) {
    show(app, summary.to_owned(), body.to_owned(), true, false);
}

/// Raises an ordinary notification (something done in the background went well).
pub fn info<R: Runtime>(app: &AppHandle<R>, summary: &str, body: &str) {
    show(app, summary.to_owned(), body.to_owned(), false, false);
}

fn show<R: Runtime>(app: &AppHandle<R>, summary: String, body: String, urgent: bool, offer_code: bool) {
    let app = app.clone();
    // Showing talks to D-Bus and waiting for an action blocks: keep both off the UI thread.
    std::thread::spawn(move || {
        let mut n = notify_rust::Notification::new();
        n.appname("mfa-tray").summary(&summary).body(&body).icon("dialog-password");
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            n.urgency(if urgent { notify_rust::Urgency::Critical } else { notify_rust::Urgency::Normal });
            if offer_code {
                n.action("enter-code", "Enter MFA code");
            }
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let _ = (urgent, offer_code, app);
        match n.show() {
            #[cfg(all(unix, not(target_os = "macos")))]
            Ok(handle) => handle.wait_for_action(|action| {
                if action == "enter-code" {
                    crate::window::open(&app, crate::window::View::Code, None);
                }
            }),
            #[cfg(not(all(unix, not(target_os = "macos"))))]
            Ok(_) => {}
            Err(e) => eprintln!("mfa-tray: cannot show a notification ({e}): {summary}"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        let (s, b) = text(&Alert::Expiring { profile: "corp".into(), left: Duration::from_secs(895) });
        assert_eq!(s, "MFA session corp ends in 15m");
        assert!(b.contains("Enter a new MFA code"));
        assert_eq!(text(&Alert::Expired { profile: "corp".into() }).0, "MFA session corp has expired");
        let (s, b) = text(&Alert::RefreshFailed { role: "admin".into(), message: "AWS denied access".into() });
        assert_eq!((s.as_str(), b.as_str()), ("Could not refresh admin", "AWS denied access"));
    }
}
