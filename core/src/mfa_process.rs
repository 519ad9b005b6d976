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
/// twice within one step in this process (it waits for the next step instead).
fn code_in_process(profile: &str, command: &str) -> Result<MfaCode, Error> {
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

/// How long a process waits for another's turn at the codes (each turn: at most one
/// run of the command, and the rest of a step).
const TURN_WAIT: Duration = Duration::from_secs(120);

/// Runs `command` for `profile` (device `mfa_serial`) and returns the code it printed.
/// AWS takes each code once, so no two callers get the same one: within this process,
/// and across processes (the tray, CLIs, tools asking without a tray), which take turns
/// on a lock beside the credentials file `credentials` (see
/// [`crate::file::open_codes_lock`]) recording when each device last gave a code; a
/// caller within the same 30-second step waits for the next one.
pub fn code(profile: &str, command: &str, mfa_serial: &str, credentials: &std::path::Path) -> Result<MfaCode, Error> {
    use std::io::{Seek, Write};
    let lock = credentials;
    // Where no lock can be had (a read-only directory, a file system without locks), the
    // guard within this process is what there is.
    let Ok(mut file) = crate::file::open_codes_lock(lock) else { return code_in_process(profile, command) };
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < TURN_WAIT => std::thread::sleep(Duration::from_millis(50)),
            Err(std::fs::TryLockError::WouldBlock) => {
                let why = format!("the mfa_process of {profile}: other mfa-tray processes kept their turn (the lock beside {}) for {} s", lock.display(), TURN_WAIT.as_secs());
                return Err(Error::new(crate::error::ErrorKind::LocalFile, "codes_lock", why));
            }
            Err(std::fs::TryLockError::Error(_)) => return code_in_process(profile, command),
        }
    }
    // The record: one line per device, `SERIAL<TAB>UNIX SECONDS` of its last code.
    let mut text = String::new();
    let _ = Read::by_ref(&mut file).take(64 * 1024).read_to_string(&mut text);
    let mut record: Vec<(String, u64)> =
        text.lines().filter_map(|l| l.split_once('\t')).filter_map(|(s, t)| Some((s.to_owned(), t.parse().ok()?))).collect();
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let step = STEP.as_secs();
    if let Some((_, last)) = record.iter().find(|(s, _)| s == mfa_serial) {
        // Within the step of the last code: wait for the next step (and a little).
        // (A record from the future, after the clock was set back, is not waited for.)
        let next = Duration::from_secs((last / step).saturating_add(1).saturating_mul(step)).saturating_add(Duration::from_millis(500));
        if let Some(wait) = next.checked_sub(now()).filter(|w| *w <= STEP + Duration::from_secs(1)) {
            std::thread::sleep(wait);
        }
    }
    let code = code_in_process(profile, command)?;
    record.retain(|(s, _)| s != mfa_serial);
    record.push((mfa_serial.to_owned(), now().as_secs()));
    let text: String = record.iter().map(|(s, t)| format!("{s}\t{t}\n")).collect();
    let _ = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(text.as_bytes()));
    Ok(code)
}

