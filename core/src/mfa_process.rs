//! Codes from a command: a profile's `mfa_process` (aws-vault's key), such as
//! `ykman oath accounts code -s aws`, `op item get AWS --otp` or
//! `oathtool --totp -b SECRET`, run instead of asking the user.
//!
//! The command runs through the platform's shell with no input, for at most
//! [`TIMEOUT`] (a YubiKey may wait for a touch). Its output must be the code and nothing
//! else, checked like a typed one; what it prints is never repeated in a message (a
//! misconfigured password manager may print a secret), only its exit status and the last
//! line of its error output.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::secret::{scrub, Secret};
use crate::types::MfaCode;

/// How long the command may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `command` for `profile` and returns the code it printed.
pub fn code(profile: &str, command: &str) -> Result<MfaCode, Error> {
    let fail = |what: String| Error::bad_input("mfa_process", format!("mfa_process of {profile} ({command}) {what}"));
    let mut child = shell(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("could not be started: {e}")))?;
    // Read both pipes on threads, so a chatty command cannot block on a full pipe.
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.by_ref().take(4096).read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.by_ref().take(64 * 1024).read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < TIMEOUT => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!("printed no code within {} s", TIMEOUT.as_secs())));
            }
            Err(e) => return Err(fail(format!("could not be waited for: {e}"))),
        }
    };
    let printed = Secret::new(String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned());
    let errors = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    let last_error = errors.lines().rev().find(|l| !l.trim().is_empty()).map(|l| scrub(l.trim(), &[printed.expose()]));
    if !status.success() {
        let what = match status.code() {
            Some(c) => format!("exit status {c}"),
            None => "killed by a signal".to_owned(),
        };
        let said = last_error.map(|l| format!(": {l}")).unwrap_or_default();
        return Err(fail(format!("failed ({what}){said}")));
    }
    printed.expose().trim().parse::<MfaCode>().map_err(|_| fail("printed something other than a 6-digit code (it must print the code alone)".to_owned()))
}

#[cfg(unix)]
fn shell(command: &str) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(command);
    cmd
}

#[cfg(windows)]
fn shell(command: &str) -> Command {
    let mut cmd = Command::new("cmd");
    cmd.arg("/C").arg(command);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_failures() {
        assert_eq!(code("corp", "echo ' 123 456'").unwrap().as_str(), "123456");
        let e = code("corp", "echo 'device not found' >&2; echo partial; exit 3").unwrap_err();
        assert_eq!(e.message, "mfa_process of corp (echo 'device not found' >&2; echo partial; exit 3) failed (exit status 3): device not found");
        // What it printed is never repeated: it may be a secret.
        let e = code("corp", "printf 'hun%s' ter2secret; printf 'said hun%s\n' ter2secret >&2").unwrap_err();
        assert!(e.message.ends_with("printed something other than a 6-digit code (it must print the code alone)"), "{}", e.message);
        assert!(!e.message.contains("hunter2secret"), "{}", e.message);
        let e = code("corp", "printf 'hun%s' ter2secret; printf 'said hun%s\n' ter2secret >&2; exit 1").unwrap_err();
        assert!(e.message.ends_with("failed (exit status 1): said [redacted]"), "{}", e.message);
        let e = code("corp", "/nonexistent/ykman").unwrap_err();
        assert!(e.message.contains("failed (exit status 127)"), "{}", e.message);
    }
}
