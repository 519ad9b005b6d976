//! The Windows build under Wine (`scripts/test-windows`): whether the tests run it, and
//! a second Windows program (`probe.exe`, from `scripts/windows/probe.c`) that holds
//! files open and locked as other programs on a user's machine do.

use std::io::{BufRead, BufReader, Read};
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

/// Another Windows program (`probe.exe ARGS`, see scripts/windows/probe.c), returned once
/// it said that it holds what it was given ("held" or "locked").
pub fn probe(args: &[&str]) -> Child {
    let mut child = wine()
        .arg(probe_exe())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert!(matches!(line.trim(), "held" | "locked"), "probe {args:?} said {line:?}");
    child
}

/// Waits for a probe and returns what it said after its first line.
pub fn finish(mut child: Child) -> String {
    let mut rest = String::new();
    child.stdout.take().unwrap().read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success(), "probe failed");
    rest
}

/// Tests that use the Wine prefix's own user profile (its `.aws`, its registry) take
/// this lock, so that they run one at a time whoever runs them.
pub fn profile_lock() -> std::fs::File {
    let prefix = std::env::var_os("WINEPREFIX").expect("WINEPREFIX");
    let file = std::fs::File::create(Path::new(&prefix).join(".mfa-tray-tests.lock")).unwrap();
    file.lock().unwrap();
    file
}
