//! The app's own settings: a small TOML file that nobody has to write.
//!
//! It lives at `$MFA_TRAY_CONFIG_DIR/settings.toml`, or in the platform's config
//! directory (`~/.config/mfa-tray/settings.toml` on Linux). Every key is optional.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::env::Environment;
use crate::ini::check_section_name;
use crate::types::{check_duration, ROLE_DURATION, SESSION_DURATION, SESSION_ROLE_CAP};

/// Overrides the settings directory (tests, portable installs).
pub const CONFIG_DIR_VAR: &str = "MFA_TRAY_CONFIG_DIR";

/// The settings, validated, with defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The credentials-file profile that holds the active role (for tools that cannot
    /// assume roles themselves).
    pub target_profile: String,
    /// Where an MFA session profile `X` keeps its long-term keys: `[X<suffix>]`.
    pub long_term_suffix: String,
    /// How long before the MFA session ends to notify, longest first.
    pub notify_before: Vec<Duration>,
    /// GetSessionToken duration when neither the flag nor the profile says (AWS: 12 h).
    pub session_duration: Duration,
    /// AssumeRole duration when neither the flag nor the profile says.
    pub role_duration: Duration,
    /// Whether the tray re-assumes roles in the background.
    pub auto_refresh: bool,
    /// How close to expiry role credentials get re-assumed.
    pub refresh_before: Duration,
    /// How long a writer waits for another writer's lock on the credentials file.
    pub lock_timeout: Duration,
    /// Whether the tray logs in again by itself, with the profile's `mfa_process`, when
    /// an MFA session is about to expire.
    pub auto_login: bool,
    /// Whether the tray starts with the desktop session; `None` until chosen (the tray
    /// turns it on after the first successful login).
    pub start_at_login: Option<bool>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            target_profile: "default".into(),
            long_term_suffix: "-long-term".into(),
            notify_before: vec![Duration::from_secs(15 * 60), Duration::from_secs(2 * 60)],
            session_duration: Duration::from_secs(43_200),
            role_duration: Duration::from_secs(3600),
            auto_refresh: true,
            refresh_before: Duration::from_secs(10 * 60),
            lock_timeout: Duration::from_secs(5),
            auto_login: false,
            start_at_login: None,
        }
    }
}

/// The file as written; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawSettings {
    target_profile: Option<String>,
    long_term_suffix: Option<String>,
    notify_before_minutes: Option<Vec<u64>>,
    session_duration_seconds: Option<u64>,
    role_duration_seconds: Option<u64>,
    auto_refresh: Option<bool>,
    refresh_before_minutes: Option<u64>,
    lock_timeout_seconds: Option<u64>,
    auto_login: Option<bool>,
    start_at_login: Option<bool>,
}

/// A settings file that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("settings file {path}: {message}")]
pub struct SettingsError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Settings {
    /// Where the settings file is (whether or not it exists).
    pub fn path(env: &dyn Environment) -> Option<PathBuf> {
        env.var_path(CONFIG_DIR_VAR)
            .or_else(|| env.config_dir().map(|d| d.join("mfa-tray")))
            .map(|d| d.join("settings.toml"))
    }

    /// Reads the settings; a missing file gives the defaults.
    pub fn load(env: &dyn Environment) -> Result<Settings, SettingsError> {
        match Settings::path(env) {
            Some(path) => Settings::load_from(&path),
            None => Ok(Settings::default()),
        }
    }

