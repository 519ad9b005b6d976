//! Credentials handed to a process rather than written to a file: `mfa-tray export`
//! prints them as shells and tools read them, `mfa-tray exec` runs a command with them in
//! its environment. (The credentials themselves come as `credential_process` gets them.)

use std::ffi::OsString;
use std::process::{Command, ExitCode};

use mfa_tray_core::credentials::{format_time, TempCredentials};
use mfa_tray_core::secret::Secret;

/// The variable that marks a process started by `mfa-tray exec` (its value: the profile).
pub const MARKER: &str = "MFA_TRAY_EXEC";

/// Variables that would make a tool pick other credentials than the ones `exec` sets.
const OTHER_CREDENTIALS: [&str; 14] = [
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
];

/// What `export` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `export NAME='value'` lines for sh, bash and zsh (`eval "$(mfa-tray export P)"`)
    Env,
    /// `$Env:NAME='value'` lines for PowerShell
    Powershell,
    /// `set NAME=value` lines for the Windows command prompt
    Cmd,
    /// The JSON `credential_process` prints (version 1)
    Json,
    /// A section of a credentials file, named after the profile
    Ini,
}

/// The credentials as `format` writes them, naming `profile` where the format has a
/// name (`ini`). The one place a secret goes to standard output.
pub fn export_text(creds: &TempCredentials, format: Format, profile: &str) -> Secret {
    let expiration = format_time(creds.expiration);
    let vars = [
        ("AWS_ACCESS_KEY_ID", creds.access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", creds.secret_access_key.expose()),
        ("AWS_SESSION_TOKEN", creds.session_token.expose()),
        ("AWS_CREDENTIAL_EXPIRATION", expiration.as_str()),
    ];
    let lines = |line: &dyn Fn(&str, &str) -> String| vars.iter().map(|(k, v)| line(k, v)).collect::<String>();
    Secret::new(match format {
        Format::Env => lines(&|k, v| format!("export {k}='{}'\n", v.replace('\'', "'\\''"))),
        Format::Powershell => lines(&|k, v| format!("$Env:{k}='{}'\n", v.replace('\'', "''"))),
        Format::Cmd => lines(&|k, v| format!("set {k}={v}\n")),
        Format::Json => format!("{}\n", mfa_tray_core::engine::process_json(creds).expose()),
        Format::Ini => format!(
            "[{profile}]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {}\n",
            creds.access_key_id,
            creds.secret_access_key.expose(),
            creds.session_token.expose()
        ),
    })
}

/// `command` with every variable that would have a tool pick other credentials removed,
/// `region` set, and marked as started by `exec` of `profile`.
fn command_for(command: &[OsString], region: Option<&str>, profile: &str) -> Command {
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]);
    for name in OTHER_CREDENTIALS {
        cmd.env_remove(name);
    }
    cmd.env(MARKER, profile);
    if let Some(region) = region {
        cmd.env("AWS_REGION", region).env("AWS_DEFAULT_REGION", region);
    }
    cmd
}

/// `command` with the credentials (and `region`) in its environment.
pub fn command_with(command: &[OsString], creds: &TempCredentials, region: Option<&str>, profile: &str) -> Command {
    let mut cmd = command_for(command, region, profile);
    cmd.env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key.expose())
        .env("AWS_SESSION_TOKEN", creds.session_token.expose())
        .env("AWS_CREDENTIAL_EXPIRATION", format_time(creds.expiration));
    cmd
}

/// `command` pointed at `endpoint` (no secret in its environment but the endpoint's
/// token), run while this process serves it; returns its exit status (128 + the signal
/// that ended it, as a shell says). Ctrl-C reaches the command, not this process.
pub fn run_serving(command: &[OsString], endpoint: &mfa_tray_core::endpoint::Endpoint, region: Option<&str>, profile: &str) -> ExitCode {
    let mut cmd = command_for(command, region, profile);
    cmd.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &endpoint.url).env("AWS_CONTAINER_AUTHORIZATION_TOKEN", endpoint.token.expose());
    wait_for(cmd)
}

