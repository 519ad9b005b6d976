//! The top layer: the background loop. At each tick it reads the files, asks the
//! core's scheduler what is due, raises notifications, re-assumes roles and updates
//! the tray. Between ticks
//! it looks at the wall clock every second (timers run on the monotonic clock, which
//! stops during a suspend), so after a suspend or a clock change it catches up at once;
//! and at the modification times of the AWS files and the settings file (one stat
//! each), so a login in the window process or the CLI shows in the tray within a
//! second, and settings edited by hand take effect as soon.

use mfa_tray_core::env::OsEnvironment;
use mfa_tray_core::schedule::Observed;
use mfa_tray_core::settings::Settings;
use mfa_tray_core::RefreshItem;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::app::App;
use crate::notifier;
use crate::state::{lock, AppState};

/// Starts the loop on the tray's async runtime.
pub fn spawn(app: Arc<App>) {
    app.runtime.clone().spawn(async move {
        let state = &app.state;
        loop {
            let next = tick(&app).await;
            let seen = modified(state);
            loop {
                let wait = (next - OffsetDateTime::now_utc()).whole_milliseconds().clamp(0, 1000) as u64;
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_millis(wait)) => {}
                    _ = state.wake.notified() => break,
                }
                // The window closed (or died): no code will come for the tools it
                // showed. One that asked after its last look gets a window of its own.
                if app.window.reap().is_some() && app.asks.window_closed() {
                    app.window.open_for_asks();
                }
                if OffsetDateTime::now_utc() >= next || modified(state) != seen {
                    break;
                }
            }
        }
    });
}

/// Modification times of the two AWS files, the settings file and the Identity Center
/// token cache (a sign-in elsewhere, or a token another tool renewed).
fn modified(state: &AppState) -> [Option<std::time::SystemTime>; 4] {
    let files = state.engine().files.clone();
    let settings = Settings::path(&OsEnvironment).unwrap_or_default();
    let cache = mfa_tray_core::sso::cache_dir(&OsEnvironment).unwrap_or_default();
    let newest_token = std::fs::read_dir(&cache).ok().and_then(|entries| entries.flatten().filter_map(|e| e.metadata().and_then(|m| m.modified()).ok()).max());
    let [a, b, c] = [files.config, files.credentials, settings].map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    [a, b, c, newest_token]
}

/// One look at the clock and the files; returns when to look again.
async fn tick(app: &App) -> OffsetDateTime {
    let state = &app.state;
    if let Some(Err(e)) = state.reload_if_changed() {
        notifier::error(&app.sink, "mfa-tray settings not applied", &format!("{} The settings in force stay as they were.", e.message));
    }
    let engine = state.engine();
    let now = OffsetDateTime::now_utc();
    let snap = match engine.snapshot() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mfa-tray: {}", e.message);
            app.refresh_menu();
            return now + mfa_tray_core::schedule::MAX_SLEEP;
        }
    };
    // A session logged in again by itself has no expiry to announce: look again.
    let snap = match engine.settings.auto_login && auto_login(app, &snap, now).await {
        true => engine.snapshot().unwrap_or(snap),
        false => snap,
    };
    let sso_next = keep_sso_sessions(app, &snap, now).await;
    let mut observed = Observed::from_snapshot(&snap);
    // An Identity Center role refreshes while its session's token works or renews.
    let sso = engine.sso_states(&snap);
    for (_, role, _, valid) in observed.roles.iter_mut() {
        if let Some(r) = snap.profiles.sso_role(role) {
            *valid = sso.iter().any(|s| s.session.name == r.session && (s.renewable || s.expires.is_some_and(|e| e > now)));
        }
    }
    let due = lock(&state.scheduler).tick(now, &observed);
    for alert in &due.alerts {
        notifier::alert(&app.sink, alert);
    }
    for section in &due.refresh {
        if let RefreshItem::Failed { section, role, error } = engine.refresh_section(&snap, section).await {
            let expires = mfa_tray_core::credentials::managed_sections(&snap.credentials)
                .into_iter()
                .find(|m| m.section == section)
                .map_or(now, |m| m.expires);
            let now = OffsetDateTime::now_utc();
            if let Some(alert) = lock(&state.scheduler).refresh_failed(&section, &role, expires, &error.message, error.is_passing(), now) {
                notifier::alert(&app.sink, &alert);
            }
        }
    }
    crate::autostart::sync(state);
    app.refresh_menu();
    let next = due.next.unwrap_or(now + mfa_tray_core::schedule::MAX_SLEEP);
    sso_next.map_or(next, |s| s.min(next))
}