    /// Reads settings from a given file; a missing file gives the defaults.
    pub fn load_from(path: &Path) -> Result<Settings, SettingsError> {
        let err = |message: String| SettingsError { path: path.to_owned(), message };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => return Err(err(format!("cannot read it ({e})"))),
        };
        Settings::from_toml(&text).map_err(err)
    }

    /// Reads settings from the text of a settings file, checking them.
    pub fn from_toml(text: &str) -> Result<Settings, String> {
        let raw: RawSettings = toml::from_str(text).map_err(|e| {
            let message = e.message().trim().replace('\n', "; ");
            match e.span() {
                Some(span) => format!("line {}: {message}", text[..span.start.min(text.len())].matches('\n').count() + 1),
                None => message,
            }
        })?;
        Settings::from_raw(raw)
    }

    /// Checks settings built by a front end, as if they had been read from the file.
    pub fn validated(self) -> Result<Settings, String> {
        Settings::from_toml(&self.to_toml())
    }

    /// The settings as the TOML file holds them.
    pub fn to_toml(&self) -> String {
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let minutes = |d: &Duration| (d.as_secs() / 60).to_string();
        format!(
            "# mfa-tray settings (see the README). Every key is optional.\n\
             target_profile = {}\n\
             long_term_suffix = {}\n\
             notify_before_minutes = [{}]\n\
             session_duration_seconds = {}\n\
             role_duration_seconds = {}\n\
             auto_refresh = {}\n\
             refresh_before_minutes = {}\n\
             lock_timeout_seconds = {}\n\
             auto_login = {}\n{}",
            quote(&self.target_profile),
            quote(&self.long_term_suffix),
            self.notify_before.iter().map(minutes).collect::<Vec<_>>().join(", "),
            self.session_duration.as_secs(),
            self.role_duration.as_secs(),
            self.auto_refresh,
            minutes(&self.refresh_before),
            self.lock_timeout.as_secs(),
            self.auto_login,
            self.start_at_login.map(|s| format!("start_at_login = {s}\n")).unwrap_or_default(),
        )
    }

    /// Writes the settings file (a temporary file, fsynced, renamed over the old one: a
    /// crash leaves the old settings or the new ones, never an empty file).
    pub fn save(&self, env: &dyn Environment) -> Result<PathBuf, SettingsError> {
        Settings::save_text(env, &self.to_toml())
    }

    /// Adds `key = value` to the settings file as it is (comments and all), for a choice
    /// the app records by itself; checked before it is written.
    pub fn record(env: &dyn Environment, key: &str, value: &str) -> Result<Settings, SettingsError> {
        let path = Settings::path(env).ok_or_else(|| SettingsError { path: PathBuf::from("settings.toml"), message: "no config directory".into() })?;
        let mut text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(SettingsError { path, message: format!("cannot read it ({e})") }),
        };
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("{key} = {value}\n"));
        let settings = Settings::from_toml(&text).map_err(|message| SettingsError { path: path.clone(), message })?;
        Settings::save_text(env, &text)?;
        Ok(settings)
    }

    fn save_text(env: &dyn Environment, text: &str) -> Result<PathBuf, SettingsError> {
        let path = Settings::path(env).ok_or_else(|| SettingsError { path: PathBuf::from("settings.toml"), message: "no config directory".into() })?;
        let err = |e: std::io::Error| SettingsError { path: path.clone(), message: format!("cannot write it ({e})") };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(err)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
        std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        tmp.persist(&path).map_err(|e| err(e.error))?;
        Ok(path)
    }

    fn from_raw(raw: RawSettings) -> Result<Settings, String> {
        let d = Settings::default();
        let secs = Duration::from_secs;
        let target_profile = raw.target_profile.unwrap_or(d.target_profile);
        check_section_name(&target_profile).map_err(|e| format!("target_profile: {e}"))?;
        let long_term_suffix = raw.long_term_suffix.unwrap_or(d.long_term_suffix);
        if long_term_suffix.is_empty() {
            return Err("long_term_suffix must not be empty (the default is \"-long-term\")".into());
        }
        check_section_name(&format!("x{long_term_suffix}")).map_err(|e| format!("long_term_suffix: {e}"))?;
        let session_duration = match raw.session_duration_seconds {
            Some(s) => check_duration(secs(s), SESSION_DURATION, "GetSessionToken")
                .map_err(|e| format!("session_duration_seconds: {e}"))?,
            None => d.session_duration,
        };
        let role_duration = match raw.role_duration_seconds {
            Some(s) => check_duration(secs(s), ROLE_DURATION, "AssumeRole")
                .map_err(|e| format!("role_duration_seconds: {e}"))?,
            None => d.role_duration,
        };
        let mut notify_before: Vec<Duration> = match raw.notify_before_minutes {
            Some(v) => v.into_iter().map(|m| secs(m.saturating_mul(60))).collect(),
            None => d.notify_before,
        };
        notify_before.sort_unstable_by(|a, b| b.cmp(a));
        notify_before.dedup();
        if notify_before.len() > MAX_NOTICES {
            return Err(format!("notify_before_minutes: at most {MAX_NOTICES} lead times (the expiry itself is always notified)"));
        }
        for lead in &notify_before {
            if lead.is_zero() {
                return Err("notify_before_minutes: 0 is not a lead time; the expiry itself is always notified".into());
            }
            if *lead >= session_duration {
                return Err(format!(
                    "notify_before_minutes: {} is not shorter than an MFA session ({} with session_duration_seconds = {})",
                    minutes_text(*lead),
                    minutes_text(session_duration),
                    session_duration.as_secs()
                ));
            }
        }
        let refresh_before = raw.refresh_before_minutes.map_or(d.refresh_before, |m| secs(m.saturating_mul(60)));
        // Role sessions assumed through the MFA session last at most an hour, and at
        // most role_duration_seconds: a lead as long would re-assume at every tick.
        let shortest_role = role_duration.min(SESSION_ROLE_CAP);
        if refresh_before.is_zero() || refresh_before >= shortest_role {
            return Err(format!(
                "refresh_before_minutes: {} must be at least 1 minute and shorter than a role session ({}: role_duration_seconds = {}, and at most 1 hour through the MFA session)",
                minutes_text(refresh_before),
                minutes_text(shortest_role),
                role_duration.as_secs()
            ));
        }
        let lock_timeout = raw.lock_timeout_seconds.map_or(d.lock_timeout, secs);
        if !(1..=MAX_LOCK_TIMEOUT_SECS).contains(&lock_timeout.as_secs()) {
            return Err(format!("lock_timeout_seconds: {} is outside 1 to {MAX_LOCK_TIMEOUT_SECS}", lock_timeout.as_secs()));
        }
        Ok(Settings {
            target_profile,
            long_term_suffix,
            notify_before,
            session_duration,
            role_duration,
            auto_refresh: raw.auto_refresh.unwrap_or(d.auto_refresh),
            refresh_before,
            lock_timeout,
            auto_login: raw.auto_login.unwrap_or(d.auto_login),
            start_at_login: raw.start_at_login,
        })
    }
}

