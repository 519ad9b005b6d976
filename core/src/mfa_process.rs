//! Codes from a command: a profile's `mfa_process` (aws-vault's key), such as
//! `ykman oath accounts code -s aws`, `op item get AWS --otp` or
//! `oathtool --totp -b SECRET`, run instead of asking the user.
//!
//! The command runs through the platform's shell with no input, for at most
//! [`TIMEOUT`] (a YubiKey may wait for a touch). Its output must be the code and nothing
//! else, checked like a typed one; what it prints is never repeated in a message (a
//! misconfigured password manager may print a secret), only its exit status and the last
//! line of its error output.

use std::collections::HashMap;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::secret::{scrub, Secret};
use crate::types::MfaCode;

/// How long the command may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// How long its output may stay open after it exited (a child it left behind).
const GRACE: Duration = Duration::from_secs(1);
/// A TOTP code is good for one 30-second step, and AWS takes each code once.
const STEP: Duration = Duration::from_secs(30);

/// The last code each command gave in this process, and when: a second login within the
/// same step would send the same code, which AWS refuses, so it waits for the next one.
static LAST: Mutex<Option<HashMap<String, (Secret, Instant)>>> = Mutex::new(None);

/// Runs `command` for `profile` and returns the code it printed, never the same code
/// twice within one step (it waits for the next step instead).
pub fn code(profile: &str, command: &str) -> Result<MfaCode, Error> {
    let first = run(profile, command)?;
    let reused = {
        let last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        last.as_ref().and_then(|m| m.get(command)).filter(|(c, at)| c.expose() == first.as_str() && at.elapsed() < STEP).map(|(_, at)| *at)
    };
    let code = match reused {
        Some(at) => {
            std::thread::sleep(STEP.saturating_sub(at.elapsed()) + Duration::from_millis(500));
            run(profile, command)?
        }
        None => first,
    };
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    last.get_or_insert_with(HashMap::new).insert(command.to_owned(), (Secret::new(code.as_str()), Instant::now()));
    Ok(code)
}

/// Runs the command once. Messages name the profile and the program, never the rest of
/// the command line (it may hold a TOTP seed, as `oathtool -b SEED` does).
fn run(profile: &str, command: &str) -> Result<MfaCode, Error> {
    let program = command.split_whitespace().next().unwrap_or("");
    let fail = |what: String| Error::bad_input("mfa_process", format!("the mfa_process of {profile} ({program} …) {what}"));
    let mut child = shell(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("could not be started: {e}")))?;
    // Both pipes are read on threads (a chatty command cannot block on a full pipe) and
    // handed over through channels, so a child left holding them cannot hold us.
    let reader = |pipe: Box<dyn Read + Send>, cap: u64| {
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            let mut pipe = pipe.take(cap);
            let mut buf = [0u8; 1024];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        rx
    };
    // What arrived on a pipe by its end, or by `until` (a child may hold it open).
    let collect = |rx: mpsc::Receiver<Vec<u8>>, until: Instant| {
        let mut all = Vec::new();
        while let Ok(chunk) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            all.extend(chunk);
        }
        all
    };
    let out = reader(Box::new(child.stdout.take().expect("piped")), 4096);
    let err = reader(Box::new(child.stderr.take().expect("piped")), 64 * 1024);
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < TIMEOUT => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                end(&mut child);
                return Err(fail(format!("printed no code within {} s", TIMEOUT.as_secs())));
            }
            Err(e) => {
                end(&mut child);
                return Err(fail(format!("could not be waited for: {e}")));
            }
        }
    };
    let until = Instant::now() + GRACE;
    let printed = Secret::new(String::from_utf8_lossy(&collect(out, until)).into_owned());
    let errors = String::from_utf8_lossy(&collect(err, until)).into_owned();
    // Whatever it left running goes with it.
    end(&mut child);
    let last_error = errors.lines().rev().find(|l| !l.trim().is_empty()).map(|l| scrub(l.trim(), &[printed.expose(), command]));
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

/// Ends the command and everything it started (its process group, on Unix).
fn end(child: &mut Child) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals the process group the child leads
        // (it was started as one); it touches no memory.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(unix)]
fn shell(command: &str) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new("/bin/sh");
    // A process group of its own, so that a timeout ends whatever it started too.
    cmd.arg("-c").arg(command).process_group(0);
    cmd
}

#[cfg(windows)]
fn shell(command: &str) -> Command {
    use std::os::windows::process::CommandExt;
    let mut cmd = Command::new("cmd");
    // As typed: Rust's quoting for other programs would mangle cmd's own syntax.
    cmd.raw_arg("/C").raw_arg(command);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_failures() {
        assert_eq!(run("corp", "echo ' 123 456'").unwrap().as_str(), "123456");
        let e = run("corp", "echo 'device not found' >&2; echo partial; exit 3").unwrap_err();
        assert_eq!(e.message, "the mfa_process of corp (echo …) failed (exit status 3): device not found");
        // The command line is never shown: it may hold a TOTP seed.
        let e = run("corp", "oathtool --totp -b JBSWY3DPSEED; exit 4").unwrap_err();
        assert!(!e.message.contains("JBSWY3DPSEED"), "{}", e.message);
        // What it printed is never repeated: it may be a secret.
        let e = run("corp", "printf 'hun%s' ter2secret; printf 'said hun%s\n' ter2secret >&2").unwrap_err();
        assert!(e.message.ends_with("printed something other than a 6-digit code (it must print the code alone)"), "{}", e.message);
        assert!(!e.message.contains("hunter2secret"), "{}", e.message);
        let e = run("corp", "printf 'hun%s' ter2secret; printf 'said hun%s\n' ter2secret >&2; exit 1").unwrap_err();
        assert!(e.message.ends_with("failed (exit status 1): said [redacted]"), "{}", e.message);
        let e = run("corp", "/nonexistent/ykman").unwrap_err();
        assert!(e.message.contains("failed (exit status 127)"), "{}", e.message);
    }

    #[test]
    fn a_child_left_holding_the_output_does_not_hold_the_caller() {
        let start = Instant::now();
        assert_eq!(run("corp", "echo 123456; sleep 60 &").unwrap().as_str(), "123456");
        assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
    }

    #[test]
    fn the_same_code_is_not_given_twice_in_one_step() {
        // A command that prints one fixed code: the second call waits for the next step,
        // then gets the same code again and gives it, as a device would give a new one.
        let start = Instant::now();
        code("corp", "echo 654321 # once").unwrap();
        code("corp", "echo 654321 # once").unwrap();
        assert!(start.elapsed() >= STEP, "waited for the next step: {:?}", start.elapsed());
    }
}