/// Keeps IAM Identity Center sessions alive: a token that renews is renewed within
/// 20 minutes before it expires, ahead of botocore (the rotated refresh token kept); when renewal
/// is refused, or a token that cannot renew nears its end (the first lead time), a
/// notification says so once, with a "Sign in" action. Returns when to look again.
async fn keep_sso_sessions(app: &App, snap: &mfa_tray_core::Snapshot, now: OffsetDateTime) -> Option<OffsetDateTime> {
    use mfa_tray_core::sso::RENEW_AHEAD;
    let state = &app.state;
    let engine = state.engine();
    let lead = snap.settings.notify_before.first().copied().unwrap_or(std::time::Duration::from_secs(15 * 60));
    let mut next: Option<OffsetDateTime> = None;
    let mut soonest = |t: OffsetDateTime| next = Some(next.map_or(t, |n| n.min(t)));
    for s in engine.sso_states(snap) {
        let Some(expires) = s.expires else { continue };
        let name = s.session.name.clone();
        let noticed = lock(&state.sso_noticed).get(&name) == Some(&expires);
        if s.renewable {
            if expires - now > RENEW_AHEAD {
                soonest(expires - RENEW_AHEAD);
                continue;
            }
            match engine.sso_token(&s.session, RENEW_AHEAD).await {
                // (A token shorter than the window is renewed again a minute on, not at once.)
                Ok(token) => soonest((token.expires_at - RENEW_AHEAD).max(now + time::Duration::minutes(1))),
                Err(e) if e.code == "sso_login_required" && !noticed => {
                    lock(&state.sso_noticed).insert(name.clone(), expires);
                    notifier::sign_in(&app.sink, &format!("Identity Center session {name} needs a sign-in"), &format!("{} Roles from it stop refreshing until then.", e.message), &name);
                }
                // In passing (no network): try again in a minute.
                Err(_) => soonest(now + time::Duration::minutes(1)),
            }
        } else if expires > now {
            if expires - now <= lead && !noticed {
                lock(&state.sso_noticed).insert(name.clone(), expires);
                let left = mfa_tray_core::types::human_duration((expires - now).try_into().unwrap_or_default());
                notifier::sign_in(&app.sink, &format!("Identity Center session {name} ends in {left}"), "It cannot renew itself: sign in again to keep its roles working.", &name);
            } else if expires - now > lead {
                soonest(expires - lead);
            }
        }
    }
    next
}

/// With `auto_login` on: logs in again, with its `mfa_process`, every MFA session that
/// was logged in and is near its end (within the first notification lead, or half the
/// session's length if that is shorter, so a new session is never due at once) or past
/// it. After a failure it waits 10 minutes, then twice as long each time (at most 4
/// hours), so a device left unplugged is not a notification every few minutes.
async fn auto_login(app: &App, snap: &mfa_tray_core::Snapshot, now: OffsetDateTime) -> bool {
    let state = &app.state;
    let lead = snap.settings.notify_before.first().copied().unwrap_or(std::time::Duration::from_secs(15 * 60));
    let managed = mfa_tray_core::credentials::managed_sections(&snap.credentials);
    let mut any = false;
    for p in &snap.profiles.sessions {
        let Some(process) = &p.mfa_process else { continue };
        let held = managed.iter().find(|m| m.holds == mfa_tray_core::credentials::Holds::Session(p.name.clone()));
        let Some(session) = held else { continue };
        let length = p.duration.unwrap_or(snap.settings.session_duration);
        if session.expires - now > lead.min(length / 2) {
            continue;
        }
        let failures = match lock(&state.auto_login_tried).get(&p.name) {
            Some((at, failures)) => {
                let wait = time::Duration::minutes(10 * (1i64 << (*failures).min(5))).min(time::Duration::hours(4));
                if now - *at < wait {
                    continue;
                }
                *failures
            }
            None => 0,
        };
        let done = app.login_with_process(&p.name, process).await;
        lock(&state.auto_login_tried).insert(p.name.clone(), (now, if done { 0 } else { failures + 1 }));
        any |= done;
    }
    any
}
