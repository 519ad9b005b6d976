//! `mfa-tray`: the headless CLI with a subcommand, the tray app without one.
//!
//! This binary deliberately links no GUI library: the tray lives in the sibling binary
//! `mfa-tray-app`, which it replaces itself with (exec) when given no arguments.

mod commands;
mod exec;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.len() > 1 {
        return commands::main(args);
    }
    start_tray()
}

/// Runs `mfa-tray-app` from the same directory in place of this process.
fn start_tray() -> ExitCode {
    let app = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.join(format!("mfa-tray-app{}", std::env::consts::EXE_SUFFIX))));
    let Some(app) = app.filter(|p| p.exists()) else {
        eprintln!("mfa-tray: the tray app (mfa-tray-app) is not installed next to this binary; build it with `cargo build --release -p mfa-tray`, or run a subcommand (see --help)");
        return ExitCode::from(1);
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let err = std::process::Command::new(&app).exec();
        eprintln!("mfa-tray: cannot start {}: {err}", app.display());
        ExitCode::from(1)
    }
    #[cfg(not(unix))]
    match std::process::Command::new(&app).status() {
        Ok(status) => ExitCode::from(status.code().unwrap_or(1) as u8),
        Err(err) => {
            eprintln!("mfa-tray: cannot start {}: {err}", app.display());
            ExitCode::from(1)
        }
    }
}
