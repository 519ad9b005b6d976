//! When the tray must act: notifications before an MFA session expires, at expiry, and
//! role refreshes before role credentials expire.
//!
//! Deadlines are instants on the wall clock, compared with the clock at every tick, so
//! a suspend or a clock jump is caught up at the next tick: of the notifications whose
//! time has come for one session, only the most urgent is shown, and each at most once
//! per session (a new login, with a new expiry, starts afresh). Nothing here sleeps or
//! notifies; the tray asks [`Scheduler::tick`] what is due and when to ask again.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use time::OffsetDateTime;

use crate::credentials::Holds;

/// Notifications older than this when first seen (say, at start-up the morning after)
/// are not shown: they are news nobody needs.
pub const STALE: Duration = Duration::from_secs(3600);
/// The longest the tray sleeps between looks at the clock and the files.
pub const MAX_SLEEP: Duration = Duration::from_secs(30);

/// A desktop notification to raise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// The MFA session of `profile` ends in `left` (one of the lead times, or less).
    Expiring {
        /// The session profile.
        profile: String,
        /// Time left when the alert is raised.
        left: Duration,
    },
    /// The MFA session of `profile` has ended.
    Expired {
        /// The session profile.
        profile: String,
    },
    /// A background refresh of `role` (into `section`) failed.
    RefreshFailed {
        /// The role profile.
        role: String,
        /// Why, in plain words.
        message: String,
    },
}

/// What the scheduler sees at a tick: sessions and managed role sections with expiries.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// `(session profile, expiry)` of every MFA session written by mfa-tray.
    pub sessions: Vec<(String, OffsetDateTime)>,
    /// `(section, role profile, expiry, source session still valid)` of every managed role section.
    pub roles: Vec<(String, String, OffsetDateTime, bool)>,
}

impl Observed {
    /// What the files say, as the scheduler needs it.
    pub fn from_snapshot(snap: &crate::engine::Snapshot) -> Observed {
        let mut seen = Observed::default();
        for m in crate::credentials::managed_sections(&snap.credentials) {
            match m.holds {
                Holds::Session(profile) if profile == m.section => seen.sessions.push((profile, m.expires)),
                Holds::Session(_) => {}
                Holds::Role(role) => {
                    let valid = snap
                        .profiles
                        .role(&role)
                        .is_some_and(|r| snap.valid_session(&r.source, crate::engine::SESSION_MARGIN).is_some());
                    seen.roles.push((m.section, role, m.expires, valid));
                }
            }
        }
        seen
    }
}

/// What is due now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Due {
    /// Notifications to raise now.
    pub alerts: Vec<Alert>,
    /// Sections whose role should be re-assumed now.
    pub refresh: Vec<String>,
    /// When to tick again at the latest.
    pub next: Option<OffsetDateTime>,
}

/// Remembers which notifications were raised, so none repeats.
#[derive(Debug, Clone)]
pub struct Scheduler {
    leads: Vec<Duration>,
    refresh_before: Duration,
    auto_refresh: bool,
    /// (profile, expiry) → lead indexes already handled (`leads.len()` stands for expiry).
    fired: BTreeMap<(String, i64), BTreeSet<usize>>,
    /// (section, expiry) of role refreshes that failed and were reported.
    failed: BTreeSet<(String, i64)>,
}

impl Scheduler {
    /// A scheduler with notification lead times (any order) and the refresh lead.
    pub fn new(leads: &[Duration], refresh_before: Duration, auto_refresh: bool) -> Scheduler {
        let mut leads = leads.to_vec();
        leads.sort_unstable_by(|a, b| b.cmp(a));
        leads.dedup();
        Scheduler { leads, refresh_before, auto_refresh, fired: BTreeMap::new(), failed: BTreeSet::new() }
    }

    /// Takes the lead times of `fresh` (new settings) and keeps what was already notified.
    pub fn reconfigure(&mut self, fresh: Scheduler) {
        self.leads = fresh.leads;
        self.refresh_before = fresh.refresh_before;
        self.auto_refresh = fresh.auto_refresh;
    }

