//! Process-wide inputs (environment variables, the home directory, the clock) behind
//! small traits, so tests run in parallel on their own homes and their own time.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use time::OffsetDateTime;

/// Environment variables and the home directory.
pub trait Environment: Send + Sync {
    /// The value of an environment variable, if set and not empty.
    fn var(&self, name: &str) -> Option<OsString>;
    /// The user's home directory.
    fn home_dir(&self) -> Option<PathBuf>;
    /// The platform's per-user configuration directory (`~/.config` on Linux).
    fn config_dir(&self) -> Option<PathBuf>;

    /// A variable as UTF-8 text; a value that is not UTF-8 counts as unset.
    fn var_str(&self, name: &str) -> Option<String> {
        self.var(name).and_then(|v| v.into_string().ok())
    }

    /// A path from a variable, with a leading `~` expanded as the AWS tools do.
    fn var_path(&self, name: &str) -> Option<PathBuf> {
        let raw = self.var(name)?;
        match raw.to_str() {
            Some("~") => self.home_dir(),
            Some(s) if s.starts_with("~/") => self.home_dir().map(|h| h.join(&s[2..])),
            _ => Some(PathBuf::from(raw)),
        }
    }
}

/// The real process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEnvironment;

impl Environment for OsEnvironment {
    fn var(&self, name: &str) -> Option<OsString> {
        std::env::var_os(name).filter(|v| !v.is_empty())
    }
    fn home_dir(&self) -> Option<PathBuf> {
        // HOME first, as the AWS SDKs do; on Windows then USERPROFILE, as botocore
        // (Python's expanduser) and the SDKs do; the platform's idea of home otherwise.
        let profile = || if cfg!(windows) { self.var("USERPROFILE") } else { None };
        self.var("HOME").or_else(profile).map(PathBuf::from).or_else(dirs::home_dir)
    }
    fn config_dir(&self) -> Option<PathBuf> {
        dirs::config_dir()
    }
}

/// Another environment with some variables replaced: those named in `names` come from
/// `vars` (absent there: unset), the rest and the directories from `base`. The tray
/// answers a tool's request with the tool's own region and endpoint variables this way.
pub struct Overlay {
    /// Where everything else comes from.
    pub base: std::sync::Arc<dyn Environment>,
    /// The variables this overlay decides.
    pub names: &'static [&'static str],
    /// Their values (a name missing here is unset).
    pub vars: std::collections::BTreeMap<String, String>,
}

impl Environment for Overlay {
    fn var(&self, name: &str) -> Option<OsString> {
        if self.names.contains(&name) {
            return self.vars.get(name).filter(|v| !v.is_empty()).map(OsString::from);
        }
        self.base.var(name)
    }
    fn home_dir(&self) -> Option<PathBuf> {
        self.base.home_dir()
    }
    fn config_dir(&self) -> Option<PathBuf> {
        self.base.config_dir()
    }
}

/// A fixed environment for tests: only the variables it was given exist.
#[derive(Debug, Default, Clone)]
pub struct FakeEnvironment {
    /// The variables.
    pub vars: HashMap<String, String>,
    /// The home directory.
    pub home: Option<PathBuf>,
}

impl Environment for FakeEnvironment {
    fn var(&self, name: &str) -> Option<OsString> {
        self.vars.get(name).filter(|v| !v.is_empty()).map(OsString::from)
    }
    fn home_dir(&self) -> Option<PathBuf> {
        self.home.clone()
    }
    fn config_dir(&self) -> Option<PathBuf> {
        self.home.as_ref().map(|h| h.join(".config"))
    }
}

/// The wall clock. Schedules and expiry checks ask this, never the OS directly.
pub trait Clock: Send + Sync {
    /// The current instant in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stays where a test puts it.
#[derive(Debug)]
pub struct FixedClock(pub std::sync::Mutex<OffsetDateTime>);

impl FixedClock {
    /// A clock stopped at `at`.
    pub fn at(at: OffsetDateTime) -> Self {
        FixedClock(std::sync::Mutex::new(at))
    }
    /// Moves the clock (forwards or backwards, as a clock change would).
    pub fn set(&self, at: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