/// The most notification lead times before an MFA session ends.
const MAX_NOTICES: usize = 5;
/// The longest a writer waits for another mfa-tray's lock.
const MAX_LOCK_TIMEOUT_SECS: u64 = 60;

fn minutes_text(d: Duration) -> String {
    let m = d.as_secs() / 60;
    if m == 1 {
        "1 minute".into()
    } else {
        format!("{m} minutes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, String> {
        Settings::from_raw(toml::from_str(text).map_err(|e| e.to_string())?)
    }

    #[test]
    fn errors_name_the_line() {
        let e = Settings::from_toml("target_profile = \"work\"\n\nsession_duration = 5\n").unwrap_err();
        assert!(e.starts_with("line 3: unknown field `session_duration`"), "{e}");
        let e = Settings::from_toml("[x\n").unwrap_err();
        assert!(e.starts_with("line 1: ") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(parse("").unwrap(), Settings::default());
    }

    #[test]
    fn values_are_read_and_checked() {
        let s = parse("target_profile = \"work\"\nnotify_before_minutes = [2, 30, 2]\nlock_timeout_seconds = 1\n").unwrap();
        assert_eq!(s.target_profile, "work");
        assert_eq!(s.notify_before, vec![Duration::from_secs(1800), Duration::from_secs(120)]);
        assert_eq!(s.lock_timeout, Duration::from_secs(1));
        assert!(parse("target_profile = \"a]\\n[b\"").unwrap_err().contains("target_profile"));
        assert!(parse("session_duration_seconds = 60").unwrap_err().contains("1m is outside what AWS allows for GetSessionToken: 15m to 36h"));
        assert!(parse("no_such_key = 1").unwrap_err().contains("no_such_key"));
    }

    #[test]
    fn settings_are_checked_against_each_other() {
        // A refresh lead as long as a role session would re-assume at every tick.
        let e = parse("refresh_before_minutes = 60").unwrap_err();
        assert!(e.contains("refresh_before_minutes: 60 minutes must be at least 1 minute and shorter than a role session (60 minutes"), "{e}");
        let e = parse("role_duration_seconds = 900\nrefresh_before_minutes = 15").unwrap_err();
        assert!(e.contains("shorter than a role session (15 minutes: role_duration_seconds = 900"), "{e}");
        assert!(parse("role_duration_seconds = 900\nrefresh_before_minutes = 14").is_ok());
        assert!(parse("refresh_before_minutes = 0").unwrap_err().contains("at least 1 minute"));
        // Lead times shorter than the session they warn about; huge numbers are refused,
        // not overflowed.
        let e = parse("session_duration_seconds = 3600\nnotify_before_minutes = [60]").unwrap_err();
        assert!(e.contains("notify_before_minutes: 60 minutes is not shorter than an MFA session (60 minutes with session_duration_seconds = 3600)"), "{e}");
        assert!(parse("notify_before_minutes = [9223372036854775807]").unwrap_err().contains("not shorter than an MFA session"));
        assert!(parse("refresh_before_minutes = 9223372036854775807").unwrap_err().contains("refresh_before_minutes"));
        assert!(parse("notify_before_minutes = [0]").unwrap_err().contains("0 is not a lead time"));
        assert!(parse("notify_before_minutes = [1, 2, 3, 4, 5, 6]").unwrap_err().contains("at most 5"));
        assert!(parse("notify_before_minutes = []").is_ok(), "no notices before expiry is a choice");
        assert!(parse("lock_timeout_seconds = 0").unwrap_err().contains("outside 1 to 60"));
        assert!(parse("lock_timeout_seconds = 100000").unwrap_err().contains("outside 1 to 60"));
        assert!(parse("target_profile = \"DEFAULT\"").unwrap_err().contains("target_profile"));
    }

    #[test]
    fn written_settings_read_back_the_same() {
        let s = Settings {
            target_profile: "we\"ird\\name".into(),
            notify_before: vec![Duration::from_secs(1800), Duration::from_secs(60)],
            auto_refresh: false,
            auto_login: true,
            ..Settings::default()
        };
        assert_eq!(parse(&s.to_toml()).unwrap(), s);
        for start in [Some(true), Some(false)] {
            let s = Settings { start_at_login: start, ..Settings::default() };
            assert_eq!(parse(&s.to_toml()).unwrap(), s);
        }
        assert!(!Settings::default().to_toml().contains("start_at_login"), "not chosen: not written");
        assert_eq!(parse(&Settings::default().to_toml()).unwrap(), Settings::default());
        let bad = Settings { role_duration: Duration::from_secs(10), ..Settings::default() };
        assert!(bad.validated().unwrap_err().contains("role_duration_seconds"));
    }

    #[test]
    fn missing_file_is_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Settings::load_from(&dir.path().join("nope.toml")).unwrap(), Settings::default());
    }
}
