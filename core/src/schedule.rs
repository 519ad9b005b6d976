//! When the tray must act: notifications before an MFA session expires, at expiry, and
//! role refreshes before role credentials expire.
//!
//! Deadlines are instants on the wall clock, compared with the clock at every tick, so
//! a suspend or a clock jump is caught up at the next tick: of the notifications whose
//! time has come for one session, only the most urgent is shown, and each at most once
//! per session (a new login, with a new expiry, starts afresh). A background refresh
//! that fails for a passing reason (no network after a resume, AWS busy) is retried
//! with growing pauses while the MFA session can serve; the failure is notified once,
//! when no retry is left before the role expires (at once for a refusal). No section
//! is re-assumed more than once a minute, whatever the settings or the clock say.
//! Nothing here sleeps or notifies; the tray asks [`Scheduler::tick`] what is due and
//! when to ask again.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use time::OffsetDateTime;

use crate::credentials::Holds;

/// Notifications older than this when first seen (say, at start-up the morning after)
/// are not shown: they are news nobody needs.
pub const STALE: Duration = Duration::from_secs(3600);
/// The longest the tray sleeps between looks at the clock and the files.
pub const MAX_SLEEP: Duration = Duration::from_secs(30);
/// The first retry of a failed background refresh comes after this; each next one
/// after twice as long as the one before...
pub const RETRY_FIRST: Duration = Duration::from_secs(15);
/// ... but never more than this.
pub const RETRY_MAX: Duration = Duration::from_secs(300);
/// A section is re-assumed at most once in this long.
pub const MIN_REFRESH_GAP: Duration = Duration::from_secs(60);

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

/// Where the retries of one failed refresh stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Retry {
    /// Failures so far.
    failures: u32,
    /// When to try again; `None` when no retry is left (the failure was notified).
    next: Option<OffsetDateTime>,
}

/// Remembers which notifications were raised, so none repeats.
#[derive(Debug, Clone)]
pub struct Scheduler {
    leads: Vec<Duration>,
    refresh_before: Duration,
    auto_refresh: bool,
    /// (profile, expiry) → lead times already handled (zero stands for the expiry itself),
    /// by value, so new lead times from new settings neither repeat nor skip one.
    fired: BTreeMap<(String, i64), BTreeSet<Duration>>,
    /// (section, expiry) → the retries of a refresh that failed.
    retries: BTreeMap<(String, i64), Retry>,
    /// Section → when it was last handed out for a refresh.
    attempted: BTreeMap<String, OffsetDateTime>,
}

/// `t - d`, or the earliest time there is (never a panic, however long `d`).
fn before(t: OffsetDateTime, d: Duration) -> OffsetDateTime {
    time::Duration::try_from(d).ok().and_then(|d| t.checked_sub(d)).unwrap_or(time::PrimitiveDateTime::MIN.assume_utc())
}

/// `t + d`, or the latest time there is.
fn after(t: OffsetDateTime, d: Duration) -> OffsetDateTime {
    time::Duration::try_from(d).ok().and_then(|d| t.checked_add(d)).unwrap_or(time::PrimitiveDateTime::MAX.assume_utc())
}