    /// What is due at `now` given what the files say.
    pub fn tick(&mut self, now: OffsetDateTime, seen: &Observed) -> Due {
        let mut due = Due::default();
        let mut next: Vec<OffsetDateTime> = vec![now + MAX_SLEEP];
        for (profile, expires) in &seen.sessions {
            let key = (profile.clone(), expires.unix_timestamp());
            let first_look = !self.fired.contains_key(&key);
            let fired = self.fired.entry(key).or_default();
            // Deadlines: each lead time before expiry, then expiry itself (index = leads.len()).
            let deadlines: Vec<OffsetDateTime> =
                self.leads.iter().map(|lead| *expires - *lead).chain(std::iter::once(*expires)).collect();
            let passed: Vec<usize> = (0..deadlines.len()).filter(|&i| deadlines[i] <= now && !fired.contains(&i)).collect();
            if let Some(&most_urgent) = passed.last() {
                let stale = now - deadlines[most_urgent] > STALE && first_look;
                if !stale {
                    due.alerts.push(if most_urgent == self.leads.len() {
                        Alert::Expired { profile: profile.clone() }
                    } else {
                        let left = (*expires - now).max(time::Duration::ZERO);
                        Alert::Expiring { profile: profile.clone(), left: Duration::from_secs(left.whole_seconds() as u64) }
                    });
                }
                fired.extend(passed);
            }
            if let Some(d) = (0..deadlines.len()).filter(|i| !fired.contains(i)).map(|i| deadlines[i]).min() {
                next.push(d);
            }
        }
        if self.auto_refresh {
            for (section, _role, expires, session_valid) in &seen.roles {
                let at = *expires - self.refresh_before;
                let failed = self.failed.contains(&(section.clone(), expires.unix_timestamp()));
                if !session_valid || failed {
                    continue;
                }
                if at <= now {
                    due.refresh.push(section.clone());
                } else {
                    next.push(at);
                }
            }
        }
        due.next = next.into_iter().min();
        due
    }