/// Starts `cmd`, then (so that the command does not inherit it) stops Ctrl-C from ending
/// this process, and waits for the command's exit status.
fn wait_for(mut cmd: Command) -> ExitCode {
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return cannot_run(&cmd, &e),
    };
    ignore_ctrl_c();
    match child.wait() {
        Ok(status) => ExitCode::from(exit_status(status)),
        Err(e) => {
            eprintln!("mfa-tray: lost track of {}: {e}", cmd.get_program().to_string_lossy());
            ExitCode::from(1)
        }
    }
}

/// A command's exit status as a shell gives it.
fn exit_status(status: std::process::ExitStatus) -> u8 {
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return 128u8.saturating_add(signal as u8);
    }
    status.code().map_or(1, |c| c as u8)
}

/// Says why `cmd` could not be run; 127 when it is not found, else 126, as a shell does.
fn cannot_run(cmd: &Command, err: &std::io::Error) -> ExitCode {
    let program = cmd.get_program().to_string_lossy();
    let (code, why) = match err.kind() {
        std::io::ErrorKind::NotFound => (127, "no such command (not found on the PATH)".to_owned()),
        std::io::ErrorKind::PermissionDenied => (126, "it is not executable".to_owned()),
        _ => (126, err.to_string()),
    };
    eprintln!("mfa-tray: cannot run {program}: {why}");
    ExitCode::from(code)
}

/// Runs `cmd` as this process's own continuation: on Unix it replaces this process
/// (signals, the exit status and the terminal are the command's); elsewhere it waits
/// for it and returns its exit status. A command that cannot be run exits as a shell
/// says: 127 when it is not found, 126 when it cannot be executed.
pub fn hand_over(cmd: Command) -> ExitCode {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let mut cmd = cmd;
        let err = cmd.exec();
        cannot_run(&cmd, &err)
    }
    // Ctrl-C reaches the command (it shares the console); this process outlives it to
    // hand on its exit status.
    #[cfg(not(unix))]
    wait_for(cmd)
}

#[cfg(unix)]
fn ignore_ctrl_c() {
    // SAFETY: SIG_IGN for SIGINT and SIGQUIT, set after the command started (an ignored
    // signal would be inherited): the terminal's Ctrl-C then ends the command only.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
    }
}

#[cfg(windows)]
fn ignore_ctrl_c() {
    #[link(name = "kernel32")]
    extern "system" {
        fn SetConsoleCtrlHandler(handler: *const std::ffi::c_void, add: i32) -> i32;
    }
    // SAFETY: a null handler with TRUE makes this process ignore Ctrl-C (set after the
    // command started: children inherit it).
    unsafe {
        SetConsoleCtrlHandler(std::ptr::null(), 1);
    }
}

#[cfg(all(not(unix), not(windows)))]
fn ignore_ctrl_c() {}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> TempCredentials {
        TempCredentials {
            access_key_id: "ASIAEXAMPLE000000000".into(),
            secret_access_key: Secret::new("se/cr+et'x"),
            session_token: Secret::new("to/ken=="),
            expiration: time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        }
    }

    #[test]
    fn each_format_quotes_for_its_reader() {
        let env = export_text(&creds(), Format::Env, "p");
        assert!(env.expose().contains("export AWS_SECRET_ACCESS_KEY='se/cr+et'\\''x'\n"), "{}", env.expose());
        let ps = export_text(&creds(), Format::Powershell, "p");
        assert!(ps.expose().contains("$Env:AWS_SECRET_ACCESS_KEY='se/cr+et''x'\n"));
        assert!(export_text(&creds(), Format::Cmd, "p").expose().contains("set AWS_CREDENTIAL_EXPIRATION=2027-01-15T08:00:00Z\n"));
        assert!(export_text(&creds(), Format::Ini, "prod").expose().starts_with("[prod]\naws_access_key_id = ASIAEXAMPLE000000000\n"));
    }
}