impl Scheduler {
    /// A scheduler with notification lead times (any order) and the refresh lead.
    pub fn new(leads: &[Duration], refresh_before: Duration, auto_refresh: bool) -> Scheduler {
        let mut leads = leads.to_vec();
        leads.sort_unstable_by(|a, b| b.cmp(a));
        leads.dedup();
        Scheduler { leads, refresh_before, auto_refresh, fired: BTreeMap::new(), retries: BTreeMap::new(), attempted: BTreeMap::new() }
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
        let mut next: Vec<OffsetDateTime> = vec![after(now, MAX_SLEEP)];
        // Deadlines: each lead time before expiry, longest first, then expiry itself.
        let leads: Vec<Duration> = self.leads.iter().copied().filter(|l| !l.is_zero()).chain(std::iter::once(Duration::ZERO)).collect();
        for (profile, expires) in &seen.sessions {
            let key = (profile.clone(), expires.unix_timestamp());
            let first_look = !self.fired.contains_key(&key);
            let fired = self.fired.entry(key).or_default();
            // A notice less urgent than one already given is no news (after new settings).
            let given = fired.iter().min().copied();
            let passed: Vec<Duration> =
                leads.iter().copied().filter(|l| before(*expires, *l) <= now && !fired.contains(l) && given.is_none_or(|g| *l < g)).collect();
            if let Some(&most_urgent) = passed.last() {
                let stale = now - before(*expires, most_urgent) > STALE && first_look;
                if !stale {
                    due.alerts.push(if most_urgent.is_zero() {
                        Alert::Expired { profile: profile.clone() }
                    } else {
                        let left = (*expires - now).max(time::Duration::ZERO);
                        Alert::Expiring { profile: profile.clone(), left: Duration::from_secs(left.whole_seconds() as u64) }
                    });
                }
                fired.extend(passed);
            }
            let given = fired.iter().min().copied();
            if let Some(d) = leads.iter().filter(|l| !fired.contains(l) && given.is_none_or(|g| **l < g)).map(|l| before(*expires, *l)).min() {
                next.push(d);
            }
        }
        if self.auto_refresh {
            for (section, _role, expires, session_valid) in &seen.roles {
                if !session_valid {
                    continue;
                }
                let at = match self.retries.get(&(section.clone(), expires.unix_timestamp())) {
                    Some(Retry { next: None, .. }) => continue,
                    // A retry keeps its own pace.
                    Some(Retry { next: Some(at), .. }) => *at,
                    None => {
                        let gap = self.attempted.get(section).map(|t| after(*t, MIN_REFRESH_GAP));
                        gap.map_or(before(*expires, self.refresh_before), |g| before(*expires, self.refresh_before).max(g))
                    }
                };
                if at <= now {
                    due.refresh.push(section.clone());
                    self.attempted.insert(section.clone(), now);
                } else {
                    next.push(at);
                }
            }
        }
        // Forget retries of credentials long gone.
        self.retries.retain(|(_, expiry), _| *expiry > (now - STALE).unix_timestamp());
        due.next = next.into_iter().min();
        due
    }