    /// Records a failed refresh of `section` (whose credentials expire at `expires`),
    /// returning the alert to raise, once per expiry.
    pub fn refresh_failed(&mut self, section: &str, role: &str, expires: OffsetDateTime, message: &str) -> Option<Alert> {
        self.failed
            .insert((section.to_owned(), expires.unix_timestamp()))
            .then(|| Alert::RefreshFailed { role: role.to_owned(), message: message.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-28 12:00 UTC);

    fn min(m: i64) -> time::Duration {
        time::Duration::minutes(m)
    }

    fn scheduler() -> Scheduler {
        Scheduler::new(&[Duration::from_secs(120), Duration::from_secs(900)], Duration::from_secs(600), true)
    }

    fn session(expires: OffsetDateTime) -> Observed {
        Observed { sessions: vec![("corp".into(), expires)], roles: vec![] }
    }

    #[test]
    fn each_lead_time_fires_once_then_expiry() {
        let mut s = scheduler();
        let exp = T0 + min(60);
        let seen = session(exp);
        let due = s.tick(T0, &seen);
        assert!(due.alerts.is_empty());
        assert_eq!(due.next, Some(T0 + time::Duration::seconds(30)), "never sleeps past MAX_SLEEP");
        assert!(s.tick(exp - min(16), &seen).alerts.is_empty());
        assert_eq!(s.tick(exp - min(15), &seen).alerts, [Alert::Expiring { profile: "corp".into(), left: Duration::from_secs(900) }]);
        assert!(s.tick(exp - min(14), &seen).alerts.is_empty(), "no repeat");
        let due = s.tick(exp - min(5), &seen);
        assert!(due.alerts.is_empty());
        assert_eq!(due.next, Some(exp - min(5) + time::Duration::seconds(30)));
        let due = s.tick(exp - min(2) - time::Duration::seconds(10), &seen);
        assert_eq!(due.next, Some(exp - min(2)), "wakes exactly at the next deadline");
        assert_eq!(s.tick(exp - min(2), &seen).alerts, [Alert::Expiring { profile: "corp".into(), left: Duration::from_secs(120) }]);
        assert_eq!(s.tick(exp, &seen).alerts, [Alert::Expired { profile: "corp".into() }]);
        assert!(s.tick(exp + min(1), &seen).alerts.is_empty());
        assert!(s.tick(exp + min(100), &seen).alerts.is_empty());
    }

    #[test]
    fn a_jump_past_several_deadlines_fires_only_the_most_urgent_once() {
        let mut s = scheduler();
        let exp = T0 + min(60);
        let seen = session(exp);
        s.tick(T0, &seen);
        // Suspended at T0, resumed 1 minute before expiry: one "1 minute left", not three.
        let due = s.tick(exp - min(1), &seen);
        assert_eq!(due.alerts, [Alert::Expiring { profile: "corp".into(), left: Duration::from_secs(60) }]);
        assert!(s.tick(exp - min(1) + time::Duration::seconds(5), &seen).alerts.is_empty());
        // Resumed after expiry: the expiry notice, once.
        let mut s = scheduler();
        s.tick(T0, &seen);
        assert_eq!(s.tick(exp + min(30), &seen).alerts, [Alert::Expired { profile: "corp".into() }]);
        assert!(s.tick(exp + min(31), &seen).alerts.is_empty());
    }

    #[test]
    fn the_clock_going_back_does_not_repeat() {
        let mut s = scheduler();
        let exp = T0 + min(60);
        let seen = session(exp);
        assert_eq!(s.tick(exp - min(10), &seen).alerts.len(), 1);
        assert!(s.tick(exp - min(30), &seen).alerts.is_empty());
        assert!(s.tick(exp - min(10), &seen).alerts.is_empty());
        assert_eq!(s.tick(exp - min(2), &seen).alerts.len(), 1);
    }

    #[test]
    fn a_new_login_starts_afresh_and_stale_news_is_dropped() {
        let mut s = scheduler();
        let exp = T0 + min(60);
        assert_eq!(s.tick(exp, &session(exp)).alerts, [Alert::Expired { profile: "corp".into() }]);
        let exp2 = exp + min(720);
        assert!(s.tick(exp + min(1), &session(exp2)).alerts.is_empty());
        assert_eq!(s.tick(exp2 - min(15), &session(exp2)).alerts.len(), 1);
        // Started the morning after: yesterday's expiry is not news.
        let mut s = scheduler();
        assert!(s.tick(exp + min(600), &session(exp)).alerts.is_empty());
        // But an expiry ten minutes ago (at start-up after a short reboot) is.
        let mut s = scheduler();
        assert_eq!(s.tick(exp + min(10), &session(exp)).alerts, [Alert::Expired { profile: "corp".into() }]);
    }

    #[test]
    fn roles_refresh_before_expiry_while_the_session_lasts() {
        let mut s = scheduler();
        let role_exp = T0 + min(60);
        let seen = Observed { sessions: vec![], roles: vec![("default".into(), "admin".into(), role_exp, true)] };
        let due = s.tick(T0, &seen);
        assert!(due.refresh.is_empty());
        let due = s.tick(role_exp - min(10) - time::Duration::seconds(10), &seen);
        assert!(due.refresh.is_empty());
        assert_eq!(due.next, Some(role_exp - min(10)));
        assert_eq!(s.tick(role_exp - min(10), &seen).refresh, ["default"]);
        // No session: nothing to refresh with (the session alerts tell the user).
        let dead = Observed { sessions: vec![], roles: vec![("default".into(), "admin".into(), role_exp, false)] };
        assert!(s.tick(role_exp - min(5), &dead).refresh.is_empty());
        // A failure is reported once and not retried until the credentials change.
        let alert = s.refresh_failed("default", "admin", role_exp, "AccessDenied");
        assert_eq!(alert, Some(Alert::RefreshFailed { role: "admin".into(), message: "AccessDenied".into() }));
        assert_eq!(s.refresh_failed("default", "admin", role_exp, "AccessDenied"), None);
        assert!(s.tick(role_exp - min(5), &seen).refresh.is_empty());
        // Auto-refresh off: never.
        let mut off = Scheduler::new(&[], Duration::from_secs(600), false);
        assert!(off.tick(role_exp, &seen).refresh.is_empty());
    }
}