/// Runs the command once. Messages name the profile and the key, never any part of the
/// command line (it may hold a TOTP seed, as `oathtool -b SEED` does, even in its first
/// word: `SEED=… oathtool …`).
fn run(profile: &str, command: &str) -> Result<MfaCode, Error> {
    let fail = |what: String| Error::bad_input("mfa_process", format!("the mfa_process of {profile} {what}"));
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
    // The error line may quote the command (`sh: 1: SEED=…: not found`): every word of
    // it that could be a secret is taken out.
    let words = command_words(command);
    let mut hidden: Vec<&str> = vec![printed.expose(), command];
    hidden.extend(words.iter().map(String::as_str));
    let last_error = errors.lines().rev().find(|l| !l.trim().is_empty()).map(|l| scrub(l.trim(), &hidden));
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

/// The words of a command line that could be secrets, to be taken out of what is shown:
/// every run of characters between the shell's separators and quotes that is 16 or
/// more long (a seed, lower case or not), or 6 or more with a digit, a capital or a
/// symbol in it (a password, a key); but not the program's own name or its options,
/// when they are plain lower-case words.
/// Plain words (`device`, `detected`) stay, so a failure still reads.
fn command_words(command: &str) -> Vec<String> {
    let program = command.split_whitespace().next().unwrap_or("");
    let mixed = |w: &str| w.bytes().any(|b| !(b.is_ascii_lowercase() || b"-_./".contains(&b)));
    let name_or_option = |w: &str| (w == program || w.starts_with('-')) && !mixed(w);
    let secret_like = |w: &str| !name_or_option(w) && (w.len() >= 16 || (w.len() >= 6 && mixed(w)));
    let mut words: Vec<String> =
        command.split(|c: char| c.is_whitespace() || "=;|&<>'\"`$(){}".contains(c)).filter(|w| secret_like(w)).map(str::to_owned).collect();
    // Longest first: a word inside a longer one goes with it.
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    words
}

/// Whether a command line carries what looks like a TOTP seed: a base32 word of 16
/// characters or more (`oathtool --totp -b JBSWY3DP…`), a long hex key, or an
/// `otpauth://` link. Such a command shows the seed to anyone who can read the file it is
/// in, and to every local user in the process list while it runs.
pub fn seed_in(command: &str) -> bool {
    let base32 = |w: &str| w.len() >= 16 && w.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
    let hex = |w: &str| w.len() >= 32 && w.bytes().all(|b| b.is_ascii_hexdigit());
    command.contains("otpauth://") || command_words(command).iter().any(|w| base32(&w.to_ascii_uppercase()) || hex(w))
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
        assert_eq!(e.message, "the mfa_process of corp failed (exit status 3): device not found");
        // No part of the command line is ever shown: it may hold a TOTP seed, even in its
        // first word, and the shell's error may quote it.
        let e = run("corp", "oathtool --totp -b JBSWY3DPSEED; exit 4").unwrap_err();
        assert!(!e.message.contains("JBSWY3DPSEED"), "{}", e.message);
        let e = run("corp", "SEED=JBSWY3DPEHPK3PXP; oathtool-missing --totp -b $SEED").unwrap_err();
        assert!(e.message.starts_with("the mfa_process of corp failed (exit status 127): "), "{}", e.message);
        assert!(!e.message.contains("JBSWY3DPEHPK3PXP") && !e.message.contains("SEED"), "{}", e.message);
        let e = run("corp", "JBSWY3DPEHPK3PXQ").unwrap_err();
        assert!(!e.message.contains("JBSWY3DPEHPK3PXQ"), "{}", e.message);
        // A lower-case seed is taken out too; plain words stay.
        let e = run("corp", "sh -c 'echo bad key abcdefghijklmnop >&2; exit 1'").unwrap_err();
        assert!(e.message.ends_with("failed (exit status 1): bad key [redacted]"), "{}", e.message);
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
    fn seeds_on_command_lines_are_seen() {
        for with_seed in ["oathtool --totp -b JBSWY3DPEHPK3PXP", "SEED=jbswy3dpehpk3pxp oathtool --totp -b $SEED", "oathtool --totp 3132333435363738393031323334353637383930", "totp 'otpauth://totp/x?secret=ABC'"] {
            assert!(seed_in(with_seed), "{with_seed}");
        }
        for without in ["ykman oath accounts code --single aws", "op item get AWS --otp", "oathtool --totp -b - < ~/.config/mfa-tray/seed", "pass otp aws/ALICE-DEVICE"] {
            assert!(!seed_in(without), "{without}");
        }
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
        code_in_process("corp", "echo 654321 # once").unwrap();
        code_in_process("corp", "echo 654321 # once").unwrap();
        assert!(start.elapsed() >= STEP, "waited for the next step: {:?}", start.elapsed());
    }
}
