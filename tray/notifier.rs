//! An adapter: desktop notifications (org.freedesktop.Notifications on Linux, via
//! notify-rust). The texts are plain functions of the core's [`Alert`], tested without
//! a desktop; a notification's button hands its [`Action`] to the event loop.

use std::time::Duration;

use mfa_tray_core::schedule::Alert;
use mfa_tray_core::types::human_duration;

use crate::state::{Action, Sink};

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
pub fn alert(sink: &Sink, alert: &Alert) {
    let (summary, body) = text(alert);
    let urgent = !matches!(alert, Alert::Expiring { left, .. } if *left > Duration::from_secs(300));
    let offer = (!matches!(alert, Alert::RefreshFailed { .. })).then_some(("enter-code", "Enter MFA code", Action::CodeWindow));
    show(sink, summary, body, urgent, offer);
}

/// Raises a notification about Identity Center session `session` with a "Sign in" action,
/// which signs in in the browser from the tray.
pub fn sign_in(sink: &Sink, summary: &str, body: &str, session: &str) {
    show(sink, summary.to_owned(), body.to_owned(), true, Some(("sign-in", "Sign in", Action::SignIn(session.to_owned()))));
}

/// Raises an error notification (a menu action that failed with no window open).
pub fn error(sink: &Sink, summary: &str, body: &str) {
    show(sink, summary.to_owned(), body.to_owned(), true, None);
}

/// Raises an ordinary notification (something done in the background went well).
pub fn info(sink: &Sink, summary: &str, body: &str) {
    show(sink, summary.to_owned(), body.to_owned(), false, None);
}

/// Shows a notification; `offer` is a button (its key, label, and what it does).
fn show(sink: &Sink, summary: String, body: String, urgent: bool, offer: Option<(&'static str, &'static str, Action)>) {
    let sink = sink.clone();
    // Showing talks to D-Bus and waiting for an action blocks: keep both off the loop.
    std::thread::spawn(move || {
        let mut n = notify_rust::Notification::new();
        n.appname("mfa-tray").summary(&summary).body(&body).icon("dialog-password");
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            n.urgency(if urgent { notify_rust::Urgency::Critical } else { notify_rust::Urgency::Normal });
            if let Some((key, label, _)) = &offer {
                n.action(key, label);
            }
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let _ = (urgent, &offer, &sink);
        match n.show() {
            #[cfg(all(unix, not(target_os = "macos")))]
            Ok(handle) => handle.wait_for_action(|chosen| {
                if let Some((_, _, action)) = offer.filter(|(key, _, _)| *key == chosen) {
                    sink(crate::state::Event::Do(action));
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
