//! The Windows build under Wine (`scripts/test-windows`): whether the tests run it, and
//! a second Windows program (`probe.exe`, from `scripts/windows/probe.c`) that holds
//! files open and locked as other programs on a user's machine do.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Whether the tests run the Windows build (`MFA_TRAY_TEST_EXE`) rather than this one.
pub fn windows_build() -> bool {
    std::env::var_os("MFA_TRAY_TEST_EXE").is_some()
}

/// Wine, as `scripts/test-windows` names it.
pub fn wine() -> Command {
    Command::new(std::env::var_os("MFA_TRAY_TEST_RUNNER").unwrap_or_else(|| "wine64".into()))
}

/// A Linux path as Windows programs under Wine see it (drive Z: is `/`).
pub fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

fn probe_exe() -> String {
    std::env::var("MFA_TRAY_TEST_PROBE").expect("MFA_TRAY_TEST_PROBE names probe.exe (scripts/test-windows builds it)")
}

/// Another Windows program holding `path` (`hold`: open, sharing read and write but not
/// delete; `lock`: LockFileEx) for `ms` milliseconds; returns once it holds it.
pub fn hold(how: &str, path: &Path, ms: u32) -> Child {
    let mut child = wine()
        .arg(probe_exe())
        .args([how, &windows_path(path), &ms.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert!(matches!(line.trim(), "held" | "locked"), "probe {how} said {line:?}");
    child
}