    /// Records a failed refresh of `section` (whose credentials expire at `expires`) at
    /// `now`. A `passing` failure (network, AWS busy, a busy file) is retried with
    /// growing pauses; the alert comes once, when no retry is left before `expires`, or
    /// at once for a failure that retrying cannot mend.
    pub fn refresh_failed(&mut self, section: &str, role: &str, expires: OffsetDateTime, message: &str, passing: bool, now: OffsetDateTime) -> Option<Alert> {
        let retry = self.retries.entry((section.to_owned(), expires.unix_timestamp())).or_insert(Retry { failures: 0, next: Some(now) });
        retry.next?;
        retry.failures += 1;
        let pause = RETRY_FIRST.saturating_mul(1 << (retry.failures - 1).min(16)).min(RETRY_MAX);
        let next = after(now, pause);
        if passing && next < expires {
            retry.next = Some(next);
            return None;
        }
        retry.next = None;
        let message = if passing {
            let left = (expires - now).max(time::Duration::ZERO);
            let when = if left.is_zero() { "have expired".to_owned() } else { format!("run out in {}", crate::types::human_duration(Duration::from_secs(left.whole_seconds() as u64))) };
            format!("{message} (tried {} times; its credentials {when})", retry.failures)
        } else {
            message.to_owned()
        };
        Some(Alert::RefreshFailed { role: role.to_owned(), message })
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

    /// Role credentials of admin in [default], expiring at `expires`, with a valid session.
    fn role(expires: OffsetDateTime) -> Observed {
        Observed { sessions: vec![], roles: vec![("default".into(), "admin".into(), expires, true)] }
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
        let seen = role(role_exp);
        let due = s.tick(T0, &seen);
        assert!(due.refresh.is_empty());
        let due = s.tick(role_exp - min(10) - time::Duration::seconds(10), &seen);
        assert!(due.refresh.is_empty());
        assert_eq!(due.next, Some(role_exp - min(10)));
        assert_eq!(s.tick(role_exp - min(10), &seen).refresh, ["default"]);
        // No session: nothing to refresh with (the session alerts tell the user).
        let dead = Observed { sessions: vec![], roles: vec![("default".into(), "admin".into(), role_exp, false)] };
        assert!(s.tick(role_exp - min(5), &dead).refresh.is_empty());
        // Auto-refresh off: never.
        let mut off = Scheduler::new(&[], Duration::from_secs(600), false);
        assert!(off.tick(role_exp, &seen).refresh.is_empty());
    }

    fn secs(n: i64) -> time::Duration {
        time::Duration::seconds(n)
    }

    #[test]
    fn a_refresh_that_cannot_work_is_notified_once_and_not_retried() {
        let mut s = scheduler();
        let role_exp = T0 + min(60);
        let seen = role(role_exp);
        let at = role_exp - min(10);
        assert_eq!(s.tick(at, &seen).refresh, ["default"]);
        let alert = s.refresh_failed("default", "admin", role_exp, "AccessDenied", false, at);
        assert_eq!(alert, Some(Alert::RefreshFailed { role: "admin".into(), message: "AccessDenied".into() }));
        assert_eq!(s.refresh_failed("default", "admin", role_exp, "AccessDenied", false, at), None);
        for m in 0..10 {
            assert!(s.tick(at + min(m), &seen).refresh.is_empty(), "no retry at +{m} min");
        }
        // New credentials (a switch, a login): a fresh start.
        let new_exp = role_exp + min(60);
        let seen = role(new_exp);
        assert_eq!(s.tick(new_exp - min(10), &seen).refresh, ["default"]);
    }

    #[test]
    fn a_passing_failure_is_retried_with_growing_pauses_and_notified_when_none_is_left() {
        let mut s = scheduler();
        let role_exp = T0 + min(60);
        let seen = role(role_exp);
        let mut now = role_exp - min(10);
        assert_eq!(s.tick(now, &seen).refresh, ["default"]);
        // Offline after a resume: retried 15 s, 30 s, 60 s, 120 s, 240 s later...
        let mut waits = Vec::new();
        loop {
            let alert = s.refresh_failed("default", "admin", role_exp, "cannot reach AWS", true, now);
            if let Some(alert) = alert {
                // ... until the next retry would come after the credentials expired.
                let Alert::RefreshFailed { message, .. } = alert else { panic!() };
                assert_eq!(message, "cannot reach AWS (tried 6 times; its credentials run out in 2m)");
                break;
            }
            // The tray ticks every second: the first tick that hands out the retry.
            let wait = (1..=600).find(|t| !s.tick(now + secs(*t), &seen).refresh.is_empty()).expect("a retry");
            waits.push(wait);
            now += secs(wait);
        }
        assert_eq!(waits, [15, 30, 60, 120, 240]);
        assert!(s.tick(now + secs(10), &seen).refresh.is_empty(), "and then no more");
    }

    #[test]
    fn a_retry_that_succeeds_notifies_nothing() {
        let mut s = scheduler();
        let role_exp = T0 + min(60);
        let seen = role(role_exp);
        let now = role_exp - min(10);
        assert_eq!(s.tick(now, &seen).refresh, ["default"]);
        assert_eq!(s.refresh_failed("default", "admin", role_exp, "no network", true, now), None);
        assert_eq!(s.tick(now + secs(15), &seen).refresh, ["default"]);
        // It worked: the section has new credentials, due again only in 50 minutes.
        let fresh = role(now + secs(15) + min(60));
        let due = s.tick(now + secs(16), &fresh);
        assert!(due.refresh.is_empty() && due.alerts.is_empty());
    }

    #[test]
    fn no_section_is_refreshed_more_than_once_a_minute() {
        // Credentials that come back already due (a role shorter than the lead, a clock
        // far off) are not re-assumed at every tick.
        let mut s = scheduler();
        let mut refreshes = 0;
        for tick in 0..600 {
            let now = T0 + secs(tick);
            // Each refresh yields credentials that expire in 5 minutes (inside the lead).
            refreshes += s.tick(now, &role(now + min(5))).refresh.len();
        }
        assert_eq!(refreshes, 10, "once a minute over ten minutes");
    }

    #[test]
    fn new_lead_times_neither_repeat_nor_skip_a_notice() {
        let mut s = scheduler();
        let exp = T0 + min(60);
        let seen = session(exp);
        assert_eq!(s.tick(exp - min(15), &seen).alerts.len(), 1, "the 15-minute notice");
        // New settings: 30, 15 and 5 minutes. The 15-minute one was given; 30 has passed
        // unseen, but a notice less urgent than one already given is no news.
        s.reconfigure(Scheduler::new(&[Duration::from_secs(1800), Duration::from_secs(900), Duration::from_secs(300)], Duration::from_secs(600), true));
        assert!(s.tick(exp - min(14), &seen).alerts.is_empty());
        assert_eq!(s.tick(exp - min(5), &seen).alerts, [Alert::Expiring { profile: "corp".into(), left: Duration::from_secs(300) }]);
    }

    #[test]
    fn huge_lead_times_do_not_panic() {
        let mut s = Scheduler::new(&[Duration::MAX], Duration::MAX, true);
        let seen = Observed { sessions: vec![("corp".into(), T0 + min(60))], roles: vec![("default".into(), "admin".into(), T0 + min(60), true)] };
        let due = s.tick(T0, &seen);
        assert_eq!(due.refresh, ["default"]);
    }
}
